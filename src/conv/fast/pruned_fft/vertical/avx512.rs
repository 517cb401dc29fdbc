//! The passes of [`super::Vertical`] for complex `f32` with AVX-512: a 512-bit vector holds
//! eight adjacent columns of one row (interleaved re, im), the last columns of a row under a
//! mask.

use num_complex::Complex;
use std::arch::x86_64::*;

/// `x · (wr + i wi)` for eight complex values and a broadcast twiddle.
#[inline(always)]
unsafe fn cmul(x: __m512, wr: __m512, wi: __m512) -> __m512 {
    let swapped = _mm512_permute_ps::<0xB1>(x);
    // Even lanes x.re·wr − x.im·wi, odd lanes x.im·wr + x.re·wi.
    _mm512_fmaddsub_ps(x, wr, _mm512_mul_ps(swapped, wi))
}

/// `a − i b` forward (`a + i b` backwards), as `(a.re + b.im, a.im − b.re)`.
#[inline(always)]
unsafe fn minus_i<const INV: bool>(a: __m512, b: __m512, one: __m512) -> __m512 {
    let swapped = _mm512_permute_ps::<0xB1>(b);
    if INV {
        // Even lanes a − swapped, odd lanes a + swapped.
        _mm512_fmaddsub_ps(one, a, swapped)
    } else {
        _mm512_fmsubadd_ps(one, a, swapped)
    }
}

/// The `R`-point DFT of `x` in place (forward, or backwards unnormalised).
#[inline(always)]
unsafe fn dft<const R: usize, const INV: bool>(x: &mut [__m512; 4], one: __m512) {
    match R {
        2 => {
            let (a, b) = (x[0], x[1]);
            x[0] = _mm512_add_ps(a, b);
            x[1] = _mm512_sub_ps(a, b);
        }
        3 => {
            let (s, d) = (_mm512_add_ps(x[1], x[2]), _mm512_sub_ps(x[1], x[2]));
            let t = _mm512_fnmadd_ps(_mm512_set1_ps(0.5), s, x[0]);
            let u = _mm512_mul_ps(d, _mm512_set1_ps(0.75f32.sqrt()));
            x[0] = _mm512_add_ps(x[0], s);
            x[1] = minus_i::<INV>(t, u, one);
            x[2] = minus_i::<INV>(t, _mm512_sub_ps(_mm512_setzero_ps(), u), one);
        }
        _ => {
            let (s0, d0) = (_mm512_add_ps(x[0], x[2]), _mm512_sub_ps(x[0], x[2]));
            let (s1, d1) = (_mm512_add_ps(x[1], x[3]), _mm512_sub_ps(x[1], x[3]));
            x[0] = _mm512_add_ps(s0, s1);
            x[2] = _mm512_sub_ps(s0, s1);
            x[1] = minus_i::<INV>(d0, d1, one);
            x[3] = minus_i::<INV>(d0, _mm512_sub_ps(_mm512_setzero_ps(), d1), one);
        }
    }
}

