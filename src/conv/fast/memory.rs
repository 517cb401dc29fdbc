//! Buffers of the fast paths: values that start on a cache line, and output memory written
//! by parallel tasks without a zeroing pass up front.

use crate::tensor::Scalar;
use std::mem::MaybeUninit;

/// Bytes of a cache line.
pub(crate) const LINE: usize = 64;

/// `len` values that start on a cache line, inside a slightly longer `Vec`: malloc's buffers
/// are 16-byte aligned, so without the offset half the 32-byte vectors (and every 64-byte
/// one) of a pass over them would straddle two lines, and a straddling load costs two.
#[derive(Debug, Default)]
pub(crate) struct Aligned<T> {
    data: Vec<T>,
    start: usize,
    len: usize,
}

impl<T> Aligned<T> {
    /// Elements to allocate beyond `len` so that the values can start on a line.
    pub(crate) fn slack() -> usize {
        LINE / std::mem::size_of::<T>().max(1)
    }

    /// The first `len` values from the first cache line of `data`, which must hold at least
    /// `len + slack()` elements (else `len` is cut to what fits).
    pub(crate) fn within(data: Vec<T>, len: usize) -> Self {
        let size = std::mem::size_of::<T>().max(1);
        let start = ((LINE - data.as_ptr() as usize % LINE) % LINE / size).min(data.len());
        let len = len.min(data.len() - start);
        Aligned { data, start, len }
    }

    /// The whole buffer back (for a pool).
    pub(crate) fn into_vec(mut self) -> Vec<T> {
        std::mem::take(&mut self.data)
    }
}

impl<T: Copy> Aligned<T> {
    /// `len` copies of `v`.
    pub(crate) fn new(len: usize, v: T) -> Self {
        Self::within(vec![v; len + Self::slack()], len)
    }
}

impl<T: Copy> Clone for Aligned<T> {
    /// A copy that starts on a line of its own buffer (a derived clone would keep the old
    /// offset in a new allocation).
    fn clone(&self) -> Self {
        match self.first() {
            Some(&v) => {
                let mut c = Self::new(self.len, v);
                c.copy_from_slice(self);
                c
            }
            None => Aligned::within(Vec::new(), 0),
        }
    }
}

impl<T> std::ops::Deref for Aligned<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.data[self.start..][..self.len]
    }
}

impl<T> std::ops::DerefMut for Aligned<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.data[self.start..][..self.len]
    }
}

/// `chunk` zeroed, as initialised values: a parallel task clears the part of an output it
/// writes next, in its own core's cache, instead of one thread clearing megabytes up front.
pub(crate) fn zeroed<T: Scalar>(chunk: &mut [MaybeUninit<T>]) -> &mut [T] {
    chunk.fill(MaybeUninit::new(T::zero()));
    // SAFETY: every element was just initialised, and `MaybeUninit<T>` has the layout of `T`.
    unsafe { &mut *(chunk as *mut [MaybeUninit<T>] as *mut [T]) }
}

/// Ask for every cache line of `values` to be brought into L2 (no architectural effect).
#[inline]
pub(crate) fn prefetch_lines<T>(values: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        let line = (LINE / std::mem::size_of::<T>().max(1)).max(1);
        for at in (0..values.len()).step_by(line) {
            // SAFETY: a prefetch has no architectural effect; the address is in `values`.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T1 }>(
                    values.as_ptr().add(at).cast(),
                )
            };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = values;
}

/// `v` as initialised values.
///
/// # Safety
/// Every entry of `v` must have been written.
pub(crate) unsafe fn assume_init<T>(v: Vec<MaybeUninit<T>>) -> Vec<T> {
    let mut v = std::mem::ManuallyDrop::new(v);
    let (ptr, len, cap) = (v.as_mut_ptr(), v.len(), v.capacity());
    // SAFETY: `MaybeUninit<T>` has the layout of `T`; the buffer comes from a `Vec` of the
    // same allocator, length and capacity, and the caller promises every entry is written.
    unsafe { Vec::from_raw_parts(ptr.cast::<T>(), len, cap) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_values_start_on_a_line_and_keep_their_length() {
        for len in [0, 1, 7, 16, 33, 1000] {
            let a = Aligned::<f32>::new(len, 1.5);
            assert_eq!(a.len(), len);
            assert!(a.iter().all(|&v| v == 1.5));
            if len > 0 {
                assert_eq!(a.as_ptr() as usize % LINE, 0, "f32, len {len}");
            }
            let mut b = Aligned::<f64>::new(len, 0.0);
            for (i, v) in b.iter_mut().enumerate() {
                *v = i as f64;
            }
            let c = b.clone();
            assert_eq!(&c[..], &b[..]);
            if len > 0 {
                assert_eq!(c.as_ptr() as usize % LINE, 0, "f64 clone, len {len}");
            }
        }
    }

    #[test]
    fn aligned_within_a_short_buffer_cuts_the_length_not_the_bounds() {
        let a = Aligned::within(vec![0u8; 10], 100);
        assert!(a.len() <= 10);
    }

    #[test]
    fn zeroed_and_assume_init_give_the_written_values() {
        let mut v: Vec<MaybeUninit<f64>> = Vec::with_capacity(6);
        v.resize(6, MaybeUninit::new(7.0));
        let (a, b) = v.split_at_mut(3);
        assert_eq!(zeroed(a), &[0.0; 3]);
        b.iter_mut().for_each(|x| {
            x.write(2.0);
        });
        // SAFETY: every entry was written above.
        let v = unsafe { assume_init(v) };
        assert_eq!(v, [0.0, 0.0, 0.0, 2.0, 2.0, 2.0]);
    }
}
