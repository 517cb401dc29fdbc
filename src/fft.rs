//! Real n-dimensional FFTs (realfft over the last axis, rustfft over the others), planned once
//! per shape and element type and kept in the process-wide plan cache ([`cached_plan`], which
//! the other plans of the crate share).
//!
//! Normalisation: the forward transform is unnormalised,
//! `$\hat x_k = \sum_j x_j e^{-2\pi i\, jk/P}$`; the inverse divides by `$\prod P$`, so
//! `inverse(forward(x)) = x`. The spectrum of a real array of shape `[P0, …, Pd-1]` keeps only
//! the non-redundant half of the last axis: shape `[P0, …, Pd-1/2 + 1]`.
//!
//! Proved in `derivations/01-notation.md` (NOT-3, the normalisation) and
//! `derivations/03-circular-convolution.md` (CIRC-1: convolution is a product of spectra; RFFT-1:
//! the adjoint of the real transform counts every bin but DC and Nyquist twice).

use crate::tensor::Scalar;
use num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};
use std::sync::Arc;

mod plans;
pub use plans::{cached_plan, try_cached_plan, PLANS_KEPT};

/// The smallest length `≥ n` whose prime factors are all in {2, 3, 5, 7} (fast for rustfft).
///
/// ```
/// assert_eq!(fftconv::fft::fast_len(97), 98);
/// assert_eq!(fftconv::fft::fast_len(64), 64);
/// ```
pub fn fast_len(n: usize) -> usize {
    let mut m = n.max(1);
    loop {
        let mut r = m;
        for p in [2, 3, 5, 7] {
            while r.is_multiple_of(p) {
                r /= p;
            }
        }
        if r == 1 {
            return m;
        }
        m += 1;
    }
}

/// A planned real n-D FFT for one shape. Plain data: the plans of each axis.
pub struct RealFftNd<T: Scalar> {
    shape: Vec<usize>,
    spec_shape: Vec<usize>,
    r2c: Arc<dyn RealToComplex<T>>,
    c2r: Arc<dyn ComplexToReal<T>>,
    forward_axes: Vec<Arc<dyn Fft<T>>>,
    inverse_axes: Vec<Arc<dyn Fft<T>>>,
}

impl<T: Scalar> RealFftNd<T> {
    /// The (cached) plan for a real array of `shape`. Every extent must be ≥ 1.
    ///
    /// # Panics
    /// If `shape` is empty or has a zero extent (callers validate shapes first).
    pub fn plan(shape: &[usize]) -> Arc<Self> {
        assert!(
            !shape.is_empty() && shape.iter().all(|&n| n > 0),
            "FFT shape {shape:?} must be non-empty with positive extents"
        );
        cached_plan(shape.to_vec(), || Self::build(shape))
    }

    fn build(shape: &[usize]) -> Self {
        let d = shape.len();
        let mut real = RealFftPlanner::<T>::new();
        let mut cplx = FftPlanner::<T>::new();
        let last = shape[d - 1];
        let mut spec_shape = shape.to_vec();
        spec_shape[d - 1] = last / 2 + 1;
        RealFftNd {
            shape: shape.to_vec(),
            spec_shape,
            r2c: real.plan_fft_forward(last),
            c2r: real.plan_fft_inverse(last),
            forward_axes: shape[..d - 1]
                .iter()
                .map(|&n| cplx.plan_fft_forward(n))
                .collect(),
            inverse_axes: shape[..d - 1]
                .iter()
                .map(|&n| cplx.plan_fft_inverse(n))
                .collect(),
        }
    }

    /// The real shape this plan transforms.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    /// The shape of the half spectrum.
    pub fn spectrum_shape(&self) -> &[usize] {
        &self.spec_shape
    }
    /// Number of real samples.
    pub fn real_len(&self) -> usize {
        self.shape.iter().product()
    }
    /// Number of complex bins in the half spectrum.
    pub fn spectrum_len(&self) -> usize {
        self.spec_shape.iter().product()
    }

    /// Forward transform of one real array (length `real_len`) into its half spectrum.
    ///
    /// # Panics
    /// If `x.len() != self.real_len()`.
    pub fn forward(&self, x: &[T]) -> Vec<Complex<T>> {
        assert_eq!(x.len(), self.real_len(), "FFT input length");
        let last = *self.shape.last().unwrap_or(&1);
        let half = *self.spec_shape.last().unwrap_or(&1);
        let rows = x.len() / last;
        let mut out = vec![Complex::new(T::zero(), T::zero()); rows * half];
        let mut buf = vec![T::zero(); last];
        let mut scratch = self.r2c.make_scratch_vec();
        for r in 0..rows {
            buf.copy_from_slice(&x[r * last..(r + 1) * last]);
            self.r2c
                .process_with_scratch(&mut buf, &mut out[r * half..(r + 1) * half], &mut scratch)
                .expect("realfft buffer lengths are planned");
        }
        self.outer_axes(&mut out, true);
        out
    }

