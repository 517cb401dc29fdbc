//! The input transform `Bᵀ d B` and the F(4×4, 3×3) output transform `Aᵀ M A` of the
//! Winograd path ([`super`]) on 512-bit vectors: 16 channels per vector in f32, 8 in f64.
//!
//! The portable transforms ([`super::kernels`]) work on arrays of 8-lane vectors that the
//! compiler moves through the stack (tile gathers, `both_axes`' row copies, scalar lane moves
//! into the output planes): on the Xeon they took longer than the channel products. Here each
//! tile is loaded once, both 1-D passes stay in registers, and the output tile's 16 vectors
//! (4×4 positions × channels) are transposed in registers to one 4×4 block per channel, so
//! each output row is one 4-value store.

use super::kernels::{A, XI};
use super::{Band, Corr, Tiled};
use crate::tensor::{Scalar, TypedViews};
use std::arch::x86_64::*;

/// `Bᵀ d` and `Aᵀ m` on 6 vectors, for one vector type (`Bᵀ`, `Aᵀ`: `winograd_kernels.rs`).
macro_rules! one_d {
    ($bt:ident, $at:ident, $vec:ty, $set1:ident, $add:ident, $sub:ident, $fmadd:ident,
     $fnmadd:ident) => {
        #[target_feature(enable = "avx512f")]
        #[inline]
        pub(super) fn $bt(d: [$vec; A]) -> [$vec; A] {
            let (c2, c4, c5) = ($set1(2.0), $set1(4.0), $set1(5.0));
            let d42 = $sub(d[4], d[2]);
            [
                $fmadd(c4, d[0], $fnmadd(c5, d[2], d[4])),
                $fnmadd(c4, $add(d[1], d[2]), $add(d[3], d[4])),
                $fmadd(c4, $sub(d[1], d[2]), $sub(d[4], d[3])),
                $fmadd(c2, $sub(d[3], d[1]), d42),
                $fmadd(c2, $sub(d[1], d[3]), d42),
                $fmadd(c4, d[1], $fnmadd(c5, d[3], d[5])),
            ]
        }

        #[target_feature(enable = "avx512f")]
        #[inline]
        fn $at(m: [$vec; A]) -> [$vec; 4] {
            let (c2, c4, c8) = ($set1(2.0), $set1(4.0), $set1(8.0));
            let (s12, d12) = ($add(m[1], m[2]), $sub(m[1], m[2]));
            let (s34, d34) = ($add(m[3], m[4]), $sub(m[3], m[4]));
            [
                $add($add(m[0], s12), s34),
                $fmadd(c2, d34, d12),
                $fmadd(c4, s34, s12),
                $fmadd(c8, d34, $add(d12, m[5])),
            ]
        }
    };
}

one_d!(
    bt_ps,
    at_ps,
    __m512,
    _mm512_set1_ps,
    _mm512_add_ps,
    _mm512_sub_ps,
    _mm512_fmadd_ps,
    _mm512_fnmadd_ps
);
one_d!(
    bt_pd,
    at_pd,
    __m512d,
    _mm512_set1_pd,
    _mm512_add_pd,
    _mm512_sub_pd,
    _mm512_fmadd_pd,
    _mm512_fnmadd_pd
);

/// The input transform of tiles `0..nt` (tile `ti` at `base(ti)` in `xs`, rows `row` apart,
/// positions `cp` apart) into `v` (`[ξ][nt][cp]`), `W` channels per vector.
macro_rules! input_tiles {
    ($name:ident, $t:ty, $w:expr, $vec:ty, $zero:ident, $load:ident, $store:ident, $bt:ident) => {
        /// # Safety
        /// AVX-512 F.
        #[target_feature(enable = "avx512f")]
        unsafe fn $name(
            xs: &[$t],
            (row, cp): (usize, usize),
            base: impl Fn(usize) -> usize,
            v: &mut [$t],
            nt: usize,
        ) {
            assert!(cp % $w == 0 && v.len() >= XI * nt * cp, "v too short");
            let vp = v.as_mut_ptr();
            for ti in 0..nt {
                let b = base(ti);
                assert!(
                    b + (A - 1) * (row + cp) + cp <= xs.len(),
                    "tile past the input"
                );
                for cb in (0..cp).step_by($w) {
                    // SAFETY: the tile's last position's last channel is in `xs` (asserted);
                    // every `v` index is below `XI·nt·cp`.
                    unsafe {
                        let p = xs.as_ptr().add(b + cb);
                        let mut t = [[$zero(); A]; A];
                        for j in 0..A {
                            let mut d = [$zero(); A];
                            for (i, di) in d.iter_mut().enumerate() {
                                *di = $load(p.add(i * row + j * cp));
                            }
                            for (i, r) in $bt(d).into_iter().enumerate() {
                                t[i][j] = r;
                            }
                        }
                        for (i, ti_row) in t.into_iter().enumerate() {
                            for (k, r) in $bt(ti_row).into_iter().enumerate() {
                                $store(vp.add(((i * A + k) * nt + ti) * cp + cb), r);
                            }
                        }
                    }
                }
            }
        }
    };
}

