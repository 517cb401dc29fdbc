//! The kernels on AVX2 + FMA vectors (x86-64, checked at run time): [`Avx2`] is the engine,
//! [`Lanes`] the element types it runs (also used by the depthwise kernels).

use super::plan::{Corr, Engine, WeightGeom, WeightTask};
use super::{round_up, KB, R};
use std::arch::x86_64::*;

/// Proof that the CPU has AVX2 and FMA: only [`Avx2::detect`] makes one.
pub(in crate::conv::fast) struct Avx2(());

impl Avx2 {
    pub(in crate::conv::fast) fn detect() -> Option<Avx2> {
        (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")).then_some(Avx2(()))
    }
}

/// An element type with its AVX vector. Every method is only called from the
/// `#[target_feature(enable = "avx2,fma")]` kernels below, which only run when an [`Avx2`]
/// exists: that is the safety argument of each `unsafe` block here.
pub(in crate::conv::fast) trait Lanes:
    Copy + Default + std::ops::Add<Output = Self> + 'static
{
    type V: Copy;
    const N: usize;
    fn zero() -> Self::V;
    fn splat(v: Self) -> Self::V;
    /// `N` elements from `p`.
    ///
    /// # Safety
    /// `p..p+N` must be readable (inside one slice).
    unsafe fn load_ptr(p: *const Self) -> Self::V;
    /// Into the first `N` elements of `s` (panics when shorter).
    fn store(v: Self::V, s: &mut [Self]);
    fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
}

impl Lanes for f32 {
    type V = __m256;
    const N: usize = 8;
    #[inline(always)]
    fn zero() -> __m256 {
        // SAFETY: AVX (see the trait).
        unsafe { _mm256_setzero_ps() }
    }
    #[inline(always)]
    fn splat(v: f32) -> __m256 {
        // SAFETY: AVX (see the trait).
        unsafe { _mm256_set1_ps(v) }
    }
    #[inline(always)]
    unsafe fn load_ptr(p: *const f32) -> __m256 {
        // SAFETY: readable per the caller; AVX (see the trait).
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    fn store(v: __m256, s: &mut [f32]) {
        let s = &mut s[..8];
        // SAFETY: `s` holds 8 floats (bounds-checked above); unaligned store; AVX.
        unsafe { _mm256_storeu_ps(s.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn fma(a: __m256, b: __m256, c: __m256) -> __m256 {
        // SAFETY: FMA (see the trait).
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
}

impl Lanes for f64 {
    type V = __m256d;
    const N: usize = 4;
    #[inline(always)]
    fn zero() -> __m256d {
        // SAFETY: AVX (see the trait).
        unsafe { _mm256_setzero_pd() }
    }
    #[inline(always)]
    fn splat(v: f64) -> __m256d {
        // SAFETY: AVX (see the trait).
        unsafe { _mm256_set1_pd(v) }
    }
    #[inline(always)]
    unsafe fn load_ptr(p: *const f64) -> __m256d {
        // SAFETY: readable per the caller; AVX (see the trait).
        unsafe { _mm256_loadu_pd(p) }
    }
    #[inline(always)]
    fn store(v: __m256d, s: &mut [f64]) {
        let s = &mut s[..4];
        // SAFETY: `s` holds 4 doubles (bounds-checked above); unaligned store; AVX.
        unsafe { _mm256_storeu_pd(s.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn fma(a: __m256d, b: __m256d, c: __m256d) -> __m256d {
        // SAFETY: FMA (see the trait).
        unsafe { _mm256_fmadd_pd(a, b, c) }
    }
}

/// Vectors per width tile of the correlation.
const NV: usize = 2;

/// The correlation with `R × NV` vector accumulators; `K2` is the kernel width when known
/// at compile time (the tap loop unrolls), 0 otherwise.
#[target_feature(enable = "avx2,fma")]
fn correlate<L: Lanes, const K2: usize>(c: &Corr, src: &[L], wb: &[L], dst: &mut [L]) {
    let w = NV * L::N;
    let ov = c.out_vol();
    let rows = dst.len() / ov;
    let k2n = if K2 == 0 { c.kernel[2] } else { K2 };
    let d2 = c.dilation[2];
    let [o0n, o1n, o2n] = c.out;
    let rows_at = c.rows_at();
    let span = (k2n - 1) * d2 + w;
    let last = rows_at.last().copied().unwrap_or(0);
    assert!(
        wb.len() >= rows_at.len() * k2n * R,
        "packed weights too short"
    );
    let mut tile = vec![L::default(); R * w];
    for o0 in 0..o0n {
        for o1 in 0..o1n {
            let base = c.row_base(o0, o1);
            // Every read below is at `base + off + t + k2·d2 + v·N + (0..N)` with `off ≤
            // last`, `t + w ≤ round_up(o2n, w)`, `k2·d2 + v·N + N ≤ span`: in bounds.
            assert!(
                base + last + round_up(o2n, w) - w + span <= src.len(),
                "source planes too short"
            );
            for t in (0..o2n).step_by(w) {
                let mut acc = [[L::zero(); NV]; R];
                for (j, &off) in rows_at.iter().enumerate() {
                    let row = src[base + off + t..].as_ptr();
                    let wk = &wb[j * k2n * R..];
                    for k2 in 0..k2n {
                        // SAFETY: in bounds by the assertion above.
                        let xs: [L::V; NV] = std::array::from_fn(|v| unsafe {
                            L::load_ptr(row.add(k2 * d2 + v * L::N))
                        });
                        for (r, ar) in acc.iter_mut().enumerate() {
                            // SAFETY: `j·k2n·R + k2·R + r < rows_at.len()·k2n·R ≤ wb.len()`.
                            let wr = L::splat(unsafe { *wk.get_unchecked(k2 * R + r) });
                            for (a, &x) in ar.iter_mut().zip(&xs) {
                                *a = L::fma(x, wr, *a);
                            }
                        }
                    }
                }
                let len = w.min(o2n - t);
                for (r, ar) in acc.iter().enumerate().take(rows) {
                    let out = &mut dst[r * ov + (o0 * o1n + o1) * o2n + t..][..len];
                    if len == w {
                        for (v, &a) in ar.iter().enumerate() {
                            L::store(a, &mut out[v * L::N..]);
                        }
                    } else {
                        let tr = &mut tile[r * w..][..w];
                        for (v, &a) in ar.iter().enumerate() {
                            L::store(a, &mut tr[v * L::N..]);
                        }
                        out.copy_from_slice(&tr[..len]);
                    }
                }
            }
        }
    }
}

/// The `∂w` task with `R × B` vector accumulators (`B` taps of a kernel row at a time:
/// [`KB`], or 2 for rows of 2 or 4 taps, which `KB` would pad by half).
#[target_feature(enable = "avx2,fma")]
fn weight<L: Lanes, const B: usize>(geo: &WeightGeom, task: &WeightTask<'_, L>) -> Vec<L> {
    let n = L::N;
    let [k0n, k1n, k2n] = geo.kernel;
    let o0n = geo.out[0];
    let d2 = geo.dilation[2];
    let kv = k0n * k1n * k2n;
    let len = geo.flat_len(n);
    let mut out = vec![L::default(); R * kv];
    let mut lanes = vec![L::default(); n];
    for k0 in 0..k0n {
        for k1 in 0..k1n {
            for k2c in (0..k2n).step_by(B) {
                let mut acc = [[L::zero(); B]; R];
                for (xp, dys) in task.x.iter().zip(&task.dy) {
                    for o0 in 0..o0n {
                        let (xo, qo) = geo.rows([o0, 0], [k0, k1, k2c]);
                        let xs = &xp[xo..][..len + (B - 1) * d2];
                        let ds: [&[L]; R] = std::array::from_fn(|r| &dys[r][qo..][..len]);
                        let mut i = 0;
                        while i < len {
                            // SAFETY: `i + N ≤ len` (`len` is a multiple of N), the length
                            // of every `ds[r]`; `xs` holds `len + (B-1)·d2` elements.
                            let xv: [L::V; B] = std::array::from_fn(|kb| unsafe {
                                L::load_ptr(xs.as_ptr().add(i + kb * d2))
                            });
                            for (ar, d) in acc.iter_mut().zip(&ds) {
                                // SAFETY: as above.
                                let dv = unsafe { L::load_ptr(d.as_ptr().add(i)) };
                                for (a, &x) in ar.iter_mut().zip(&xv) {
                                    *a = L::fma(dv, x, *a);
                                }
                            }
                            i += n;
                        }
                    }
                }
                for (r, ar) in acc.iter().enumerate() {
                    for (kb, &a) in ar.iter().enumerate().take(k2n - k2c) {
                        L::store(a, &mut lanes);
                        out[r * kv + (k0 * k1n + k1) * k2n + k2c + kb] =
                            lanes.iter().fold(L::default(), |s, &v| s + v);
                    }
                }
            }
        }
    }
    out
}

impl<L: Lanes> Engine<L> for Avx2 {
    fn correlate(&self, c: &Corr, src: &[L], wb: &[L], dst: &mut [L]) {
        // SAFETY: an `Avx2` exists only when the CPU has AVX2 and FMA, the only
        // requirement of the `#[target_feature]` kernels (their bodies are safe Rust).
        unsafe {
            match c.kernel[2] {
                1 => correlate::<L, 1>(c, src, wb, dst),
                3 => correlate::<L, 3>(c, src, wb, dst),
                // Phase kernels of 7- and 3-tap kernels at stride 2 (`polyphase`).
                4 => correlate::<L, 4>(c, src, wb, dst),
                2 => correlate::<L, 2>(c, src, wb, dst),
                _ => correlate::<L, 0>(c, src, wb, dst),
            }
        }
    }
    fn weight(&self, geo: &WeightGeom, task: &WeightTask<'_, L>) -> Vec<L> {
        // SAFETY: as in `correlate`. (Taps 2 by 2 read no further than `KB` by `KB` for
        // rows of 2 or 4 taps, which the planes are sized for.)
        unsafe {
            match geo.kernel[2] {
                2 | 4 => weight::<L, 2>(geo, task),
                _ => weight::<L, KB>(geo, task),
            }
        }
    }
}
