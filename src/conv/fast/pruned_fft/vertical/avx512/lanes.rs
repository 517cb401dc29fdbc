//! The vector type of the AVX-512 column kernels: eight complex `f32` of one row, the last
//! columns of a row under a mask.

use std::arch::x86_64::*;

/// One vector of complex `f32` and its operations.
pub(super) trait Lanes: Copy {
    /// Complex values per vector.
    const WIDTH: usize;
    type Mask: Copy;
    /// The mask of the first `n < WIDTH` complex values.
    fn mask(n: usize) -> Self::Mask;
    unsafe fn load(p: *const f32) -> Self;
    unsafe fn load_masked(m: Self::Mask, p: *const f32) -> Self;
    unsafe fn store(self, p: *mut f32);
    unsafe fn store_masked(self, m: Self::Mask, p: *mut f32);
    unsafe fn splat(v: f32) -> Self;
    unsafe fn zero() -> Self;
    unsafe fn add(self, o: Self) -> Self;
    unsafe fn sub(self, o: Self) -> Self;
    unsafe fn mul(self, o: Self) -> Self;
    /// Real and imaginary parts exchanged.
    unsafe fn swap(self) -> Self;
    /// `a·b − c` in even lanes, `a·b + c` in odd ones.
    unsafe fn fmaddsub(a: Self, b: Self, c: Self) -> Self;
    /// `a·b + c` in even lanes, `a·b − c` in odd ones.
    unsafe fn fmsubadd(a: Self, b: Self, c: Self) -> Self;
    /// `c − a·b`.
    unsafe fn fnmadd(a: Self, b: Self, c: Self) -> Self;
}

macro_rules! lanes {
    ($v:ty, $width:literal, $mask:ty, $load:ident, $load_masked:ident, $store:ident,
     $store_masked:ident, $splat:ident, $zero:ident, $add:ident, $sub:ident, $mul:ident,
     $permute:ident, $fmaddsub:ident, $fmsubadd:ident, $fnmadd:ident) => {
        impl Lanes for $v {
            const WIDTH: usize = $width;
            type Mask = $mask;
            #[inline(always)]
            fn mask(n: usize) -> $mask {
                ((1u32 << (2 * n)) - 1) as $mask
            }
            #[inline(always)]
            unsafe fn load(p: *const f32) -> Self {
                $load(p)
            }
            #[inline(always)]
            unsafe fn load_masked(m: $mask, p: *const f32) -> Self {
                $load_masked(m, p)
            }
            #[inline(always)]
            unsafe fn store(self, p: *mut f32) {
                $store(p, self)
            }
            #[inline(always)]
            unsafe fn store_masked(self, m: $mask, p: *mut f32) {
                $store_masked(p, m, self)
            }
            #[inline(always)]
            unsafe fn splat(v: f32) -> Self {
                $splat(v)
            }
            #[inline(always)]
            unsafe fn zero() -> Self {
                $zero()
            }
            #[inline(always)]
            unsafe fn add(self, o: Self) -> Self {
                $add(self, o)
            }
            #[inline(always)]
            unsafe fn sub(self, o: Self) -> Self {
                $sub(self, o)
            }
            #[inline(always)]
            unsafe fn mul(self, o: Self) -> Self {
                $mul(self, o)
            }
            #[inline(always)]
            unsafe fn swap(self) -> Self {
                $permute::<0xB1>(self)
            }
            #[inline(always)]
            unsafe fn fmaddsub(a: Self, b: Self, c: Self) -> Self {
                $fmaddsub(a, b, c)
            }
            #[inline(always)]
            unsafe fn fmsubadd(a: Self, b: Self, c: Self) -> Self {
                $fmsubadd(a, b, c)
            }
            #[inline(always)]
            unsafe fn fnmadd(a: Self, b: Self, c: Self) -> Self {
                $fnmadd(a, b, c)
            }
        }
    };
}

lanes!(
    __m512,
    8,
    __mmask16,
    _mm512_loadu_ps,
    _mm512_maskz_loadu_ps,
    _mm512_storeu_ps,
    _mm512_mask_storeu_ps,
    _mm512_set1_ps,
    _mm512_setzero_ps,
    _mm512_add_ps,
    _mm512_sub_ps,
    _mm512_mul_ps,
    _mm512_permute_ps,
    _mm512_fmaddsub_ps,
    _mm512_fmsubadd_ps,
    _mm512_fnmadd_ps
);
