//! MNIST's IDX file format: a big-endian header (magic `0x0000_08DD`, `DD` = number of
//! dimensions, type `0x08` = unsigned bytes) then the dimensions as `u32`, then the data.

use super::Dataset;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::path::Path;

/// Read an unsigned-byte IDX file: its dimensions and bytes.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::File`] when it is compressed (`.gz`: decompress it first),
/// has another element type, or is shorter than its header says; [`Error::TooLarge`] when the
/// file is larger than the memory limit ([`crate::limits`]).
pub fn read(path: &Path) -> Result<(Vec<usize>, Vec<u8>)> {
    let size = std::fs::metadata(path)
        .map_err(|e| Error::io(path.display(), &e))?
        .len();
    crate::limits::guard(&format!("{} (IDX file)", path.display()), size as u128, 1)?;
    let bytes = std::fs::read(path).map_err(|e| Error::io(path.display(), &e))?;
    let bad = |m: &str| Error::file(path.display(), m.to_string());
    if bytes.len() < 4 {
        return Err(bad("too short for an IDX header"));
    }
    if bytes[0] == 0x1f && bytes[1] == 0x8b {
        return Err(bad("is gzip-compressed; decompress it (gunzip) first"));
    }
    if bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08 {
        return Err(bad(
            "not an unsigned-byte IDX file (magic must be 00 00 08 NN)",
        ));
    }
    let nd = bytes[3] as usize;
    let header = 4 + 4 * nd;
    if nd == 0 || bytes.len() < header {
        return Err(bad("IDX header is truncated or has no dimensions"));
    }
    let dims: Vec<usize> = (0..nd)
        .map(|i| {
            u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().expect("4 bytes")) as usize
        })
        .collect();
    let n = crate::tensor::checked_numel(&dims)?;
    if bytes.len() != header + n {
        return Err(bad(&format!(
            "holds {} data bytes but its header {dims:?} says {n}",
            bytes.len() - header
        )));
    }
    Ok((dims, bytes[header..].to_vec()))
}

/// Write an unsigned-byte IDX file (for tests and small exports).
///
/// # Errors
/// [`Error::Io`] when writing fails; [`Error::Invalid`] when `data` does not match `dims`.
pub fn write(path: &Path, dims: &[usize], data: &[u8]) -> Result<()> {
    if dims.iter().product::<usize>() != data.len() || dims.is_empty() || dims.len() > 255 {
        return Err(Error::invalid(
            "idx::write",
            format!("{} bytes do not fill dims {dims:?}", data.len()),
        ));
    }
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for &d in dims {
        let d =
            u32::try_from(d).map_err(|_| Error::invalid("idx::write", "dimension above u32"))?;
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    std::fs::write(path, out).map_err(|e| Error::io(path.display(), &e))
}

fn find(dir: &Path, names: &[&str]) -> Result<std::path::PathBuf> {
    names
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.exists())
        .ok_or_else(|| {
            Error::file(
                dir.display(),
                format!("has no {} (MNIST IDX file, uncompressed)", names[0]),
            )
        })
}

/// Images (`(N, 1, H, W)`, scaled to `[0, 1]`) and labels from an image file and a label file.
///
/// # Errors
/// File errors of [`read`]; [`Error::File`] when the counts differ or a label is above 9.
pub fn load_pair(images: &Path, labels: &Path, limit: Option<usize>) -> Result<Dataset> {
    let (idims, ibytes) = read(images)?;
    let (ldims, lbytes) = read(labels)?;
    if idims.len() != 3 || ldims.len() != 1 || idims[0] != ldims[0] {
        return Err(Error::file(
            images.display(),
            format!(
                "image dims {idims:?} do not match label dims {ldims:?}; want (N, H, W) and (N)"
            ),
        ));
    }
    let n = limit.map_or(idims[0], |l| l.min(idims[0]));
    crate::limits::guard_shape(
        &format!("{} as f64 images", images.display()),
        &[n, idims[1], idims[2]],
        8,
    )?;
    let per = idims[1] * idims[2];
    let data = ibytes[..n * per]
        .iter()
        .map(|&b| b as f64 / 255.0)
        .collect();
    let lbl: Vec<usize> = lbytes[..n].iter().map(|&b| b as usize).collect();
    if let Some(i) = lbl.iter().position(|&l| l > 9) {
        return Err(Error::file(
            labels.display(),
            format!("label {} of item {i} is above 9", lbl[i]),
        ));
    }
    Ok(Dataset {
        images: Tensor::new(vec![n, 1, idims[1], idims[2]], data)?,
        labels: lbl,
        classes: 10,
    })
}

/// The MNIST training and test sets from `dir` (the four uncompressed IDX files under their
/// usual names, `train-images-idx3-ubyte` or `train-images.idx3-ubyte` etc.), each cut to at
/// most `limit` images.
///
/// # Errors
/// [`Error::Io`] naming a missing file, [`Error::File`] a malformed one.
pub fn load_mnist(dir: &Path, limit: Option<usize>) -> Result<(Dataset, Dataset)> {
    let train = load_pair(
        &find(dir, &["train-images-idx3-ubyte", "train-images.idx3-ubyte"])?,
        &find(dir, &["train-labels-idx1-ubyte", "train-labels.idx1-ubyte"])?,
        limit,
    )?;
    let test = load_pair(
        &find(dir, &["t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"])?,
        &find(dir, &["t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"])?,
        limit,
    )?;
    Ok((train, test))
}
