//! The vector widths of the row-sharing kernels: the direct correlations' [`Simd`] widths
//! with the masked loads that the planes read in place need at their left and right edges
//! (the 256-bit ones through AVX2's `vmaskmov`, the 512-bit ones through AVX-512's native
//! `__mmask16`/`__mmask8` registers).

use crate::conv::fast::direct_simd::x86::{Lanes, Simd, Ymm, Zmm};
use std::arch::x86_64::*;

/// A [`Simd`] width with masked loads. As for [`Simd`], every method is only called from
/// `#[target_feature]` kernels enabling what the implementation needs (AVX2 + FMA for
/// [`Ymm`], AVX-512F as well for [`Zmm`]), which only run when the CPU has it.
pub(in crate::conv::fast) trait Masked: Simd {
    type Mask: Copy;
    /// The lanes `lo .. hi` of a vector (clamped to `0 .. N`).
    fn lanes_between(lo: isize, hi: isize) -> Self::Mask;
    /// The lanes of `mask` from `p`, zeros in the others; only the lanes of `mask` are read
    /// (the others may lie outside any allocation: the load does not touch them).
    ///
    /// # Safety
    /// The lanes of `mask` at `p` must be readable.
    unsafe fn load_masked(p: *const Self::E, mask: Self::Mask) -> Self::V;
}

impl<T: Lanes> Masked for Ymm<T> {
    type Mask = __m256i;
    #[inline(always)]
    fn lanes_between(lo: isize, hi: isize) -> __m256i {
        T::lanes_between(lo, hi)
    }
    #[inline(always)]
    unsafe fn load_masked(p: *const T, mask: __m256i) -> T::V {
        // SAFETY: as the caller's.
        unsafe { T::load_masked(p, mask) }
    }
}

/// The bits `lo .. hi` of an `n`-bit mask.
#[inline(always)]
fn bits(lo: isize, hi: isize, n: isize) -> u32 {
    let (lo, hi) = (lo.clamp(0, n) as u32, hi.clamp(0, n) as u32);
    let below = |k: u32| if k >= 32 { u32::MAX } else { (1u32 << k) - 1 };
    below(hi) & !below(lo)
}

impl Masked for Zmm<f32> {
    type Mask = __mmask16;
    #[inline(always)]
    fn lanes_between(lo: isize, hi: isize) -> __mmask16 {
        bits(lo, hi, 16) as __mmask16
    }
    #[inline(always)]
    unsafe fn load_masked(p: *const f32, mask: __mmask16) -> __m512 {
        // SAFETY: the masked lanes readable per the caller (AVX-512 masked loads suppress
        // faults on the others); AVX-512F (see the trait).
        unsafe { _mm512_maskz_loadu_ps(mask, p) }
    }
}

impl Masked for Zmm<f64> {
    type Mask = __mmask8;
    #[inline(always)]
    fn lanes_between(lo: isize, hi: isize) -> __mmask8 {
        bits(lo, hi, 8) as __mmask8
    }
    #[inline(always)]
    unsafe fn load_masked(p: *const f64, mask: __mmask8) -> __m512d {
        // SAFETY: as for `f32`.
        unsafe { _mm512_maskz_loadu_pd(mask, p) }
    }
}

/// An element type of the depthwise kernels: its 256-bit and 512-bit widths, both masked.
pub(in crate::conv::fast) trait DwLanes: Lanes {
    type Z: Masked<E = Self>;
    type Y: Masked<E = Self>;
}

impl DwLanes for f32 {
    type Z = Zmm<f32>;
    type Y = Ymm<f32>;
}

impl DwLanes for f64 {
    type Z = Zmm<f64>;
    type Y = Ymm<f64>;
}

#[cfg(test)]
mod tests {
    use super::bits;

    #[test]
    fn mask_bits_cover_the_lanes_between() {
        assert_eq!(bits(0, 16, 16), 0xffff);
        assert_eq!(bits(3, 16, 16), 0xfff8);
        assert_eq!(bits(-5, 4, 16), 0x000f);
        assert_eq!(bits(-5, 40, 16), 0xffff);
        assert_eq!(bits(9, 2, 16), 0);
        assert_eq!(bits(20, 30, 16), 0);
        assert_eq!(bits(2, 6, 8), 0x3c);
    }
}
