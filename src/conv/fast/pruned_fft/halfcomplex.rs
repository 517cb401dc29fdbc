//! Real lines of even length `N = 2M` transformed as complex lines of `M` points (even samples
//! as real parts, odd samples as imaginary parts), a batch of lines per complex FFT call, with
//! the pass that splits the complex spectrum into the real line's half spectrum (and its
//! inverse) vectorised for `f32` with AVX2 and FMA.
//!
//! realfft computes the same, one line per call, with a scalar split pass that took ~10 % of
//! the 2d-k7 profile (`RealToComplexEven`, `ComplexToRealEven`); here it is planned only where
//! the vector pass runs (`f32` on a CPU with AVX2 and FMA), so `f64` keeps realfft's lines.
//!
//! With `z_j = x_{2j} + i x_{2j+1}`, `Z = FFT_M(z)` and `W = e^{-2πi/N}`, the half spectrum is
//!
//! ```math
//! X_k = E_k + W^k O_k,\quad E_k = \tfrac12\bigl(Z_k + \overline{Z_{M-k}}\bigr),\quad
//! O_k = \tfrac{1}{2i}\bigl(Z_k - \overline{Z_{M-k}}\bigr)\qquad(0 \le k \le M,\ Z_M = Z_0),
//! ```
//!
//! and back, `2 Z_k = (X_k + \overline{X_{M-k}}) + i\,\overline{W^k}\,(X_k - \overline{X_{M-k}})`:
//! the unnormalised inverse FFT of `2Z` on `M` points gives `N x`, as realfft's does.

use crate::tensor::Scalar;
use num_complex::Complex;
use rustfft::{Fft, FftPlanner};
use std::any::TypeId;
use std::sync::Arc;

/// The planned lines of one even length.
pub(super) struct HalfComplex<T: Scalar> {
    m: usize,
    forward: Arc<dyn Fft<T>>,
    inverse: Arc<dyn Fft<T>>,
    /// `W^k` for `k < M`.
    twiddles: Vec<Complex<T>>,
}

/// Whether the vector passes run for `T` on this CPU.
pub(super) fn vector_passes<T: Scalar>() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        TypeId::of::<T>() == TypeId::of::<f32>()
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `v` as interleaved complex values (`v.len()` even).
fn as_complex_mut<T: Scalar>(v: &mut [T]) -> &mut [Complex<T>] {
    assert!(v.len().is_multiple_of(2), "a real line of odd length");
    // SAFETY: `Complex<T>` is `repr(C)` `{re, im}` of two `T`, aligned as `T`; the length
    // is halved, so the view covers exactly the same memory, borrowed mutably once.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<Complex<T>>(), v.len() / 2) }
}

impl<T: Scalar> HalfComplex<T> {
    /// The lines of length `n`, where the vector passes run for `T` and `n` is even; else
    /// `None` (the caller keeps realfft's lines).
    pub(super) fn plan(n: usize, planner: &mut FftPlanner<T>) -> Option<Self> {
        (n >= 2 && n.is_multiple_of(2) && vector_passes::<T>()).then(|| Self::plan_any(n, planner))
    }

    /// The lines of even length `n` whatever the CPU (the scalar passes where no vector ones
    /// run).
    fn plan_any(n: usize, planner: &mut FftPlanner<T>) -> Self {
        let m = n / 2;
        let twiddles = (0..m)
            .map(|k| {
                let a = -2.0 * std::f64::consts::PI * k as f64 / n as f64;
                Complex::new(T::of(a.cos()), T::of(a.sin()))
            })
            .collect();
        HalfComplex {
            m,
            forward: planner.plan_fft_forward(m),
            inverse: planner.plan_fft_inverse(m),
            twiddles,
        }
    }

    /// Scratch the FFT calls need.
    pub(super) fn scratch_len(&self) -> usize {
        self.forward
            .get_outofplace_scratch_len()
            .max(self.inverse.get_outofplace_scratch_len())
    }

    /// Complex points of a line's transform (`M`).
    pub(super) fn points(&self) -> usize {
        self.m
    }

