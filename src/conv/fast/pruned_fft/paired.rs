//! Real lines of even length `N` transformed two at a time as one complex line of `N` points
//! (the first line as real parts, the second as imaginary parts), for the lengths where
//! rustfft's complex lines of `N` run much faster per point than its lines of `M = N/2`
//! ([`pays`]), which [`super::halfcomplex`] would use: on Zen 4 a complex line of 18 runs at
//! 1.34 ns per point on scalar butterflies, one of 36 at 0.46 ns on `Butterfly36Avx`
//! (`examples/fft_lengths.rs`), and 3d-k5's rows of 36 were ~13 % of its profile.
//!
//! With `z_j = a_j + i b_j` and `Z = FFT_N(z)`, the half spectra of `a` and `b` are
//!
//! ```math
//! A_k = \tfrac12\bigl(Z_k + \overline{Z_{N-k}}\bigr),\qquad
//! B_k = \tfrac{1}{2i}\bigl(Z_k - \overline{Z_{N-k}}\bigr)\qquad(0 \le k \le M,\ Z_N = Z_0),
//! ```
//!
//! and back, `Z_k = A_k + i B_k` for `k ≤ M` and `Z_{N-k} = \overline{A_k - i B_k}`: the
//! unnormalised inverse FFT of `Z` gives `N a` as real parts and `N b` as imaginary parts.
//! An odd line out is paired with zeros.

use crate::tensor::Scalar;
use num_complex::Complex;
use rustfft::{Fft, FftPlanner};
use std::sync::Arc;

#[cfg(target_arch = "x86_64")]
use super::halfcomplex::{cast, cast_mut, load_reversed};

/// Half lengths `M` whose complex lines of `2M` measured at least 1.6× faster per point than
/// those of `M` (`examples/fft_lengths.rs`, f32, Zen 4: 18 → 36 2.9×, 20 → 40 2.2×, 28 → 56
/// 2.1×, 30 → 60 1.7×, 42 → 84 1.65×, 90 → 180 2.0×); below that the passes that pair and
/// separate the lines would eat the gain.
const PAYING_HALVES: [usize; 6] = [18, 20, 28, 30, 42, 90];

/// Whether real lines of length `n` run faster paired than as half-length complex lines.
pub(super) fn pays(n: usize) -> bool {
    n.is_multiple_of(2) && PAYING_HALVES.contains(&(n / 2))
}

/// The planned pairs of lines of one even length.
pub(super) struct Paired<T: Scalar> {
    n: usize,
    forward: Arc<dyn Fft<T>>,
    inverse: Arc<dyn Fft<T>>,
}

impl<T: Scalar> Paired<T> {
    /// The pairs of lines of even length `n`.
    pub(super) fn plan(n: usize, planner: &mut FftPlanner<T>) -> Self {
        assert!(n >= 2 && n.is_multiple_of(2), "paired lines of length {n}");
        Paired {
            n,
            forward: planner.plan_fft_forward(n),
            inverse: planner.plan_fft_inverse(n),
        }
    }

    /// Scratch the FFT calls need.
    pub(super) fn scratch_len(&self) -> usize {
        self.forward
            .get_inplace_scratch_len()
            .max(self.inverse.get_inplace_scratch_len())
    }

    /// Complex work space for `lines` lines.
    pub(super) fn work_len(&self, lines: usize) -> usize {
        lines.div_ceil(2) * self.n
    }

    /// Half spectra (`M + 1` bins each, `stride` apart in `out`) of the real lines in `real`
    /// (`N` values each); `z` holds [`work_len`](Self::work_len) values of work space.
    pub(super) fn forward(
        &self,
        real: &[T],
        z: &mut [Complex<T>],
        out: &mut [Complex<T>],
        stride: usize,
        scratch: &mut [Complex<T>],
    ) {
        let n = self.n;
        let count = real.len() / n;
        let z = &mut z[..self.work_len(count)];
        for (p, zp) in z.chunks_exact_mut(n).enumerate() {
            let b = real.get((2 * p + 1) * n..(2 * p + 2) * n);
            interleave(&real[2 * p * n..][..n], b, zp);
        }
        self.forward.process_with_scratch(z, scratch);
        let h = n / 2 + 1;
        for (p, zp) in z.chunks_exact(n).enumerate() {
            let lines = &mut out[2 * p * stride..];
            let (a, rest) = lines.split_at_mut(stride.min(lines.len()));
            if 2 * p + 1 < count {
                separate(zp, &mut a[..h], &mut rest[..h]);
            } else {
                separate_one(zp, &mut a[..h]);
            }
        }
    }

