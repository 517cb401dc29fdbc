//! Real lines of even length `N = 2M` transformed many at a time "vertically": the batch is
//! transposed to `[M][lines]` (complex sample `j` of every line in one row, `z_j = x_{2j} +
//! i x_{2j+1}` as in [`super::super::halfcomplex`]), the `M`-point transform runs down the
//! columns with the vertical radix passes ([`Vertical`], AVX-512 in `f32`: one vector holds
//! eight lines' values), the half-complex split runs across the lines too (one twiddle per
//! row, broadcast) and a last transpose writes each line's half spectrum. The inverse is the
//! same backwards.
//!
//! Meant to replace, for the row lengths of the f32 FFT layers (`M` of 36 and 40), rustfft's
//! 256-bit `Butterfly36Avx` one line at a time plus a split pass per line: the vertical passes
//! need no shuffles inside a butterfly, and the split reads bins `k` and `M − k` of eight lines
//! as two loads instead of a load and a reversing permute. Not planned for any length yet
//! ([`pays`]): the transposes cost more than it saves.
//!
//! The vertical forward leaves bin `k` at row [`Vertical::position`]`(k)`, so the split reads
//! its two inputs from there, and the merge writes there for the inverse: no reordering pass.

use super::super::halfcomplex::HalfComplex;
use super::super::transpose::transpose;
use super::super::vertical::{self, Vertical};
use crate::tensor::Scalar;
use num_complex::Complex;
use rustfft::FftPlanner;

/// Half lengths `M` run across the lines where AVX-512 runs: none. On 2d-k7 (rows of 72)
/// the lines across ran slower than rustfft's lines (session 16, fwd+bwd 4.04–4.23 ms CPU
/// against 3.21–3.77, 3 rounds interleaved): the four transposes in and out took ~12 % of the
/// profile and the vertical passes of 36 cost about what `Butterfly36Avx` did, while the split
/// and merge across the lines cost ~⅓ of the per-line ones
/// (benches/results/session16-rows.md). Kept, tested, for a version with the transposes fused.
const ACROSS_HALVES: [usize; 0] = [];

/// Fewer lines than this run as [`HalfComplex`] lines: the vertical passes fill eight lanes.
const MIN_LINES: usize = 8;

/// Lanes of one vector (complex `f32` in a 512-bit register); the work rows are padded to it.
const LANES: usize = 8;

/// Whether real lines of length `n` run across the lines in `T` on this CPU.
pub(super) fn pays<T: Scalar>(n: usize) -> bool {
    vertical::avx512_f32::<T>() && n.is_multiple_of(2) && ACROSS_HALVES.contains(&(n / 2))
}

/// The planned lines of one even length.
pub(in crate::conv::fast::pruned_fft) struct Across<T: Scalar> {
    m: usize,
    columns: Vertical<T>,
    /// `Vertical::position(k)` for `k < M`.
    at: Vec<usize>,
    /// `W^k / 2` for `k ≤ M/2`, `W = e^{-2πi/N}`.
    half_twiddles: Vec<Complex<T>>,
    /// Batches of fewer than [`MIN_LINES`] lines.
    few: HalfComplex<T>,
    avx512: bool,
}

impl<T: Scalar> Across<T> {
    /// The lines of even length `n` (`n/2` with no prime factor above 5); `vector` asks for the
    /// AVX-512 kernels where they run (else the portable loops).
    pub(super) fn plan(n: usize, vector: bool, planner: &mut FftPlanner<T>) -> Option<Self> {
        if n < 4 || !n.is_multiple_of(2) {
            return None;
        }
        let m = n / 2;
        let columns = Vertical::plan(m, vector)?;
        let at = (0..m).map(|k| columns.position(k)).collect();
        let half_twiddles = (0..=m / 2)
            .map(|k| {
                let a = -2.0 * std::f64::consts::PI * k as f64 / n as f64;
                Complex::new(T::of(0.5 * a.cos()), T::of(0.5 * a.sin()))
            })
            .collect();
        Some(Across {
            m,
            columns,
            at,
            half_twiddles,
            few: HalfComplex::plan_any(n, planner),
            avx512: vector && vertical::avx512_f32::<T>(),
        })
    }