    /// Half spectra (`M + 1` bins each, `stride` apart in `out`) of the `count` real lines
    /// in `real` (`count · 2M` values, used as work space); `z` holds `count · M` values of
    /// work space.
    pub(super) fn forward(
        &self,
        real: &mut [T],
        z: &mut [Complex<T>],
        out: &mut [Complex<T>],
        stride: usize,
        scratch: &mut [Complex<T>],
    ) {
        let m = self.m;
        let lines = as_complex_mut(real);
        let z = &mut z[..lines.len()];
        self.forward
            .process_outofplace_with_scratch(lines, z, scratch);
        for (r, zr) in z.chunks_exact(m).enumerate() {
            split(zr, &self.twiddles, &mut out[r * stride..][..m + 1]);
        }
    }

    /// The `count` real lines (`count · 2M` values of `real`, unnormalised: `N` times the
    /// signal) of the half spectra in `spectra` (`M + 1` bins each, `stride` apart; the
    /// imaginary parts of bins `0` and `M` are taken as zero); `z` holds `count · M` values
    /// of work space.
    pub(super) fn inverse(
        &self,
        spectra: &[Complex<T>],
        stride: usize,
        z: &mut [Complex<T>],
        real: &mut [T],
        scratch: &mut [Complex<T>],
    ) {
        let m = self.m;
        let lines = as_complex_mut(real);
        let z = &mut z[..lines.len()];
        for (r, zr) in z.chunks_exact_mut(m).enumerate() {
            merge(&spectra[r * stride..][..m + 1], &self.twiddles, zr);
        }
        self.inverse
            .process_outofplace_with_scratch(z, lines, scratch);
    }
}

/// `X` (`M + 1` bins) from `Z` (`M` points).
fn split<T: Scalar>(z: &[Complex<T>], tw: &[Complex<T>], x: &mut [Complex<T>]) {
    let m = z.len();
    let z0 = z[0];
    x[0] = Complex::new(z0.re + z0.im, T::zero());
    x[m] = Complex::new(z0.re - z0.im, T::zero());
    let mut k = 1;
    #[cfg(target_arch = "x86_64")]
    if vector_passes::<T>() {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: `T` is `f32` (same `TypeId`) and AVX-512F was detected.
            k = unsafe { split_f32_512(cast(z), cast(tw), cast_mut(x)) };
        }
        // SAFETY: `T` is `f32` (same `TypeId`) and AVX2 and FMA were detected.
        k = unsafe { split_f32(k, cast(z), cast(tw), cast_mut(x)) };
    }
    let half = T::of(0.5);
    // The vector pass leaves `k ..= M − k` (everything from 1 without it).
    let end = if k > 1 { m - k + 1 } else { m };
    for k in k..end {
        let (a, b) = (z[k], z[m - k].conj());
        let e = (a + b) * half;
        let d = (a - b) * half;
        let o = Complex::new(d.im, -d.re);
        x[k] = e + tw[k] * o;
    }
}

/// `2Z` (`M` points) from `X` (`M + 1` bins, the imaginary parts of bins `0` and `M` zero).
fn merge<T: Scalar>(x: &[Complex<T>], tw: &[Complex<T>], z: &mut [Complex<T>]) {
    let m = z.len();
    let one = |k: usize| {
        let (a, b) = (x[k], x[m - k].conj());
        let s = a + b;
        let v = tw[k].conj() * (a - b);
        Complex::new(s.re - v.im, s.im + v.re)
    };
    z[0] = one(0);
    let mut k = 1;
    #[cfg(target_arch = "x86_64")]
    if vector_passes::<T>() {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: as in `split`.
            k = unsafe { merge_f32_512(cast(x), cast(tw), cast_mut(z)) };
        }
        // SAFETY: as in `split`.
        k = unsafe { merge_f32(k, cast(x), cast(tw), cast_mut(z)) };
    }
    // The vector pass leaves `k ..= M − k` (everything from 1 without it).
    let end = if k > 1 { m - k + 1 } else { m };
    for (j, zj) in z.iter_mut().enumerate().take(end).skip(k) {
        *zj = one(j);
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) fn cast<T: Scalar>(v: &[Complex<T>]) -> &[Complex<f32>] {
    assert_eq!(TypeId::of::<T>(), TypeId::of::<f32>());
    // SAFETY: `T` is `f32`, checked above.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast(), v.len()) }
}

#[cfg(target_arch = "x86_64")]
pub(super) fn cast_mut<T: Scalar>(v: &mut [Complex<T>]) -> &mut [Complex<f32>] {
    assert_eq!(TypeId::of::<T>(), TypeId::of::<f32>());
    // SAFETY: `T` is `f32`, checked above.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast(), v.len()) }
}