    /// The real lines (`N` values each of `real`, unnormalised: `N` times the signal) of the
    /// half spectra in `spectra` (`M + 1` bins each, `stride` apart; the imaginary parts of
    /// bins `0` and `M` must be zero); `z` holds [`work_len`](Self::work_len) values of work
    /// space.
    pub(super) fn inverse(
        &self,
        spectra: &[Complex<T>],
        stride: usize,
        z: &mut [Complex<T>],
        real: &mut [T],
        scratch: &mut [Complex<T>],
    ) {
        let n = self.n;
        let h = n / 2 + 1;
        let count = real.len() / n;
        let z = &mut z[..self.work_len(count)];
        for (p, zp) in z.chunks_exact_mut(n).enumerate() {
            let a = &spectra[2 * p * stride..][..h];
            let b = (2 * p + 1 < count).then(|| &spectra[(2 * p + 1) * stride..][..h]);
            combine(a, b, zp);
        }
        self.inverse.process_with_scratch(z, scratch);
        for (p, zp) in z.chunks_exact(n).enumerate() {
            let pair = &mut real[2 * p * n..];
            let (a, b) = pair.split_at_mut(n);
            let b = (2 * p + 1 < count).then(|| &mut b[..n]);
            deinterleave(zp, a, b);
        }
    }
}

/// `z_j = a_j + i b_j` (`b` zero where absent).
fn interleave<T: Scalar>(a: &[T], b: Option<&[T]>, z: &mut [Complex<T>]) {
    let Some(b) = b else {
        for (z, &a) in z.iter_mut().zip(a) {
            *z = Complex::new(a, T::zero());
        }
        return;
    };
    let mut j = 0;
    #[cfg(target_arch = "x86_64")]
    if super::halfcomplex::vector_passes::<T>() {
        // SAFETY: `T` is `f32` (same `TypeId`) and AVX2 and FMA were detected.
        j = unsafe { interleave_f32(cast_real(a), cast_real(b), cast_mut(z)) };
    }
    for j in j..z.len() {
        z[j] = Complex::new(a[j], b[j]);
    }
}

/// `a_j = Re z_j`, `b_j = Im z_j` (where `b` is asked for).
fn deinterleave<T: Scalar>(z: &[Complex<T>], a: &mut [T], b: Option<&mut [T]>) {
    let Some(b) = b else {
        for (a, z) in a.iter_mut().zip(z) {
            *a = z.re;
        }
        return;
    };
    let mut j = 0;
    #[cfg(target_arch = "x86_64")]
    if super::halfcomplex::vector_passes::<T>() {
        // SAFETY: as in `interleave`.
        j = unsafe { deinterleave_f32(cast(z), cast_real_mut(a), cast_real_mut(b)) };
    }
    for j in j..z.len() {
        a[j] = z[j].re;
        b[j] = z[j].im;
    }
}

/// `A` and `B` (`M + 1` bins each) from `Z` (`N` points).
fn separate<T: Scalar>(z: &[Complex<T>], a: &mut [Complex<T>], b: &mut [Complex<T>]) {
    let n = z.len();
    let m = n / 2;
    let mut k = 1;
    #[cfg(target_arch = "x86_64")]
    if super::halfcomplex::vector_passes::<T>() {
        // SAFETY: as in `interleave`.
        k = unsafe { separate_f32(cast(z), cast_mut(a), cast_mut(b)) };
    }
    let half = T::of(0.5);
    for k in [0].into_iter().chain(k..=m) {
        let (p, q) = (z[k], z[(n - k) % n].conj());
        a[k] = (p + q) * half;
        let d = (p - q) * half;
        b[k] = Complex::new(d.im, -d.re);
    }
}

/// `A` (`M + 1` bins) from `Z` (`N` points) whose imaginary parts are zero lines.
fn separate_one<T: Scalar>(z: &[Complex<T>], a: &mut [Complex<T>]) {
    let n = z.len();
    let half = T::of(0.5);
    for (k, a) in a.iter_mut().enumerate() {
        *a = (z[k] + z[(n - k) % n].conj()) * half;
    }
}

