//! The driver of [`contract`]: the index maps as tables, the split over groups of blocks
//! (rayon), and the tiles each kernel call computes.

use super::portable::tile_portable;
#[cfg(target_arch = "x86_64")]
use super::{avx2, avx512};
use super::{BlockedSpectra, Conj, Product, LANES};
use crate::tensor::Scalar;
use rayon::prelude::*;

/// Compute `out[c(g,i,j)] = Σ_k op(a[ai(g,i,k)]) · op(b[bi(g,k,j)])` for every frequency.
/// Every `out` spectrum not named by `c` is left as it was.
///
/// # Panics
/// If the sets have different bin counts or an index map leaves its set.
pub fn contract<T: Scalar>(
    p: &Product,
    out: &mut BlockedSpectra<T>,
    c: impl Fn(usize, usize, usize) -> usize + Sync,
    a: &BlockedSpectra<T>,
    ai: impl Fn(usize, usize, usize) -> usize + Sync,
    b: &BlockedSpectra<T>,
    bi: impl Fn(usize, usize, usize) -> usize + Sync,
) {
    contract_on(Engine::detect(), p, out, c, a, ai, b, bi);
}

/// [`contract`] on the tile kernels of `engine` (the tests force each one this CPU has, so
/// the whole driver, not only its tiles, runs on the portable and AVX2 kernels here too).
#[allow(clippy::too_many_arguments)]
pub(super) fn contract_on<T: Scalar>(
    engine: Engine,
    p: &Product,
    out: &mut BlockedSpectra<T>,
    c: impl Fn(usize, usize, usize) -> usize + Sync,
    a: &BlockedSpectra<T>,
    ai: impl Fn(usize, usize, usize) -> usize + Sync,
    b: &BlockedSpectra<T>,
    bi: impl Fn(usize, usize, usize) -> usize + Sync,
) {
    assert!(
        a.blocks == out.blocks && b.blocks == out.blocks,
        "contraction operands of different bin counts"
    );
    let blocks = out.blocks;
    // Ranges of equal length (±1 block): ranges of `⌈blocks / tasks⌉` left one short last
    // range (2d-k7: 7 × 24 + 17), so that one thread ran 7 blocks longer than the other.
    let tasks = (4 * rayon::current_num_threads()).clamp(1, blocks.max(1));
    // The index maps, tabulated once (the kernel then reads offsets, never divides).
    let (gs, rows, cols, depth) = (p.groups, p.rows, p.cols, p.depth);
    let mut tab = Tables {
        a: Vec::with_capacity(gs * rows * depth),
        b: Vec::with_capacity(gs * depth * cols),
        c: Vec::with_capacity(gs * rows * cols),
        lines: Vec::new(),
    };
    for g in 0..gs {
        for i in 0..rows {
            tab.a.extend((0..depth).map(|k| a.offset(ai(g, i, k))));
            tab.c.extend((0..cols).map(|j| out.offset(c(g, i, j))));
        }
        for k in 0..depth {
            tab.b.extend((0..cols).map(|j| b.offset(bi(g, k, j))));
        }
    }
    if prefetched(p) {
        let mut lines = Vec::new();
        spectrum_lines(
            a.values().as_ptr(),
            a.stride(),
            a.count(),
            &tab.a,
            &mut lines,
        );
        spectrum_lines(
            b.values().as_ptr(),
            b.stride(),
            b.count(),
            &tab.b,
            &mut lines,
        );
        // Only the operands: the output lines are written whole, once, and their stores
        // wait in the store buffer, while a prefetch of each took a fill buffer from the
        // operand lines the tiles do wait on (2d-k7's forward product, one thread:
        // 7.8 → 8.6 G complex MAC/s without them, `examples/contraction_rate`).
        tab.lines = lines;
    }
    let outs = Out::new(out.values_mut());
    (0..tasks).into_par_iter().for_each(|r| {
        let first = r * blocks / tasks;
        let span = (first, (r + 1) * blocks / tasks - first);
        range(p, &tab, outs, span, a, b, engine);
    });
}

