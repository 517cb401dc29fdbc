//! The tile with AVX2 + FMA intrinsics: per vector of frequencies, up to 2×2 entries with
//! their real and imaginary accumulators in registers (8), each term four fused
//! multiply-adds on two loads of `a` and two of `b`.
use super::product::Tile;
use super::{Conj, LANES};
use std::arch::x86_64::*;

macro_rules! tile_kernel {
    ($name:ident, $t:ty, $v:ty, $w:expr, $zero:ident, $load:ident, $store:ident,
     $fmadd:ident, $fnmadd:ident) => {
        /// # Safety
        /// The CPU must support AVX2 and FMA; every offset in `t` must be that of a whole
        /// spectrum part (`2·LANES` values) inside the `nblk` blocks of `a` or `b`.
        #[target_feature(enable = "avx2,fma")]
        pub unsafe fn $name<const R: usize, const C: usize, const CJ: u8>(
            a: &[$t],
            b: &[$t],
            t: &Tile<'_>,
            out: &mut [$t],
        ) {
            // CJ: 0 = no conjugate, 1 = conj(a), 2 = conj(b) (a constant: no branch).
            let conj = [Conj::None, Conj::A, Conj::B][CJ as usize];
            let depth = t.a_offs[0].len();
            let span = t.nblk * LANES;
            // Vectors per block: 1 for f32 (then `u % 1` is 0: fine), 2 for f64.
            let per_block = LANES / $w;
            let (ap, bp) = (a.as_ptr(), b.as_ptr());
            debug_assert!(t
                .a_offs
                .iter()
                .flat_map(|o| o.iter())
                .all(|&o| { t.a_base + (t.nblk - 1) * t.a_blk + o + 2 * LANES <= a.len() }));
            for u in 0..span / $w {
                let (blk, lane) = (u / per_block, (u % per_block) * $w);
                let a0 = t.a_base + blk * t.a_blk + lane;
                let b0 = t.b_base + blk * t.b_blk + lane;
                let mut acc: [[[$v; 2]; C]; R] = [[[$zero(); 2]; C]; R];
                for k in 0..depth {
                    let mut y: [[$v; 2]; C] = [[$zero(); 2]; C];
                    for (c, y) in y.iter_mut().enumerate() {
                        let bo = b0 + t.b_offs[k * t.b_step + c];
                        debug_assert!(bo + LANES + $w <= b.len());
                        // SAFETY: the caller guarantees every offset names a whole
                        // spectrum part inside `b`.
                        *y = [$load(bp.add(bo)), $load(bp.add(bo + LANES))];
                    }
                    for (r, acc) in acc.iter_mut().enumerate() {
                        let ao = a0 + t.a_offs[r][k];
                        debug_assert!(ao + LANES + $w <= a.len());
                        // SAFETY: as above, for `a`.
                        let (xr, xi) = ($load(ap.add(ao)), $load(ap.add(ao + LANES)));
                        for (acc, y) in acc.iter_mut().zip(&y) {
                            let [yr, yi] = *y;
                            match conj {
                                Conj::None => {
                                    acc[0] = $fmadd(xr, yr, acc[0]);
                                    acc[0] = $fnmadd(xi, yi, acc[0]);
                                    acc[1] = $fmadd(xr, yi, acc[1]);
                                    acc[1] = $fmadd(xi, yr, acc[1]);
                                }
                                Conj::A => {
                                    acc[0] = $fmadd(xr, yr, acc[0]);
                                    acc[0] = $fmadd(xi, yi, acc[0]);
                                    acc[1] = $fmadd(xr, yi, acc[1]);
                                    acc[1] = $fnmadd(xi, yr, acc[1]);
                                }
                                Conj::B => {
                                    acc[0] = $fmadd(xr, yr, acc[0]);
                                    acc[0] = $fmadd(xi, yi, acc[0]);
                                    acc[1] = $fmadd(xi, yr, acc[1]);
                                    acc[1] = $fnmadd(xr, yi, acc[1]);
                                }
                            }
                        }
                    }
                }
                for (r, acc) in acc.iter().enumerate() {
                    for (c, acc) in acc.iter().enumerate() {
                        let o = t.out_base + t.out_offs[r][c] + blk * t.out_blk + lane;
                        // Bounds-checked slices of one vector each.
                        $store(out[o..][..$w].as_mut_ptr(), acc[0]);
                        $store(out[o + LANES..][..$w].as_mut_ptr(), acc[1]);
                    }
                }
            }
        }
    };
}

tile_kernel!(
    tile_f32,
    f32,
    __m256,
    8,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_storeu_ps,
    _mm256_fmadd_ps,
    _mm256_fnmadd_ps
);
tile_kernel!(
    tile_f64,
    f64,
    __m256d,
    4,
    _mm256_setzero_pd,
    _mm256_loadu_pd,
    _mm256_storeu_pd,
    _mm256_fmadd_pd,
    _mm256_fnmadd_pd
);
