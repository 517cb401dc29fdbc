//! The output planes of the depthwise passes, written by parallel tasks into memory not
//! yet initialised (a [`Written`] proves each plane was), and the cache hint for the next
//! input plane.

use super::super::depthwise_kernels::{Corr2, DwEngine, Out};
use super::in_place::InPlace;
use crate::tensor::Scalar;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// `planes` planes of `len` elements, each written by `fill` in a parallel task, which
/// initialises every element of its plane (the [`Written`] it returns says so: zeroed first,
/// or written by a kernel that writes them all): the zeroing happens in the cache of the core that writes the plane next, instead of a
/// single thread clearing the whole output (megabytes) up front.
pub(super) fn par_planes<T, S, I, F>(planes: usize, len: usize, init: I, fill: F) -> Vec<T>
where
    T: Scalar,
    I: Fn() -> S + Sync + Send,
    F: Fn(&mut S, usize, Fresh<'_, T>) -> Written + Sync + Send,
{
    let mut v = Vec::with_capacity(planes * len);
    v.spare_capacity_mut()[..planes * len]
        .par_chunks_mut(len)
        .enumerate()
        .for_each_init(init, |state, (plane, chunk)| {
            let Written = fill(state, plane, Fresh(chunk));
        });
    // SAFETY: every `fill` returned a `Written` for its plane, which only a plane whose
    // elements are all initialised gives (a panic in the loop leaves the length 0).
    unsafe { v.set_len(planes * len) };
    v
}

/// An output plane not yet written, handed to a [`par_planes`] task.
pub(super) struct Fresh<'a, T>(&'a mut [MaybeUninit<T>]);

/// Proof that a [`Fresh`] plane was initialised (only its methods make one).
pub(super) struct Written;

impl<'a, T: Scalar> Fresh<'a, T> {
    /// The plane, zeroed.
    pub(super) fn zeroed(self) -> (&'a mut [T], Written) {
        (crate::conv::fast::memory::zeroed(self.0), Written)
    }

    /// `corr_fresh` of `eng` into the plane, when it runs `c` (else the plane back).
    pub(super) fn corr<E: DwEngine<T>>(
        self,
        eng: &E,
        c: &Corr2,
        src: &[T],
        w: &[T],
    ) -> std::result::Result<Written, Self> {
        if c.rows * c.cols == self.0.len() && eng.corr_fresh(c, src, w, self.0) {
            // `DwEngine` (an unsafe trait) promises that `corr_fresh` wrote `rows·cols`
            // elements when it returns true: the whole plane.
            Ok(Written)
        } else {
            Err(self)
        }
    }

    /// `in_place.run` of `eng` into the plane, when its tiles `c` cover the plane exactly
    /// and a row-sharing kernel runs them (else the plane back, untouched).
    pub(super) fn corr_in_place<E: DwEngine<T>>(
        self,
        (eng, in_place): (&E, &InPlace),
        c: &Corr2,
        xw: (&[T], &[T]),
    ) -> std::result::Result<Written, Self> {
        let exact = c.rows * c.cols == self.0.len() && c.out_stride == c.cols;
        if exact && in_place.run(eng, c, xw, Out::Fresh(&mut *self.0)) {
            // `run` returned true: every row and column of `c`, the whole plane, written.
            Ok(Written)
        } else {
            Err(self)
        }
    }
}

/// Ask the cache for `s` ahead of its use: the planes a pass reads (an input or cotangent
/// plane, megabytes apart) are copied into their padded buffers row by row, and that copy
/// otherwise waits on every cache line in turn. Issued for the next plane while the current
/// one is correlated, the lines arrive behind the arithmetic.
#[allow(unused_variables)]
pub(super) fn prefetch<T>(s: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T1};
        const LINE: usize = 64;
        let bytes = std::mem::size_of_val(s);
        let p = s.as_ptr() as *const i8;
        for off in (0..bytes).step_by(LINE) {
            // SAFETY: a prefetch is a hint (it never faults), and `off` is inside `s`.
            unsafe { _mm_prefetch::<_MM_HINT_T1>(p.add(off)) };
        }
    }
}