/// The values of a product's output set, shared by the tasks of [`contract`]: each writes
/// the blocks of its own range of frequencies in every spectrum, so no value is written by
/// two tasks.
#[derive(Clone, Copy)]
pub(super) struct Out<'o, T> {
    ptr: *mut T,
    len: usize,
    _values: std::marker::PhantomData<&'o mut [T]>,
}

// SAFETY: the tasks holding copies write disjoint values (see the type's notes); `T` is plain
// data.
unsafe impl<T: Send> Send for Out<'_, T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Out<'_, T> {}

impl<'o, T: 'static> Out<'o, T> {
    /// The same values seen as `U`.
    ///
    /// # Panics
    /// If `U` is not `T`.
    pub(super) fn typed<U: 'static>(self) -> Out<'o, U> {
        assert!(
            std::any::TypeId::of::<T>() == std::any::TypeId::of::<U>(),
            "output values of another type"
        );
        Out {
            ptr: self.ptr.cast(),
            len: self.len,
            _values: std::marker::PhantomData,
        }
    }

    /// The output values, borrowed for as long as any copy lives.
    pub(super) fn new(values: &'o mut [T]) -> Self {
        Out {
            ptr: values.as_mut_ptr(),
            len: values.len(),
            _values: std::marker::PhantomData,
        }
    }

    /// Where the `n` values from `at` on start.
    ///
    /// # Panics
    /// If they are not all inside the output.
    #[inline(always)]
    pub(super) fn at(self, at: usize, n: usize) -> *mut T {
        assert!(at + n <= self.len, "output values {at}+{n} of {}", self.len);
        // SAFETY: in bounds, checked above.
        unsafe { self.ptr.add(at) }
    }
}

/// The index maps of a product as tables: `a[(g·rows + i)·depth + k]`,
/// `b[(g·depth + k)·cols + j]` and `c[(g·rows + i)·cols + j]` are offsets of spectra inside a
/// group of their sets.
pub(super) struct Tables {
    pub(super) a: Vec<usize>,
    pub(super) b: Vec<usize>,
    pub(super) c: Vec<usize>,
    /// Addresses of the first line(s) of block 0 of each distinct operand spectrum the
    /// tables name, when the product is prefetched ([`prefetched`]); else empty.
    pub(super) lines: Vec<usize>,
}

/// Whether a product's kernel calls take one block each, the next one prefetched (many
/// terms per entry), rather than the whole range at once.
pub(super) fn prefetched(p: &Product) -> bool {
    p.depth * p.cols.min(2) >= 8
}

/// Append to `lines` the addresses of block 0 of each distinct spectrum at offsets `offs`
/// of a set of `count` spectra `stride` values apart from `base` (a bitmap, not a sort: the
/// tables of a batch of tiles run to tens of thousands of entries).
pub(super) fn spectrum_lines<T>(
    base: *const T,
    stride: usize,
    count: usize,
    offs: &[usize],
    lines: &mut Vec<usize>,
) {
    let line = (64 / std::mem::size_of::<T>().max(1)).max(1);
    let mut seen = vec![false; count];
    for &o in offs {
        let s = o / stride.max(1);
        if !std::mem::replace(&mut seen[s], true) {
            for l in (0..2 * LANES).step_by(line) {
                lines.push(base.wrapping_add(o + l) as usize);
            }
        }
    }
}

/// The tile kernels this CPU runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Engine {
    /// Plain Rust loops.
    Portable,
    /// AVX2 + FMA: 2×2 tiles.
    Avx2,
    /// AVX-512 (F, DQ) as well: `f32` in 4×2 tiles, a block (8 interleaved frequencies) one
    /// 512-bit register; `f64` as `Avx2`.
    Avx512,
}

impl Engine {
    pub(super) fn detect() -> Engine {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                if std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512dq")
                {
                    return Engine::Avx512;
                }
                return Engine::Avx2;
            }
        }
        Engine::Portable
    }

    /// Rows and columns of the tiles it computes for `T`.
    pub(super) fn tile_dims<T: Scalar>(self) -> (usize, usize) {
        match self {
            Engine::Avx512 if T::NAME == "f32" => (TILE_R, TILE_C),
            _ => (2, 2),
        }
    }
}

/// Rows of the largest tile (the AVX-512 `f32` kernel's).
pub(super) const TILE_R: usize = 4;
/// Columns of the largest tile.
pub(super) const TILE_C: usize = 2;

