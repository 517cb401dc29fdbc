//! The row-sharing correlation (kernels of 3, 5 or 7 rows at row dilation 1; see the notes of
//! `depthwise_kernels.rs`), generic over the vector width: 256-bit vectors in AVX2's 16 or
//! AVX-512VL's 32 registers, or 512-bit vectors (AVX-512F) in the 32.
//!
//! The 512-bit kernel runs 16-float (8-double) strips up to the last multiple of 16 columns
//! and a 256-bit strip for the 8 left over (ConvNeXt's 56 = 3·16 + 8): the tile's columns stay
//! the 256-bit vector, so the planes the 256-bit tiles cover exactly (written in place) are
//! covered exactly by it too.

use super::super::{Corr2, Out, ZeroPadded};
use super::vectors::{DwLanes, Masked};
use crate::conv::fast::direct_simd::x86::Simd;
use std::ops::Range;

/// Which registers and vectors the row-sharing kernel runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Width {
    /// 256-bit vectors, AVX2's 16 registers.
    Narrow,
    /// 256-bit vectors, AVX-512VL's 32 registers.
    Wide,
    /// 512-bit vectors (AVX-512F), 32 registers.
    Zmm,
}

/// Output rows per tile of the row-sharing kernel for kernels of `k` rows at row dilation
/// `d` (`None`: it does not run them). `RT + K + 1` vector registers of 16: 7 rows at 7×7
/// (ConvNeXt's 56, 28, 14 and 7 are multiples of 7), 8 below.
pub(super) fn shared_rows(k: usize, d: usize) -> Option<usize> {
    match (k, d) {
        (7, 1) => Some(7),
        (3 | 5, 1) => Some(8),
        _ => None,
    }
}

/// Output rows per tile of the row-sharing kernel with the 32 registers of AVX-512VL.
/// 7 or 8 accumulators are fewer than the FMA latency (4 cycles) times the two FMA pipes,
/// so the 16-register tiles wait on their own sums; 14 rows (`14 + K + 1 ≤ 22` registers)
/// keep both pipes fed and load each input row for twice as many output rows. The taller
/// tile runs when it pads `height` no more than the 16-register one (56, 28 and 14 at
/// ConvNeXt's 7×7; 7 stays on 7-row tiles).
pub(super) const WIDE_ROWS: usize = 14;

pub(super) fn wide_rows(k: usize, d: usize, height: usize) -> Option<usize> {
    let narrow = shared_rows(k, d)?;
    let pad = |rt: usize| height.div_ceil(rt) * rt;
    (pad(WIDE_ROWS) <= pad(narrow)).then_some(WIDE_ROWS)
}

/// Most input rows a row-sharing tile reads (`RT + K − 1`).
const MAX_TILE_ROWS: usize = 24;

/// Input row `T` of a row-sharing tile (one kernel column) at `base + T·stride + col`:
/// loaded once, it feeds output row `T − a` through kernel row `a`, for every such row inside
/// the tile. Rows past `RT + K − 1` are no-ops, and so are rows outside `rows` when `SKIP`
/// (zero rows of a plane read in place); `MASK` loads only the lanes of `mask` (zeros in the
/// others: the columns outside the plane).
///
/// # Safety
/// The features of `S`; the vector (its `mask` lanes when `MASK`) at `base + T·stride + col`
/// readable for every row `T < RT + K − 1` (inside `rows` when `SKIP`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn row_step<
    S: Masked,
    const K: usize,
    const RT: usize,
    const T: usize,
    const SKIP: bool,
    const MASK: bool,
>(
    (base, stride, col): (*const S::E, usize, isize),
    rows: &Range<usize>,
    mask: S::Mask,
    wv: &[S::V; K],
    acc: &mut [S::V; RT],
) {
    if T >= RT + K - 1 || (SKIP && !rows.contains(&T)) {
        return;
    }
    let p = base.wrapping_offset((T * stride) as isize + col);
    // SAFETY: per the caller.
    let x = unsafe {
        if MASK {
            S::load_masked(p, mask)
        } else {
            S::load_ptr(p)
        }
    };
    for (a, wa) in wv.iter().enumerate() {
        if T >= a && T - a < RT {
            acc[T - a] = S::fma(x, *wa, acc[T - a]);
        }
    }
}

/// Every input row of a tile for one kernel column ([`row_step`] for each).
///
/// # Safety
/// As [`row_step`], for every row.
#[inline(always)]
unsafe fn tile_step<
    S: Masked,
    const K: usize,
    const RT: usize,
    const SKIP: bool,
    const MASK: bool,
