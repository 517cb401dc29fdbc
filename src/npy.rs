//! Reading and writing tensors as NumPy `.npy` files (through npyz): little- or big-endian
//! `f8`/`f4`, C or Fortran order on read; little-endian C order on write. Every failure is an
//! [`Error::File`] naming the file and what to do.

use crate::error::{Error, Result};
use crate::tensor::{Scalar, Tensor};
use npyz::{DType, NpyFile, Order, TypeChar};
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
    let meta =
        std::fs::metadata(path).map_err(|e| Error::file(&shown, format!("cannot read: {e}")))?;
    if meta.is_dir() {
        return Err(Error::file(&shown, "is a folder, expected a .npy file"));
    }
    crate::limits::guard(&format!("{shown}"), meta.len() as u128, 1)?;
    let bytes =
        std::fs::read(path).map_err(|e| Error::file(&shown, format!("cannot read: {e}")))?;
    decode(&bytes).map_err(|msg| Error::file(&shown, msg))
}

/// Decode the bytes of a `.npy` file; the error is a message without the file name.
///
/// Nothing is allocated from the header's claims before they are checked against the bytes
/// actually present and the memory limit.
pub fn decode(bytes: &[u8]) -> std::result::Result<(Tensor<f64>, NpyDtype), String> {
    decode_inner(bytes).map_err(|m| m.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn decode_inner(bytes: &[u8]) -> std::result::Result<(Tensor<f64>, NpyDtype), String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("is not a .npy file (bad magic string); write it with numpy.save".into());
    }
    let data_offset = match bytes[6] {
        1 => 10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize,
        2 | 3 if bytes.len() >= 12 => {
            12 + u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize
        }
        v => {
            return Err(format!(
                "has unsupported .npy format version {v}; save with numpy ≥ 1.0"
            ))
        }
    };
    if data_offset > bytes.len() {
        return Err("is truncated inside its header".into());
    }
    // npyz's header parser takes exponential time on deeply nested brackets (found by fuzzing:
    // `[[[[…` hung it); a plain float array's header nests `{ ( )` two deep, so refuse more.
    let mut depth = 0usize;
    for &c in &bytes[10.min(data_offset)..data_offset] {
        match c {
            b'[' | b'(' | b'{' => depth += 1,
            b']' | b')' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > 3 || c == b'[' {
            return Err("has a structured or malformed header (nested brackets); only plain float64/float32 arrays are supported".into());
        }
    }
    precheck_shape(&bytes[..data_offset], bytes.len() - data_offset)?;
    let file = NpyFile::new(bytes)
        .map_err(|e| format!("has a malformed header ({e}); write it with numpy.save"))?;
    let shape: Vec<usize> = file.shape().iter().map(|&s| s as usize).collect();
    if shape.is_empty() {
        return Err("holds a 0-d array; save an array with at least one axis".into());
    }
    if shape.contains(&0) {
        return Err(format!(
            "has an empty axis (shape {shape:?}); tensors need at least one element per axis"
        ));
    }
    let (dtype, item) = match file.dtype() {
        DType::Plain(t) if t.type_char() == TypeChar::Float && t.size_field() == 8 => (NpyDtype::F64, 8u128),
        DType::Plain(t) if t.type_char() == TypeChar::Float && t.size_field() == 4 => (NpyDtype::F32, 4u128),
        other => {
            return Err(format!(
                "has dtype {}; only float64 and float32 are supported (convert with .astype(np.float64))",
                other.descr()
            ))
        }
    };
    let count = shape
        .iter()
        .fold(1u128, |a, &n| a.saturating_mul(n as u128));
    let claimed = count.saturating_mul(item);
    let present = (bytes.len() - data_offset) as u128;
    if claimed != present {
        return Err(format!(
            "header claims shape {shape:?} ({claimed} data bytes) but the file holds {present}; the file is truncated or its header lies"
        ));
    }
    crate::limits::guard("tensor", count, 8).map_err(|e| e.to_string())?;
    let fortran = file.order() == Order::Fortran;
    let data: Vec<f64> = match dtype {
        NpyDtype::F64 => file.into_vec::<f64>(),
        NpyDtype::F32 => file
            .into_vec::<f32>()
            .map(|v| v.into_iter().map(f64::from).collect()),
    }
    .map_err(|e| format!("data cannot be read ({e}); the file may be truncated"))?;
    if data.len() as u128 != count {
        return Err(format!(
            "header says {count} elements, data holds {}",
            data.len()
        ));
    }
    let data = if fortran {
        fortran_to_c(&data, &shape)
    } else {
        data
    };
    Ok((Tensor::new(shape, data).map_err(|e| e.to_string())?, dtype))
}

/// Read the `shape` tuple from the header text and refuse a claimed size that cannot fit the
/// bytes present, before npyz (whose size arithmetic is unchecked) sees the header.
fn precheck_shape(header: &[u8], present: usize) -> std::result::Result<(), String> {
    let text = String::from_utf8_lossy(header);
    let Some(at) = text.find("'shape'").or_else(|| text.find("\"shape\"")) else {
        return Ok(()); // npyz reports the missing key
    };
    let rest = &text[at..];
    let (Some(open), Some(close)) = (rest.find('('), rest.find(')')) else {
        return Ok(());
    };
    if close < open {
        return Ok(());
    }
    let mut count: u128 = 1;
    for part in rest[open + 1..close]
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let n: u128 = part
            .trim_end_matches('L')
            .parse()
            .map_err(|_| format!("header shape entry `{part}` is not a non-negative integer"))?;
        if n == 0 {
            return Err(
                "has an empty axis (a 0 in its shape); tensors need at least one element per axis"
                    .into(),
            );
        }
        count = count.saturating_mul(n);
    }
    if let Some(d) = text.find("'descr'") {
        let value = text[d + 7..].trim_start_matches([' ', ':']);
        let quoted = value.starts_with(['\'', '"']);
        let descr: String = value
            .chars()
            .skip(1)
            .take_while(|&c| c != '\'' && c != '"')
            .collect();
        if !quoted || !matches!(descr.trim_start_matches(['<', '>', '|', '=']), "f8" | "f4") {
            let shown = if quoted {
                descr
            } else {
                "of a structured array".to_string()
            };
            return Err(format!(
                "has dtype {shown}; only float64 and float32 are supported (convert with .astype(np.float64))"
            ));
        }
    }
    if count > present as u128 {
        return Err(format!(
            "header claims {count} elements but the file holds only {present} data bytes; the file is truncated or its header lies"
        ));
    }
    Ok(())
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

/// The header dictionary exactly as NumPy's `numpy.save` writes it (format 1.0): `descr`,
/// `fortran_order`, a shape tuple written as Python writes tuples (`(2, 3, 8)`, `(5,)`, `()`),
/// a trailing `, }`, then spaces and a newline so that the data starts at a multiple of 64
/// bytes. Some readers parse this dictionary strictly (one Rust reader rejects `(2, 3, 8, )`),
/// so we write byte for byte what NumPy writes.
fn numpy_header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let tuple = match shape {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {tuple}, }}");
    // magic (6) + version (2) + length (2) + dict + padding + '\n' ≡ 0 (mod 64)
    let unpadded = 10 + dict.len() + 1;
    dict.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((dict.len() as u16).to_le_bytes());
    out.extend(dict.as_bytes());
    out
}