input_tiles!(
    input_tiles_ps,
    f32,
    16,
    __m512,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_storeu_ps,
    bt_ps
);
input_tiles!(
    input_tiles_pd,
    f64,
    8,
    __m512d,
    _mm512_setzero_pd,
    _mm512_loadu_pd,
    _mm512_storeu_pd,
    bt_pd
);

/// `Aᵀ M A` of one tile's 36 vectors at `m[(ξ·nt + ti)·cp + cb]`: the 16 outputs, `[a·4 + b]`.
macro_rules! output_tile {
    ($name:ident, $t:ty, $vec:ty, $zero:ident, $load:ident, $at:ident) => {
        /// # Safety
        /// AVX-512 F; `m` holds `((XI − 1)·nt + ti)·cp + cb` plus one vector.
        #[target_feature(enable = "avx512f")]
        #[inline]
        unsafe fn $name(
            m: *const $t,
            (ti, nt, cp, cb): (usize, usize, usize, usize),
        ) -> [$vec; 16] {
            let mut s = [[$zero(); A]; 4];
            for j in 0..A {
                let mut col = [$zero(); A];
                for (i, c) in col.iter_mut().enumerate() {
                    // SAFETY: the caller's bound.
                    *c = unsafe { $load(m.add(((i * A + j) * nt + ti) * cp + cb)) };
                }
                for (a, r) in $at(col).into_iter().enumerate() {
                    s[a][j] = r;
                }
            }
            let mut y = [$zero(); 16];
            for (a, sa) in s.into_iter().enumerate() {
                y[a * 4..][..4].copy_from_slice(&$at(sa));
            }
            y
        }
    };
}

output_tile!(
    output_ps,
    f32,
    __m512,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    at_ps
);
output_tile!(
    output_pd,
    f64,
    __m512d,
    _mm512_setzero_pd,
    _mm512_loadu_pd,
    at_pd
);

/// The 128-bit chunk transpose: `[X₀.cₖ, X₁.cₖ, X₂.cₖ, X₃.cₖ]` for `k = 0..4`.
macro_rules! chunks4 {
    ($x:expr, $shuf:ident) => {{
        let x = $x;
        let u0 = $shuf::<0x88>(x[0], x[1]);
        let u1 = $shuf::<0xDD>(x[0], x[1]);
        let u2 = $shuf::<0x88>(x[2], x[3]);
        let u3 = $shuf::<0xDD>(x[2], x[3]);
        [
            $shuf::<0x88>(u0, u2),
            $shuf::<0x88>(u1, u3),
            $shuf::<0xDD>(u0, u2),
            $shuf::<0xDD>(u1, u3),
        ]
    }};
}

/// `out[c][p] = y[p][c]`: 16 positions × 16 channels to one 4×4 block per channel.
#[target_feature(enable = "avx512f")]
#[inline]
fn transpose_ps(y: [__m512; 16], out: &mut [[f32; 16]; 16]) {
    let mut t = [_mm512_setzero_ps(); 16];
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_ps(y[2 * i], y[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(y[2 * i], y[2 * i + 1]);
    }
    // `s[e][q]`, chunk k: channel 4k + e, positions 4q..4q+4.
    let mut s = [[_mm512_setzero_pd(); 4]; 4];
    for q in 0..4 {
        let (p0, p1) = (_mm512_castps_pd(t[4 * q]), _mm512_castps_pd(t[4 * q + 1]));
        let (p2, p3) = (
            _mm512_castps_pd(t[4 * q + 2]),
            _mm512_castps_pd(t[4 * q + 3]),
        );
        s[0][q] = _mm512_unpacklo_pd(p0, p2);
        s[1][q] = _mm512_unpackhi_pd(p0, p2);
        s[2][q] = _mm512_unpacklo_pd(p1, p3);
        s[3][q] = _mm512_unpackhi_pd(p1, p3);
    }
    for (e, se) in s.into_iter().enumerate() {
        let cols = chunks4!(se, _mm512_shuffle_f64x2);
        for (k, c) in cols.into_iter().enumerate() {
            // SAFETY: `out[4k + e]` holds 16 values.
            unsafe { _mm512_storeu_ps(out[4 * k + e].as_mut_ptr(), _mm512_castpd_ps(c)) };
        }
    }
}

/// `out[c][p] = y[p][c]`: 16 positions × 8 channels to one 4×4 block per channel.
#[target_feature(enable = "avx512f")]
#[inline]
fn transpose_pd(y: [__m512d; 16], out: &mut [[f64; 16]; 8]) {
    for half in 0..2 {
        let r = &y[8 * half..][..8];
        let mut t = [_mm512_setzero_pd(); 8];
        for i in 0..4 {
            t[2 * i] = _mm512_unpacklo_pd(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i], r[2 * i + 1]);
        }
        // Even channels from the low unpacks, odd ones from the high.
        for odd in 0..2 {
            let x = [t[odd], t[2 + odd], t[4 + odd], t[6 + odd]];
            let cols = chunks4!(x, _mm512_shuffle_f64x2);
            for (k, c) in cols.into_iter().enumerate() {
                // SAFETY: `out[2k + odd]` holds 16 values, 8 from `8·half`.
                unsafe { _mm512_storeu_pd(out[2 * k + odd][8 * half..].as_mut_ptr(), c) };
            }
        }
    }
}

