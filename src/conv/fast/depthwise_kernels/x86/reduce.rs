//! The `∂w` reduction of the depthwise kernels on AVX2/FMA vectors, in blocks of kernel rows
//! that share each input row.

use super::super::{Red2, DY_ROWS_AROUND};
use super::vectors::DwLanes;
use crate::conv::fast::direct_simd::x86::{Lanes, Simd, Ymm};
use std::ops::Range;

/// Kernel rows per `∂w` block (sharing each input row, see [`reduce_body`]): 3s and 2s with
/// AVX-512VL's 32 registers when the rows are consecutive (7 = 3 + 2 + 2), else one at a time.
pub(super) fn row_blocks(k: usize, share: bool) -> Vec<usize> {
    if !share || k < 2 {
        return vec![1; k];
    }
    let twos = [0, 2, 1][k % 3];
    let mut v = vec![3; (k - 2 * twos) / 3];
    v.extend(std::iter::repeat_n(2, twos));
    v
}

/// [`reduce_body`] with the 16 registers of AVX2 (one kernel row at a time).
#[target_feature(enable = "avx2,fma")]
pub(super) fn reduce<L: Lanes, const A: usize, const KB: usize>(
    r: &Red2,
    (x, dy): (&[L], &[L]),
    dw: &mut [L],
    a0: usize,
) {
    assert!(A * KB + A < 16);
    // SAFETY: AVX2 and FMA are enabled here.
    unsafe { reduce_body::<Ymm<L>, A, KB>(r, (x, dy), dw, a0, 0..r.cols) }
}

/// [`reduce_body`] with the 32 registers of AVX-512VL.
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
pub(super) fn reduce_wide<L: Lanes, const A: usize, const KB: usize>(
    r: &Red2,
    (x, dy): (&[L], &[L]),
    dw: &mut [L],
    a0: usize,
) {
    assert!(A * KB + A < 32);
    // SAFETY: AVX2 and FMA are enabled here.
    unsafe { reduce_body::<Ymm<L>, A, KB>(r, (x, dy), dw, a0, 0..r.cols) }
}

/// [`reduce_body`] in 512-bit vectors (AVX-512F) in its 32 registers, the columns past the
/// last whole 512-bit vector in 256-bit ones (as the row-sharing correlation, `rows.rs`).
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
pub(super) fn reduce_zmm<L: DwLanes, const A: usize, const KB: usize>(
    r: &Red2,
    (x, dy): (&[L], &[L]),
    dw: &mut [L],
    a0: usize,
) {
    assert!(A * KB + A < 32);
    let split = r.cols / L::Z::N * L::Z::N;
    // SAFETY: AVX2, FMA and AVX-512F are enabled here.
    unsafe {
        reduce_body::<L::Z, A, KB>(r, (x, dy), dw, a0, 0..split);
        reduce_body::<L::Y, A, KB>(r, (x, dy), dw, a0, split..r.cols);
    }
}

/// Kernel rows `a0 .. a0 + A` × blocks of `KB` taps: `A·KB` vector accumulators. With `A > 1`
/// (row dilation 1) each input row `a0 + t`, loaded once per tap, feeds kernel row `a0 + a`
/// against cotangent row `t − a` for every `a` (zeros past the plane's edges: the rows
/// around `dy`): `(A + KB) / (A·KB)` loads per multiply-add instead of `(1 + KB) / KB`, and
/// `A·KB` independent sums (21 or 14 at 7×7), which keep both FMA pipes busy where `KB`
/// alone (7) left them waiting on their own sums. Over the columns `cols` of `r` (a whole
/// number of vectors of `S`).
///
/// # Safety
/// The features of `S`.
#[inline(always)]
unsafe fn reduce_body<S: Simd, const A: usize, const KB: usize>(
    r: &Red2,
    (x, dy): (&[S::E], &[S::E]),
    dw: &mut [S::E],
    a0: usize,
    cols: Range<usize>,
) {
    let ([k0, k1], [d0, d1]) = (r.kernel, r.dilation);
    assert!(x.len() >= r.x_len() && dy.len() >= r.dy_len() && dw.len() >= k0 * k1);
    assert!(cols.end <= r.cols && (cols.end - cols.start).is_multiple_of(S::N));
    assert!(a0 + A <= k0 && A <= DY_ROWS_AROUND + 1);
    assert!(A == 1 || d0 == 1);
    if cols.is_empty() {
        return;
    }
    let (xp, qp) = (x.as_ptr(), dy.as_ptr());
    for b0 in (0..k1).step_by(KB) {
        let mut acc = [[S::zero(); KB]; A];
        for t in 0..r.rows + A - 1 {
            // Input row `d0·a0 + t ≤ d0·(k0 − 1) + rows − 1`; cotangent rows `t − a`
            // (`−(A − 1) ..= rows + A − 2`), `DY_ROWS_AROUND` rows into `dy`: inside
            // `x_len` and `dy_len`.
            let xrow = (d0 * a0 + t) * r.x_stride + d1 * b0;
            let qrow: [usize; A] = std::array::from_fn(|a| (t + DY_ROWS_AROUND - a) * r.dy_stride);
            for j in cols.clone().step_by(S::N) {
                // SAFETY: inside `dy_len` (above).
                let q: [S::V; A] =
                    std::array::from_fn(|a| unsafe { S::load_ptr(qp.add(qrow[a] + j)) });
                // SAFETY: tap `b0 + tb < ⌈k1/KB⌉·KB`: inside `x_len`.
                let x = unsafe { xp.add(xrow + j) };
                // One call per tap, so that every index is a constant (the accumulators stay
                // in registers; a loop over the taps leaves them in memory).
                macro_rules! taps {
                    ($($tb:literal)*) => {$(
                        // SAFETY: as above.
                        unsafe { tap_step::<S, A, KB, $tb>(x, d1, &q, &mut acc) };
                    )*};
                }
                taps!(0 1 2 3 4 5 6 7);
            }
        }
        // Out of the registers at constant indices: an index the compiler cannot resolve
        // keeps the accumulators in memory through the whole loop above.
        let mut lanes = [[[S::E::default(); 16]; KB]; A];
        macro_rules! keep {
            ($($tb:literal)*) => {$(
                if $tb < KB {
                    for a in 0..A {
                        S::store(acc[a][$tb], &mut lanes[a][$tb]);
                    }
                }
            )*};
        }
        keep!(0 1 2 3 4 5 6 7);
        for (a, row) in lanes.iter().enumerate() {
            for (tb, l) in row.iter().enumerate().take(k1.saturating_sub(b0)) {
                let s = l[..S::N].iter().fold(S::E::default(), |s, &v| s + v);
                let at = (a0 + a) * k1 + b0 + tb;
                dw[at] = dw[at] + s;
            }
        }
    }
}

/// Tap `TB` of a `∂w` block (no-op past `KB`): its input vector, loaded once, times every
/// kernel row's cotangent vector.
///
/// # Safety
/// The features of `S`; `x + d1·TB .. + N` readable when `TB < KB`.
#[inline(always)]
unsafe fn tap_step<S: Simd, const A: usize, const KB: usize, const TB: usize>(
    x: *const S::E,
    d1: usize,
    q: &[S::V; A],
    acc: &mut [[S::V; KB]; A],
) {
    if TB >= KB {
        return;
    }
    // SAFETY: per the caller.
    let xv = unsafe { S::load_ptr(x.add(d1 * TB)) };
    for (acc, &q) in acc.iter_mut().zip(q) {
        acc[TB] = S::fma(q, xv, acc[TB]);
    }
}
