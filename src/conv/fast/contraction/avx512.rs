//! The `f32` tile with AVX-512: a block of [`LANES`] = 8 frequencies (8 real parts, then 8
//! imaginary parts) is one 512-bit register `x = [xr | xi]`. With `y = [yr | yi]` and its
//! halves swapped `ỹ = [yi | yr]`, two fused multiply-adds per term accumulate
//! `P = Σ [xr·yr | xi·yi]` and `Q = Σ [xr·yi | xi·yr]`; the conjugations only change how
//! the halves combine at the end:
//!
//! | terms | real part | imaginary part |
//! |---|---|---|
//! | `x·y` | `P.lo − P.hi` | `Q.lo + Q.hi` |
//! | `conj(x)·y` | `P.lo + P.hi` | `Q.lo − Q.hi` |
//! | `x·conj(y)` | `P.lo + P.hi` | `Q.hi − Q.lo` |
//!
//! Up to 4×3 entries: 24 accumulators, 3 `y` and 3 `ỹ`, one `x` (31 of 32 registers); per
//! term 7 loads and 3 shuffles feed 24 multiply-adds.
use super::product::Tile;
use super::LANES;
use std::arch::x86_64::*;

const _: () = assert!(LANES == 8, "an f32 block must be one 512-bit register");

/// # Safety
/// The CPU must support AVX-512 F and DQ; every offset in `t` must be that of a whole
/// spectrum part (`2·LANES` values) inside the `nblk` blocks of `a` or `b`.
#[target_feature(enable = "avx512f,avx512dq")]
pub unsafe fn tile_f32<const R: usize, const C: usize, const CJ: u8>(
    a: &[f32],
    b: &[f32],
    t: &Tile<'_>,
    out: &mut [f32],
) {
    let depth = t.a_offs[0].len();
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
                let bo = b0 + t.b_offs[k * t.b_step + c];
                debug_assert!(bo + 2 * LANES <= b.len());
                // SAFETY: the caller guarantees every offset names a whole spectrum part
                // inside `b`.
                y[c] = _mm512_loadu_ps(bp.add(bo));
                ys[c] = _mm512_shuffle_f32x4::<0b01_00_11_10>(y[c], y[c]);
            }
            for r in 0..R {
                let ao = a0 + t.a_offs[r][k];
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
                let (plo, phi) = (
                    _mm512_castps512_ps256(p[r][c]),
                    _mm512_extractf32x8_ps::<1>(p[r][c]),
                );
                let (qlo, qhi) = (
                    _mm512_castps512_ps256(q[r][c]),
                    _mm512_extractf32x8_ps::<1>(q[r][c]),
                );
                let (re, im) = match CJ {
                    0 => (_mm256_sub_ps(plo, phi), _mm256_add_ps(qlo, qhi)),
                    1 => (_mm256_add_ps(plo, phi), _mm256_sub_ps(qlo, qhi)),
                    _ => (_mm256_add_ps(plo, phi), _mm256_sub_ps(qhi, qlo)),
                };
                let o = t.out_base + t.out_offs[r][c] + blk * t.out_blk;
                // Bounds-checked slices of one vector each.
                _mm256_storeu_ps(out[o..][..LANES].as_mut_ptr(), re);
                _mm256_storeu_ps(out[o + LANES..][..LANES].as_mut_ptr(), im);
            }
        }
    }
}