    /// Scratch the FFT calls need (the few lines' rustfft calls).
    pub(super) fn scratch_len(&self) -> usize {
        self.few.scratch_len()
    }

    /// Complex work space for `lines` lines: the columns `[M][L]` and the split `[M + 1][L]`,
    /// `L` the lines rounded up to [`LANES`].
    pub(super) fn work_len(&self, lines: usize) -> usize {
        let l = lines.div_ceil(LANES) * LANES;
        ((2 * self.m + 1) * l).max(lines * self.m)
    }

    /// As [`HalfComplex::forward`]; `z` holds [`work_len`](Self::work_len) values.
    pub(super) fn forward(
        &self,
        real: &mut [T],
        z: &mut [Complex<T>],
        out: &mut [Complex<T>],
        stride: usize,
        scratch: &mut [Complex<T>],
    ) {
        let m = self.m;
        let count = real.len() / (2 * m);
        if count < MIN_LINES {
            return self.few.forward(real, z, out, stride, scratch);
        }
        let l = count.div_ceil(LANES) * LANES;
        let (cols, split) = z[..(2 * m + 1) * l].split_at_mut(m * l);
        transpose(as_complex(real), m, cols, l, [count, m]);
        self.columns.forward(cols, l, l);
        self.split(cols, split, l);
        transpose(split, l, out, stride, [m + 1, count]);
    }

    /// As [`HalfComplex::inverse`]; `z` holds [`work_len`](Self::work_len) values.
    pub(super) fn inverse(
        &self,
        spectra: &[Complex<T>],
        stride: usize,
        z: &mut [Complex<T>],
        real: &mut [T],
        scratch: &mut [Complex<T>],
    ) {
        let m = self.m;
        let count = real.len() / (2 * m);
        if count < MIN_LINES {
            return self.few.inverse(spectra, stride, z, real, scratch);
        }
        let l = count.div_ceil(LANES) * LANES;
        let (cols, merged) = z[..(2 * m + 1) * l].split_at_mut(m * l);
        transpose(spectra, stride, merged, l, [count, m + 1]);
        self.merge(merged, cols, l);
        self.columns.inverse(cols, l, l);
        transpose(cols, l, as_complex_mut(real), m, [m, count]);
    }

    /// The half spectra `x` (`[M + 1][l]`) of the transformed columns `z` (`[M][l]`, bins at
    /// their vertical positions).
    fn split(&self, z: &[Complex<T>], x: &mut [Complex<T>], l: usize) {
        let m = self.m;
        // The middle bin of an even `M` first, its mirror copy into row M, which bins 0 and M
        // overwrite last.
        for k in (1..=m / 2).rev() {
            let (pa, pb) = (self.at[k] * l, self.at[m - k] * l);
            let mirror = if 2 * k == m { m } else { m - k };
            let (xk, xm) = two_rows_mut(x, k * l, mirror * l, l);
            let w = self.half_twiddles[k];
            #[cfg(target_arch = "x86_64")]
            if self.avx512 {
                // SAFETY: `avx512` is set only where `T` is `f32` and AVX-512F was detected;
                // every slice holds `l` values, a multiple of the eight lanes.
                unsafe {
                    split_f32(
                        cast(&z[pa..][..l]),
                        cast(&z[pb..][..l]),
                        cast_one(w),
                        cast_mut(xk),
                        cast_mut(xm),
                    );
                }
                continue;
            }
            let half = T::of(0.5);
            for r in 0..l {
                let (a, b) = (z[pa + r], z[pb + r].conj());
                let e = (a + b) * half;
                let d = a - b;
                let t = w * Complex::new(d.im, -d.re);
                xm[r] = (e - t).conj();
                xk[r] = e + t;
            }
        }
        // Bins 0 and M from Z_0 (at row 0).
        for r in 0..l {
            let z0 = z[r];
            x[r] = Complex::new(z0.re + z0.im, T::zero());
            x[m * l + r] = Complex::new(z0.re - z0.im, T::zero());
        }
    }