>(
    at: (*const S::E, usize, isize),
    rows: &Range<usize>,
    mask: S::Mask,
    wv: &[S::V; K],
    acc: &mut [S::V; RT],
) {
    // One call per input row, so that every index below is a constant (a loop over the rows
    // is not unrolled, and the accumulators then live in memory).
    macro_rules! rows {
        ($($t:literal)*) => {$(
            // SAFETY: per the caller.
            unsafe { row_step::<S, K, RT, $t, SKIP, MASK>(at, rows, mask, wv, acc) };
        )*};
    }
    rows!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23);
}

/// Where a row-sharing pass reads its input rows: a padded plane (row `p` at
/// `p·src_stride`), or a plane read in place with its zero padding on the fly.
#[derive(Clone, Copy)]
pub(super) enum Src<'a, L> {
    Padded(&'a [L]),
    Zeros(&'a ZeroPadded<'a, L>),
}

/// `RT` output rows × one vector with the 16 registers of AVX2 (`RT + K ≤ 16`).
#[target_feature(enable = "avx2,fma")]
pub(super) fn corr_rows<L: DwLanes, const K: usize, const RT: usize>(
    c: &Corr2,
    src: Src<'_, L>,
    w: &[L],
    mut out: Out<'_, L>,
) {
    assert!(RT + K <= 16);
    // SAFETY: AVX2 and FMA are enabled here.
    unsafe { corr_rows_body::<L::Y, K, RT>(c, src, w, &mut out, 0..c.cols) }
}

/// `RT` output rows × one vector with the 32 registers of AVX-512VL (`RT + K ≤ 30`).
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
pub(super) fn corr_rows_wide<L: DwLanes, const K: usize, const RT: usize>(
    c: &Corr2,
    src: Src<'_, L>,
    w: &[L],
    mut out: Out<'_, L>,
) {
    assert!(RT + K <= 30);
    // SAFETY: AVX2 and FMA are enabled here.
    unsafe { corr_rows_body::<L::Y, K, RT>(c, src, w, &mut out, 0..c.cols) }
}

/// `RT` output rows × one 512-bit vector in the 32 registers of AVX-512F (`RT + K ≤ 30`),
/// the columns past the last whole 512-bit vector in one 256-bit strip.
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
pub(super) fn corr_rows_zmm<L: DwLanes, const K: usize, const RT: usize>(
    c: &Corr2,
    src: Src<'_, L>,
    w: &[L],
    mut out: Out<'_, L>,
) {
    assert!(RT + K <= 30);
    let split = c.cols / L::Z::N * L::Z::N;
    // SAFETY: AVX2, FMA and AVX-512F are enabled here.
    unsafe {
        corr_rows_body::<L::Z, K, RT>(c, src, w, &mut out, 0..split);
        corr_rows_body::<L::Y, K, RT>(c, src, w, &mut out, split..c.cols);
    }
}

