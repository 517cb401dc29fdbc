use super::{taps_per_block, Corr2, DwEngine, Out, Red2, ZeroPadded};
use crate::conv::fast::direct_simd::x86::{Avx2, Lanes};
use crate::conv::fast::direct_simd::Kernels;
mod reduce;

use reduce::{reduce, reduce_wide, row_blocks};
use std::arch::x86_64::__m256i;
use std::mem::MaybeUninit;
use std::ops::Range;

/// The AVX2/FMA kernels; only [`Avx2Dw::of`] makes one (the CPU has AVX2 and FMA).
/// `wide`: it also has AVX-512F and VL, whose 32 vector registers hold taller row-sharing
/// tiles (still of 256-bit vectors).
pub(in crate::conv::fast) struct Avx2Dw {
    /// The proof, held only to be owned.
    _cpu: Avx2,
    wide: bool,
}

impl Avx2Dw {
    /// The engine `kernels` selects: none for the portable kernels, the 16-register tiles
    /// only for [`Kernels::Avx2Only`].
    pub(in crate::conv::fast) fn of(kernels: Kernels) -> Option<Avx2Dw> {
        let wide = matches!(kernels, Kernels::Detect | Kernels::Avx512Ymm)
            && is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512vl");
        Avx2::of(kernels).map(|cpu| Avx2Dw { _cpu: cpu, wide })
    }
}

/// `RT × V` accumulators.
#[target_feature(enable = "avx2,fma")]
fn corr<L: Lanes, const RT: usize, const V: usize>(c: &Corr2, src: &[L], w: &[L], out: &mut [L]) {
    let ([k0, k1], [d0, d1]) = (c.kernel, c.dilation);
    assert!(src.len() >= c.src_len() && out.len() >= c.out_len() && w.len() >= k0 * k1);
    assert!(c.rows.is_multiple_of(RT) && c.cols.is_multiple_of(V * L::N));
    let (sp, wp, op) = (src.as_ptr(), w.as_ptr(), out.as_mut_ptr());
    for i0 in (0..c.rows).step_by(RT) {
        for j0 in (0..c.cols).step_by(V * L::N) {
            let mut acc = [[L::zero(); V]; RT];
            for (r, row) in acc.iter_mut().enumerate() {
                for (v, a) in row.iter_mut().enumerate() {
                    // SAFETY: inside `out` (asserted `out_len`).
                    *a = unsafe { L::load_ptr(op.add((i0 + r) * c.out_stride + j0 + v * L::N)) };
                }
            }
            for a in 0..k0 {
                for b in 0..k1 {
                    // SAFETY: `a < k0`, `b < k1`.
                    let wv = L::splat(unsafe { *wp.add(a * k1 + b) });
                    let base = (i0 + d0 * a) * c.src_stride + j0 + d1 * b;
                    for (r, row) in acc.iter_mut().enumerate() {
                        for (v, acc) in row.iter_mut().enumerate() {
                            // SAFETY: row below `rows + d0·(k0 − 1)`, column below
                            // `cols + d1·(k1 − 1)`: inside `src_len`.
                            let x =
                                unsafe { L::load_ptr(sp.add(base + r * c.src_stride + v * L::N)) };
                            *acc = L::fma(x, wv, *acc);
                        }
                    }
                }
            }
            for (r, row) in acc.iter().enumerate() {
                for (v, a) in row.iter().enumerate() {
                    L::store(*a, &mut out[(i0 + r) * c.out_stride + j0 + v * L::N..]);
                }
            }
        }
    }
}