/// Four complex `f32` loaded from `p`, in reverse order (`p[3], p[2], p[1], p[0]`).
///
/// # Safety
/// AVX2; `p` points at four readable complex values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn load_reversed(p: *const Complex<f32>) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    let v = _mm256_loadu_ps(p.cast());
    let v = _mm256_permute2f128_ps::<0x01>(v, v);
    _mm256_permute_ps::<0b01_00_11_10>(v)
}

/// The bins `k` and `M − k` of [`split`] from one pair of loads, four of each at a time from
/// the given `k` (≥ 1, everything below done) while `k ≤ M − k` and the loads stay inside; returns the first bin `k` not
/// computed (every bin in `k ..= M − k` is left to the caller). With `E`, `O` of bin `k` and `T = W^k O`, bin
/// `M − k` is `conj(E − T)` (`E_{M−k} = conj E_k`, `O_{M−k} = conj O_k`,
/// `W^{M−k} = −conj W^k`): half the loads and products of computing each bin on its own.
///
/// # Safety
/// AVX2 and FMA; `z` and `tw` of `M` values, `x` of `M + 1`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn split_f32(
    mut k: usize,
    z: &[Complex<f32>],
    tw: &[Complex<f32>],
    x: &mut [Complex<f32>],
) -> usize {
    use std::arch::x86_64::*;
    let m = z.len();
    assert!(tw.len() >= m && x.len() > m && k >= 1);
    let conj = _mm256_setr_ps(0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0);
    let half = _mm256_set1_ps(0.5);
    // Reads z[k .. k + 4] and z[m - k - 3 ..= m - k], all inside 1 ..= m - 1, writes x at the
    // same bins. The last pair of blocks may overlap in the middle: both write the same
    // values there (into `x`, which is not read), so the scalar tail is at most 3 bins.
    while k + 4 <= m && 2 * k <= m {
        let a = _mm256_loadu_ps(z.as_ptr().add(k).cast());
        let b = _mm256_xor_ps(load_reversed(z.as_ptr().add(m - k - 3)), conj);
        let e = _mm256_mul_ps(_mm256_add_ps(a, b), half);
        let d = _mm256_mul_ps(_mm256_sub_ps(a, b), half);
        // o = d / i = (d.im, -d.re).
        let o = _mm256_xor_ps(_mm256_permute_ps::<0b10_11_00_01>(d), conj);
        let w = _mm256_loadu_ps(tw.as_ptr().add(k).cast());
        let (wr, wi) = (_mm256_moveldup_ps(w), _mm256_movehdup_ps(w));
        let o_swapped = _mm256_permute_ps::<0b10_11_00_01>(o);
        let t = _mm256_fmaddsub_ps(wr, o, _mm256_mul_ps(wi, o_swapped));
        _mm256_storeu_ps(x.as_mut_ptr().add(k).cast(), _mm256_add_ps(e, t));
        let mirror = _mm256_xor_ps(_mm256_sub_ps(e, t), conj);
        store_reversed(x.as_mut_ptr().add(m - k - 3), mirror);
        k += 4;
    }
    k
}

/// Four complex `f32` stored at `p` in reverse order (`v`'s last value at `p[0]`).
///
/// # Safety
/// AVX2; `p` points at four writable complex values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn store_reversed(p: *mut Complex<f32>, v: std::arch::x86_64::__m256) {
    use std::arch::x86_64::*;
    let v = _mm256_permute2f128_ps::<0x01>(v, v);
    _mm256_storeu_ps(p.cast(), _mm256_permute_ps::<0b01_00_11_10>(v));
}