    /// `2Z` (`[M][l]`, points at their vertical positions) from the half spectra `x`
    /// (`[M + 1][l]`, the imaginary parts of bins 0 and M zero).
    fn merge(&self, x: &[Complex<T>], z: &mut [Complex<T>], l: usize) {
        let m = self.m;
        // The middle point of an even `M` first, its mirror copy into row 0 (point 0's, never
        // another point's position), which point 0 overwrites last.
        for k in (1..=m / 2).rev() {
            let (pa, pb) = (self.at[k] * l, self.at[m - k] * l);
            let mirror = if 2 * k == m { 0 } else { pb };
            let (xk, xm) = (&x[k * l..][..l], &x[(m - k) * l..][..l]);
            // Twice the halved twiddle, conjugated, so `v = conj(W^k)(X_k − conj X_{M−k})`.
            let w = (self.half_twiddles[k] + self.half_twiddles[k]).conj();
            let (za, zb) = two_rows_mut(z, pa, mirror, l);
            #[cfg(target_arch = "x86_64")]
            if self.avx512 {
                // SAFETY: as in `split`.
                unsafe {
                    merge_f32(cast(xk), cast(xm), cast_one(w), cast_mut(za), cast_mut(zb));
                }
                continue;
            }
            for r in 0..l {
                let (a, b) = (xk[r], xm[r].conj());
                let s = a + b;
                let v = w * (a - b);
                let iv = Complex::new(-v.im, v.re);
                zb[r] = (s - iv).conj();
                za[r] = s + iv;
            }
        }
        // Point 0 (row 0): 2Z_0 = (X_0 + X_M) + i (X_0 − X_M) for real X_0, X_M.
        for r in 0..l {
            let (a, b) = (x[r].re, x[m * l + r].re);
            z[r] = Complex::new(a + b, a - b);
        }
    }
}

/// The rows of `l` values at the distinct offsets `pa` and `pb` of `z`, both mutable.
fn two_rows_mut<T>(
    z: &mut [Complex<T>],
    pa: usize,
    pb: usize,
    l: usize,
) -> (&mut [Complex<T>], &mut [Complex<T>]) {
    assert!(pa.abs_diff(pb) >= l, "overlapping rows {pa} and {pb}");
    if pa < pb {
        let (lo, hi) = z.split_at_mut(pb);
        (&mut lo[pa..][..l], &mut hi[..l])
    } else {
        let (lo, hi) = z.split_at_mut(pa);
        (&mut hi[..l], &mut lo[pb..][..l])
    }
}

fn as_complex<T: Scalar>(v: &[T]) -> &[Complex<T>] {
    // SAFETY: `Complex<T>` is `repr(C)` `{re, im}` of two `T`, aligned as `T`; the view covers
    // the first `2·(len/2)` values.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<Complex<T>>(), v.len() / 2) }
}

fn as_complex_mut<T: Scalar>(v: &mut [T]) -> &mut [Complex<T>] {
    // SAFETY: as in `as_complex`, borrowed mutably once.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<Complex<T>>(), v.len() / 2) }
}

#[cfg(target_arch = "x86_64")]
use super::super::halfcomplex::{cast, cast_mut};

#[cfg(target_arch = "x86_64")]
fn cast_one<T: Scalar>(w: Complex<T>) -> Complex<f32> {
    cast(std::slice::from_ref(&w))[0]
}

/// `a ^ b` bitwise in AVX-512F (`_mm512_xor_ps` is AVX-512DQ, not enabled here, so it was an
/// out-of-line call per use).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn xor(a: std::arch::x86_64::__m512, b: std::arch::x86_64::__m512) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::*;
    _mm512_castsi512_ps(_mm512_xor_si512(
        _mm512_castps_si512(a),
        _mm512_castps_si512(b),
    ))
}

