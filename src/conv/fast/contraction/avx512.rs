//! The `f32` tile with AVX-512: a block of [`LANES`] = 8 frequencies, interleaved
//! (`re0 im0 re1 im1 …`), is one 512-bit register `x`. With `y` and its pairs swapped `ỹ`
//! (`im0 re0 im1 re1 …`, an in-lane permute), two fused multiply-adds per term accumulate
//! `P = Σ x·y` (even lanes `xr·yr`, odd lanes `xi·yi`) and `Q = Σ x·ỹ` (even `xr·yi`, odd
//! `xi·yr`); the conjugations only change how the lanes of each pair combine at the end:
//!
//! | terms | real part | imaginary part |
//! |---|---|---|
//! | `x·y` | `P.even − P.odd` | `Q.even + Q.odd` |
//! | `conj(x)·y` | `P.even + P.odd` | `Q.even − Q.odd` |
//! | `x·conj(y)` | `P.even + P.odd` | `Q.odd − Q.even` |
//!
//! Up to 4×2 entries: 16 accumulators, 2 `y` and 2 `ỹ`, one `x`; per term 6 loads and 2
//! permutes feed 16 multiply-adds.
use super::product::{Out, Tile};
use super::LANES;
use std::arch::x86_64::*;

const _: () = assert!(LANES == 8, "an f32 block must be one 512-bit register");

/// Swap the real and imaginary part of each interleaved complex.
#[inline(always)]
unsafe fn swap_pairs(v: __m512) -> __m512 {
    _mm512_permute_ps::<0b10_11_00_01>(v)
}

/// # Safety
/// The CPU must support AVX-512 F and DQ; every offset in `t` must be that of a spectrum
/// whose `nblk` blocks from the bases are inside `a` or `b`; no other thread may write the
/// output blocks.
#[target_feature(enable = "avx512f,avx512dq")]
pub unsafe fn tile_f32<const R: usize, const C: usize, const CJ: u8>(
    a: &[f32],
    b: &[f32],
    t: &Tile<'_>,
    out: Out<'_, f32>,
) {
    let depth = t.a_offs[0].len();
    let (a_offs, b_offs) = t.offsets::<R, C>();
    let (ap, bp) = (a.as_ptr(), b.as_ptr());
    for blk in 0..t.nblk {
        let a0 = t.a_base + blk * t.a_blk;
        let b0 = t.b_base + blk * t.b_blk;
        let mut p = [[_mm512_setzero_ps(); C]; R];
        let mut q = [[_mm512_setzero_ps(); C]; R];
        for k in 0..depth {
            let mut y = [_mm512_setzero_ps(); C];
            let mut ys = [_mm512_setzero_ps(); C];
            for c in 0..C {
                // SAFETY: `offsets` checked that the table holds every `(k, c)`.
                let bo = b0 + *b_offs.get_unchecked(k * t.b_step + c);
                debug_assert!(bo + 2 * LANES <= b.len());
                // SAFETY: the caller guarantees every offset names a whole spectrum part
                // inside `b`.
                y[c] = _mm512_loadu_ps(bp.add(bo));
                ys[c] = swap_pairs(y[c]);
            }
            for r in 0..R {
                // SAFETY: `offsets` checked that each row's table holds `depth` offsets.
                let ao = a0 + *a_offs[r].get_unchecked(k);
                debug_assert!(ao + 2 * LANES <= a.len());
                // SAFETY: as above, for `a`.
                let x = _mm512_loadu_ps(ap.add(ao));
                for c in 0..C {
                    p[r][c] = _mm512_fmadd_ps(x, y[c], p[r][c]);
                    q[r][c] = _mm512_fmadd_ps(x, ys[c], q[r][c]);
                }
            }
        }
        for r in 0..R {
            for c in 0..C {
                let (p, q) = (p[r][c], q[r][c]);
                let (ps, qs) = (swap_pairs(p), swap_pairs(q));
                // The real parts are read from the even lanes, the imaginary from the odd.
                let (re, im) = match CJ {
                    0 => (_mm512_sub_ps(p, ps), _mm512_add_ps(q, qs)),
                    1 => (_mm512_add_ps(p, ps), _mm512_sub_ps(qs, q)),
                    _ => (_mm512_add_ps(p, ps), _mm512_sub_ps(q, qs)),
                };
                let v = _mm512_mask_blend_ps(0b1010_1010_1010_1010, re, im);
                let o = t.out_base + t.out_offs[r][c] + blk * t.out_blk;
                // Bounds-checked by `at`; this task's block (see `Out`).
                _mm512_storeu_ps(out.at(o, 2 * LANES), v);
            }
        }
    }
}