/// `Z` (`N` points) from `A` and `B` (`M + 1` bins each; `B` zero where absent).
fn combine<T: Scalar>(a: &[Complex<T>], b: Option<&[Complex<T>]>, z: &mut [Complex<T>]) {
    let n = z.len();
    let m = n / 2;
    let zero = Complex::new(T::zero(), T::zero());
    let i_times = |v: Complex<T>| Complex::new(-v.im, v.re);
    let mut k = 1;
    #[cfg(target_arch = "x86_64")]
    if let (Some(b), true) = (b, super::halfcomplex::vector_passes::<T>()) {
        // SAFETY: as in `interleave`.
        k = unsafe { combine_f32(cast(a), cast(b), cast_mut(z)) };
    }
    for k in [0].into_iter().chain(k..=m) {
        let bk = b.map_or(zero, |b| b[k]);
        z[k] = a[k] + i_times(bk);
        if k > 0 && k < m {
            z[n - k] = (a[k] - i_times(bk)).conj();
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn cast_real<T: Scalar>(v: &[T]) -> &[f32] {
    assert_eq!(std::any::TypeId::of::<T>(), std::any::TypeId::of::<f32>());
    // SAFETY: `T` is `f32`, checked above.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast(), v.len()) }
}

#[cfg(target_arch = "x86_64")]
fn cast_real_mut<T: Scalar>(v: &mut [T]) -> &mut [f32] {
    assert_eq!(std::any::TypeId::of::<T>(), std::any::TypeId::of::<f32>());
    // SAFETY: `T` is `f32`, checked above.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast(), v.len()) }
}

/// [`interleave`] eight points at a time while `j + 8 ≤ N`; returns the first point not
/// written.
///
/// # Safety
/// AVX2; `a` and `b` of `N` values, `z` of `N`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn interleave_f32(a: &[f32], b: &[f32], z: &mut [Complex<f32>]) -> usize {
    use std::arch::x86_64::*;
    let n = z.len();
    assert!(a.len() >= n && b.len() >= n);
    let mut j = 0;
    while j + 8 <= n {
        let va = _mm256_loadu_ps(a.as_ptr().add(j));
        let vb = _mm256_loadu_ps(b.as_ptr().add(j));
        // (a0 b0 a1 b1 | a4 b4 a5 b5) and (a2 b2 a3 b3 | a6 b6 a7 b7).
        let lo = _mm256_unpacklo_ps(va, vb);
        let hi = _mm256_unpackhi_ps(va, vb);
        let out = z.as_mut_ptr().add(j).cast::<f32>();
        _mm256_storeu_ps(out, _mm256_permute2f128_ps::<0x20>(lo, hi));
        _mm256_storeu_ps(out.add(8), _mm256_permute2f128_ps::<0x31>(lo, hi));
        j += 8;
    }
    j
}

/// [`deinterleave`] eight points at a time while `j + 8 ≤ N`; returns the first point not
/// read.
///
/// # Safety
/// AVX2; `z` of `N` values, `a` and `b` of `N`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn deinterleave_f32(z: &[Complex<f32>], a: &mut [f32], b: &mut [f32]) -> usize {
    use std::arch::x86_64::*;
    let n = z.len();
    assert!(a.len() >= n && b.len() >= n);
    let mut j = 0;
    while j + 8 <= n {
        let p = z.as_ptr().add(j).cast::<f32>();
        let (v0, v1) = (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)));
        // (x0 x1 x4 x5 | x2 x3 x6 x7), then the middle 64-bit pairs swapped.
        let re = _mm256_shuffle_ps::<0b10_00_10_00>(v0, v1);
        let im = _mm256_shuffle_ps::<0b11_01_11_01>(v0, v1);
        let order = |v: __m256| {
            _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(v)))
        };
        _mm256_storeu_ps(a.as_mut_ptr().add(j), order(re));
        _mm256_storeu_ps(b.as_mut_ptr().add(j), order(im));
        j += 8;
    }
    j
}

/// The bins `1 ≤ k` of [`separate`] four at a time while `k + 4 ≤ M`; returns the first bin
/// not computed.
///
/// # Safety
/// AVX2; `z` of `N = 2M` values, `a` and `b` of `M + 1`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn separate_f32(
    z: &[Complex<f32>],
    a: &mut [Complex<f32>],
    b: &mut [Complex<f32>],
) -> usize {
    use std::arch::x86_64::*;
    let n = z.len();
    let m = n / 2;
    assert!(a.len() > m && b.len() > m);
    let conj = _mm256_setr_ps(0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0);
    let half = _mm256_set1_ps(0.5);
    let mut k = 1;
    // Reads z[k .. k + 4] and z[n - k - 3 ..= n - k], all inside 1 ..= n - 1.
    while k + 4 <= m {
        let p = _mm256_loadu_ps(z.as_ptr().add(k).cast());
        let q = _mm256_xor_ps(load_reversed(z.as_ptr().add(n - k - 3)), conj);
        let e = _mm256_mul_ps(_mm256_add_ps(p, q), half);
        let d = _mm256_mul_ps(_mm256_sub_ps(p, q), half);
        // d / i = (d.im, -d.re).
        let o = _mm256_xor_ps(_mm256_permute_ps::<0b10_11_00_01>(d), conj);
        _mm256_storeu_ps(a.as_mut_ptr().add(k).cast(), e);
        _mm256_storeu_ps(b.as_mut_ptr().add(k).cast(), o);
        k += 4;
    }
    k
}

