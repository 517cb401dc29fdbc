//! The resource guard: every allocation sized by user input (tensors from files, spectra, dense
//! matrices) is checked against a memory limit *before* it is made.
//!
//! The limit is a value, [`Limits`]. The library sets none behind a caller's back: unless the
//! caller chooses one, every guard uses [`Limits::default`] (4 GiB, [`DEFAULT_MAX_MEMORY`]),
//! a constant. A caller chooses another limit
//!
//! - for one computation on the current thread, with [`Limits::scope`] (the previous limit is
//!   restored afterwards, also when the computation panics);
//! - for the whole process, when it is a program that owns the process (the `fftconv` binary
//!   does this from its `--max-memory` option), with [`set_process_limits`].
//!
//! A thread's scope wins over the process setting. Work that the library spreads over rayon's
//! thread pool is checked on the pool's threads, which see the process setting, not a scope of
//! the calling thread.
//!
//! ```
//! use fftconv::limits::{self, Limits};
//! let small = Limits::new(1 << 20); // 1 MiB
//! let refused = small.scope(|| limits::guard_shape("x", &[1024, 1024], 8));
//! assert!(matches!(refused, Err(fftconv::Error::TooLarge { .. })));
//! assert!(limits::guard_shape("x", &[1024, 1024], 8).is_ok()); // the default again
//! ```

use crate::error::{Error, Result};
use std::cell::Cell;
use std::sync::RwLock;

/// Default limit: 4 GiB.
pub const DEFAULT_MAX_MEMORY: u64 = 4 << 30;

/// Resource limits for the allocations the library sizes from user input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest allocation, in bytes, that a guard lets through.
    pub max_memory: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_memory: DEFAULT_MAX_MEMORY,
        }
    }
}

/// The process-wide choice, `None` until a program calls [`set_process_limits`].
static PROCESS: RwLock<Option<Limits>> = RwLock::new(None);

thread_local! {
    /// The innermost [`Limits::scope`] of this thread, if any.
    static SCOPE: Cell<Option<Limits>> = const { Cell::new(None) };
}

/// Restores the enclosing scope when a [`Limits::scope`] ends, also by unwinding.
struct Restore(Option<Limits>);

impl Drop for Restore {
    fn drop(&mut self) {
        SCOPE.with(|s| s.set(self.0));
    }
}

impl Limits {
    /// Limits with `max_memory` bytes.
    pub const fn new(max_memory: u64) -> Self {
        Limits { max_memory }
    }

    /// Run `f` with these limits in force on the current thread; the previous ones come back
    /// when `f` returns or panics.
    pub fn scope<R>(self, f: impl FnOnce() -> R) -> R {
        let previous = SCOPE.with(|s| s.replace(Some(self)));
        let _restore = Restore(previous);
        f()
    }

    /// Bytes for `count` elements of `elem_bytes` each, refused when the product overflows or
    /// exceeds these limits.
    ///
    /// # Errors
    /// [`Error::TooLarge`] naming `what`.
    pub fn guard(&self, what: &str, count: u128, elem_bytes: u128) -> Result<u64> {
        let bytes = count.saturating_mul(elem_bytes);
        let limit = self.max_memory as u128;
        if bytes > limit {
            return Err(Error::TooLarge {
                context: what.to_string(),
                bytes,
                limit,
            });
        }
        Ok(bytes as u64)
    }

    /// [`Limits::guard`] for a tensor of `shape` with `elem_bytes` per element; the product is
    /// computed in u128 so that absurd shapes are refused, not wrapped.
    ///
    /// # Errors
    /// [`Error::TooLarge`] naming `what`.
    pub fn guard_shape(&self, what: &str, shape: &[usize], elem_bytes: usize) -> Result<u64> {
        let count = shape
            .iter()
            .fold(1u128, |acc, &n| acc.saturating_mul(n as u128));
        self.guard(what, count, elem_bytes as u128)
    }
}

/// The limits in force on this thread: its innermost [`Limits::scope`], else the process
/// setting ([`set_process_limits`]), else [`Limits::default`].
pub fn current() -> Limits {
    SCOPE
        .with(Cell::get)
        .or_else(|| *PROCESS.read().unwrap_or_else(|e| e.into_inner()))
        .unwrap_or_default()
}

/// Set the limits of the whole process — for a program that owns its process, as the `fftconv`
/// binary does from `--max-memory`. A library calling fftconv should prefer [`Limits::scope`].
pub fn set_process_limits(limits: Limits) {
    *PROCESS.write().unwrap_or_else(|e| e.into_inner()) = Some(limits);
}

/// The memory limit in force, in bytes ([`current`]).
pub fn max_memory() -> u64 {
    current().max_memory
}

/// Shorthand for [`set_process_limits`] with a memory limit of `bytes`.
pub fn set_max_memory(bytes: u64) {
    set_process_limits(Limits::new(bytes));
}

/// [`Limits::guard`] with the limits in force ([`current`]).
///
/// # Errors
/// [`Error::TooLarge`] naming `what`.
pub fn guard(what: &str, count: u128, elem_bytes: u128) -> Result<u64> {
    current().guard(what, count, elem_bytes)
}

/// [`Limits::guard_shape`] with the limits in force ([`current`]).
///
/// # Errors
/// [`Error::TooLarge`] naming `what`.
pub fn guard_shape(what: &str, shape: &[usize], elem_bytes: usize) -> Result<u64> {
    current().guard_shape(what, shape, elem_bytes)
}

/// Parse a size like `512M`, `4G`, `1000000` (bytes; K/M/G/T are powers of 1024).
///
/// # Errors
/// [`Error::Field`] for anything else.
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
            Error::field(
                "memory size",
                text,
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

    #[test]
    fn a_scope_sets_the_limit_for_its_thread_only_and_is_restored() {
        assert_eq!(current(), Limits::default());
        let tiny = Limits::new(100);
        tiny.scope(|| {
            assert_eq!(current(), tiny);
            assert!(guard("y", 101, 1).is_err());
            Limits::new(1000).scope(|| assert!(guard("y", 101, 1).is_ok()));
            assert!(guard("y", 101, 1).is_err());
            std::thread::spawn(|| assert_eq!(current(), Limits::default()))
                .join()
                .unwrap();
        });
        assert_eq!(current(), Limits::default());
        let unwound = std::panic::catch_unwind(|| tiny.scope(|| panic!("inside")));
        assert!(unwound.is_err());
        assert_eq!(current(), Limits::default());
    }
}