    /// Inverse transform of a half spectrum (consumed as scratch) into a real array, divided by
    /// the number of samples so that it inverts [`forward`](Self::forward).
    ///
    /// The imaginary parts of the DC and Nyquist bins of the last axis are taken as zero (they
    /// are, up to rounding, for the spectrum of any real array).
    ///
    /// # Panics
    /// If `spec.len() != self.spectrum_len()`.
    pub fn inverse(&self, spec: &mut [Complex<T>]) -> Vec<T> {
        assert_eq!(spec.len(), self.spectrum_len(), "inverse FFT input length");
        self.outer_axes(spec, false);
        let last = *self.shape.last().unwrap_or(&1);
        let half = *self.spec_shape.last().unwrap_or(&1);
        let rows = spec.len() / half;
        let scale = T::one() / T::of(self.real_len() as f64);
        let mut out = vec![T::zero(); rows * last];
        let mut scratch = self.c2r.make_scratch_vec();
        for r in 0..rows {
            let line = &mut spec[r * half..(r + 1) * half];
            line[0].im = T::zero();
            if last.is_multiple_of(2) {
                line[half - 1].im = T::zero();
            }
            // Only InputValues can come back, and we zeroed those parts above.
            let _ = self.c2r.process_with_scratch(
                line,
                &mut out[r * last..(r + 1) * last],
                &mut scratch,
            );
        }
        for v in out.iter_mut() {
            *v = *v * scale;
        }
        out
    }

    /// Complex FFTs along every axis but the last, in place on a half spectrum.
    fn outer_axes(&self, data: &mut [Complex<T>], forward: bool) {
        let d = self.shape.len();
        for a in 0..d.saturating_sub(1) {
            let n = self.spec_shape[a];
            if n == 1 {
                continue;
            }
            let stride: usize = self.spec_shape[a + 1..].iter().product();
            let outer: usize = self.spec_shape[..a].iter().product();
            let plan = if forward {
                &self.forward_axes[a]
            } else {
                &self.inverse_axes[a]
            };
            // Gather `stride` lines at a time into a contiguous block, transform, scatter back.
            let mut block = vec![Complex::new(T::zero(), T::zero()); n * stride];
            let mut scratch =
                vec![Complex::new(T::zero(), T::zero()); plan.get_inplace_scratch_len()];
            for o in 0..outer {
                let base = o * n * stride;
                for k in 0..n {
                    for j in 0..stride {
                        block[j * n + k] = data[base + k * stride + j];
                    }
                }
                plan.process_with_scratch(&mut block, &mut scratch);
                for k in 0..n {
                    for j in 0..stride {
                        data[base + k * stride + j] = block[j * n + k];
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_dft(x: &[f64], shape: &[usize]) -> Vec<Complex<f64>> {
        let n: usize = shape.iter().product();
        let idx = |f: usize| crate::tensor::unravel(f, shape);
        (0..n)
            .map(|k| {
                let kk = idx(k);
                (0..n)
                    .map(|j| {
                        let jj = idx(j);
                        let phase: f64 = kk
                            .iter()
                            .zip(&jj)
                            .zip(shape)
                            .map(|((&a, &b), &p)| (a * b) as f64 / p as f64)
                            .sum();
                        Complex::from_polar(x[j], -2.0 * std::f64::consts::PI * phase)
                    })
                    .sum()
            })
            .collect()
    }

    #[test]
    fn matches_naive_dft_and_inverts() {
        for shape in [vec![7], vec![8], vec![3, 4], vec![5, 3, 6], vec![2, 1, 3]] {
            let n: usize = shape.iter().product();
            let x: Vec<f64> = (0..n).map(|i| ((i * 37 + 11) % 17) as f64 - 8.0).collect();
            let plan = RealFftNd::<f64>::plan(&shape);
            let mut spec = plan.forward(&x);
            let full = naive_dft(&x, &shape);
            let half_shape = plan.spectrum_shape().to_vec();
            for (f, s) in spec.iter().enumerate() {
                let mut ix = crate::tensor::unravel(f, &half_shape);
                let flat = ix
                    .iter_mut()
                    .zip(&shape)
                    .fold(0, |acc, (i, &p)| acc * p + *i);
                assert!(
                    (s - full[flat]).norm() < 1e-9,
                    "shape {shape:?} bin {ix:?}: {s} vs {}",
                    full[flat]
                );
            }
            let back = plan.inverse(&mut spec);
            for (i, (a, b)) in back.iter().zip(&x).enumerate() {
                assert!(
                    (a - b).abs() < 1e-12,
                    "shape {shape:?} index {i}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn fast_len_is_smooth_and_minimal() {
        assert_eq!(fast_len(1), 1);
        assert_eq!(fast_len(11), 12);
        assert_eq!(fast_len(13), 14);
        assert_eq!(fast_len(17), 18);
        assert_eq!(fast_len(121), 125);
    }
}
