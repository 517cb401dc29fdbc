//! The resource guard: a process-wide memory limit that every allocation sized by user input
//! (tensors from files, spectra, dense matrices) is checked against *before* it is made.

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicU64, Ordering};

/// Default limit: 4 GiB.
pub const DEFAULT_MAX_MEMORY: u64 = 4 << 30;

static MAX_MEMORY: AtomicU64 = AtomicU64::new(DEFAULT_MAX_MEMORY);

/// The limit in force, in bytes.
pub fn max_memory() -> u64 {
    MAX_MEMORY.load(Ordering::Relaxed)
}

/// Set the limit (the CLI's `--max-memory`).
pub fn set_max_memory(bytes: u64) {
    MAX_MEMORY.store(bytes, Ordering::Relaxed);
}

/// Bytes for `count` elements of `elem_bytes` each, refused when the product overflows or
/// exceeds the limit.
///
/// # Errors
/// [`Error::TooLarge`] naming `what`.
pub fn guard(what: &str, count: u128, elem_bytes: u128) -> Result<u64> {
    let bytes = count.saturating_mul(elem_bytes);
    let limit = max_memory() as u128;
    if bytes > limit {
        return Err(Error::TooLarge {
            context: what.to_string(),
            bytes,
            limit,
        });
    }
    Ok(bytes as u64)
}

/// [`guard`] for a tensor of `shape` with `elem_bytes` per element; the product is computed in
/// u128 so that absurd shapes are refused, not wrapped.
///
/// # Errors
/// [`Error::TooLarge`] naming `what`.
pub fn guard_shape(what: &str, shape: &[usize], elem_bytes: usize) -> Result<u64> {
    let count = shape
        .iter()
        .fold(1u128, |acc, &n| acc.saturating_mul(n as u128));
    guard(what, count, elem_bytes as u128)
}

/// Parse a size like `512M`, `4G`, `1000000` (bytes; K/M/G/T are powers of 1024).
///
/// # Errors
/// [`Error::Invalid`] for anything else.
pub fn parse_size(text: &str) -> Result<u64> {
    let t = text.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => 0,
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    num.parse::<u64>()
        .ok()
        .filter(|_| mult > 0)
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| {
            Error::invalid(
                "--max-memory",
                format!("`{text}` is not a size; write e.g. 512M or 4G"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_absurd_shapes_are_refused() {
        assert_eq!(parse_size("4G").unwrap(), 4 << 30);
        assert_eq!(parse_size("512m").unwrap(), 512 << 20);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999T").is_err());
        assert!(guard_shape("x", &[usize::MAX, usize::MAX, 8], 8).is_err());
        assert!(guard_shape("x", &[10, 10], 8).is_ok());
    }
}