/// One pass of radix `R` over the sub-transforms of length `span` of `n` rows.
///
/// # Safety
/// AVX-512F; `n` rows of `stride` complex values from `data`, `cols ≤ stride`; `twiddles`
/// holds `(span / R)·(R − 1)` values.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn radix<const R: usize, const INV: bool>(
    data: *mut f32,
    stride: usize,
    cols: usize,
    n: usize,
    span: usize,
    twiddles: &[Complex<f32>],
) {
    let m = span / R;
    let one = _mm512_set1_ps(1.0);
    let tail = (cols % 8) as u32;
    let tail_mask: __mmask16 = ((1u32 << (2 * tail)) - 1) as __mmask16;
    let chunks = cols.div_ceil(8);
    let mut x = [_mm512_setzero_ps(); 4];
    for block in (0..n).step_by(span) {
        for j in 0..m {
            let mut wr = [one; 3];
            let mut wi = [_mm512_setzero_ps(); 3];
            for q in 1..R {
                let w = twiddles[j * (R - 1) + q - 1];
                wr[q - 1] = _mm512_set1_ps(w.re);
                wi[q - 1] = _mm512_set1_ps(if INV { -w.im } else { w.im });
            }
            let base = data.add(2 * (block + j) * stride);
            let row_step = 2 * m * stride;
            // Whole vectors unmasked (masked stores are slow on some CPUs), the tail masked.
            for c in 0..chunks {
                let at = base.add(16 * c);
                if c + 1 == chunks && tail != 0 {
                    for (q, v) in x[..R].iter_mut().enumerate() {
                        *v = _mm512_maskz_loadu_ps(tail_mask, at.add(q * row_step));
                    }
                } else {
                    for (q, v) in x[..R].iter_mut().enumerate() {
                        *v = _mm512_loadu_ps(at.add(q * row_step));
                    }
                }
                if INV && j > 0 {
                    for q in 1..R {
                        x[q] = cmul(x[q], wr[q - 1], wi[q - 1]);
                    }
                }
                dft::<R, INV>(&mut x, one);
                if !INV && j > 0 {
                    for q in 1..R {
                        x[q] = cmul(x[q], wr[q - 1], wi[q - 1]);
                    }
                }
                if c + 1 == chunks && tail != 0 {
                    for (q, v) in x[..R].iter().enumerate() {
                        _mm512_mask_storeu_ps(at.add(q * row_step), tail_mask, *v);
                    }
                } else {
                    for (q, v) in x[..R].iter().enumerate() {
                        _mm512_storeu_ps(at.add(q * row_step), *v);
                    }
                }
            }
        }
    }
}

/// A twiddle broadcast, conjugated backwards.
#[inline(always)]
unsafe fn twiddle<const INV: bool>(w: Complex<f32>) -> (__m512, __m512) {
    (
        _mm512_set1_ps(w.re),
        _mm512_set1_ps(if INV { -w.im } else { w.im }),
    )
}

/// The first of two fused passes on the group `j`: one radix-`RA` butterfly per `qb`.
#[inline(always)]
unsafe fn pass_a<const RA: usize, const RB: usize, const INV: bool>(
    x: &mut [[__m512; 4]; 4],
    j: usize,
    m_b: usize,
    tw: &[Complex<f32>],
) {
    let one = _mm512_set1_ps(1.0);
    for (qb, xb) in x[..RB].iter_mut().enumerate() {
        let j1 = j + qb * m_b;
        if INV && j1 > 0 {
            for q in 1..RA {
                let (wr, wi) = twiddle::<INV>(tw[j1 * (RA - 1) + q - 1]);
                xb[q] = cmul(xb[q], wr, wi);
            }
        }
        dft::<RA, INV>(xb, one);
        if !INV && j1 > 0 {
            for q in 1..RA {
                let (wr, wi) = twiddle::<INV>(tw[j1 * (RA - 1) + q - 1]);
                xb[q] = cmul(xb[q], wr, wi);
            }
        }
    }
}

/// The second of two fused passes on the group `j`: one radix-`RB` butterfly per `qa`.
#[inline(always)]
unsafe fn pass_b<const RA: usize, const RB: usize, const INV: bool>(
    x: &mut [[__m512; 4]; 4],
    j: usize,
    tw: &[Complex<f32>],
) {
    let one = _mm512_set1_ps(1.0);
    for qa in 0..RA {
        let mut y = [x[0][qa], x[1][qa], x[2][qa], x[3][qa]];
        if INV && j > 0 {
            for q in 1..RB {
                let (wr, wi) = twiddle::<INV>(tw[j * (RB - 1) + q - 1]);
                y[q] = cmul(y[q], wr, wi);
            }
        }
        dft::<RB, INV>(&mut y, one);
        if !INV && j > 0 {
            for q in 1..RB {
                let (wr, wi) = twiddle::<INV>(tw[j * (RB - 1) + q - 1]);
                y[q] = cmul(y[q], wr, wi);
            }
        }
        for (qb, v) in y[..RB].iter().enumerate() {
            x[qb][qa] = *v;
        }
    }
}

