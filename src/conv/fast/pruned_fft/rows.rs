//! The batched row transforms of a [`super::PrunedRfft`]: each real line as a half-length
//! complex line ([`HalfComplex`]), or two lines as one complex line of their length
//! ([`Paired`]) where rustfft runs that length much faster ([`paired::pays`]), or many lines
//! at once down the columns of their transpose ([`Across`]) where [`across::pays`] (no length
//! yet: slower than rustfft's lines on 2d-k7, the transposes eat the gain).

mod across;

use super::halfcomplex::{self, HalfComplex};
use super::paired::{self, Paired};
use crate::tensor::Scalar;
use across::Across;
use num_complex::Complex;
use rustfft::FftPlanner;

/// Real lines of one even length, transformed in batches.
pub(super) enum RowBatch<T: Scalar> {
    Half(HalfComplex<T>),
    Paired(Paired<T>),
    Across(Across<T>),
}

impl<T: Scalar> RowBatch<T> {
    /// The batches for lines of length `n` where the vector passes run for `T` and `n` is
    /// even; else `None` (the caller keeps realfft's lines).
    pub(super) fn plan(n: usize, planner: &mut FftPlanner<T>) -> Option<Self> {
        if across::pays::<T>(n) {
            if let Some(a) = Across::plan(n, true, planner) {
                return Some(RowBatch::Across(a));
            }
        }
        if halfcomplex::vector_passes::<T>() && paired::pays(n) {
            Some(RowBatch::Paired(Paired::plan(n, planner)))
        } else {
            HalfComplex::plan(n, planner).map(RowBatch::Half)
        }
    }

    /// Scratch the FFT calls need.
    pub(super) fn scratch_len(&self) -> usize {
        match self {
            RowBatch::Half(h) => h.scratch_len(),
            RowBatch::Paired(p) => p.scratch_len(),
            RowBatch::Across(a) => a.scratch_len(),
        }
    }

    /// Complex work space for `lines` lines.
    pub(super) fn work_len(&self, lines: usize) -> usize {
        match self {
            RowBatch::Half(h) => lines * h.points(),
            RowBatch::Paired(p) => p.work_len(lines),
            RowBatch::Across(a) => a.work_len(lines),
        }
    }

    /// Half spectra (`N/2 + 1` bins each, `stride` apart in `out`) of the real lines in
    /// `real` (used as work space); `z` holds [`work_len`](Self::work_len) values.
    pub(super) fn forward(
        &self,
        real: &mut [T],
        z: &mut [Complex<T>],
        out: &mut [Complex<T>],
        stride: usize,
        scratch: &mut [Complex<T>],
    ) {
        match self {
            RowBatch::Half(h) => h.forward(real, z, out, stride, scratch),
            RowBatch::Paired(p) => p.forward(real, z, out, stride, scratch),
            RowBatch::Across(a) => a.forward(real, z, out, stride, scratch),
        }
    }

    /// The real lines (unnormalised: `N` times the signal) of the half spectra in
    /// `spectra` (`stride` apart; the imaginary parts of the DC and Nyquist bins zero).
    pub(super) fn inverse(
        &self,
        spectra: &[Complex<T>],
        stride: usize,
        z: &mut [Complex<T>],
        real: &mut [T],
        scratch: &mut [Complex<T>],
    ) {
        match self {
            RowBatch::Half(h) => h.inverse(spectra, stride, z, real, scratch),
            RowBatch::Paired(p) => p.inverse(spectra, stride, z, real, scratch),
            RowBatch::Across(a) => a.inverse(spectra, stride, z, real, scratch),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which rows a plan pairs: in `f32` with the vector passes, the even lengths whose
    /// doubled line measured faster (36, 40, …, 180) and no other; half-length lines for the
    /// other even lengths; odd lengths and `f64` never pair (realfft's lines or the half ones).
    #[test]
    fn pairs_exactly_the_paying_lengths_in_f32() {
        let mut p32 = FftPlanner::<f32>::new();
        let mut p64 = FftPlanner::<f64>::new();
        let vector = halfcomplex::vector_passes::<f32>();
        let mut paired = Vec::new();
        for n in 1..=200 {
            match RowBatch::plan(n, &mut p32) {
                Some(RowBatch::Paired(_)) => paired.push(n),
                Some(RowBatch::Half(_)) => assert!(vector && n % 2 == 0, "n {n}: half lines"),
                Some(RowBatch::Across(_)) => {
                    assert!(across::pays::<f32>(n), "n {n}: lines across")
                }
                None => assert!(!vector || n % 2 == 1 || n < 2, "n {n}: no batch"),
            }
            assert!(
                !matches!(RowBatch::plan(n, &mut p64), Some(RowBatch::Paired(_))),
                "n {n}: f64 rows paired"
            );
        }
        let want: Vec<usize> = if vector {
            vec![36, 40, 56, 60, 84, 180]
        } else {
            vec![]
        };
        assert_eq!(paired, want);
    }
}