/// Channel-major 4×4 blocks into the band's output planes.
fn put<E: Copy>(plane: &mut [E], (at, o1, rows, cols): (usize, usize, usize, usize), y: &[E; 16]) {
    if rows == 4 && cols == 4 {
        for a in 0..4 {
            plane[at + a * o1..][..4].copy_from_slice(&y[a * 4..][..4]);
        }
    } else {
        for a in 0..rows {
            plane[at + a * o1..][..cols].copy_from_slice(&y[a * 4..][..cols]);
        }
    }
}

/// The input transform of tiles `t0..t0+nt` of `src` into `v` on 512-bit vectors, when the
/// channels fill them (f32: a multiple of 16; f64 always); `false` if it did not run.
///
/// # Safety
/// AVX-512 F.
#[inline(always)]
pub(super) unsafe fn inputs<T: Scalar>(
    src: &Tiled<'_, T>,
    (t0, nt): (usize, usize),
    v: &mut [T],
) -> bool {
    if let Some(d) = &src.direct {
        // SAFETY: the caller's AVX-512 F.
        return unsafe { super::fused::inputs(d, src, (t0, nt), v) };
    }
    let (cp, row) = (src.cp, src.ext[1] * src.cp);
    let base = |ti: usize| {
        let (ni, r, c) = src.locate(t0 + ti);
        ((ni * src.ext[0] + r * src.step) * src.ext[1] + c * src.step) * cp
    };
    // SAFETY (both): the caller's AVX-512 F.
    match T::views(src.data, &[], v) {
        TypedViews::F32(xs, _, v) if cp % 16 == 0 => unsafe {
            input_tiles_ps(xs, (row, cp), base, v, nt)
        },
        TypedViews::F64(xs, _, v) => unsafe { input_tiles_pd(xs, (row, cp), base, v, nt) },
        _ => return false,
    }
    true
}

/// The F(4×4, 3×3) output transform of tiles `t0..t0+nt` from `m` (`[ξ][nt][cdp]`) into the
/// band on 512-bit vectors, as [`inputs`]; `false` if it did not run.
///
/// # Safety
/// AVX-512 F.
#[inline(always)]
pub(super) unsafe fn outputs<T: Scalar>(
    c: &Corr<'_>,
    src: &Tiled<'_, T>,
    (t0, nt): (usize, usize),
    m: &[T],
    out: &mut Band<'_, '_, T>,
) -> bool {
    let (cdp, dp, per) = (c.dst.total_padded(), c.dst.padded, c.dst.per);
    let w = match T::views(m, &[], &mut []) {
        TypedViews::F32(..) if cdp % 16 == 0 => 16,
        TypedViews::F64(..) => 8,
        _ => return false,
    };
    assert!(m.len() >= XI * nt * cdp, "m too short");
    let o1 = c.out[1];
    let mut y32 = [[0f32; 16]; 16];
    let mut y64 = [[0f64; 16]; 8];
    for ti in 0..nt {
        let (_, r, col) = src.locate(t0 + ti);
        let rows = 4.min(c.out[0] - r * 4);
        let cols = 4.min(o1 - col * 4);
        let at = (r * 4 - out.row0) * o1 + col * 4;
        for cb in (0..cdp).step_by(w) {
            // SAFETY (both): the caller's AVX-512 F; `m` holds `XI·nt·cdp` (asserted) and
            // `cb + w ≤ cdp`.
            match T::views(m, &[], &mut []) {
                TypedViews::F32(m, _, _) => unsafe {
                    transpose_ps(output_ps(m.as_ptr(), (ti, nt, cdp, cb)), &mut y32)
                },
                TypedViews::F64(m, _, _) => unsafe {
                    transpose_pd(output_pd(m.as_ptr(), (ti, nt, cdp, cb)), &mut y64)
                },
                TypedViews::Other => return false,
            }
            for l in 0..w {
                let (g, k) = ((cb + l) / dp, (cb + l) % dp);
                if k >= per {
                    continue;
                }
                let plane = &mut *out.planes[g * per + k];
                let place = (at, o1, rows, cols);
                match T::views(&[], &[], plane) {
                    TypedViews::F32(_, _, p) => put(p, place, &y32[l]),
                    TypedViews::F64(_, _, p) => put(p, place, &y64[l]),
                    TypedViews::Other => {}
                }
            }
        }
    }
    true
}
