//! A process-wide pool of large work buffers, so that layer after layer (and step after step
//! of training) reuses warm memory instead of mapping fresh pages from the OS and unmapping
//! them again: with the system allocator, the page faults, page clearing and TLB shootdowns
//! of that round trip cost as much as the transforms on the benchmark layers.
//!
//! [`take`] hands out a zeroed buffer (reusing the smallest pooled one that is large enough),
//! [`take_dirty`] and [`take_at_least`] one holding earlier values; [`give`] returns one. The pool keeps at most [`MAX_BUFFERS`] buffers and
//! [`MAX_POOLED_BYTES`] bytes; [`release`] empties it.
//!
//! ```
//! use fftconv::conv::fast::pool;
//! let v: Vec<f32> = pool::take(1 << 20);
//! assert!(v.iter().all(|&x| x == 0.0));
//! pool::give(v);
//! let again: Vec<f32> = pool::take(500_000);
//! assert!(again.capacity() >= 500_000 && again.iter().all(|&x| x == 0.0));
//! pool::release();
//! ```

use crate::tensor::Scalar;
use std::any::Any;
use std::sync::Mutex;

/// Buffers smaller than this are left to the allocator.
pub const MIN_POOLED_BYTES: usize = 256 << 10;
/// Most bytes the pool keeps.
pub const MAX_POOLED_BYTES: usize = 256 << 20;
/// Most buffers the pool keeps.
pub const MAX_BUFFERS: usize = 16;

struct Pool {
    buffers: Vec<(usize, Box<dyn Any + Send>)>,
    bytes: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    buffers: Vec::new(),
    bytes: 0,
});

fn lock() -> std::sync::MutexGuard<'static, Pool> {
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A buffer of `len` zeros, reused from the pool when one is large enough.
pub fn take<T: Scalar>(len: usize) -> Vec<T> {
    let mut v = take_dirty(len);
    v.fill(T::zero());
    v
}

/// A buffer of `len` values that may be left over from an earlier use (finite numbers or
/// zeros, never uninitialised memory): for callers that overwrite every entry they read.
pub fn take_dirty<T: Scalar>(len: usize) -> Vec<T> {
    let mut v = take_at_least(len);
    v.truncate(len);
    v
}

/// A buffer of at least `len` values left over from an earlier use, as [`take_dirty`], but
/// with all the values the pooled buffer holds: a buffer cut to a shorter length and pooled
/// again would otherwise have its cut-off tail zeroed when taken for a longer one (a
/// `memset` of megabytes: ~1 % of the 1d-long-dw profile).
pub fn take_at_least<T: Scalar>(len: usize) -> Vec<T> {
    let bytes = len * std::mem::size_of::<T>();
    if bytes >= MIN_POOLED_BYTES {
        let mut pool = lock();
        let best = pool
            .buffers
            .iter()
            .enumerate()
            .filter(|(_, (cap, b))| *cap >= bytes && b.is::<Vec<T>>())
            .min_by_key(|(_, (cap, _))| *cap)
            .map(|(i, _)| i);
        if let Some(i) = best {
            let (cap, b) = pool.buffers.swap_remove(i);
            pool.bytes -= cap;
            drop(pool);
            if let Ok(mut v) = b.downcast::<Vec<T>>() {
                if v.len() < len {
                    v.resize(len, T::zero());
                }
                return *v;
            }
        }
    }
    vec![T::zero(); len]
}

/// Return a buffer to the pool (dropped instead if it is small or the pool is full).
pub fn give<T: Scalar>(v: Vec<T>) {
    let cap = v.capacity() * std::mem::size_of::<T>();
    if cap < MIN_POOLED_BYTES {
        return;
    }
    let mut pool = lock();
    if pool.buffers.len() < MAX_BUFFERS && pool.bytes + cap <= MAX_POOLED_BYTES {
        pool.bytes += cap;
        pool.buffers.push((cap, Box::new(v)));
    }
}

/// Free every pooled buffer, and the direct path's per-thread spare planes.
pub fn release() {
    super::direct_simd::release_spares();
    let mut pool = lock();
    pool.buffers.clear();
    pool.bytes = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pooled buffer comes back whole from `take_at_least` (its values kept), cut to length
    /// from `take_dirty`, and zeroed from `take`. One test: the pool is process-wide.
    #[test]
    fn taken_buffers_have_the_asked_lengths_and_values() {
        let n = MIN_POOLED_BYTES / 8 + 100;
        let mut v: Vec<f64> = take_dirty(2 * n);
        assert_eq!(v.len(), 2 * n);
        v.fill(3.0);
        give(v);
        let w: Vec<f64> = take_at_least(n);
        // Another test's buffer may have been taken instead; ours is the only one of 3s.
        if w.iter().all(|&x| x == 3.0) {
            assert_eq!(w.len(), 2 * n);
        }
        assert!(w.len() >= n);
        give(w);
        let d: Vec<f64> = take_dirty(n);
        assert_eq!(d.len(), n);
        assert!(d.iter().all(|x| x.is_finite()));
        give(d);
        let z: Vec<f64> = take(2 * n);
        assert_eq!(z.len(), 2 * n);
        assert!(z.iter().all(|&x| x == 0.0));
    }
}