/// The points `k` and `M − k` of [`merge`] from one pair of loads, four of each at a time
/// from the given `k` (≥ 1, everything below done) while `k ≤ M − k`; returns the first point `k` not computed
/// (point 0 and every point in `k ..= M − k` are left to the caller). With `S`, `V` of point
/// `k` (`2Z_k = S + iV`), `2Z_{M−k} = conj(S − iV)` (as in [`split_f32`]).
///
/// # Safety
/// AVX2 and FMA; `x` of `M + 1` values, `tw` and `z` of `M`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn merge_f32(
    mut k: usize,
    x: &[Complex<f32>],
    tw: &[Complex<f32>],
    z: &mut [Complex<f32>],
) -> usize {
    use std::arch::x86_64::*;
    let m = z.len();
    assert!(tw.len() >= m && x.len() > m && k >= 1);
    let conj = _mm256_setr_ps(0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0);
    let neg_re = _mm256_setr_ps(-0.0, 0.0, -0.0, 0.0, -0.0, 0.0, -0.0, 0.0);
    // Reads x[k .. k + 4] and x[m - k - 3 ..= m - k], writes z at the same points (inside
    // 1 ..= m - 1); the last pair of blocks may overlap, as in `split_f32`.
    while k + 4 <= m && 2 * k <= m {
        let a = _mm256_loadu_ps(x.as_ptr().add(k).cast());
        let b = _mm256_xor_ps(load_reversed(x.as_ptr().add(m - k - 3)), conj);
        let s = _mm256_add_ps(a, b);
        let d = _mm256_sub_ps(a, b);
        let w = _mm256_loadu_ps(tw.as_ptr().add(k).cast());
        let (wr, wi) = (_mm256_moveldup_ps(w), _mm256_movehdup_ps(w));
        // v = conj(w)·d: (wr·dr + wi·di, wr·di − wi·dr).
        let d_swapped = _mm256_permute_ps::<0b10_11_00_01>(d);
        let v = _mm256_fmsubadd_ps(wr, d, _mm256_mul_ps(wi, d_swapped));
        // i·v = (−v.im, v.re).
        let iv = _mm256_xor_ps(_mm256_permute_ps::<0b10_11_00_01>(v), neg_re);
        _mm256_storeu_ps(z.as_mut_ptr().add(k).cast(), _mm256_add_ps(s, iv));
        let mirror = _mm256_xor_ps(_mm256_sub_ps(s, iv), conj);
        store_reversed(z.as_mut_ptr().add(m - k - 3), mirror);
        k += 4;
    }
    k
}

/// [`split_f32`] eight bins at a time in 512-bit vectors, from `k = 1`; returns the first bin
/// not computed (the 256-bit loop and the scalar tail take the rest). For rows of 72 (`M` 36)
/// that is three iterations, the last overlapping, instead of five.
///
/// # Safety
/// AVX-512F; `z` and `tw` of `M` values, `x` of `M + 1`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn split_f32_512(z: &[Complex<f32>], tw: &[Complex<f32>], x: &mut [Complex<f32>]) -> usize {
    use std::arch::x86_64::*;
    let m = z.len();
    assert!(tw.len() >= m && x.len() > m);
    let conj = _mm512_castsi512_ps(_mm512_set1_epi64(i64::MIN));
    let half = _mm512_set1_ps(0.5);
    let mut k = 1;
    // As in `split_f32`: reads z[k .. k + 8] and z[m - k - 7 ..= m - k], inside 1 ..= m - 1.
    while k + 8 <= m && 2 * k <= m {
        let a = _mm512_loadu_ps(z.as_ptr().add(k).cast());
        let b = xor512(load_reversed_512(z.as_ptr().add(m - k - 7)), conj);
        let e = _mm512_mul_ps(_mm512_add_ps(a, b), half);
        let d = _mm512_mul_ps(_mm512_sub_ps(a, b), half);
        let o = xor512(_mm512_permute_ps::<0b10_11_00_01>(d), conj);
        let w = _mm512_loadu_ps(tw.as_ptr().add(k).cast());
        let (wr, wi) = (_mm512_moveldup_ps(w), _mm512_movehdup_ps(w));
        let o_swapped = _mm512_permute_ps::<0b10_11_00_01>(o);
        let t = _mm512_fmaddsub_ps(wr, o, _mm512_mul_ps(wi, o_swapped));
        _mm512_storeu_ps(x.as_mut_ptr().add(k).cast(), _mm512_add_ps(e, t));
        let mirror = xor512(_mm512_sub_ps(e, t), conj);
        _mm512_storeu_ps(x.as_mut_ptr().add(m - k - 7).cast(), reverse_512(mirror));
        k += 8;
    }
    k
}

