//! Per-thread spare buffers for a sample's work planes (padded inputs and cotangents, the
//! phase classes' input gradients before the fold), reused across samples and calls.
//!
//! Every sample used to allocate its planes afresh (the stem's padded cotangent alone is
//! 0.7 MB in f32); the allocator hands freed arena memory back to the OS between calls, so
//! the next sample faulted and cleared those pages again: ~8 % of the stem's training step
//! in `clear_page_erms`, another ~5 % in malloc/free. A thread keeps a few buffers it has
//! freed and hands the best fitting one out again. Thread-local rather than the process-wide
//! `fast::pool`: these buffers are mostly below its 256 KB floor (a phase class's input
//! planes are ~64 KB) and taken several times per sample by every thread at once, where one
//! mutex would be contended.
//!
//! Bounded per thread: at most [`MAX_SPARE`] buffers and [`MAX_SPARE_BYTES`] bytes (the
//! oldest go first); buffers under [`MIN_SPARE_BYTES`] are left to the allocator.

use std::any::Any;
use std::cell::RefCell;

/// Most buffers a thread keeps.
const MAX_SPARE: usize = 12;
/// Most bytes a thread keeps (a buffer larger than this is not kept).
const MAX_SPARE_BYTES: usize = 16 << 20;
/// Buffers smaller than this are left to the allocator (its own caches serve them).
const MIN_SPARE_BYTES: usize = 16 << 10;

struct Spare {
    /// `(capacity in bytes, a Vec<T>)`, oldest first.
    buffers: Vec<(usize, Box<dyn Any>)>,
    bytes: usize,
}

thread_local! {
    static SPARE: RefCell<Spare> = const {
        RefCell::new(Spare {
            buffers: Vec::new(),
            bytes: 0,
        })
    };
}

/// An empty buffer with room for at least `cap` elements: the smallest large enough one
/// this thread kept, else a new one. Its spare capacity holds whatever it held before.
pub(super) fn take<T: 'static>(cap: usize) -> Vec<T> {
    let bytes = cap * std::mem::size_of::<T>();
    if bytes >= MIN_SPARE_BYTES {
        // `try_with`: during thread teardown the spares may be gone; allocate then.
        let kept = SPARE.try_with(|s| {
            let mut s = s.borrow_mut();
            let best = (s.buffers.iter().enumerate())
                .filter(|(_, (b, v))| *b >= bytes && v.is::<Vec<T>>())
                .min_by_key(|(_, (b, _))| *b)
                .map(|(i, _)| i)?;
            let (b, v) = s.buffers.remove(best);
            s.bytes -= b;
            v.downcast::<Vec<T>>().ok()
        });
        if let Ok(Some(mut v)) = kept {
            v.clear();
            return *v;
        }
    }
    Vec::with_capacity(cap)
}

/// Keep `v` for a later [`take`] on this thread (dropped if small or too large; the oldest
/// kept ones are dropped to stay within the bounds).
pub(super) fn give<T: 'static>(v: Vec<T>) {
    let bytes = v.capacity() * std::mem::size_of::<T>();
    if !(MIN_SPARE_BYTES..=MAX_SPARE_BYTES).contains(&bytes) {
        return;
    }
    let _ = SPARE.try_with(|s| {
        // Dropped outside the borrow (a `Vec<T>`'s drop does not come back here, but the
        // borrow is kept short anyway).
        let mut evicted = Vec::new();
        {
            let mut s = s.borrow_mut();
            while !s.buffers.is_empty()
                && (s.buffers.len() >= MAX_SPARE || s.bytes + bytes > MAX_SPARE_BYTES)
            {
                let (b, old) = s.buffers.remove(0);
                s.bytes -= b;
                evicted.push(old);
            }
            s.bytes += bytes;
            s.buffers.push((bytes, Box::new(v)));
        }
        drop(evicted);
    });
}

/// Drop the spare buffers of this thread and of every thread of rayon's global pool, so
/// that a measurement of a call's peak memory (`fftconv bench`'s peak column, through
/// [`crate::conv::fast::pool::release`]) sees its planes allocated afresh.
pub(crate) fn release() {
    fn clear() {
        let dropped = SPARE.try_with(|s| {
            let mut s = s.borrow_mut();
            s.bytes = 0;
            std::mem::take(&mut s.buffers)
        });
        drop(dropped);
    }
    clear();
    rayon::broadcast(|_| clear());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_buffer_comes_back_empty_and_large_enough() {
        let mut v: Vec<f32> = take(10_000);
        v.resize(10_000, 3.0);
        let at = v.as_ptr();
        give(v);
        // Another type does not take it.
        let d: Vec<f64> = take(1_000);
        assert!(d.is_empty() && d.capacity() >= 1_000);
        let w: Vec<f32> = take(9_000);
        assert!(w.is_empty() && w.capacity() >= 10_000);
        assert_eq!(w.as_ptr(), at);
        // A larger request than any kept buffer gets a new one.
        give(w);
        let big: Vec<f32> = take(20_000);
        assert!(big.capacity() >= 20_000);
    }

    /// In a private pool, so that no other test's work gives buffers back meanwhile
    /// (`rayon::broadcast` reaches the pool it is called from).
    #[test]
    fn release_empties_every_thread() {
        let kept = || SPARE.with(|s| s.borrow().buffers.len());
        let threads = rayon::ThreadPoolBuilder::new().num_threads(2).build();
        let threads = threads.expect("a test thread pool");
        threads.install(|| {
            give(Vec::<f32>::with_capacity(MIN_SPARE_BYTES));
            rayon::broadcast(|_| give(Vec::<f32>::with_capacity(MIN_SPARE_BYTES)));
            assert!(rayon::broadcast(|_| kept()).iter().all(|&n| n > 0));
            release();
            assert!(rayon::broadcast(|_| kept()).iter().all(|&n| n == 0));
        });
    }

    #[test]
    fn a_thread_keeps_a_bounded_number_of_bytes() {
        for _ in 0..3 * MAX_SPARE {
            give(Vec::<f64>::with_capacity(MAX_SPARE_BYTES / 8 / 4));
        }
        SPARE.with(|s| {
            let s = s.borrow();
            assert!(s.buffers.len() <= MAX_SPARE);
            assert!(s.bytes <= MAX_SPARE_BYTES);
        });
    }
}