/// Bins `k` and `M − k` of eight lines per vector: with `a = Z_k`, `b = conj Z_{M−k}`,
/// `d = a − b`, `t = (W^k/2)(d/i)`, `X_k = (a + b)/2 + t`, `X_{M−k} = conj((a + b)/2 − t)`.
/// `d/i = (d.im, −d.re)` and `i·(d/i) = d`, so `t = w.re·(d/i) + w.im·d`.
///
/// # Safety
/// AVX-512F; all four slices of the same length, a multiple of 8.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn split_f32(
    za: &[Complex<f32>],
    zb: &[Complex<f32>],
    w: Complex<f32>,
    xk: &mut [Complex<f32>],
    xm: &mut [Complex<f32>],
) {
    use std::arch::x86_64::*;
    let l = za.len();
    assert!(zb.len() == l && xk.len() == l && xm.len() == l && l.is_multiple_of(LANES));
    let conj = _mm512_castsi512_ps(_mm512_set1_epi64(i64::MIN));
    let (wr, wi) = (_mm512_set1_ps(w.re), _mm512_set1_ps(w.im));
    let half = _mm512_set1_ps(0.5);
    for r in (0..l).step_by(LANES) {
        let a = _mm512_loadu_ps(za.as_ptr().add(r).cast());
        let b = xor(_mm512_loadu_ps(zb.as_ptr().add(r).cast()), conj);
        let e = _mm512_mul_ps(_mm512_add_ps(a, b), half);
        let d = _mm512_sub_ps(a, b);
        // d/i: swap re and im, negate the new im.
        let o = xor(_mm512_permute_ps::<0b10_11_00_01>(d), conj);
        let t = _mm512_fmadd_ps(wr, o, _mm512_mul_ps(wi, d));
        _mm512_storeu_ps(
            xm.as_mut_ptr().add(r).cast(),
            xor(_mm512_sub_ps(e, t), conj),
        );
        _mm512_storeu_ps(xk.as_mut_ptr().add(r).cast(), _mm512_add_ps(e, t));
    }
}

/// Points `k` and `M − k` of eight lines per vector: with `a = X_k`, `b = conj X_{M−k}`,
/// `s = a + b`, `v = conj(W^k)(a − b)`, `2Z_k = s + iv`, `2Z_{M−k} = conj(s − iv)`;
/// `w = conj(W^k)`, `v = w.re·d + w.im·(i·d)`.
///
/// # Safety
/// As [`split_f32`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn merge_f32(
    xk: &[Complex<f32>],
    xm: &[Complex<f32>],
    w: Complex<f32>,
    za: &mut [Complex<f32>],
    zb: &mut [Complex<f32>],
) {
    use std::arch::x86_64::*;
    let l = xk.len();
    assert!(xm.len() == l && za.len() == l && zb.len() == l && l.is_multiple_of(LANES));
    let conj = _mm512_castsi512_ps(_mm512_set1_epi64(i64::MIN));
    // Negates the real lanes: i·(re, im) = (−im, re) is this after the swap.
    let neg_re = _mm512_castsi512_ps(_mm512_set1_epi64(0x8000_0000));
    let (wr, wi) = (_mm512_set1_ps(w.re), _mm512_set1_ps(w.im));
    for r in (0..l).step_by(LANES) {
        let a = _mm512_loadu_ps(xk.as_ptr().add(r).cast());
        let b = xor(_mm512_loadu_ps(xm.as_ptr().add(r).cast()), conj);
        let s = _mm512_add_ps(a, b);
        let d = _mm512_sub_ps(a, b);
        let id = xor(_mm512_permute_ps::<0b10_11_00_01>(d), neg_re);
        let v = _mm512_fmadd_ps(wr, d, _mm512_mul_ps(wi, id));
        let iv = xor(_mm512_permute_ps::<0b10_11_00_01>(v), neg_re);
        _mm512_storeu_ps(
            zb.as_mut_ptr().add(r).cast(),
            xor(_mm512_sub_ps(s, iv), conj),
        );
        _mm512_storeu_ps(za.as_mut_ptr().add(r).cast(), _mm512_add_ps(s, iv));
    }
}

#[cfg(test)]
mod tests;
