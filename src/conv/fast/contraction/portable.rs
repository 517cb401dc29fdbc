//! The portable tile kernel (any target; the reference the SIMD kernels are tested against),
//! on interleaved blocks (`re0 im0 re1 im1 …`).

use super::product::{Out, Tile};
use super::{Conj, LANES};
use crate::tensor::Scalar;

/// `op(a)·op(b)` accumulated into `(re, im)` for one term, per the conjugation.
#[inline(always)]
fn term<T: Scalar>(conj: Conj, (ar, ai): (T, T), (br, bi): (T, T), (re, im): &mut (T, T)) {
    match conj {
        Conj::None => {
            *re = *re + ar * br - ai * bi;
            *im = *im + ar * bi + ai * br;
        }
        Conj::A => {
            *re = *re + ar * br + ai * bi;
            *im = *im + ar * bi - ai * br;
        }
        Conj::B => {
            *re = *re + ar * br + ai * bi;
            *im = *im + ai * br - ar * bi;
        }
    }
}

/// Portable tile (also the reference the SIMD kernels are tested against).
pub(super) fn tile_portable<T: Scalar>(
    a: &[T],
    b: &[T],
    t: &Tile<'_>,
    rows: usize,
    cols: usize,
    conj: Conj,
    out: Out<'_, T>,
) {
    let depth = t.a_offs[0].len();
    for r in 0..rows {
        for c in 0..cols {
            for blk in 0..t.nblk {
                for l in 0..LANES {
                    let mut acc = (T::zero(), T::zero());
                    for k in 0..depth {
                        let ao = t.a_base + blk * t.a_blk + t.a_offs[r][k] + 2 * l;
                        let bo = t.b_base + blk * t.b_blk + t.b_offs[k * t.b_step + c] + 2 * l;
                        let x = (a[ao], a[ao + 1]);
                        let y = (b[bo], b[bo + 1]);
                        term(conj, x, y, &mut acc);
                    }
                    let o = t.out_base + t.out_offs[r][c] + blk * t.out_blk + 2 * l;
                    let at = out.at(o, 2);
                    // SAFETY: `at` checked the two values are inside the output; no other
                    // task writes this block (see `Out`).
                    unsafe { at.write(acc.0) };
                    // SAFETY: as above.
                    unsafe { at.add(1).write(acc.1) };
                }
            }
        }
    }
}
