//! The kernels on AVX2 + FMA vectors (x86-64, checked at run time): [`Avx2`] is the engine,
//! [`Lanes`] the element types it runs (also used by the depthwise kernels).

use super::plan::{Engine, Source, WeightGeom, WeightTask};
use super::{round_up, Kernels, KB, R};
use std::arch::x86_64::*;
use std::mem::MaybeUninit;

/// Proof that the CPU has AVX2 and FMA: only [`Avx2::detect`] makes one. `wide`: it also has
/// AVX-512F and VL, whose 32 vector registers hold wider correlation tiles (still of 256-bit
/// vectors).
pub(in crate::conv::fast) struct Avx2 {
    wide: bool,
}

impl Avx2 {
    pub(in crate::conv::fast) fn detect() -> Option<Avx2> {
        (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")).then(|| Avx2 {
            wide: is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vl"),
        })
    }

    /// The engine `kernels` selects: none for the portable kernels, the 16-register tiles
    /// only for [`Kernels::Avx2Only`].
    pub(in crate::conv::fast) fn of(kernels: Kernels) -> Option<Avx2> {
        match kernels {
            Kernels::Portable => None,
            Kernels::Detect => Self::detect(),
            Kernels::Avx2Only => Self::detect().map(|_| Avx2 { wide: false }),
        }
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
    /// The lanes `lo .. hi` of a vector (as a mask for [`Lanes::load_masked`]).
    fn lanes_between(lo: isize, hi: isize) -> __m256i;
    /// The lanes of `mask` from `p`, zeros in the others; only the lanes of `mask` are read
    /// (the others may lie outside any allocation: the load does not touch them).
    ///
    /// # Safety
    /// The lanes of `mask` at `p` must be readable.
    unsafe fn load_masked(p: *const Self, mask: __m256i) -> Self::V;
    /// Into the first `N` elements of `s`, which need not be initialised (panics when
    /// shorter).
    #[inline(always)]
    fn store_uninit(v: Self::V, s: &mut [MaybeUninit<Self>]) {
        let s = &mut s[..Self::N];
        // SAFETY: `s` holds `N` elements (bounds-checked above), the size of `V`; an
        // unaligned write, which reads nothing there.
        unsafe { s.as_mut_ptr().cast::<Self::V>().write_unaligned(v) }
    }
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
    fn lanes_between(lo: isize, hi: isize) -> __m256i {
        // SAFETY: AVX2 (see the trait).
        unsafe {
            let at = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            let lo = _mm256_set1_epi32(lo.clamp(-1, 9) as i32 - 1);
            let hi = _mm256_set1_epi32(hi.clamp(-1, 9) as i32);
            _mm256_and_si256(_mm256_cmpgt_epi32(at, lo), _mm256_cmpgt_epi32(hi, at))
        }
    }
    #[inline(always)]
    unsafe fn load_masked(p: *const f32, mask: __m256i) -> __m256 {
        // SAFETY: the masked lanes readable per the caller; AVX (see the trait).
        unsafe { _mm256_maskload_ps(p, mask) }
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
    fn lanes_between(lo: isize, hi: isize) -> __m256i {
        // SAFETY: AVX2 (see the trait).
        unsafe {
            let at = _mm256_setr_epi64x(0, 1, 2, 3);
            let lo = _mm256_set1_epi64x(lo.clamp(-1, 5) as i64 - 1);
            let hi = _mm256_set1_epi64x(hi.clamp(-1, 5) as i64);
            _mm256_and_si256(_mm256_cmpgt_epi64(at, lo), _mm256_cmpgt_epi64(hi, at))
        }
    }
    #[inline(always)]
    unsafe fn load_masked(p: *const f64, mask: __m256i) -> __m256d {
        // SAFETY: the masked lanes readable per the caller; AVX (see the trait).
        unsafe { _mm256_maskload_pd(p, mask) }
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

/// The correlation of a block with the 16 vector registers of AVX2: tiles of at most 2
/// vectors for blocks of 4 rows, 3 for blocks of 3 (8 or 9 accumulators).
#[target_feature(enable = "avx2,fma")]
fn correlate_narrow<L: Lanes>(srcs: &[Source<'_, L>], dst: &mut [MaybeUninit<L>]) {
    match srcs.first().map_or(R, |s| s.corr.block) {
        3 => correlate::<L, 3, 3>(srcs, dst),
        _ => correlate::<L, 2, R>(srcs, dst),
    }
}

/// The correlation of a block with the 32 vector registers of AVX-512VL (still 256-bit
/// vectors): tiles of up to 4 vectors for blocks of 4 rows (16 accumulators, which keep both
/// FMA pipes busy through the FMA latency with room to spare), 8 for blocks of 3 (24: a
/// stem's `∂x` row of 64 floats in one tile, each weight broadcast feeding 8 FMAs instead of
/// 4; measured 2–5 % faster on the stem's fwd+bwd than 4).
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
fn correlate_wide<L: Lanes>(srcs: &[Source<'_, L>], dst: &mut [MaybeUninit<L>]) {
    match srcs.first().map_or(R, |s| s.corr.block) {
        3 => correlate::<L, 8, 3>(srcs, dst),
        _ => correlate::<L, 4, R>(srcs, dst),
    }
}

/// The correlation of a block of `RB` rows: every output row in tiles of up to `MAX` vectors
/// (see [`tile_widths`]), each tile's `RB × NV` accumulators summed over every source, channel
/// and tap, then stored: every element of `dst` written (its rows of `out_vol` elements, every
/// column of each). Only called from the `#[target_feature]` functions above.
#[inline(always)]
fn correlate<L: Lanes, const MAX: usize, const RB: usize>(
    srcs: &[Source<'_, L>],
    dst: &mut [MaybeUninit<L>],
) {
    let Some(first) = srcs.first() else {
        dst.fill(MaybeUninit::new(L::default()));
        return;
    };
    let n = L::N;
    let [o0n, o1n, o2n] = first.corr.out;
    let ov = first.corr.out_vol();
    let rows = dst.len() / ov;
    assert!(
        dst.len() == rows * ov && rows <= RB,
        "whole output planes of one block"
    );
    let rows_at: Vec<Vec<usize>> = srcs.iter().map(|s| s.corr.rows_at()).collect();
    for (s, at) in srcs.iter().zip(&rows_at) {
        assert_eq!(s.corr.out, first.corr.out, "sources of one output extent");
        assert_eq!(s.corr.block, RB, "sources of one block size");
        assert!(
            s.wb.len() >= at.len() * s.corr.kernel[2] * RB,
            "packed weights too short"
        );
    }
    let mut tile_buf = vec![L::default(); MAX * n];
    for o0 in 0..o0n {
        for o1 in 0..o1n {
            for (s, at) in srcs.iter().zip(&rows_at) {
                // Every read of `tile` is at `row_base + off + t + k2·d2 + v·N + (0..N)` with
                // `off ≤ last`, `t + NV·N ≤ round_up(o2n, N)`, `k2 < K2`: in bounds.
                let c = s.corr;
                let last = at.last().copied().unwrap_or(0);
                assert!(
                    c.row_base(o0, o1)
                        + last
                        + round_up(o2n, n)
                        + (c.kernel[2] - 1) * c.dilation[2]
                        <= s.src.len(),
                    "source planes too short"
                );
            }
            let out = (o0 * o1n + o1) * o2n;
            let mut t = 0;
            for nv in tile_widths(o2n.div_ceil(n), MAX) {
                let args = (srcs, &rows_at[..], [o0, o1, t]);
                let (dst, buf) = (&mut *dst, &mut tile_buf[..]);
                let len = (nv * n).min(o2n - t);
                let at = (ov, rows, out + t, len);
                match nv {
                    8 => tile::<L, 8, RB>(args, dst, at, buf),
                    7 => tile::<L, 7, RB>(args, dst, at, buf),
                    6 => tile::<L, 6, RB>(args, dst, at, buf),
                    5 => tile::<L, 5, RB>(args, dst, at, buf),
                    4 => tile::<L, 4, RB>(args, dst, at, buf),
                    3 => tile::<L, 3, RB>(args, dst, at, buf),
                    2 => tile::<L, 2, RB>(args, dst, at, buf),
                    _ => tile::<L, 1, RB>(args, dst, at, buf),
                }
                t += nv * n;
            }
        }
    }
}

/// The widths (vectors) of the tiles of a row of `nvec` vectors: `max` at a time, but never
/// leaving a last tile of one vector behind a wider one (its accumulators would wait on the
/// FMA latency).
fn tile_widths(nvec: usize, max: usize) -> impl Iterator<Item = usize> {
    let mut left = nvec;
    std::iter::from_fn(move || {
        let mut nv = left.min(max);
        if nv == 0 {
            return None;
        }
        if left - nv == 1 && nv > 2 {
            nv -= 1;
        }
        left -= nv;
        Some(nv)
    })
}

/// The arguments of a tile: the sources, their row offsets, and the output row and column.
type TileArgs<'a, 'b, L> = (&'a [Source<'b, L>], &'a [Vec<usize>], [usize; 3]);

/// One tile of `NV` vectors: accumulate every source, store the first `len` elements of
/// the first `rows` accumulator rows at `dst[r·ov + at..]` (via `buf` when short).
#[inline(always)]
fn tile<L: Lanes, const NV: usize, const RB: usize>(
    (srcs, rows_at, [o0, o1, t]): TileArgs<'_, '_, L>,
    dst: &mut [MaybeUninit<L>],
    (ov, rows, at, len): (usize, usize, usize, usize),
    buf: &mut [L],
) {
    let mut acc = [[L::zero(); NV]; RB];
    for (s, offs) in srcs.iter().zip(rows_at) {
        let base = s.corr.row_base(o0, o1) + t;
        match s.corr.kernel[2] {
            1 => taps::<L, NV, RB, 1>(&mut acc, s, offs, base),
            2 => taps::<L, NV, RB, 2>(&mut acc, s, offs, base),
            3 => taps::<L, NV, RB, 3>(&mut acc, s, offs, base),
            // Phase kernels of 7-tap kernels at stride 2 (`polyphase`).
            4 => taps::<L, NV, RB, 4>(&mut acc, s, offs, base),
            _ => taps::<L, NV, RB, 0>(&mut acc, s, offs, base),
        }
    }
    let n = L::N;
    for (r, ar) in acc.iter().enumerate().take(rows) {
        let out = &mut dst[r * ov + at..][..len];
        if len == NV * n {
            for (v, &a) in ar.iter().enumerate() {
                L::store_uninit(a, &mut out[v * n..]);
            }
        } else {
            for (v, &a) in ar.iter().enumerate() {
                L::store(a, &mut buf[v * n..]);
            }
            for (o, &b) in out.iter_mut().zip(&buf[..len]) {
                o.write(b);
            }
        }
    }
}

/// Add one source's taps onto the tile's accumulators: `K2` is the kernel width when known at
/// compile time (the tap loop unrolls), 0 otherwise; `base` the source offset of the tile.
#[inline(always)]
fn taps<L: Lanes, const NV: usize, const RB: usize, const K2: usize>(
    acc: &mut [[L::V; NV]; RB],
    s: &Source<'_, L>,
    offs: &[usize],
    base: usize,
) {
    let k2n = if K2 == 0 { s.corr.kernel[2] } else { K2 };
    let d2 = s.corr.dilation[2];
    for (j, &off) in offs.iter().enumerate() {
        let row = s.src[base + off..].as_ptr();
        let wk = &s.wb[j * k2n * RB..];
        for k2 in 0..k2n {
            // SAFETY: `j·k2n·RB + k2·RB + r < rows_at.len()·k2n·RB ≤ wb.len()` (asserted).
            let wr: [L::V; RB] =
                std::array::from_fn(|r| L::splat(unsafe { *wk.get_unchecked(k2 * RB + r) }));
            for v in 0..NV {
                // SAFETY: in bounds by the assertion of `correlate`.
                let x = unsafe { L::load_ptr(row.add(k2 * d2 + v * L::N)) };
                for (ar, &w) in acc.iter_mut().zip(&wr) {
                    ar[v] = L::fma(x, w, ar[v]);
                }
            }
        }
    }
}

/// The `∂w` task with `R × B` vector accumulators (`B` taps of a kernel row at a time:
/// [`KB`], or 2 for rows of 2 or 4 taps, which `KB` would pad by half).
#[target_feature(enable = "avx2,fma")]
fn weight_narrow<L: Lanes, const B: usize>(geo: &WeightGeom, task: &WeightTask<'_, L>) -> Vec<L> {
    weight::<L, B>(geo, task)
}

/// The `∂w` task with the 32 registers of AVX-512VL: rows of 4 taps in one pass (16
/// accumulators).
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
fn weight_wide<L: Lanes, const B: usize>(geo: &WeightGeom, task: &WeightTask<'_, L>) -> Vec<L> {
    weight::<L, B>(geo, task)
}

/// The `∂w` task with `R × B` vector accumulators. Only called from the `#[target_feature]`
/// functions above.
#[inline(always)]
fn weight<L: Lanes, const B: usize>(geo: &WeightGeom, task: &WeightTask<'_, L>) -> Vec<L> {
    let n = L::N;
    let [k0n, k1n, k2n] = geo.kernel;
    let o0n = geo.out[0];
    let d2 = geo.dilation[2];
    let kv = k0n * k1n * k2n;
    let (segs, seg_len, seg_step) = geo.sweep(n);
    let len = geo.sweep_len(n);
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
                        for seg in 0..segs {
                            let mut i = seg * seg_step;
                            let end = i + seg_len;
                            while i < end {
                                // SAFETY: `i + N ≤ end ≤ len` (`seg_len` is a multiple of
                                // N), the length of every `ds[r]`; `xs` holds
                                // `len + (B-1)·d2` elements.
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

// SAFETY: `correlate` writes every element of `dst` (see the kernel's notes: every row of the
// block, every column of each, stored or copied from the tile's buffer).
unsafe impl<L: Lanes> Engine<L> for Avx2 {
    fn correlate(&self, srcs: &[Source<'_, L>], dst: &mut [MaybeUninit<L>]) {
        // SAFETY: an `Avx2` exists only when the CPU has AVX2 and FMA, the only
        // requirement of the `#[target_feature]` kernels (their bodies are safe Rust).
        // The wide kernels also need AVX-512F and VL: `wide` only when the CPU has them.
        unsafe {
            if self.wide {
                correlate_wide::<L>(srcs, dst);
            } else {
                correlate_narrow::<L>(srcs, dst);
            }
        }
    }
    fn weight(&self, geo: &WeightGeom, task: &WeightTask<'_, L>) -> Vec<L> {
        // SAFETY: as in `correlate`. (Taps 2 by 2 read no further than `KB` by `KB` for
        // rows of 2 or 4 taps, which the planes are sized for.)
        // The wide kernels only when the CPU has AVX-512F and VL (`wide`). (Four taps at once
        // read no further than `KB` by `KB` either.)
        unsafe {
            match geo.kernel[2] {
                4 if self.wide => weight_wide::<L, 4>(geo, task),
                2 | 4 => weight_narrow::<L, 2>(geo, task),
                _ if self.wide => weight_wide::<L, KB>(geo, task),
                _ => weight_narrow::<L, KB>(geo, task),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tile_widths;

    #[test]
    fn tiles_cover_the_row_without_a_lone_last_vector() {
        for max in [2, 4] {
            for nvec in 0..40 {
                let w: Vec<usize> = tile_widths(nvec, max).collect();
                assert_eq!(w.iter().sum::<usize>(), nvec, "max {max}: {w:?}");
                assert!(
                    w.iter().all(|&v| (1..=max).contains(&v)),
                    "max {max}: {w:?}"
                );
                // (With tiles of 2, an odd row ends in 1 either way.)
                if max > 2 && w.len() > 1 {
                    assert!(w[w.len() - 1] > 1, "max {max}, {nvec} vectors: {w:?}");
                }
            }
        }
    }
}