/// The points `k` and `N - k` (`1 ≤ k`) of [`combine`] four at a time while `k + 4 ≤ M`;
/// returns the first `k` not computed.
///
/// # Safety
/// AVX2; `a` and `b` of `M + 1` values, `z` of `N = 2M`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn combine_f32(a: &[Complex<f32>], b: &[Complex<f32>], z: &mut [Complex<f32>]) -> usize {
    use std::arch::x86_64::*;
    let n = z.len();
    let m = n / 2;
    assert!(a.len() > m && b.len() > m);
    let conj = _mm256_setr_ps(0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0);
    let neg_re = _mm256_setr_ps(-0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0);
    let mut k = 1;
    // Writes z[k .. k + 4] and z[n - k - 3 ..= n - k], all inside 1 ..= n - 1.
    while k + 4 <= m {
        let va = _mm256_loadu_ps(a.as_ptr().add(k).cast());
        let vb = _mm256_loadu_ps(b.as_ptr().add(k).cast());
        // i·b = (−b.im, b.re).
        let ib = _mm256_xor_ps(_mm256_permute_ps::<0b10_11_00_01>(vb), neg_re);
        _mm256_storeu_ps(z.as_mut_ptr().add(k).cast(), _mm256_add_ps(va, ib));
        let mirror = _mm256_xor_ps(_mm256_sub_ps(va, ib), conj);
        // Reversed, so that bin k + 3 lands at n - k - 3.
        let mirror = _mm256_permute2f128_ps::<0x01>(mirror, mirror);
        let mirror = _mm256_permute_ps::<0b01_00_11_10>(mirror);
        _mm256_storeu_ps(z.as_mut_ptr().add(n - k - 3).cast(), mirror);
        k += 4;
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::fast::pruned_fft::tests::{assert_half_spectra, assert_round_trip, signal};

    /// Even and odd numbers of lines (the odd one out paired with zeros) of lengths with and
    /// without a vector body and tail against realfft in f64 and back, in `f32` (the vector
    /// passes, where the CPU has them) and `f64` (the scalar ones).
    fn matches_realfft<T: Scalar>(tol: f64) {
        for n in [2, 4, 6, 8, 10, 16, 18, 36, 40, 42, 60] {
            for count in [1, 2, 3, 4, 5] {
                let h = n / 2 + 1;
                let stride = h + 2;
                let plan = Paired::<T>::plan(n, &mut FftPlanner::new());
                let zero = Complex::new(T::zero(), T::zero());
                let mut scratch = vec![zero; plan.scratch_len()];
                let mut z = vec![zero; plan.work_len(count)];
                let x: Vec<f64> = (0..count).flat_map(|r| signal(n, r)).collect();
                let real: Vec<T> = x.iter().map(|&v| T::of(v)).collect();
                let mut spectra = vec![Complex::new(T::of(7.0), T::of(7.0)); count * stride];
                plan.forward(&real, &mut z, &mut spectra, stride, &mut scratch);
                assert_half_spectra(&x, n, &spectra, stride, tol);
                for r in 0..count {
                    // Past the half spectrum, the gap before the next line is left alone.
                    assert_eq!(
                        spectra[r * stride + h],
                        Complex::new(T::of(7.0), T::of(7.0))
                    );
                }
                let mut back = vec![T::of(5.0); count * n + 3];
                plan.inverse(
                    &spectra,
                    stride,
                    &mut z,
                    &mut back[..count * n],
                    &mut scratch,
                );
                assert_round_trip(&x, &back, n, tol);
                assert!(back[count * n..].iter().all(|&v| v == T::of(5.0)));
            }
        }
    }

    #[test]
    fn paired_lines_match_realfft_f32() {
        matches_realfft::<f32>(1e-5);
    }

    #[test]
    fn paired_lines_match_realfft_f64() {
        matches_realfft::<f64>(1e-12);
    }
}
