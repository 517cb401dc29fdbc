//! The tiled kernels, generic over the vector width ([`Simd`]): the correlation of a block in
//! register tiles, and the `∂w` reduction. Only called from the `#[target_feature]` entry
//! points of `x86.rs`, which enable what `L` needs.

use super::super::plan::{Source, WeightGeom, WeightTask};
use super::super::{round_up, R};
use super::simd::Simd;
use std::mem::MaybeUninit;

/// The correlation of a block of `RB` rows: every output row in tiles of up to `MAX` vectors
/// (see [`tile_widths`]), each tile's `RB × NV` accumulators summed over every source, channel
/// and tap, then stored: every element of `dst` written (its rows of `out_vol` elements, every
/// column of each). With `ROWS` = 2, two consecutive output rows at a time (`2 × RB × NV`
/// accumulators; a last odd row alone): each broadcast weight feeds twice the FMAs. Only
/// called from the `#[target_feature]` functions above.
#[inline(always)]
pub(super) fn correlate<L: Simd, const MAX: usize, const RB: usize, const ROWS: usize>(
    srcs: &[Source<'_, L::E>],
    dst: &mut [MaybeUninit<L::E>],
) {
    let Some(first) = srcs.first() else {
        dst.fill(MaybeUninit::new(L::E::default()));
        return;
    };
    let n = L::N;
    let [o0n, o1n, o2n] = first.corr.out;
    let ov = first.corr.out_vol();
    let rows = dst.len() / ov;
    assert!(
        dst.len() == rows * ov && rows <= RB,
        "whole output planes of one block"
    );
    let rows_at: Vec<Vec<usize>> = srcs.iter().map(|s| s.corr.rows_at()).collect();
    for (s, at) in srcs.iter().zip(&rows_at) {
        assert_eq!(s.corr.out, first.corr.out, "sources of one output extent");
        assert_eq!(s.corr.block, RB, "sources of one block size");
        assert!(
            s.wb.len() >= at.len() * s.corr.kernel[2] * RB,
            "packed weights too short"
        );
    }
    let mut tile_buf = vec![L::E::default(); MAX * n];
    for o0 in 0..o0n {
        let mut o1 = 0;
        while o1 < o1n {
            let pair = ROWS == 2 && MAX <= 4 && o1 + 1 < o1n;
            let last_row = if pair { o1 + 1 } else { o1 };
            for (s, at) in srcs.iter().zip(&rows_at) {
                // Every read of `tile` is at `row_base + off + t + k2·d2 + v·N + (0..N)` with
                // `off ≤ last`, `t + NV·N ≤ round_up(o2n, N)`, `k2 < K2`, for the tile's
                // rows up to `last_row`: in bounds.
                let c = s.corr;
                let last = at.last().copied().unwrap_or(0);
                assert!(
                    c.row_base(o0, last_row)
                        + last
                        + round_up(o2n, n)
                        + (c.kernel[2] - 1) * c.dilation[2]
                        <= s.src.len(),
                    "source planes too short"
                );
            }
            let out = (o0 * o1n + o1) * o2n;
            let mut t = 0;
            for nv in tile_widths(o2n.div_ceil(n), MAX) {
                let args = (srcs, &rows_at[..], [o0, o1, t]);
                let (dst, buf) = (&mut *dst, &mut tile_buf[..]);
                let len = (nv * n).min(o2n - t);
                let at = (ov, rows, out + t, len);
                if pair {
                    // The next row's outputs follow at `o2n`, its sources at the row stride.
                    match nv {
                        4 => tile::<L, 4, RB, 2>(args, dst, at, buf),
                        3 => tile::<L, 3, RB, 2>(args, dst, at, buf),
                        2 => tile::<L, 2, RB, 2>(args, dst, at, buf),
                        _ => tile::<L, 1, RB, 2>(args, dst, at, buf),
                    }
                    t += nv * n;
                    continue;
                }
                match nv {
                    8 => tile::<L, 8, RB, 1>(args, dst, at, buf),
                    7 => tile::<L, 7, RB, 1>(args, dst, at, buf),
                    6 => tile::<L, 6, RB, 1>(args, dst, at, buf),
                    5 => tile::<L, 5, RB, 1>(args, dst, at, buf),
                    4 => tile::<L, 4, RB, 1>(args, dst, at, buf),
                    3 => tile::<L, 3, RB, 1>(args, dst, at, buf),
                    2 => tile::<L, 2, RB, 1>(args, dst, at, buf),
                    _ => tile::<L, 1, RB, 1>(args, dst, at, buf),
                }
                t += nv * n;
            }
            o1 = last_row + 1;
        }
    }
}

/// The widths (vectors) of the tiles of a row of `nvec` vectors: `max` at a time, but never
/// leaving a last tile of one vector behind a wider one (its accumulators would wait on the
/// FMA latency).
pub(super) fn tile_widths(nvec: usize, max: usize) -> impl Iterator<Item = usize> {
    let mut left = nvec;
    std::iter::from_fn(move || {
        let mut nv = left.min(max);
        if nv == 0 {
            return None;
        }
        if left - nv == 1 && nv > 2 {
            nv -= 1;
        }
        left -= nv;
        Some(nv)
    })
}

/// The arguments of a tile: the sources, their row offsets, and the output row and column.
type TileArgs<'a, 'b, E> = (&'a [Source<'b, E>], &'a [Vec<usize>], [usize; 3]);

/// One tile of `NV` vectors on `P` consecutive output rows: accumulate every source, store
/// the first `len` elements of the first `rows` accumulator rows at `dst[r·ov + at + p·o2..]`
/// (via `buf` when short).
#[inline(always)]
fn tile<L: Simd, const NV: usize, const RB: usize, const P: usize>(
    (srcs, rows_at, [o0, o1, t]): TileArgs<'_, '_, L::E>,
    dst: &mut [MaybeUninit<L::E>],
    (ov, rows, at, len): (usize, usize, usize, usize),
    buf: &mut [L::E],
) {
    let mut acc = [[[L::zero(); NV]; RB]; P];
    for (s, offs) in srcs.iter().zip(rows_at) {
        let base = s.corr.row_base(o0, o1) + t;
        let acc = &mut acc;
        match s.corr.kernel[2] {
            1 => taps::<L, NV, RB, 1, P>(acc, s, offs, base),
            2 => taps::<L, NV, RB, 2, P>(acc, s, offs, base),
            3 => taps::<L, NV, RB, 3, P>(acc, s, offs, base),
            // Phase kernels of 7-tap kernels at stride 2 (`polyphase`).
            4 => taps::<L, NV, RB, 4, P>(acc, s, offs, base),
            _ => taps::<L, NV, RB, 0, P>(acc, s, offs, base),
        }
    }
    let n = L::N;
    let o2 = srcs.first().map_or(0, |s| s.corr.out[2]);
    // Plain nested loops over the arrays: iterator adaptors here (a flattened zip) kept the
    // accumulators in memory, spilling them in the tap loop (2.5× slower).
    for (p, ap) in acc.iter().enumerate() {
        for (r, ar) in ap.iter().enumerate().take(rows) {
            let out = &mut dst[r * ov + at + p * o2..][..len];
            if len == NV * n {
                for (v, &a) in ar.iter().enumerate() {
                    L::store_uninit(a, &mut out[v * n..]);
                }
            } else {
                for (v, &a) in ar.iter().enumerate() {
                    L::store(a, &mut buf[v * n..]);
                }
                for (o, &b) in out.iter_mut().zip(&buf[..len]) {
                    o.write(b);
                }
            }
        }
    }
}

/// Add one source's taps onto the tile's accumulators: `K2` is the kernel width when known at
/// compile time (the tap loop unrolls), 0 otherwise; `base` the source offset of the tile's
/// first row (the next `P - 1` rows follow at the source's row stride).
#[inline(always)]
fn taps<L: Simd, const NV: usize, const RB: usize, const K2: usize, const P: usize>(
    acc: &mut [[[L::V; NV]; RB]; P],
    s: &Source<'_, L::E>,
    offs: &[usize],
    base: usize,
) {
    let k2n = if K2 == 0 { s.corr.kernel[2] } else { K2 };
    let (d2, stride) = (s.corr.dilation[2], s.corr.src_dims[2]);
    for (j, &off) in offs.iter().enumerate() {
        let row = s.src[base + off..].as_ptr();
        let wk = &s.wb[j * k2n * RB..];
        for k2 in 0..k2n {
            // SAFETY: `j·k2n·RB + k2·RB + r < rows_at.len()·k2n·RB ≤ wb.len()` (asserted).
            let wr: [L::V; RB] =
                std::array::from_fn(|r| L::splat(unsafe { *wk.get_unchecked(k2 * RB + r) }));
            for (p, ap) in acc.iter_mut().enumerate() {
                for v in 0..NV {
                    // SAFETY: in bounds by the assertion of `correlate` (rows up to the
                    // tile's last).
                    let x = unsafe { L::load_ptr(row.add(p * stride + k2 * d2 + v * L::N)) };
                    for (ar, &w) in ap.iter_mut().zip(&wr) {
                        ar[v] = L::fma(x, w, ar[v]);
                    }
                }
            }
        }
    }
}

/// Bytes of one cotangent plane a `∂w` chunk sweeps: the `R` planes' chunks and the input rows
/// under them (all kernel rows) stay in L1 while every kernel row sweeps them. Sweeping the
/// whole plane per kernel row streamed the `R` planes (80 KB for a stem class) from L2 once
/// per kernel row, which bounded the 512-bit sweep.
const CHUNK_BYTES: usize = 4096;

/// The spans `(start, len)` of the sweep `(segments, elements per segment, offset between
/// segments)` of [`WeightGeom::sweep`], a single segment cut into pieces of at most `piece`
/// elements (a multiple of `n`, as every span's length), grouped into chunks of about
/// `piece` elements (at least one span each). Computed per span rather than listed: a stem's
/// `∂w` runs ~200 small tasks per step, each of which built these lists.
#[derive(Clone, Copy, Debug)]
struct Spans {
    segs: usize,
    seg_len: usize,
    step: usize,
    piece: usize,
}

impl Spans {
    fn new((segs, seg_len, step): (usize, usize, usize), piece: usize) -> Self {
        Spans {
            segs,
            seg_len,
            step,
            piece: piece.max(1),
        }
    }
    /// Number of spans.
    fn len(&self) -> usize {
        if self.segs > 1 {
            self.segs
        } else {
            self.seg_len.div_ceil(self.piece)
        }
    }
    /// Span `j`: `(start, len)`.
    #[inline(always)]
    fn at(&self, j: usize) -> (usize, usize) {
        if self.segs > 1 {
            (j * self.step, self.seg_len)
        } else {
            let start = j * self.piece;
            (start, self.piece.min(self.seg_len - start))
        }
    }
    /// The chunks, as ranges of span indices: whole segments up to `piece` elements together
    /// (at least one), or one piece each.
    fn chunks(&self) -> impl Iterator<Item = std::ops::Range<usize>> {
        let per = if self.segs > 1 {
            (self.piece / self.seg_len.max(1)).max(1)
        } else {
            1
        };
        let n = self.len();
        (0..n).step_by(per).map(move |j| j..(j + per).min(n))
    }
}

/// The `∂w` task with `R × B` vector accumulators per input channel, kernel row and block of
/// `B` taps, the sweep in chunks of [`CHUNK_BYTES`] per plane, each chunk swept by every
/// input channel and kernel row before the next (the accumulators wait in memory between
/// chunks): the `R` cotangent chunks come from L2 once per task rather than once per input
/// channel. Only called from the `#[target_feature]` functions above.
#[inline(always)]
pub(super) fn weight<L: Simd, const B: usize>(
    geo: &WeightGeom,
    task: &WeightTask<'_, L::E>,
) -> Vec<L::E> {
    let n = L::N;
    let [k0n, k1n, k2n] = geo.kernel;
    let o0n = geo.out[0];
    let d2 = geo.dilation[2];
    let kv = k0n * k1n * k2n;
    let k2b = k2n.div_ceil(B);
    let len = geo.sweep_len(n);
    let piece = (CHUNK_BYTES / std::mem::size_of::<L::E>() / n).max(1) * n;
    let spans = Spans::new(geo.sweep(n), piece);
    let slots = k0n * k1n * k2b;
    let mut accs = vec![[[L::zero(); B]; R]; task.x.len() * slots];
    for o0 in 0..o0n {
        let (_, qo) = geo.rows([o0, 0], [0, 0, 0]);
        let ds: [&[L::E]; R] = std::array::from_fn(|r| &task.dy[r][qo..][..len]);
        for chunk in spans.chunks() {
            for (ci, xp) in task.x.iter().enumerate() {
                for k0 in 0..k0n {
                    for k1 in 0..k1n {
                        for kc in 0..k2b {
                            let (xo, _) = geo.rows([o0, 0], [k0, k1, kc * B]);
                            let xs = &xp[xo..][..len + (B - 1) * d2];
                            let slot = &mut accs[ci * slots + (k0 * k1n + k1) * k2b + kc];
                            let mut acc = *slot;
                            for j in chunk.clone() {
                                let (start, l) = spans.at(j);
                                let mut i = start;
                                while i < start + l {
                                    // SAFETY: `i + N ≤ start + l ≤ len` (every span is a
                                    // multiple of N inside the sweep), the length of every
                                    // `ds[r]`; `xs` holds `len + (B-1)·d2` elements.
                                    let xv: [L::V; B] = std::array::from_fn(|kb| unsafe {
                                        L::load_ptr(xs.as_ptr().add(i + kb * d2))
                                    });
                                    for (ar, d) in acc.iter_mut().zip(&ds) {
                                        // SAFETY: as above.
                                        let dv = unsafe { L::load_ptr(d.as_ptr().add(i)) };
                                        for (a, &x) in ar.iter_mut().zip(&xv) {
                                            *a = L::fma(dv, x, *a);
                                        }
                                    }
                                    i += n;
                                }
                            }
                            *slot = acc;
                        }
                    }
                }
            }
        }
    }
    let mut out = vec![L::E::default(); task.x.len() * R * kv];
    for (k, acc) in accs.iter().enumerate() {
        let (ci, k) = (k / slots, k % slots);
        let (row, k2c) = (k / k2b, (k % k2b) * B);
        for (r, ar) in acc.iter().enumerate() {
            for (kb, &a) in ar.iter().enumerate().take(k2n - k2c) {
                out[(ci * R + r) * kv + row * k2n + k2c + kb] = lane_sum::<L>(a);
            }
        }
    }
    out
}

/// The sum of a vector's lanes, pairwise (halves added until one is left): a chain of
/// `log2 N` adds rather than `N` one after the other, which left the stem's `∂w` tasks ~10 %
/// of their time in the serial sums of their 256 accumulators.
#[inline(always)]
fn lane_sum<L: Simd>(a: L::V) -> L::E {
    let mut lanes = [L::E::default(); 16];
    let n = L::N.min(16);
    L::store(a, &mut lanes[..]);
    let mut h = n;
    while h > 1 {
        let half = h / 2;
        for i in 0..half {
            lanes[i] = lanes[i] + lanes[i + half];
        }
        if h % 2 == 1 {
            lanes[0] = lanes[0] + lanes[h - 1];
        }
        h = half;
    }
    lanes[0]
}

#[cfg(test)]
mod tests {
    use super::{tile_widths, Spans};

    /// The spans and the chunks of [`Spans`] as lists.
    fn weight_chunks(
        sweep: (usize, usize, usize),
        piece: usize,
    ) -> (Vec<(usize, usize)>, Vec<std::ops::Range<usize>>) {
        let s = Spans::new(sweep, piece);
        (
            (0..s.len()).map(|j| s.at(j)).collect(),
            s.chunks().collect(),
        )
    }

    #[test]
    fn weight_chunks_cover_the_sweep_in_order() {
        // Rows of 64 at a stride of 70, chunks of up to 1024 elements: 16 rows each.
        let (spans, chunks) = weight_chunks((40, 64, 70), 1024);
        assert_eq!(spans.len(), 40);
        assert_eq!(spans[39], (39 * 70, 64));
        assert_eq!(chunks, vec![0..16, 16..32, 32..40]);
        // Rows longer than a chunk: one row each.
        let (_, chunks) = weight_chunks((3, 2048, 2100), 1024);
        assert_eq!(chunks, vec![0..1, 1..2, 2..3]);
        // One flat segment: pieces of 1024 and a short last one, one per chunk.
        let (spans, chunks) = weight_chunks((1, 2112, 0), 1024);
        assert_eq!(spans, vec![(0, 1024), (1024, 1024), (2048, 64)]);
        assert_eq!(chunks, vec![0..1, 1..2, 2..3]);
    }

    #[test]
    fn tiles_cover_the_row_without_a_lone_last_vector() {
        for max in [2, 4] {
            for nvec in 0..40 {
                let w: Vec<usize> = tile_widths(nvec, max).collect();
                assert_eq!(w.iter().sum::<usize>(), nvec, "max {max}: {w:?}");
                assert!(
                    w.iter().all(|&v| (1..=max).contains(&v)),
                    "max {max}: {w:?}"
                );
                // (With tiles of 2, an odd row ends in 1 either way.)
                if max > 2 && w.len() > 1 {
                    assert!(w[w.len() - 1] > 1, "max {max}, {nvec} vectors: {w:?}");
                }
            }
        }
    }
}
