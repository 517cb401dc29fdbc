//! Outputs written without a zeroing pass first: a [`Written`] token is the proof that a chunk
//! handed out uninitialised was written in full, and [`written_spare`] / [`par_written`] only
//! take a buffer as initialised once every chunk returned one.

use super::plan::{Engine, Source};
use super::scratch;
use crate::conv::fast::memory::zeroed;
use crate::tensor::Scalar;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Proof that an output chunk handed out uninitialised was written in full: only
/// [`Written::correlated`] and [`Written::zeroed`] make one.
pub(super) struct Written(());

impl Written {
    /// `dst` written by one correlation of `eng` (which writes all of it: [`Engine`]).
    pub(super) fn correlated<'a, T>(
        eng: &impl Engine<T>,
        srcs: &[Source<'_, T>],
        dst: &'a mut [MaybeUninit<T>],
    ) -> (&'a mut [T], Written) {
        eng.correlate(srcs, dst);
        // SAFETY: `Engine::correlate` wrote every element of `dst` (the trait's contract);
        // `MaybeUninit<T>` has the layout of `T`.
        let dst = unsafe { &mut *(dst as *mut [MaybeUninit<T>] as *mut [T]) };
        (dst, Written(()))
    }

    /// `dst` zeroed.
    pub(super) fn zeroed<T: Scalar>(dst: &mut [MaybeUninit<T>]) -> (&mut [T], Written) {
        (zeroed(dst), Written(()))
    }

    /// The length `n` of the chunk this token was made for, to add up with the others of a
    /// buffer ([`Written::tiling`]).
    pub(super) fn len(self, n: usize) -> usize {
        n
    }

    /// `dst` as written, when its disjoint chunks, each written (their lengths from
    /// [`Written::len`]), add up to `written` elements: all of it (panics otherwise).
    pub(super) fn tiling<T>(written: usize, dst: &mut [MaybeUninit<T>]) -> (&mut [T], Written) {
        assert_eq!(written, dst.len(), "every chunk of the output written");
        // SAFETY: disjoint chunks of `dst`, each written in full, whose lengths add up to
        // its length (asserted); `MaybeUninit<T>` has the layout of `T`.
        let dst = unsafe { &mut *(dst as *mut [MaybeUninit<T>] as *mut [T]) };
        (dst, Written(()))
    }
}

/// `len` elements written by `fill` (no zeroing pass), in one of the thread's spare buffers
/// ([`scratch`]): for work buffers, handed back with [`scratch::give`] when done.
pub(super) fn written_spare<T: 'static>(
    len: usize,
    fill: impl FnOnce(&mut [MaybeUninit<T>]) -> Written,
) -> Vec<T> {
    let mut v = scratch::take(len);
    let Written(()) = fill(&mut v.spare_capacity_mut()[..len]);
    // SAFETY: `fill` returned a `Written` for the `len` elements: all written.
    unsafe { v.set_len(len) };
    v
}

/// `chunks` chunks of `len` elements, chunk `i` written by `fill(i, chunk)` in a parallel
/// task: the output without a zeroing pass up front (megabytes that a single thread would
/// clear, and each core would then load back).
pub(super) fn par_written<T: Send>(
    chunks: usize,
    len: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<T>]) -> Written + Sync + Send,
) -> Vec<T> {
    let mut v = Vec::with_capacity(chunks * len);
    v.spare_capacity_mut()[..chunks * len]
        .par_chunks_mut(len.max(1))
        .enumerate()
        .for_each(|(i, chunk)| {
            let Written(()) = fill(i, chunk);
        });
    // SAFETY: every chunk was handed to `fill`, which returned a `Written` for it: only a
    // chunk written in full gives one (a panic above leaves the length 0).
    unsafe { v.set_len(chunks * len) };
    v
}
