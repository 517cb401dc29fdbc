//! The tile with AVX2 + FMA intrinsics, on interleaved blocks (`re0 im0 re1 im1 …`): per
//! vector of frequencies, up to 2×2 entries with two accumulators each in registers, each
//! term two fused multiply-adds (by `y` and by `y` with its pairs swapped, as the AVX-512
//! kernel: see the table there) on one load of `a` and one of `b`.
use super::product::{Out, Tile};
use super::LANES;
use std::arch::x86_64::*;

/// Swap the real and imaginary part of each interleaved complex.
#[inline(always)]
unsafe fn swap_f32(v: __m256) -> __m256 {
    _mm256_permute_ps::<0b10_11_00_01>(v)
}

/// The even lanes of `re` and the odd lanes of `im`.
#[inline(always)]
unsafe fn blend_f32(re: __m256, im: __m256) -> __m256 {
    _mm256_blend_ps::<0b1010_1010>(re, im)
}

/// Swap the real and imaginary part of each interleaved complex.
#[inline(always)]
unsafe fn swap_f64(v: __m256d) -> __m256d {
    _mm256_permute_pd::<0b0101>(v)
}

/// The even lanes of `re` and the odd lanes of `im`.
#[inline(always)]
unsafe fn blend_f64(re: __m256d, im: __m256d) -> __m256d {
    _mm256_blend_pd::<0b1010>(re, im)
}

macro_rules! tile_kernel {
    ($name:ident, $t:ty, $v:ty, $w:expr, $zero:ident, $load:ident, $store:ident,
     $fmadd:ident, $add:ident, $sub:ident, $swap:ident, $blend:ident) => {
        /// # Safety
        /// The CPU must support AVX2 and FMA; every offset in `t` must be that of a spectrum
        /// whose `nblk` blocks from the bases are inside `a` or `b`; no other thread may
        /// write the output blocks.
        #[target_feature(enable = "avx2,fma")]
        pub unsafe fn $name<const R: usize, const C: usize, const CJ: u8>(
            a: &[$t],
            b: &[$t],
            t: &Tile<'_>,
            out: Out<'_, $t>,
        ) {
            let depth = t.a_offs[0].len();
            let (a_offs, b_offs) = t.offsets::<R, C>();
            // Vectors per block: 2 for f32, 4 for f64.
            let per_block = 2 * LANES / $w;
            let (ap, bp) = (a.as_ptr(), b.as_ptr());
            debug_assert!(t
                .a_offs
                .iter()
                .flat_map(|o| o.iter())
                .all(|&o| { t.a_base + (t.nblk - 1) * t.a_blk + o + 2 * LANES <= a.len() }));
            for u in 0..t.nblk * per_block {
                let (blk, lane) = (u / per_block, (u % per_block) * $w);
                let a0 = t.a_base + blk * t.a_blk + lane;
                let b0 = t.b_base + blk * t.b_blk + lane;
                let mut p: [[$v; C]; R] = [[$zero(); C]; R];
                let mut q: [[$v; C]; R] = [[$zero(); C]; R];
                for k in 0..depth {
                    let mut y: [[$v; 2]; C] = [[$zero(); 2]; C];
                    for (c, y) in y.iter_mut().enumerate() {
                        // SAFETY: `offsets` checked that the table holds every `(k, c)`.
                        let bo = b0 + *b_offs.get_unchecked(k * t.b_step + c);
                        debug_assert!(bo + $w <= b.len());
                        // SAFETY: the caller guarantees every offset names a whole
                        // spectrum part inside `b`.
                        let v = $load(bp.add(bo));
                        *y = [v, $swap(v)];
                    }
                    for r in 0..R {
                        // SAFETY: `offsets` checked that each row's table holds `depth`
                        // offsets.
                        let ao = a0 + *a_offs[r].get_unchecked(k);
                        debug_assert!(ao + $w <= a.len());
                        // SAFETY: as above, for `a`.
                        let x = $load(ap.add(ao));
                        for c in 0..C {
                            p[r][c] = $fmadd(x, y[c][0], p[r][c]);
                            q[r][c] = $fmadd(x, y[c][1], q[r][c]);
                        }
                    }
                }
                for r in 0..R {
                    for c in 0..C {
                        let (p, q) = (p[r][c], q[r][c]);
                        let (ps, qs) = ($swap(p), $swap(q));
                        // Real parts from the even lanes, imaginary from the odd.
                        let (re, im) = match CJ {
                            0 => ($sub(p, ps), $add(q, qs)),
                            1 => ($add(p, ps), $sub(qs, q)),
                            _ => ($add(p, ps), $sub(q, qs)),
                        };
                        let o = t.out_base + t.out_offs[r][c] + blk * t.out_blk + lane;
                        // Bounds-checked by `at`; this task's block (see `Out`).
                        $store(out.at(o, $w), $blend(re, im));
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
    _mm256_add_ps,
    _mm256_sub_ps,
    swap_f32,
    blend_f32
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
    _mm256_add_pd,
    _mm256_sub_pd,
    swap_f64,
    blend_f64
);
