//! The vector widths the tiled kernels instantiate for: [`Simd`] is one width of one element
//! type, [`Ymm`] the 256-bit vectors of AVX2 (any [`Lanes`] type), [`Zmm`] the 512-bit ones
//! of AVX-512F.

use super::Lanes;
use std::arch::x86_64::*;
use std::marker::PhantomData;
use std::mem::MaybeUninit;

/// Vectors of `N` elements of `E`. Every method is only called from `#[target_feature]`
/// kernels enabling what the implementation needs (AVX2 + FMA for [`Ymm`], AVX-512F as well
/// for [`Zmm`]), which only run when the CPU has it: that is the safety argument of each
/// `unsafe` block here.
pub(in crate::conv::fast) trait Simd {
    type E: Lanes;
    type V: Copy;
    const N: usize;
    fn zero() -> Self::V;
    fn splat(v: Self::E) -> Self::V;
    /// `N` elements from `p`.
    ///
    /// # Safety
    /// `p..p+N` must be readable (inside one slice).
    unsafe fn load_ptr(p: *const Self::E) -> Self::V;
    /// Into the first `N` elements of `s` (panics when shorter).
    fn store(v: Self::V, s: &mut [Self::E]);
    fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// Into the first `N` elements of `s`, which need not be initialised (panics when
    /// shorter).
    #[inline(always)]
    fn store_uninit(v: Self::V, s: &mut [MaybeUninit<Self::E>]) {
        let s = &mut s[..Self::N];
        // SAFETY: `s` holds `N` elements (bounds-checked above), the size of `V`; an
        // unaligned write, which reads nothing there.
        unsafe { s.as_mut_ptr().cast::<Self::V>().write_unaligned(v) }
    }
}

/// The 256-bit vectors of `T` (AVX2 + FMA).
pub(in crate::conv::fast) struct Ymm<T>(PhantomData<T>);

impl<T: Lanes> Simd for Ymm<T> {
    type E = T;
    type V = T::V;
    const N: usize = T::N;
    #[inline(always)]
    fn zero() -> T::V {
        T::zero()
    }
    #[inline(always)]
    fn splat(v: T) -> T::V {
        T::splat(v)
    }
    #[inline(always)]
    unsafe fn load_ptr(p: *const T) -> T::V {
        // SAFETY: as the caller's.
        unsafe { T::load_ptr(p) }
    }
    #[inline(always)]
    fn store(v: T::V, s: &mut [T]) {
        T::store(v, s)
    }
    #[inline(always)]
    fn fma(a: T::V, b: T::V, c: T::V) -> T::V {
        T::fma(a, b, c)
    }
}

/// The 512-bit vectors of `T` (AVX-512F).
pub(in crate::conv::fast) struct Zmm<T>(PhantomData<T>);

impl Simd for Zmm<f32> {
    type E = f32;
    type V = __m512;
    const N: usize = 16;
    #[inline(always)]
    fn zero() -> __m512 {
        // SAFETY: AVX-512F (see the trait).
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    fn splat(v: f32) -> __m512 {
        // SAFETY: AVX-512F (see the trait).
        unsafe { _mm512_set1_ps(v) }
    }
    #[inline(always)]
    unsafe fn load_ptr(p: *const f32) -> __m512 {
        // SAFETY: readable per the caller; AVX-512F (see the trait).
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    fn store(v: __m512, s: &mut [f32]) {
        let s = &mut s[..16];
        // SAFETY: `s` holds 16 floats (bounds-checked above); unaligned store; AVX-512F.
        unsafe { _mm512_storeu_ps(s.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn fma(a: __m512, b: __m512, c: __m512) -> __m512 {
        // SAFETY: AVX-512F (see the trait).
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
}

impl Simd for Zmm<f64> {
    type E = f64;
    type V = __m512d;
    const N: usize = 8;
    #[inline(always)]
    fn zero() -> __m512d {
        // SAFETY: AVX-512F (see the trait).
        unsafe { _mm512_setzero_pd() }
    }
    #[inline(always)]
    fn splat(v: f64) -> __m512d {
        // SAFETY: AVX-512F (see the trait).
        unsafe { _mm512_set1_pd(v) }
    }
    #[inline(always)]
    unsafe fn load_ptr(p: *const f64) -> __m512d {
        // SAFETY: readable per the caller; AVX-512F (see the trait).
        unsafe { _mm512_loadu_pd(p) }
    }
    #[inline(always)]
    fn store(v: __m512d, s: &mut [f64]) {
        let s = &mut s[..8];
        // SAFETY: `s` holds 8 doubles (bounds-checked above); unaligned store; AVX-512F.
        unsafe { _mm512_storeu_pd(s.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn fma(a: __m512d, b: __m512d, c: __m512d) -> __m512d {
        // SAFETY: AVX-512F (see the trait).
        unsafe { _mm512_fmadd_pd(a, b, c) }
    }
}