/// Output rows per tile of the row-sharing kernel for kernels of `k` rows at row dilation
/// `d` (`None`: it does not run them). `RT + K + 1` vector registers of 16: 7 rows at 7×7
/// (ConvNeXt's 56, 28, 14 and 7 are multiples of 7), 8 below.
fn shared_rows(k: usize, d: usize) -> Option<usize> {
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
const WIDE_ROWS: usize = 14;

fn wide_rows(k: usize, d: usize, height: usize) -> Option<usize> {
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
/// AVX2 and FMA; the vector (its `mask` lanes when `MASK`) at `base + T·stride + col`
/// readable for every row `T < RT + K − 1` (inside `rows` when `SKIP`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn row_step<
    L: Lanes,
    const K: usize,
    const RT: usize,
    const T: usize,
    const SKIP: bool,
    const MASK: bool,
>(
    (base, stride, col): (*const L, usize, isize),
    rows: &Range<usize>,
    mask: __m256i,
    wv: &[L::V; K],
    acc: &mut [L::V; RT],
) {
    if T >= RT + K - 1 || (SKIP && !rows.contains(&T)) {
        return;
    }
    let p = base.wrapping_offset((T * stride) as isize + col);
    // SAFETY: per the caller.
    let x = unsafe {
        if MASK {
            L::load_masked(p, mask)
        } else {
            L::load_ptr(p)
        }
    };
    for (a, wa) in wv.iter().enumerate() {
        if T >= a && T - a < RT {
            acc[T - a] = L::fma(x, *wa, acc[T - a]);
        }
    }
}

/// Every input row of a tile for one kernel column ([`row_step`] for each).
///
/// # Safety
/// As [`row_step`], for every row.
#[inline(always)]
unsafe fn tile_step<
    L: Lanes,
    const K: usize,
    const RT: usize,
    const SKIP: bool,
    const MASK: bool,
>(
    at: (*const L, usize, isize),
    rows: &Range<usize>,
    mask: __m256i,
    wv: &[L::V; K],
    acc: &mut [L::V; RT],
) {
    // One call per input row, so that every index below is a constant (a loop over the rows
    // is not unrolled, and the accumulators then live in memory).
    macro_rules! rows {
        ($($t:literal)*) => {$(
            // SAFETY: per the caller.
            unsafe { row_step::<L, K, RT, $t, SKIP, MASK>(at, rows, mask, wv, acc) };
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
fn corr_rows<L: Lanes, const K: usize, const RT: usize>(
    c: &Corr2,
    src: Src<'_, L>,
    w: &[L],
    out: Out<'_, L>,
) {
    assert!(RT + K <= 16);
    // SAFETY: AVX2 and FMA are enabled here.
    unsafe { corr_rows_body::<L, K, RT>(c, src, w, out) }
}

/// `RT` output rows × one vector with the 32 registers of AVX-512VL (`RT + K ≤ 30`).
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
fn corr_rows_wide<L: Lanes, const K: usize, const RT: usize>(
    c: &Corr2,
    src: Src<'_, L>,
    w: &[L],
    out: Out<'_, L>,
) {
    assert!(RT + K <= 30);
    // SAFETY: AVX2 and FMA are enabled here.
    unsafe { corr_rows_body::<L, K, RT>(c, src, w, out) }
}

/// `RT` output rows × one vector; kernels of `K` rows at row dilation 1 (see the module
/// notes); `RT + K − 1 ≤ 24`. Inlined into a caller that enables the registers it needs.
///
/// A plane read in place: a tile whose input rows all lie inside the plane reads them as a
/// padded plane's (no checks), one at its top or bottom skips the rows outside (zeros); a
/// column strip whose inputs all lie inside the plane loads whole vectors, one at its left
/// or right edge loads only the lanes inside (zeros in the others).
///
/// # Safety
/// AVX2 and FMA.
#[inline(always)]
unsafe fn corr_rows_body<L: Lanes, const K: usize, const RT: usize>(
    c: &Corr2,
    src: Src<'_, L>,
    w: &[L],
    mut out: Out<'_, L>,
) {
    let ([k0, k1], [d0, d1]) = (c.kernel, c.dilation);
    assert!(k0 == K && d0 == 1 && RT + K - 1 <= MAX_TILE_ROWS);
    assert!(out.len() >= c.out_len() && w.len() >= k0 * k1);
    assert!(c.rows.is_multiple_of(RT) && c.cols.is_multiple_of(L::N));
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
    // SAFETY (each `tile_step` below): AVX2 and FMA per the caller; a row is read only
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
        for j0 in (0..c.cols).step_by(L::N) {
            // Plane column of the strip's lane 0 at kernel column 0.
            let c0 = j0 as isize - lo1 as isize;
            let inside = c0 >= 0 && c0 as usize + reach + L::N <= width;
            let mut acc = [L::zero(); RT];
            if add {
                for (r, a) in acc.iter_mut().enumerate() {
                    // SAFETY: inside `out` (asserted `out_len`), initialised (`Add`).
                    *a = unsafe { L::load_ptr(op.add((i0 + r) * c.out_stride + j0)) };
                }
            }
            for b in 0..k1 {
                // SAFETY: `a < K = k0`, `b < k1`.
                let wv: [L::V; K] =
                    std::array::from_fn(|a| L::splat(unsafe { *wp.add(a * k1 + b) }));
                let col = c0 + (d1 * b) as isize;
                let at = (base, stride, col);
                let none = L::lanes_between(0, 0);
                unsafe {
                    match (all_rows, inside) {
                        (true, true) => {
                            tile_step::<L, K, RT, false, false>(at, &rows, none, &wv, &mut acc)
                        }
                        (false, true) => {
                            tile_step::<L, K, RT, true, false>(at, &rows, none, &wv, &mut acc)
                        }
                        (all, false) => {
                            let mask = L::lanes_between(-col, width as isize - col);
                            if all {
                                tile_step::<L, K, RT, false, true>(at, &rows, mask, &wv, &mut acc)
                            } else {
                                tile_step::<L, K, RT, true, true>(at, &rows, mask, &wv, &mut acc)
                            }
                        }
                    }
                }
            }
            for (r, a) in acc.iter().enumerate() {
                // SAFETY: `N` elements inside `out` (asserted `out_len`); an unaligned
                // write, which needs no initialised value there.
                unsafe {
                    op.add((i0 + r) * c.out_stride + j0)
                        .cast::<L::V>()
                        .write_unaligned(*a)
                };
            }
        }
    }
}

impl Avx2Dw {
    /// `c` on a row-sharing kernel, when one runs it (else `out` back, untouched).
    fn rows<'a, L: Lanes>(
        &self,
        c: &Corr2,
        src: Src<'_, L>,
        w: &[L],
        out: Out<'a, L>,
    ) -> Result<(), Out<'a, L>> {
        let (k, shared) = (c.kernel[0], shared_rows(c.kernel[0], c.dilation[0]));
        if !c.cols.is_multiple_of(L::N) {
            return Err(out);
        }
        // SAFETY (each call): an `Avx2Dw` exists only when the CPU has AVX2 and FMA, and
        // `wide` only when it has AVX-512F and VL too.
        unsafe {
            if self.wide && shared.is_some() && c.rows.is_multiple_of(WIDE_ROWS) {
                match k {
                    7 => corr_rows_wide::<L, 7, WIDE_ROWS>(c, src, w, out),
                    5 => corr_rows_wide::<L, 5, WIDE_ROWS>(c, src, w, out),
                    3 => corr_rows_wide::<L, 3, WIDE_ROWS>(c, src, w, out),
                    _ => return Err(out),
                }
                return Ok(());
            }
            match (shared.filter(|&rt| c.rows.is_multiple_of(rt)), k) {
                (Some(7), 7) => corr_rows::<L, 7, 7>(c, src, w, out),
                (Some(8), 5) => corr_rows::<L, 5, 8>(c, src, w, out),
                (Some(8), 3) => corr_rows::<L, 3, 8>(c, src, w, out),
                _ => return Err(out),
            }
        }
        Ok(())
    }

    /// The kernel rows `a0 .. a0 + a` of `r` in one block.
    fn reduce_block<L: Lanes>(
        &self,
        r: &Red2,
        xq: (&[L], &[L]),
        dw: &mut [L],
        a: usize,
        a0: usize,
    ) {
        macro_rules! taps {
            ($f:ident, $a:literal) => {
                match taps_per_block(r.kernel[1]) {
                    1 => $f::<L, $a, 1>(r, xq, dw, a0),
                    2 => $f::<L, $a, 2>(r, xq, dw, a0),
                    3 => $f::<L, $a, 3>(r, xq, dw, a0),
                    4 => $f::<L, $a, 4>(r, xq, dw, a0),
                    5 => $f::<L, $a, 5>(r, xq, dw, a0),
                    6 => $f::<L, $a, 6>(r, xq, dw, a0),
                    7 => $f::<L, $a, 7>(r, xq, dw, a0),
                    _ => $f::<L, $a, 8>(r, xq, dw, a0),
                }
            };
        }
        // SAFETY (each call): an `Avx2Dw` exists only when the CPU has AVX2 and FMA, and
        // `wide` only when it has AVX-512F and VL too; blocks of more than one row only
        // come from `row_blocks` with `wide`.
        unsafe {
            match (a, self.wide) {
                (3, true) => taps!(reduce_wide, 3),
                (2, true) => taps!(reduce_wide, 2),
                (_, true) => taps!(reduce_wide, 1),
                _ => taps!(reduce, 1),
            }
        }
    }
}

// SAFETY: `corr_fresh` returns true only after a row-sharing kernel ran with `Out::Fresh`
// on `rows × cols` with `out_stride == cols`: its tiles cover every row and column (both
// multiples of the tile, asserted) and each writes its `RT × N` outputs; `corr_zero_padded`
// likewise, with `out_stride` as given.
unsafe impl<L: Lanes + Sync> DwEngine<L> for Avx2Dw {
    fn tile(
        &self,
        height: usize,
        width: usize,
        kernel_rows: usize,
        row_dilation: usize,
    ) -> (usize, usize) {
        let wide = self
            .wide
            .then(|| wide_rows(kernel_rows, row_dilation, height))
            .flatten();
        if let Some(rt) = wide.or(shared_rows(kernel_rows, row_dilation)) {
            return (rt, L::N);
        }
        // Two vectors per row when that wastes no more columns than one.
        let (one, two) = (L::N, 2 * L::N);
        if width.div_ceil(two) * two == width.div_ceil(one) * one {
            (4, two)
        } else {
            (8, one)
        }
    }
    fn lanes(&self) -> usize {
        L::N
    }
    fn corr(&self, c: &Corr2, src: &[L], w: &[L], out: &mut [L]) {
        if self
            .rows(c, Src::Padded(src), w, Out::Add(&mut *out))
            .is_ok()
        {
            return;
        }
        // SAFETY: an `Avx2Dw` exists only when the CPU has AVX2 and FMA.
        unsafe {
            if c.cols.is_multiple_of(2 * L::N) && c.rows.is_multiple_of(4) {
                corr::<L, 4, 2>(c, src, w, out)
            } else {
                corr::<L, 8, 1>(c, src, w, out)
            }
        }
    }
    fn corr_fresh(&self, c: &Corr2, src: &[L], w: &[L], out: &mut [MaybeUninit<L>]) -> bool {
        c.out_stride == c.cols && self.rows(c, Src::Padded(src), w, Out::Fresh(out)).is_ok()
    }
    fn corr_zero_padded(
        &self,
        c: &Corr2,
        src: &ZeroPadded<'_, L>,
        w: &[L],
        out: Out<'_, L>,
    ) -> bool {
        self.rows(c, Src::Zeros(src), w, out).is_ok()
    }
    fn reduce(&self, r: &Red2, x: &[L], dy: &[L], dw: &mut [L]) {
        let mut a0 = 0;
        for a in row_blocks(r.kernel[0], self.wide && r.dilation[0] == 1) {
            self.reduce_block(r, (x, dy), dw, a, a0);
            a0 += a;
        }
    }
}