/// `RT` output rows × one vector of `S`, over the columns `cols` of `c` (a whole number of
/// vectors); kernels of `K` rows at row dilation 1 (see the module notes);
/// `RT + K − 1 ≤ 24`. Inlined into a caller that enables the registers it needs.
///
/// A plane read in place: a tile whose input rows all lie inside the plane reads them as a
/// padded plane's (no checks), one at its top or bottom skips the rows outside (zeros); a
/// column strip whose inputs all lie inside the plane loads whole vectors, one at its left
/// or right edge loads only the lanes inside (zeros in the others).
///
/// # Safety
/// The features of `S`.
#[inline(always)]
unsafe fn corr_rows_body<S: Masked, const K: usize, const RT: usize>(
    c: &Corr2,
    src: Src<'_, S::E>,
    w: &[S::E],
    out: &mut Out<'_, S::E>,
    cols: Range<usize>,
) {
    let ([k0, k1], [d0, d1]) = (c.kernel, c.dilation);
    assert!(k0 == K && d0 == 1 && RT + K - 1 <= MAX_TILE_ROWS);
    assert!(out.len() >= c.out_len() && w.len() >= k0 * k1);
    assert!(c.rows.is_multiple_of(RT) && cols.end <= c.cols);
    assert!((cols.end - cols.start).is_multiple_of(S::N));
    // The plane's rows and columns (unbounded for a padded plane, whose reads all lie inside
    // `src_len`), and where its padded row 0, column 0 would be.
    let (origin, stride, [height, width], [lo0, lo1]) = match src {
        Src::Padded(s) => {
            assert!(s.len() >= c.src_len());
            let big = isize::MAX as usize / 2;
            (s.as_ptr(), c.src_stride, [big, big], [0, 0])
        }
        Src::Zeros(z) => {
            assert!(z.x.len() >= z.height * z.width);
            (z.x.as_ptr(), z.width, [z.height, z.width], z.lo)
        }
    };
    let reach = d1 * (k1 - 1);
    let add = matches!(out, Out::Add(_));
    let (wp, op) = (w.as_ptr(), out.ptr());
    // SAFETY (each `tile_step` below): the features of `S` per the caller; a row is read only
    // inside `rows` (all of them when the tile lies inside the plane), a column of it only
    // inside `0..width`: whole vectors when the strip lies inside, else the lanes of `mask`.
    // Inside the plane is inside `x` (asserted), or inside `src_len` for a padded plane.
    for i0 in (0..c.rows).step_by(RT) {
        // Plane row of the tile's input row 0, and the tile rows inside the plane.
        let r0 = i0 as isize - lo0 as isize;
        let rows =
            (-r0).max(0) as usize..(height as isize - r0).clamp(0, MAX_TILE_ROWS as isize) as usize;
        let all_rows = rows.start == 0 && rows.end >= RT + K - 1;
        let base = origin.wrapping_offset(r0 * stride as isize);
        for j0 in cols.clone().step_by(S::N) {
            // Plane column of the strip's lane 0 at kernel column 0.
            let c0 = j0 as isize - lo1 as isize;
            let inside = c0 >= 0 && c0 as usize + reach + S::N <= width;
            let mut acc = [S::zero(); RT];
            if add {
                for (r, a) in acc.iter_mut().enumerate() {
                    // SAFETY: inside `out` (asserted `out_len`), initialised (`Add`).
                    *a = unsafe { S::load_ptr(op.add((i0 + r) * c.out_stride + j0)) };
                }
            }
            for b in 0..k1 {
                // SAFETY: `a < K = k0`, `b < k1`.
                let wv: [S::V; K] =
                    std::array::from_fn(|a| S::splat(unsafe { *wp.add(a * k1 + b) }));
                let col = c0 + (d1 * b) as isize;
                let at = (base, stride, col);
                let none = S::lanes_between(0, 0);
                unsafe {
                    match (all_rows, inside) {
                        (true, true) => {
                            tile_step::<S, K, RT, false, false>(at, &rows, none, &wv, &mut acc)
                        }
                        (false, true) => {
                            tile_step::<S, K, RT, true, false>(at, &rows, none, &wv, &mut acc)
                        }
                        (all, false) => {
                            let mask = S::lanes_between(-col, width as isize - col);
                            if all {
                                tile_step::<S, K, RT, false, true>(at, &rows, mask, &wv, &mut acc)
                            } else {
                                tile_step::<S, K, RT, true, true>(at, &rows, mask, &wv, &mut acc)
                            }
                        }
                    }
                }
            }
            for (r, a) in acc.iter().enumerate() {
                // SAFETY: `N` elements inside `out` (asserted `out_len`, `j0 + N ≤ cols`);
                // an unaligned write, which needs no initialised value there.
                unsafe {
                    op.add((i0 + r) * c.out_stride + j0)
                        .cast::<S::V>()
                        .write_unaligned(*a)
                };
            }
        }
    }
}

/// `c` on the row-sharing kernel of `width`, when one runs it (else `out` back, untouched).
///
/// # Safety
/// The CPU has AVX2 and FMA, and AVX-512F and VL unless `width` is [`Width::Narrow`].
pub(super) unsafe fn rows<'a, L: DwLanes>(
    width: Width,
    c: &Corr2,
    src: Src<'_, L>,
    w: &[L],
    out: Out<'a, L>,
) -> Result<(), Out<'a, L>> {
    let (k, shared) = (c.kernel[0], shared_rows(c.kernel[0], c.dilation[0]));
    if !c.cols.is_multiple_of(L::N) {
        return Err(out);
    }
    // SAFETY (each call): per the caller.
    unsafe {
        if width != Width::Narrow && shared.is_some() && c.rows.is_multiple_of(WIDE_ROWS) {
            macro_rules! run {
                ($f:ident) => {
                    match k {
                        7 => $f::<L, 7, WIDE_ROWS>(c, src, w, out),
                        5 => $f::<L, 5, WIDE_ROWS>(c, src, w, out),
                        3 => $f::<L, 3, WIDE_ROWS>(c, src, w, out),
                        _ => return Err(out),
                    }
                };
            }
            if width == Width::Zmm {
                run!(corr_rows_zmm)
            } else {
                run!(corr_rows_wide)
            }
            return Ok(());
        }
        // The 16-register tiles (7 rows at 7×7: ConvNeXt's 7×7 planes), in 512-bit
        // vectors where the CPU has them.
        macro_rules! run {
            ($f:ident) => {
                match (shared.filter(|&rt| c.rows.is_multiple_of(rt)), k) {
                    (Some(7), 7) => $f::<L, 7, 7>(c, src, w, out),
                    (Some(8), 5) => $f::<L, 5, 8>(c, src, w, out),
                    (Some(8), 3) => $f::<L, 3, 8>(c, src, w, out),
                    _ => return Err(out),
                }
            };
        }
        if width == Width::Zmm {
            run!(corr_rows_zmm)
        } else {
            run!(corr_rows)
        }
    }
    Ok(())
}