/// Two consecutive passes fused, radix `RA` on spans of `span` then radix `RB` on spans of
/// `span / RA`, on the `RA·RB` rows they share, kept in registers between the two.
///
/// # Safety
/// As [`radix`]; `tw_a` and `tw_b` are the two passes' twiddles.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn fused<const RA: usize, const RB: usize, const INV: bool>(
    data: *mut f32,
    stride: usize,
    cols: usize,
    n: usize,
    span: usize,
    tw_a: &[Complex<f32>],
    tw_b: &[Complex<f32>],
) {
    let m_a = span / RA;
    let m_b = m_a / RB;
    let tail = (cols % 8) as u32;
    let tail_mask: __mmask16 = ((1u32 << (2 * tail)) - 1) as __mmask16;
    let chunks = cols.div_ceil(8);
    // x[qb][qa] is row j + qb·m_b + qa·m_a of the group.
    let mut x = [[_mm512_setzero_ps(); 4]; 4];
    for block in (0..n).step_by(span) {
        for j in 0..m_b {
            let base = data.add(2 * (block + j) * stride);
            let row = |qa: usize, qb: usize| 2 * (qa * m_a + qb * m_b) * stride;
            for c in 0..chunks {
                let at = base.add(16 * c);
                let masked = c + 1 == chunks && tail != 0;
                for (qb, xb) in x[..RB].iter_mut().enumerate() {
                    for (qa, v) in xb[..RA].iter_mut().enumerate() {
                        let p = at.add(row(qa, qb));
                        *v = if masked {
                            _mm512_maskz_loadu_ps(tail_mask, p)
                        } else {
                            _mm512_loadu_ps(p)
                        };
                    }
                }
                if INV {
                    pass_b::<RA, RB, INV>(&mut x, j, tw_b);
                    pass_a::<RA, RB, INV>(&mut x, j, m_b, tw_a);
                } else {
                    pass_a::<RA, RB, INV>(&mut x, j, m_b, tw_a);
                    pass_b::<RA, RB, INV>(&mut x, j, tw_b);
                }
                for (qb, xb) in x[..RB].iter().enumerate() {
                    for (qa, v) in xb[..RA].iter().enumerate() {
                        let p = at.add(row(qa, qb));
                        if masked {
                            _mm512_mask_storeu_ps(p, tail_mask, *v);
                        } else {
                            _mm512_storeu_ps(p, *v);
                        }
                    }
                }
            }
        }
    }
}

/// Two passes of [`super::Vertical`] fused ([`fused`]), radices `radix_a` then `radix_b`.
///
/// # Safety
/// AVX-512F; as [`fused`], the radices among 2, 3, 4.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn fused_pass(
    data: *mut f32,
    stride: usize,
    cols: usize,
    n: usize,
    [radix_a, radix_b]: [usize; 2],
    span: usize,
    [tw_a, tw_b]: [&[Complex<f32>]; 2],
    inv: bool,
) {
    macro_rules! go {
        ($($a:literal $b:literal),*) => {
            match (radix_a, radix_b, inv) {
                $(
                    ($a, $b, false) => fused::<$a, $b, false>(data, stride, cols, n, span, tw_a, tw_b),
                    ($a, $b, true) => fused::<$a, $b, true>(data, stride, cols, n, span, tw_a, tw_b),
                )*
                _ => unreachable!("radices {radix_a}, {radix_b}"),
            }
        };
    }
    go!(4 4, 4 3, 4 2, 3 3, 3 2, 2 2);
}

/// One pass of [`super::Vertical`] for complex `f32` (`data` as interleaved floats).
///
/// # Safety
/// AVX-512F; as [`radix`], `radix_n` one of 2, 3, 4.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn pass(
    data: *mut f32,
    stride: usize,
    cols: usize,
    n: usize,
    radix_n: usize,
    span: usize,
    twiddles: &[Complex<f32>],
    inv: bool,
) {
    match (radix_n, inv) {
        (2, false) => radix::<2, false>(data, stride, cols, n, span, twiddles),
        (2, true) => radix::<2, true>(data, stride, cols, n, span, twiddles),
        (3, false) => radix::<3, false>(data, stride, cols, n, span, twiddles),
        (3, true) => radix::<3, true>(data, stride, cols, n, span, twiddles),
        (4, false) => radix::<4, false>(data, stride, cols, n, span, twiddles),
        (4, true) => radix::<4, true>(data, stride, cols, n, span, twiddles),
        _ => unreachable!("radix {radix_n}"),
    }
}