/// [`merge_f32`] eight points at a time in 512-bit vectors, from `k = 1`; returns the first
/// point not computed.
///
/// # Safety
/// AVX-512F; `x` of `M + 1` values, `tw` and `z` of `M`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn merge_f32_512(x: &[Complex<f32>], tw: &[Complex<f32>], z: &mut [Complex<f32>]) -> usize {
    use std::arch::x86_64::*;
    let m = z.len();
    assert!(tw.len() >= m && x.len() > m);
    let conj = _mm512_castsi512_ps(_mm512_set1_epi64(i64::MIN));
    let neg_re = _mm512_castsi512_ps(_mm512_set1_epi64(0x8000_0000));
    let mut k = 1;
    while k + 8 <= m && 2 * k <= m {
        let a = _mm512_loadu_ps(x.as_ptr().add(k).cast());
        let b = xor512(load_reversed_512(x.as_ptr().add(m - k - 7)), conj);
        let s = _mm512_add_ps(a, b);
        let d = _mm512_sub_ps(a, b);
        let w = _mm512_loadu_ps(tw.as_ptr().add(k).cast());
        let (wr, wi) = (_mm512_moveldup_ps(w), _mm512_movehdup_ps(w));
        let d_swapped = _mm512_permute_ps::<0b10_11_00_01>(d);
        let v = _mm512_fmsubadd_ps(wr, d, _mm512_mul_ps(wi, d_swapped));
        let iv = xor512(_mm512_permute_ps::<0b10_11_00_01>(v), neg_re);
        _mm512_storeu_ps(z.as_mut_ptr().add(k).cast(), _mm512_add_ps(s, iv));
        let mirror = xor512(_mm512_sub_ps(s, iv), conj);
        _mm512_storeu_ps(z.as_mut_ptr().add(m - k - 7).cast(), reverse_512(mirror));
        k += 8;
    }
    k
}

/// The eight complex values of `v` in reverse order.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn reverse_512(v: std::arch::x86_64::__m512) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::*;
    let idx = _mm512_setr_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    _mm512_castpd_ps(_mm512_permutexvar_pd(idx, _mm512_castps_pd(v)))
}

/// Eight complex `f32` loaded from `p`, in reverse order.
///
/// # Safety
/// AVX-512F; `p` points at eight readable complex values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn load_reversed_512(p: *const Complex<f32>) -> std::arch::x86_64::__m512 {
    reverse_512(std::arch::x86_64::_mm512_loadu_ps(p.cast()))
}

/// `a ^ b` bitwise in AVX-512F (`_mm512_xor_ps` needs AVX-512DQ).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn xor512(a: std::arch::x86_64::__m512, b: std::arch::x86_64::__m512) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::*;
    _mm512_castsi512_ps(_mm512_xor_si512(
        _mm512_castps_si512(a),
        _mm512_castps_si512(b),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::fast::pruned_fft::tests::{assert_half_spectra, assert_round_trip, signal};

    /// Batches of lines of even lengths (vector body and scalar tail) against realfft in f64
    /// and back, in `f32` (the vector passes, where the CPU has them) and `f64` (the scalar
    /// ones).
    fn matches_realfft<T: Scalar>(tol: f64) {
        for n in [2, 4, 6, 8, 10, 14, 16, 18, 36, 40, 72, 80, 202, 8192] {
            let count = 3;
            let stride = n / 2 + 3;
            let plan = HalfComplex::<T>::plan_any(n, &mut FftPlanner::new());
            let mut scratch = vec![Complex::new(T::zero(), T::zero()); plan.scratch_len()];
            let mut z = vec![Complex::new(T::zero(), T::zero()); count * plan.points()];
            let x: Vec<f64> = (0..count).flat_map(|r| signal(n, r)).collect();
            let mut real: Vec<T> = x.iter().map(|&v| T::of(v)).collect();
            let mut spectra = vec![Complex::new(T::of(7.0), T::of(7.0)); count * stride];
            plan.forward(&mut real, &mut z, &mut spectra, stride, &mut scratch);
            assert_half_spectra(&x, n, &spectra, stride, tol);
            let mut back = vec![T::zero(); count * n];
            plan.inverse(&spectra, stride, &mut z, &mut back, &mut scratch);
            assert_round_trip(&x, &back, n, tol);
        }
    }

    #[test]
    fn lines_match_realfft_f32() {
        matches_realfft::<f32>(1e-5);
    }

    #[test]
    fn lines_match_realfft_f64() {
        matches_realfft::<f64>(1e-12);
    }

    /// The layer plans these lines exactly where the vector passes run.
    #[test]
    fn planned_only_with_the_vector_passes() {
        let mut p32 = FftPlanner::<f32>::new();
        assert_eq!(
            HalfComplex::plan(72, &mut p32).is_some(),
            vector_passes::<f32>()
        );
        assert!(HalfComplex::plan(75, &mut p32).is_none());
        assert!(HalfComplex::<f64>::plan(72, &mut FftPlanner::new()).is_none());
    }
}
