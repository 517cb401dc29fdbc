//! The input transform of the Winograd path ([`super`]) read straight from the `(n, c, h, w)`
//! planes, without the channel-last copy (AVX-512: 16 channels per vector in f32, 8 in f64).
//!
//! The copy (`winograd_copy.rs`) wrote 3.4 MB on 2d-resnet-k3 that the input transform then
//! read back; clearing it first, or making it per band, only moved the misses
//! (benches/results/session17-wino.md). Here each 6×6 tile of 16 (f64: 8) channels is gathered
//! from the planes row by row: one 8-value load per channel and tile row (6 values used), the
//! channels × 8 columns transposed in registers into the 6 position vectors the transform
//! needs. Tile columns whose positions read consecutive source columns (the interior, and the
//! zero padding's edges through a load mask) load directly; the other padding modes' edge
//! columns gather value by value.

use super::kernels::{Side, A};
use super::Isa;
use crate::tensor::{Scalar, TypedViews};

/// Where the 6 positions of one tile column read a source row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Cols {
    /// Position `j` reads column `base + j` where bit `j` of `mask` is set, else a zero;
    /// `full`: every position reads, and an 8-value load from `base` stays in the row.
    Run { base: isize, mask: u8, full: bool },
    /// Position by position (the padding of modes other than zeros).
    Gather([Option<usize>; A]),
}

/// The plan of the fused input transform over `(n, side.total(), extent)` planes: for every
/// tile-grid row its source row, for every tile column its [`Cols`], for every padded channel
/// its source channel.
pub(super) struct Direct<'a, T> {
    pub(super) data: &'a [T],
    pub(super) n: usize,
    pub(super) total: usize,
    pub(super) extent: [usize; 2],
    pub(super) rows: Vec<Option<usize>>,
    pub(super) cols: Vec<Cols>,
    /// The source channel of each padded channel (`None`: a zero lane).
    pub(super) lanes: Vec<Option<usize>>,
}

/// The [`Cols`] of the positions whose sources are `src`.
pub(super) fn cols_of(src: [Option<usize>; A], width: usize) -> Cols {
    let Some((j0, s0)) = src.iter().enumerate().find_map(|(j, s)| s.map(|s| (j, s))) else {
        return Cols::Run {
            base: 0,
            mask: 0,
            full: false,
        };
    };
    let base = s0 as isize - j0 as isize;
    let mut mask = 0u8;
    for (j, s) in src.iter().enumerate() {
        if let Some(s) = *s {
            if s as isize != base + j as isize {
                return Cols::Gather(src);
            }
            mask |= 1 << j;
        }
    }
    let full = mask == (1 << A) - 1 && base >= 0 && base as usize + 8 <= width;
    Cols::Run { base, mask, full }
}

impl<'a, T: Scalar> Direct<'a, T> {
    /// The plan for `data` (`(n, side.total(), extent)`) read through `maps` on the tile grid
    /// `tiles` (one tile every `step` positions, `ext` positions per axis), when the fused
    /// kernel runs it: the AVX-512 build, f32 (channels padded to whole 16-lane vectors) or
    /// f64. `None`: use the channel-last copy.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        data: &'a [T],
        n: usize,
        side: Side,
        extent: [usize; 2],
        maps: [&[Option<usize>]; 2],
        (ext, tiles, step): ([usize; 2], [usize; 2], usize),
        isa: Isa,
    ) -> Option<Self> {
        let cp = side.total_padded();
        let whole = match T::views(&[], &[], &mut []) {
            TypedViews::F32(..) => cp.is_multiple_of(16),
            TypedViews::F64(..) => cp.is_multiple_of(8),
            TypedViews::Other => false,
        };
        if !cfg!(target_arch = "x86_64")
            || isa < Isa::Avx512
            || !whole
            || data.len() != n * side.total() * extent[0] * extent[1]
        {
            return None;
        }
        let at = |a: usize, p: usize| maps[a].get(p).copied().flatten();
        // A map past its plane would read another plane: leave such a layout to the copy.
        if (0..ext[0]).any(|p| at(0, p).is_some_and(|s| s >= extent[0]))
            || (0..ext[1]).any(|p| at(1, p).is_some_and(|s| s >= extent[1]))
        {
            return None;
        }
        let rows = (0..ext[0]).map(|p| at(0, p)).collect();
        let cols = (0..tiles[1])
            .map(|c| cols_of(std::array::from_fn(|j| at(1, c * step + j)), extent[1]))
            .collect();
        let lanes = (0..cp)
            .map(|c| {
                (c % side.padded < side.per).then_some(c / side.padded * side.per + c % side.padded)
            })
            .collect();
        Some(Direct {
            data,
            n,
            total: side.total(),
            extent,
            rows,
            cols,
            lanes,
        })
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) use kernel::inputs;