/// Encode a tensor as the bytes of a little-endian, C-order `.npy` file of its element type,
/// with the header NumPy itself writes (see [`write()`]).
pub fn encode<T: Scalar>(t: &Tensor<T>) -> Vec<u8> {
    let (descr, width) = if T::NAME == "f32" {
        ("<f4", 4)
    } else {
        ("<f8", 8)
    };
    let mut out = numpy_header(descr, t.shape());
    out.reserve(t.len() * width);
    for &v in t.data() {
        if width == 4 {
            out.extend((v.as_f64() as f32).to_le_bytes());
        } else {
            out.extend(v.as_f64().to_le_bytes());
        }
    }
    out
}

/// Write a tensor as a little-endian, C-order `.npy` file of its element type, with the header
/// NumPy writes.
///
/// # Errors
/// [`Error::File`] when the file cannot be written.
pub fn write<T: Scalar>(path: &Path, t: &Tensor<T>) -> Result<()> {
    std::fs::write(path, encode(t))
        .map_err(|e| Error::file(path.display(), format!("cannot write: {e}")))
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

    /// The header is NumPy's, byte for byte: `numpy.save(f, np.zeros((2, 3, 8)))` writes
    /// `{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3, 8), }`, a one-axis shape as
    /// `(5,)`, and pads so that the data starts at a multiple of 64.
    #[test]
    fn header_is_written_as_numpy_writes_it() {
        for (shape, tuple) in [
            (vec![2, 3, 8], "(2, 3, 8)"),
            (vec![5], "(5,)"),
            (vec![1, 1, 1, 1, 1], "(1, 1, 1, 1, 1)"),
        ] {
            let t = Tensor::<f64>::zeros(&shape);
            let bytes = encode(&t);
            let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
            let header = std::str::from_utf8(&bytes[10..10 + len]).unwrap();
            let want = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {tuple}, }}");
            assert!(header.starts_with(&want), "{header:?}");
            assert_eq!(header.trim_end(), want);
            assert!(header.ends_with('\n'));
            assert_eq!((10 + len) % 64, 0, "data offset {}", 10 + len);
            assert_eq!(bytes.len(), 10 + len + 8 * t.len());
            let (back, _) = decode(&bytes).unwrap();
            assert_eq!(back.shape(), &shape[..]);
        }
        assert_eq!(
            numpy_header("<f4", &[]).len() % 64,
            0,
            "a 0-d header is padded too"
        );
        assert!(String::from_utf8_lossy(&numpy_header("<f4", &[])).contains("'shape': (), }"));
        let t = Tensor::<f32>::new(vec![2], vec![1.5, -2.0]).unwrap();
        let (back, dt) = decode(&encode(&t)).unwrap();
        assert_eq!(dt, NpyDtype::F32);
        assert_eq!(back.data(), &[1.5, -2.0]);
    }

    /// A hand-made v1 .npy file.
    fn raw(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut header = format!(
            "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
            if fortran { "True" } else { "False" }
        );
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend((header.len() as u16).to_le_bytes());
        b.extend(header.as_bytes());
        b.extend(data);
        b
    }

    #[test]
    fn big_endian_and_fortran_order_are_accepted() {
        let be: Vec<u8> = [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let (t, _) = decode(&raw(">f8", false, "(2, 3)", &be)).unwrap();
        assert_eq!(t.data(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        // Fortran order: column-major storage of [[1,2,3],[4,5,6]] is 1,4,2,5,3,6.
        let f: Vec<u8> = [1.0f32, 4.0, 2.0, 5.0, 3.0, 6.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let (t, dt) = decode(&raw("<f4", true, "(2, 3)", &f)).unwrap();
        assert_eq!(dt, NpyDtype::F32);
        assert_eq!(t.get(&[0, 2]), 3.0);
        assert_eq!(t.get(&[1, 0]), 4.0);
    }

    /// Regression (fuzzing): nested brackets in the header hung npyz's parser.
    #[test]
    fn nested_brackets_in_the_header_are_refused_quickly() {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/regressions/npy-nested-brackets.npy"
        ))
        .unwrap();
        assert!(decode(&bytes).unwrap_err().contains("nested"));
        let deep = raw("<f8", false, "((((((((1, ), ), ), ), ), ), ), 3", &[0; 24]);
        assert!(decode(&deep).is_err());
    }

    #[test]
    fn malformed_files_are_refused_with_a_reason() {
        let eight: Vec<u8> = 1.0f64.to_le_bytes().to_vec();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"NUMPY\x01\x00garbage".to_vec(), "magic"),
            (raw("<f8", false, "(2,)", &eight), "truncated"),
            (
                raw("<f8", false, "(1000000000000, 1000000)", &eight),
                "header",
            ),
            (raw("<f8", false, "()", &eight), "0-d"),
            (raw("<f8", false, "(0, 3)", &[]), "empty axis"),
            (raw("<c16", false, "(1,)", &[0u8; 16]), "dtype"),
            (raw("<U3", false, "(1,)", &[0u8; 12]), "dtype"),
            (raw("|O", false, "(1,)", &[0u8; 8]), ""),
        ];
        for (bytes, needle) in cases {
            let err = decode(&bytes).unwrap_err();
            assert!(err.contains(needle), "expected `{needle}` in: {err}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
        // Every prefix of a valid file is refused, never a panic.
        let good = raw("<f8", false, "(3,)", &[0u8; 24]);
        for cut in 0..good.len() {
            assert!(
                decode(&good[..cut]).is_err(),
                "prefix of {cut} bytes accepted"
            );
        }
    }
}
