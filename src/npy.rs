//! Reading and writing tensors as NumPy `.npy` files (through npyz): little- or big-endian
//! `f8`/`f4`, C or Fortran order on read; little-endian C order on write. Every failure is an
//! [`Error::File`] naming the file and what to do.

use crate::error::{Error, Result};
use crate::tensor::{Scalar, Tensor};
use npyz::{DType, NpyFile, Order, TypeChar, WriterBuilder};
use std::path::Path;

/// Element type of a `.npy` file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NpyDtype {
    /// 8-byte float.
    F64,
    /// 4-byte float.
    F32,
}

impl NpyDtype {
    /// `"f64"` or `"f32"`.
    pub fn name(self) -> &'static str {
        match self {
            NpyDtype::F64 => "f64",
            NpyDtype::F32 => "f32",
        }
    }
}

/// Read a `.npy` file as an f64 tensor, with the dtype it was stored in.
///
/// # Errors
/// [`Error::File`] for a missing or unreadable file, a malformed header, a dtype other than
/// f4/f8, a size that does not match the header, or a 0-d array.
pub fn read(path: &Path) -> Result<(Tensor<f64>, NpyDtype)> {
    let shown = path.display();
    let bytes =
        std::fs::read(path).map_err(|e| Error::file(&shown, format!("cannot read: {e}")))?;
    let file = NpyFile::new(&bytes[..]).map_err(|e| {
        Error::file(
            &shown,
            format!("not a valid .npy file ({e}); write it with numpy.save"),
        )
    })?;
    let shape: Vec<usize> = file.shape().iter().map(|&s| s as usize).collect();
    if shape.is_empty() {
        return Err(Error::file(
            &shown,
            "holds a 0-d array; save an array with at least one axis",
        ));
    }
    let dtype = match file.dtype() {
        DType::Plain(t) if t.type_char() == TypeChar::Float && t.size_field() == 8 => NpyDtype::F64,
        DType::Plain(t) if t.type_char() == TypeChar::Float && t.size_field() == 4 => NpyDtype::F32,
        other => {
            return Err(Error::file(
                &shown,
                format!(
                    "has dtype {}; only float64 and float32 are supported (convert with .astype)",
                    other.descr()
                ),
            ))
        }
    };
    let fortran = file.order() == Order::Fortran;
    let data: Vec<f64> = match dtype {
        NpyDtype::F64 => file.into_vec::<f64>(),
        NpyDtype::F32 => file
            .into_vec::<f32>()
            .map(|v| v.into_iter().map(f64::from).collect()),
    }
    .map_err(|e| {
        Error::file(
            &shown,
            format!("data does not match its header ({e}); the file may be truncated"),
        )
    })?;
    let n = crate::tensor::checked_numel(&shape).map_err(|e| Error::file(&shown, e.to_string()))?;
    if data.len() != n {
        return Err(Error::file(
            &shown,
            format!("header says {n} elements, data holds {}", data.len()),
        ));
    }
    let data = if fortran {
        fortran_to_c(&data, &shape)
    } else {
        data
    };
    Ok((Tensor::new(shape, data)?, dtype))
}

fn fortran_to_c(data: &[f64], shape: &[usize]) -> Vec<f64> {
    // Element at multi-index i sits at Σ i_a · Π_{b<a} n_b in Fortran order.
    let t = Tensor::<f64>::from_fn(shape, |idx| {
        let mut off = 0usize;
        for a in (0..shape.len()).rev() {
            off = off * shape[a] + idx[a];
        }
        data[off]
    });
    t.into_data()
}

/// Write a tensor as a little-endian, C-order `.npy` file of its element type.
///
/// # Errors
/// [`Error::File`] when the file cannot be written.
pub fn write<T: Scalar + npyz::Serialize + npyz::AutoSerialize>(
    path: &Path,
    t: &Tensor<T>,
) -> Result<()> {
    let shown = path.display();
    let shape: Vec<u64> = t.shape().iter().map(|&s| s as u64).collect();
    let mut buf = Vec::new();
    {
        let mut w = npyz::WriteOptions::new()
            .default_dtype()
            .shape(&shape)
            .writer(&mut buf)
            .begin_nd()
            .map_err(|e| Error::file(&shown, format!("cannot encode: {e}")))?;
        w.extend(t.data().iter().copied())
            .map_err(|e| Error::file(&shown, format!("cannot encode: {e}")))?;
        w.finish()
            .map_err(|e| Error::file(&shown, format!("cannot encode: {e}")))?;
    }
    std::fs::write(path, buf).map_err(|e| Error::file(&shown, format!("cannot write: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_f64_and_f32() {
        let dir = std::env::temp_dir().join(format!("fftconv-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let t = Tensor::<f64>::randn(&[2, 3, 4], 5);
        write(&dir.join("a.npy"), &t).unwrap();
        let (back, dt) = read(&dir.join("a.npy")).unwrap();
        assert_eq!(dt, NpyDtype::F64);
        assert_eq!(back, t);
        let t32 = t.cast::<f32>();
        write(&dir.join("b.npy"), &t32).unwrap();
        let (back, dt) = read(&dir.join("b.npy")).unwrap();
        assert_eq!(dt, NpyDtype::F32);
        assert_eq!(back, t32.cast::<f64>());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
