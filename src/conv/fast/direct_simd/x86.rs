//! The kernels on x86-64 vectors (checked at run time): [`Avx2`] is the engine, [`Lanes`] the
//! element types it runs (also used by the depthwise kernels); `simd.rs` the vector widths
//! ([`Simd`]: AVX2's 256 bits, AVX-512F's 512), `tiles.rs` the kernels generic over them.

mod simd;
mod tiles;

use super::plan::{Engine, Source, WeightGeom, WeightTask};
use super::{Kernels, KB, R};
pub(in crate::conv::fast) use simd::{Simd, Ymm, Zmm};
use std::arch::x86_64::*;
use std::mem::MaybeUninit;
use tiles::{correlate, weight};

/// The register tiles an [`Avx2`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tiles {
    /// 256-bit vectors in AVX2's 16 registers.
    Narrow,
    /// 256-bit vectors in AVX-512VL's 32 registers.
    Wide,
    /// 512-bit vectors (AVX-512F) in its 32 registers.
    Zmm,
}

/// Proof that the CPU has AVX2 and FMA: only [`Avx2::detect`] makes one, with the widest
/// [`Tiles`] the CPU runs (AVX-512F for `Zmm`, which also needs VL for the 256-bit `Wide`
/// tiles it keeps for `∂w`).
pub(in crate::conv::fast) struct Avx2 {
    tiles: Tiles,
}

impl Avx2 {
    pub(in crate::conv::fast) fn detect() -> Option<Avx2> {
        let avx512 = is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vl");
        (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")).then_some(Avx2 {
            tiles: if avx512 { Tiles::Zmm } else { Tiles::Narrow },
        })
    }

    /// The engine `kernels` selects: none for the portable kernels; narrower tiles than the
    /// CPU's widest only when `kernels` asks for them (never wider).
    pub(in crate::conv::fast) fn of(kernels: Kernels) -> Option<Avx2> {
        let cpu = Self::detect()?;
        let tiles = match kernels {
            Kernels::Portable => return None,
            Kernels::Detect => cpu.tiles,
            Kernels::Avx2Only => Tiles::Narrow,
            Kernels::Avx512Ymm if cpu.tiles == Tiles::Zmm => Tiles::Wide,
            Kernels::Avx512Ymm => Tiles::Narrow,
        };
        Some(Avx2 { tiles })
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
    /// The 512-bit vectors of this type.
    type Wide: Simd<E = Self>;
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
}

impl Lanes for f32 {
    type V = __m256;
    type Wide = Zmm<f32>;
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
    type Wide = Zmm<f64>;
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
        3 => correlate::<Ymm<L>, 3, 3, 1>(srcs, dst),
        _ => correlate::<Ymm<L>, 2, R, 1>(srcs, dst),
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
        3 => correlate::<Ymm<L>, 8, 3, 1>(srcs, dst),
        _ => correlate::<Ymm<L>, 4, R, 1>(srcs, dst),
    }
}

/// The correlation of a block in 512-bit vectors (AVX-512F): tiles of up to 4 vectors (a
/// stem's or a 64-wide layer's output row in one tile) for blocks of 3 or 4 rows; blocks of
/// 3 (a stem's `∂x`) on two output rows at a time (24 accumulators: 11 loads per 24 FMAs
/// instead of 7 per 12, the tile being load-bound).
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
fn correlate_zmm<L: Lanes>(srcs: &[Source<'_, L>], dst: &mut [MaybeUninit<L>]) {
    match srcs.first().map_or(R, |s| s.corr.block) {
        3 => correlate::<L::Wide, 4, 3, 2>(srcs, dst),
        _ => correlate::<L::Wide, 4, R, 1>(srcs, dst),
    }
}

/// The `∂w` task with `R × B` vector accumulators (`B` taps of a kernel row at a time:
/// [`KB`], or 2 for rows of 2 or 4 taps, which `KB` would pad by half).
#[target_feature(enable = "avx2,fma")]
fn weight_narrow<L: Lanes, const B: usize>(geo: &WeightGeom, task: &WeightTask<'_, L>) -> Vec<L> {
    weight::<Ymm<L>, B>(geo, task)
}

/// The `∂w` task with the 32 registers of AVX-512VL: rows of 4 taps in one pass (16
/// accumulators).
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
fn weight_wide<L: Lanes, const B: usize>(geo: &WeightGeom, task: &WeightTask<'_, L>) -> Vec<L> {
    weight::<Ymm<L>, B>(geo, task)
}

/// The `∂w` task in 512-bit vectors (AVX-512F), `R × B` accumulators; the planes cover a
/// sweep of 512-bit vectors (`MAX_V`).
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
fn weight_zmm<L: Lanes, const B: usize>(geo: &WeightGeom, task: &WeightTask<'_, L>) -> Vec<L> {
    weight::<L::Wide, B>(geo, task)
}

// SAFETY: `correlate` writes every element of `dst` (see the kernel's notes: every row of the
// block, every column of each, stored or copied from the tile's buffer).
unsafe impl<L: Lanes> Engine<L> for Avx2 {
    fn correlate(&self, srcs: &[Source<'_, L>], dst: &mut [MaybeUninit<L>]) {
        // SAFETY: an `Avx2` exists only when the CPU has AVX2 and FMA, the only
        // requirement of the `#[target_feature]` kernels (their bodies are safe Rust).
        // The wide and 512-bit kernels also need AVX-512F and VL: `Wide` and `Zmm` only when
        // the CPU has them (`of` never widens what `detect` found).
        unsafe {
            match self.tiles {
                Tiles::Zmm => correlate_zmm::<L>(srcs, dst),
                Tiles::Wide => correlate_wide::<L>(srcs, dst),
                Tiles::Narrow => correlate_narrow::<L>(srcs, dst),
            }
        }
    }
    fn weight(&self, geo: &WeightGeom, task: &WeightTask<'_, L>) -> Vec<L> {
        // SAFETY: as in `correlate`. (Taps 2 by 2 read no further than `KB` by `KB` for
        // rows of 2 or 4 taps, which the planes are sized for.)
        // The wide kernels only when the CPU has AVX-512F and VL (not `Narrow`). (Four taps
        // at once read no further than `KB` by `KB` either.)
        let wide = self.tiles != Tiles::Narrow;
        let zmm = self.tiles == Tiles::Zmm;
        unsafe {
            match geo.kernel[2] {
                4 if zmm => weight_zmm::<L, 4>(geo, task),
                2 if zmm => weight_zmm::<L, 2>(geo, task),
                _ if zmm => weight_zmm::<L, KB>(geo, task),
                4 if wide => weight_wide::<L, 4>(geo, task),
                2 | 4 => weight_narrow::<L, 2>(geo, task),
                _ if wide => weight_wide::<L, KB>(geo, task),
                _ => weight_narrow::<L, KB>(geo, task),
            }
        }
    }
}