/// Where the terms of a tile of up to `TILE_R × TILE_C` entries `(i + r, j + c)` live in `nblk` consecutive
/// blocks starting at offsets `a_base`, `b_base` (blocks `a_blk`, `b_blk` values apart): row
/// `r`'s `a` spectra at in-block offsets `a_offs[r][k]`, column `c`'s `b` spectra at
/// `b_offs[k·b_step + c]`.
/// Entry `(i + r, j + c)` is written at `out_base + out_offs[r][c]` of the output slice, its blocks
/// `out_blk` values apart.
pub(super) struct Tile<'t> {
    pub(super) a_offs: [&'t [usize]; TILE_R],
    pub(super) b_offs: &'t [usize],
    pub(super) b_step: usize,
    pub(super) a_base: usize,
    pub(super) a_blk: usize,
    pub(super) b_base: usize,
    pub(super) b_blk: usize,
    pub(super) nblk: usize,
    pub(super) out_offs: [[usize; TILE_C]; TILE_R],
    pub(super) out_base: usize,
    pub(super) out_blk: usize,
}

impl<'t> Tile<'t> {
    /// The offset tables of the first `R` rows and of `C` columns, checked once to hold
    /// every term the kernels read, so that their inner loops index them unchecked: a bounds
    /// check per offset kept five table lengths live, and with them the table pointers
    /// spilled to the stack, in the 4×2 kernel's loop.
    ///
    /// # Panics
    /// If a row has fewer offsets than row 0 (the depth) or the column table is shorter
    /// than the last term's `C` columns.
    #[inline(always)]
    pub(super) fn offsets<const R: usize, const C: usize>(
        &self,
    ) -> ([&'t [usize]; R], &'t [usize]) {
        let depth = self.a_offs[0].len();
        let a: [&[usize]; R] = std::array::from_fn(|r| &self.a_offs[r][..depth]);
        let b_len = match depth {
            0 => 0,
            d => (d - 1) * self.b_step + C,
        };
        (a, &self.b_offs[..b_len])
    }
}

/// One tile of `rows × cols` entries (at most the engine's [`Engine::tile_dims`]) by the
/// engine's kernel for `T`, written into `out`.
#[inline]
#[allow(clippy::too_many_arguments)]
pub(super) fn tile<T: Scalar>(
    a: &[T],
    b: &[T],
    t: &Tile<'_>,
    rows: usize,
    cols: usize,
    conj: Conj,
    out: Out<'_, T>,
    engine: Engine,
) {
    #[cfg(target_arch = "x86_64")]
    if engine != Engine::Portable {
        let cj = match conj {
            Conj::None => 0,
            Conj::A => 1,
            Conj::B => 2,
        };
        macro_rules! shapes {
            ($m:ident :: $f:ident, $a:expr, $b:expr, $o:expr; $(($r:literal, $c:literal)),*) => {
                // SAFETY: `engine` says the CPU has the kernel's features; the offsets come
                // from `BlockedSpectra::offset` (starts of spectra) and `range` keeps the
                // blocks inside the sets.
                unsafe {
                    match (rows, cols, cj) {
                        $(
                            ($r, $c, 0) => $m::$f::<$r, $c, 0>($a, $b, t, $o),
                            ($r, $c, 1) => $m::$f::<$r, $c, 1>($a, $b, t, $o),
                            ($r, $c, _) => $m::$f::<$r, $c, 2>($a, $b, t, $o),
                        )*
                        _ => unreachable!("tile of {rows}x{cols} entries"),
                    }
                }
            };
        }
        // `views` names the element type of `a` and `b`; `out` is the same type.
        match T::views(a, b, &mut []) {
            crate::tensor::TypedViews::F32(a, b, _) if engine == Engine::Avx512 => {
                let o = out.typed::<f32>();
                shapes!(avx512::tile_f32, a, b, o;
                    (1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (3, 2), (4, 1), (4, 2));
            }
            crate::tensor::TypedViews::F32(a, b, _) => {
                let o = out.typed::<f32>();
                shapes!(avx2::tile_f32, a, b, o; (1, 1), (1, 2), (2, 1), (2, 2));
            }
            crate::tensor::TypedViews::F64(a, b, _) => {
                let o = out.typed::<f64>();
                shapes!(avx2::tile_f64, a, b, o; (1, 1), (1, 2), (2, 1), (2, 2));
            }
            crate::tensor::TypedViews::Other => unreachable!("Scalar is f32 or f64"),
        }
        return;
    }
    let _ = engine;
    tile_portable(a, b, t, rows, cols, conj, out);
}

/// The product on the blocks `first .. first + count` of every spectrum (at the offsets of
/// `tab`), in tiles of the engine's size.
#[allow(clippy::too_many_arguments)]
pub(super) fn range<T: Scalar>(
    p: &Product,
    tab: &Tables,
    outs: Out<'_, T>,
    (first, count): (usize, usize),
    a: &BlockedSpectra<T>,
    b: &BlockedSpectra<T>,
    engine: Engine,
) {
    let (rows, cols, depth) = (p.rows, p.cols, p.depth);
    let (tr, tc) = engine.tile_dims::<T>();
    // Blocks per kernel call: one when each entry has many terms (the operands of a block
    // stay in L1 across entries), the whole range when it has few (depthwise layers), so
    // that the call overhead is spread.
    let step = if prefetched(p) { 1 } else { count };
    // The next block's lines (`tab.lines`) are prefetched a few before each tile call, not
    // all at once (a burst of hundreds of prefetches stalls on the miss buffers: 5–10 % of
    // the 2-D layers' profiles sat on them).
    let lines = &tab.lines;
    // The tiles, laid out once (offsets of spectra); per call only the bases move.
    let mut tiles: Vec<(Tile<'_>, usize, usize)> = Vec::new();
    for g in 0..p.groups {
        for i in (0..rows).step_by(tr) {
            let nr = (rows - i).min(tr);
            let row = |r: usize| {
                let ii = (i + r).min(rows - 1);
                &tab.a[(g * rows + ii) * depth..][..depth]
            };
            for j in (0..cols).step_by(tc) {
                let nc = (cols - j).min(tc);
                let out_at = |r: usize, c: usize| {
                    let (ii, jj) = ((i + r).min(rows - 1), (j + c).min(cols - 1));
                    tab.c[(g * rows + ii) * cols + jj]
                };
                let t = Tile {
                    a_offs: std::array::from_fn(row),
                    b_offs: &tab.b[g * depth * cols + j..],
                    b_step: cols,
                    a_base: 0,
                    a_blk: 2 * LANES,
                    b_base: 0,
                    b_blk: 2 * LANES,
                    nblk: 0,
                    out_offs: std::array::from_fn(|r| std::array::from_fn(|c| out_at(r, c))),
                    out_base: 0,
                    out_blk: 2 * LANES,
                };
                tiles.push((t, nr, nc));
            }
        }
    }
    let per_tile = lines.len().div_ceil(tiles.len().max(1));
    let block_bytes = 2 * LANES * std::mem::size_of::<T>();
    for blk in (first..first + count).step_by(step.max(1)) {
        let nblk = step.min(first + count - blk);
        // The next block's operands, one block of compute ahead: each block's operands are
        // one line per spectrum, hundreds of strided lines the hardware prefetcher leaves
        // to L3. Every spectrum holds the block (`blk + 1 < first + count ≤ blocks`).
        let ahead = if step == 1 && blk + 1 < first + count {
            (blk + 1) * block_bytes
        } else {
            usize::MAX
        };
        for (n, (t, nr, nc)) in tiles.iter_mut().enumerate() {
            if ahead != usize::MAX {
                for &l in lines.iter().skip(n * per_tile).take(per_tile) {
                    prefetch(l.wrapping_add(ahead) as *const u8);
                }
            }
            t.a_base = blk * 2 * LANES;
            t.b_base = blk * 2 * LANES;
            t.out_base = blk * 2 * LANES;
            t.nblk = nblk;
            tile(a.values(), b.values(), t, *nr, *nc, p.conj, outs, engine);
        }
    }
}

/// Ask for the line at `p` to be brought into L2.
#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching any address is safe (no architectural effect); the callers' lines
    // are inside their sets.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T1 }>(p.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