#[cfg(target_arch = "x86_64")]
mod kernel {
    use super::super::kernels::{A, XI};
    use super::super::transforms512::{bt_pd, bt_ps};
    use super::super::Tiled;
    use super::{Cols, Direct};
    use crate::tensor::{Scalar, TypedViews};
    use std::arch::x86_64::*;

    /// How a tile column reads a source row ([`Cols`], resolved once per tile so that the
    /// row loops carry no enum): an unmasked 8-value load, a masked one, value by value.
    const FULL: u8 = 0;
    const MASKED: u8 = 1;
    const GATHER: u8 = 2;

    /// The operands of a tile column's loads: `base` and `mask` of a run, `src` of a gather.
    #[derive(Clone, Copy)]
    struct At<'c> {
        base: isize,
        mask: u8,
        src: &'c [Option<usize>; A],
    }

    /// The [`At`] and `HOW` of `cols`.
    fn resolve(cols: &Cols) -> (At<'_>, u8) {
        const NONE: [Option<usize>; A] = [None; A];
        match cols {
            Cols::Run { base, mask, full } => {
                let at = At {
                    base: *base,
                    mask: *mask,
                    src: &NONE,
                };
                (at, if *full { FULL } else { MASKED })
            }
            Cols::Gather(src) => (
                At {
                    base: 0,
                    mask: 0,
                    src,
                },
                GATHER,
            ),
        }
    }

    /// One lane's 8 columns from `p` (the lane's source row) read as `HOW` at `at`.
    macro_rules! load8 {
        ($name:ident, $t:ty, $vec:ty, $loadu:ident, $maskz:ident, $mask:ty, $narrow:expr) => {
            /// # Safety
            /// AVX-512 F; every column `at` reads from `p` is inside the row's slice
            /// (`Direct::new` checked the maps; `FULL` runs the 8-value load only where it
            /// stays in the row).
            #[target_feature(enable = "avx512f")]
            #[inline]
            unsafe fn $name<const HOW: u8>(p: *const $t, at: At<'_>) -> $vec {
                // SAFETY: the caller's bound; masked-off lanes are not read.
                unsafe {
                    match HOW {
                        FULL => $loadu(p.offset(at.base)),
                        MASKED => {
                            $narrow($maskz(<$mask>::from(at.mask), p.wrapping_offset(at.base)))
                        }
                        _ => {
                            let mut b = [<$t>::default(); 8];
                            for (v, s) in b.iter_mut().zip(at.src) {
                                if let Some(s) = s {
                                    *v = *p.add(*s);
                                }
                            }
                            $loadu(b.as_ptr())
                        }
                    }
                }
            }
        };
    }

    load8!(
        load8_ps,
        f32,
        __m256,
        _mm256_loadu_ps,
        _mm512_maskz_loadu_ps,
        __mmask16,
        _mm512_castps512_ps256
    );
    load8!(
        load8_pd,
        f64,
        __m512d,
        _mm512_loadu_pd,
        _mm512_maskz_loadu_pd,
        __mmask8,
        std::convert::identity
    );

    /// The 6 position vectors (16 channels each) of one tile row: lane `l` from
    /// `x + off[l]` (`None`: a zero channel).
    ///
    /// # Safety
    /// As `load8_ps`, for every lane.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn gather_row_ps<const HOW: u8>(
        x: *const f32,
        off: &[Option<usize>],
        at: At<'_>,
    ) -> [__m512; A] {
        assert!(off.len() == 16);
        // `z[k]` holds lanes `a, a + 4` (`a = k`, or `k + 4` from `k = 4`) in its halves, so
        // that after the in-half 8×8 transpose one 128-bit chunk shuffle orders the lanes.
        let mut z = [_mm512_setzero_ps(); 8];
        for (k, zk) in z.iter_mut().enumerate() {
            let a = if k < 4 { k } else { k + 4 };
            let (mut lo, mut hi) = (_mm256_setzero_ps(), _mm256_setzero_ps());
            if let Some(o) = off[a] {
                // SAFETY: the caller's bound.
                lo = unsafe { load8_ps::<HOW>(x.add(o), at) };
            }
            if let Some(o) = off[a + 4] {
                // SAFETY: the caller's bound.
                hi = unsafe { load8_ps::<HOW>(x.add(o), at) };
            }
            *zk = _mm512_castpd_ps(_mm512_insertf64x4::<1>(
                _mm512_castpd256_pd512(_mm256_castps_pd(lo)),
                _mm256_castps_pd(hi),
            ));
        }
        let mut t = [_mm512_setzero_ps(); 8];
        for q in 0..4 {
            t[2 * q] = _mm512_unpacklo_ps(z[2 * q], z[2 * q + 1]);
            t[2 * q + 1] = _mm512_unpackhi_ps(z[2 * q], z[2 * q + 1]);
        }
        // `s[4h + e]`, chunk 2i + u: column `e + 4u` of the lanes in half i of `z[4h..4h + 4]`.
        let mut s = [_mm512_setzero_ps(); 8];
        for h in 0..2 {
            let (t0, t1, t2, t3) = (t[4 * h], t[4 * h + 1], t[4 * h + 2], t[4 * h + 3]);
            s[4 * h] = _mm512_shuffle_ps::<0x44>(t0, t2);
            s[4 * h + 1] = _mm512_shuffle_ps::<0xEE>(t0, t2);
            s[4 * h + 2] = _mm512_shuffle_ps::<0x44>(t1, t3);
            s[4 * h + 3] = _mm512_shuffle_ps::<0xEE>(t1, t3);
        }
        [
            _mm512_shuffle_f32x4::<0x88>(s[0], s[4]),
            _mm512_shuffle_f32x4::<0x88>(s[1], s[5]),
            _mm512_shuffle_f32x4::<0x88>(s[2], s[6]),
            _mm512_shuffle_f32x4::<0x88>(s[3], s[7]),
            _mm512_shuffle_f32x4::<0xDD>(s[0], s[4]),
            _mm512_shuffle_f32x4::<0xDD>(s[1], s[5]),
        ]
    }

    /// The 6 position vectors (8 channels each) of one tile row, as [`gather_row_ps`].
    ///
    /// # Safety
    /// As `load8_pd`, for every lane.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn gather_row_pd<const HOW: u8>(
        x: *const f64,
        off: &[Option<usize>],
        at: At<'_>,
    ) -> [__m512d; A] {
        assert!(off.len() == 8);
        let mut r = [_mm512_setzero_pd(); 8];
        for (rl, o) in r.iter_mut().zip(off) {
            if let Some(o) = *o {
                // SAFETY: the caller's bound.
                *rl = unsafe { load8_pd::<HOW>(x.add(o), at) };
            }
        }
        // `t[2q + odd]`, chunk c: column `2c + odd` of lanes `2q, 2q + 1`.
        let mut t = [_mm512_setzero_pd(); 8];
        for q in 0..4 {
            t[2 * q] = _mm512_unpacklo_pd(r[2 * q], r[2 * q + 1]);
            t[2 * q + 1] = _mm512_unpackhi_pd(r[2 * q], r[2 * q + 1]);
        }
        // `u[4h + 2w + odd]`: chunks = columns `2w + odd` and `2w + odd + 4` of lanes
        // `4h..4h + 2`, then of `4h + 2..4h + 4`.
        let mut u = [_mm512_setzero_pd(); 8];
        for h in 0..2 {
            for odd in 0..2 {
                let (a, b) = (t[4 * h + odd], t[4 * h + 2 + odd]);
                u[4 * h + odd] = _mm512_shuffle_f64x2::<0x88>(a, b);
                u[4 * h + 2 + odd] = _mm512_shuffle_f64x2::<0xDD>(a, b);
            }
        }
        [
            _mm512_shuffle_f64x2::<0x88>(u[0], u[4]),
            _mm512_shuffle_f64x2::<0x88>(u[1], u[5]),
            _mm512_shuffle_f64x2::<0x88>(u[2], u[6]),
            _mm512_shuffle_f64x2::<0x88>(u[3], u[7]),
            _mm512_shuffle_f64x2::<0xDD>(u[0], u[4]),
            _mm512_shuffle_f64x2::<0xDD>(u[1], u[5]),
        ]
    }

    /// The input transform of tiles `t0..t0+nt` of `grid` from the planes of `d` into `v`
    /// (`[ξ][nt][cp]`), by blocks of `W` channels; `$tile` one tile of one block.
    macro_rules! fused_tiles {
        ($name:ident, $tile:ident, $t:ty, $w:expr, $vec:ty, $zero:ident, $store:ident,
         $row:ident, $bt:ident) => {
            /// One tile: its source rows `rows` (6), lanes at `x + off[l]`, row length `e1`,
            /// into `vp[(ξ·nt + ti)·cp + cb]`.
            ///
            /// # Safety
            /// AVX-512 F; as the row gathers, and `vp` holds `XI·nt·cp` values, `cb + W ≤ cp`.
            #[target_feature(enable = "avx512f")]
            #[inline]
            unsafe fn $tile<const HOW: u8>(
                (x, off, e1): (*const $t, &[Option<usize>; $w], usize),
                rows: &[Option<usize>],
                at: At<'_>,
                vp: *mut $t,
                (ti, nt, cp, cb): (usize, usize, usize, usize),
            ) {
                // Along the rows first: a row outside the planes is zero, and so is its
                // transform.
                let mut t = [[$zero(); A]; A];
                for (ti_row, sr) in t.iter_mut().zip(rows) {
                    if let Some(sr) = *sr {
                        // SAFETY: the caller's bound.
                        *ti_row = $bt(unsafe { $row::<HOW>(x.add(sr * e1), off, at) });
                    }
                }
                for k in 0..A {
                    let col = $bt([t[0][k], t[1][k], t[2][k], t[3][k], t[4][k], t[5][k]]);
                    for (i, o) in col.into_iter().enumerate() {
                        // SAFETY: the caller's bound.
                        unsafe { $store(vp.add(((i * A + k) * nt + ti) * cp + cb), o) };
                    }
                }
            }

            /// # Safety
            /// AVX-512 F.
            #[target_feature(enable = "avx512f")]
            unsafe fn $name<G: Scalar>(
                d: &Direct<'_, G>,
                x: &[$t],
                grid: &Tiled<'_, G>,
                (t0, nt): (usize, usize),
                v: &mut [$t],
            ) {
                let cp = d.lanes.len();
                let [e0, e1] = d.extent;
                let plane = e0 * e1;
                assert!(
                    cp.is_multiple_of($w) && v.len() >= XI * nt * cp,
                    "v too short"
                );
                assert!(x.len() == d.n * d.total * plane, "planes of another size");
                assert!(
                    t0 + nt <= d.n * grid.tiles[0] * grid.tiles[1]
                        && d.cols.len() == grid.tiles[1]
                        && d.rows.len() + grid.step >= grid.tiles[0] * grid.step + A,
                    "tiles past the grid"
                );
                assert!(
                    d.lanes.iter().flatten().all(|&ch| ch < d.total),
                    "lane past the channels"
                );
                let (xp, vp) = (x.as_ptr(), v.as_mut_ptr());
                for (b, lanes) in d.lanes.chunks_exact($w).enumerate() {
                    let cb = b * $w;
                    for ti in 0..nt {
                        let (ni, r, c) = grid.locate(t0 + ti);
                        let mut off = [None; $w];
                        for (o, l) in off.iter_mut().zip(lanes) {
                            *o = l.map(|ch| (ni * d.total + ch) * plane);
                        }
                        let rows = &d.rows[r * grid.step..][..A];
                        let (at, how) = resolve(&d.cols[c]);
                        let src = (xp, &off, e1);
                        let place = (ti, nt, cp, cb);
                        // SAFETY: `ni < n` and every lane's channel `< total` (asserted), so
                        // `x + off[l] + sr·e1` starts row `sr < e0` (`Direct::new`) of a plane
                        // inside `x`, and `at` reads inside that row;
                        // `((i·6 + k)·nt + ti)·cp + cb + W ≤ XI·nt·cp` (asserted).
                        unsafe {
                            match how {
                                FULL => $tile::<FULL>(src, rows, at, vp, place),
                                MASKED => $tile::<MASKED>(src, rows, at, vp, place),
                                _ => $tile::<GATHER>(src, rows, at, vp, place),
                            }
                        }
                    }
                }
            }
        };
    }

    fused_tiles!(
        tiles_ps,
        tile_ps,
        f32,
        16,
        __m512,
        _mm512_setzero_ps,
        _mm512_storeu_ps,
        gather_row_ps,
        bt_ps
    );
    fused_tiles!(
        tiles_pd,
        tile_pd,
        f64,
        8,
        __m512d,
        _mm512_setzero_pd,
        _mm512_storeu_pd,
        gather_row_pd,
        bt_pd
    );

    /// The input transform of tiles `t0..t0+nt` of `grid` from `d`'s planes into `v`; `false`
    /// for other types than f32 and f64 (`Direct::new` made no plan then).
    ///
    /// # Safety
    /// AVX-512 F.
    #[inline(always)]
    pub(in super::super) unsafe fn inputs<T: Scalar>(
        d: &Direct<'_, T>,
        grid: &Tiled<'_, T>,
        range: (usize, usize),
        v: &mut [T],
    ) -> bool {
        // SAFETY (both): the caller's AVX-512 F.
        match T::views(d.data, &[], v) {
            TypedViews::F32(x, _, v) => unsafe { tiles_ps(d, x, grid, range, v) },
            TypedViews::F64(x, _, v) => unsafe { tiles_pd(d, x, grid, range, v) },
            TypedViews::Other => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::fast::direct_simd::Kernels;

    #[test]
    fn column_plans() {
        // Interior: a run; an unmasked load needs 8 columns left in the row.
        let run = |s: usize| std::array::from_fn(|j| Some(s + j));
        let full = |base, full| Cols::Run {
            base,
            mask: 0x3F,
            full,
        };
        assert_eq!(cols_of(run(3), 11), full(3, true));
        assert_eq!(cols_of(run(4), 11), full(4, false));
        // Zero padding: masked runs, from a base before the row's start.
        let mut left = run(0);
        left.rotate_right(1);
        left[0] = None;
        assert_eq!(
            cols_of(left, 9),
            Cols::Run {
                base: -1,
                mask: 0x3E,
                full: false
            }
        );
        let mut right = run(5);
        right[4] = None;
        right[5] = None;
        assert_eq!(
            cols_of(right, 9),
            Cols::Run {
                base: 5,
                mask: 0x0F,
                full: false
            }
        );
        assert_eq!(
            cols_of([None; A], 9),
            Cols::Run {
                base: 0,
                mask: 0,
                full: false
            }
        );
        // Reflection: not a run.
        let refl = [Some(1), Some(0), Some(1), Some(2), Some(3), Some(4)];
        assert_eq!(cols_of(refl, 9), Cols::Gather(refl));
    }

    #[test]
    fn plans_only_where_the_fused_kernel_runs() {
        let maps: [Vec<Option<usize>>; 2] = [
            (0..10usize).map(|p| p.checked_sub(1)).collect(),
            (0..10).map(Some).collect(),
        ];
        let maps = [&maps[0][..], &maps[1][..]];
        let grid = ([10, 10], [2, 2], 4);
        let plan = |isa, side: Side, x32: &[f32], x64: &[f64]| {
            (
                Direct::new(x32, 1, side, [9, 10], maps, grid, isa).map(|d| d.lanes),
                Direct::new(x64, 1, side, [9, 10], maps, grid, isa).map(|d| d.lanes),
            )
        };
        // Two groups of 5 channels: one f32 vector, lanes 5–7 and 13–15 zero.
        let side = Side::new(2, 5);
        let (x32, x64) = (vec![0f32; 10 * 90], vec![0f64; 10 * 90]);
        if cfg!(target_arch = "x86_64") && Isa::of(Kernels::Detect) == Isa::Avx512 {
            let want: Vec<Option<usize>> = (0..16)
                .map(|l| (l % 8 < 5).then_some(l / 8 * 5 + l % 8))
                .collect();
            assert_eq!(
                plan(Isa::Avx512, side, &x32, &x64),
                (Some(want.clone()), Some(want))
            );
            // 24 padded channels: not whole f32 vectors, 3 f64 ones.
            let side = Side::new(1, 20);
            let (x32, x64) = (vec![0f32; 20 * 90], vec![0f64; 20 * 90]);
            let (p32, p64) = plan(Isa::Avx512, side, &x32, &x64);
            assert!(p32.is_none() && p64.is_some_and(|l| l.len() == 24));
            // A buffer of another size: no plan.
            assert_eq!(plan(Isa::Avx512, side, &x32[1..], &x64[1..]), (None, None));
        }
        assert_eq!(plan(Isa::Avx2, side, &x32, &x64), (None, None));
    }
}
