//! The two plane kernels of [`depthwise`](super::depthwise): a 2-D correlation of one plane
//! with one kernel slice (accumulated onto an output plane) and the `∂w` reduction of one
//! cotangent plane against one input plane; portable loops and AVX2/FMA vector kernels.
//!
//! The general correlation holds a tile of `RT` output rows × `V` vectors in registers; per tap
//! one broadcast weight feeds `RT·V` fused multiply-adds, each with its input vector as a memory
//! operand: about one load per multiply-add, half of them split across cache lines, so the load
//! ports bound it. For kernels of 3, 5 or 7 rows at row dilation 1 (ConvNeXt's 7×7) a second
//! kernel shares the loads between output rows: per kernel column it holds that column's `K`
//! weights and `RT` accumulators in registers, and each input row, loaded once, feeds every
//! output row it reaches (row `t` feeds row `r` through kernel row `t − r`; the loops have
//! constant bounds, so the guards vanish when unrolled): `(RT + K − 1 + K) / (RT·K)` loads per
//! multiply-add, 0.41 at 7×7 with the 7 rows that AVX2's 16 registers hold. With AVX-512VL's
//! 32 registers (still 256-bit vectors) the tile is 14 rows: 0.28 loads per multiply-add, and
//! 14 independent sums instead of 7, which the two FMA pipes need to stay busy through the
//! 4-cycle FMA latency (7 left them waiting on their own sums). On a 2-D plane that such a
//! tile covers exactly, the kernel writes the output instead of adding onto it
//! ([`DwEngine::corr_fresh`]), so the forward pass neither clears the plane nor loads it back.
//!
//! Measured (ConvNeXt's 2d-convnext-dw7, f32, one thread, best of 30 `fftconv bench` runs on
//! a loaded 2-core Zen 4): forward 1.47–1.52 ms with the 7-row tiles, 1.27–1.29 ms with both
//! changes (about 80 % of the FMA peak on its 118 MFLOP); f64 unchanged at 3.5–3.6 ms. The rest
//! of the forward pass was mostly the row copies into the padded plane, which the kernels now
//! skip on zero-padded 2-D planes ([`ZeroPadded`]: rows outside the plane skipped, columns
//! outside it masked off the loads): 1.20–1.21 ms against 1.43–1.97 ms for the copy (one
//! thread, best of 15, same loaded machine). The `∂w` reduction takes kernel rows 3 or 2 at a
//! time with AVX-512VL, sharing each input vector between them (see `x86/reduce.rs`).
//!
//! Since session 14 the row-sharing kernel and `∂w` run 512-bit vectors where the CPU has
//! AVX-512F and VL (`x86/rows.rs`, `x86/reduce.rs`): 16-float strips up to the last multiple
//! of 16 columns and one 256-bit strip for the rest (56 = 3·16 + 8), edge strips through native
//! mask registers. On an Intel Xeon with two 512-bit FMA pipes that took dw7's forward from
//! 0.85–0.97 to 0.66–0.72 ms in f32 and 1.71–1.75 to 1.10–1.17 in f64 (CPU time, 2 threads,
//! loaded machine; `benches/results/session14-dw.md`). The 256-bit kernels stay for AVX2-only
//! CPUs, and the tests run both (`Kernels::Avx512Ymm`, `Kernels::Avx2Only`).

use crate::tensor::Scalar;
use std::mem::MaybeUninit;

/// One 2-D correlation: `out[i, j] += Σ_{a, b} w[a, b] · src[i + d0·a, j + d1·b]` for `i` below
/// `rows`, `j` below `cols` (multiples of the engine's tile).
#[derive(Clone, Copy, Debug)]
pub(super) struct Corr2 {
    pub src_stride: usize,
    pub out_stride: usize,
    pub rows: usize,
    pub cols: usize,
    pub kernel: [usize; 2],
    pub dilation: [usize; 2],
}

impl Corr2 {
    /// Elements of `src` the pass reads (from its start).
    pub fn src_len(&self) -> usize {
        let [k0, k1] = self.kernel;
        let [d0, d1] = self.dilation;
        (self.rows - 1 + d0 * (k0 - 1)) * self.src_stride + self.cols + d1 * (k1 - 1)
    }
    fn out_len(&self) -> usize {
        (self.rows - 1) * self.out_stride + self.cols
    }
}

/// One `∂w` reduction: `dw[a, b] += Σ_{i < rows, j < cols} dy[i, j] · x[i + d0·a, j + d1·b]`
/// (`cols` a multiple of the engine's lanes; `dy` is zero past the true width). `dy` starts
/// [`DY_ROWS_AROUND`] zero rows into its slice and has as many zero rows below: the kernels
/// that share an input row between kernel rows read the cotangent rows next to the plane.
#[derive(Clone, Copy, Debug)]
pub(super) struct Red2 {
    pub x_stride: usize,
    pub dy_stride: usize,
    pub rows: usize,
    pub cols: usize,
    pub kernel: [usize; 2],
    pub dilation: [usize; 2],
}

/// At most this many taps of one kernel row per `∂w` register block: a kernel row of up to
/// `MAX_KB` taps is one block, longer rows run in blocks of `MAX_KB` whose last may run past
/// the kernel (buffers leave room for it; its extra sums are dropped).
pub(super) const MAX_KB: usize = 8;

/// Taps per `∂w` block for kernel rows of `k` taps.
fn taps_per_block(k: usize) -> usize {
    k.clamp(1, MAX_KB)
}

impl Red2 {
    /// Elements of `x` the pass reads (from its start).
    pub fn x_len(&self) -> usize {
        let [k0, k1] = self.kernel;
        let [d0, d1] = self.dilation;
        let kb = taps_per_block(k1);
        (self.rows - 1 + d0 * (k0 - 1)) * self.x_stride
            + self.cols
            + d1 * (k1.div_ceil(kb) * kb - 1)
    }
    fn dy_len(&self) -> usize {
        (self.rows - 1 + 2 * DY_ROWS_AROUND) * self.dy_stride + self.cols
    }
}

/// Zero rows above and below the cotangent plane of a [`Red2`]: kernel rows taken `A` at a
/// time (up to 3) read the cotangent `A − 1` rows past either edge.
pub(super) const DY_ROWS_AROUND: usize = 2;

/// An input plane read where it is, zero-padded on the fly: padded row `p`, column `q` is
/// `x[(p − lo[0])·width + q − lo[1]]` inside the plane and zero outside it (the kernels skip
/// rows outside and mask columns outside), with no padded copy of the plane.
pub(super) struct ZeroPadded<'a, T> {
    pub x: &'a [T],
    pub height: usize,
    pub width: usize,
    pub lo: [usize; 2],
}

/// The output of a correlation: added onto (`Add`) or written into memory not yet written
/// (`Fresh`).
pub(super) enum Out<'a, T> {
    Add(&'a mut [T]),
    Fresh(&'a mut [MaybeUninit<T>]),
}

impl<T> Out<'_, T> {
    fn len(&self) -> usize {
        match self {
            Out::Add(s) => s.len(),
            Out::Fresh(s) => s.len(),
        }
    }
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    fn ptr(&mut self) -> *mut T {
        match self {
            Out::Add(s) => s.as_mut_ptr(),
            Out::Fresh(s) => s.as_mut_ptr().cast(),
        }
    }
}

/// The kernels for one element type.
///
/// # Safety
/// When [`DwEngine::corr_fresh`] returns true it has written every element of
/// `out[..rows·cols]`, and when [`DwEngine::corr_zero_padded`] returns true on an
/// [`Out::Fresh`] it has written `out[i·out_stride + j]` for every row `i < rows` and column
/// `j < cols` (callers then treat that memory as initialised).
pub(super) unsafe trait DwEngine<T>: Sync {
    /// `(rows, cols)` of the correlation's output tile for planes `height` × `width` and
    /// kernels of `kernel_rows` rows at row dilation `row_dilation`.
    fn tile(
        &self,
        height: usize,
        width: usize,
        kernel_rows: usize,
        row_dilation: usize,
    ) -> (usize, usize);
    /// Elements per vector of the `∂w` reduction.
    fn lanes(&self) -> usize;
    fn corr(&self, c: &Corr2, src: &[T], w: &[T], out: &mut [T]);
    /// `out = corr(src, w)` into memory not yet written, when a kernel of the engine covers
    /// `c` (`out_stride == cols`): returns whether it did, and then every element of
    /// `out[..rows·cols]` is written. Saves clearing an output plane that a single kernel
    /// slice fills (2-D layers), and loading the zeros back.
    fn corr_fresh(&self, c: &Corr2, src: &[T], w: &[T], out: &mut [MaybeUninit<T>]) -> bool;
    /// `out (=|+=) corr(src, w)` of a plane read in place, when a row-sharing kernel of the
    /// engine runs `c` (else false, `out` untouched).
    fn corr_zero_padded(
        &self,
        c: &Corr2,
        src: &ZeroPadded<'_, T>,
        w: &[T],
        out: Out<'_, T>,
    ) -> bool;
    fn reduce(&self, r: &Red2, x: &[T], dy: &[T], dw: &mut [T]);
}

/// Plain loops (any target; what the vector kernels are tested against).
pub(super) struct Portable;

// SAFETY: `corr_fresh` and `corr_zero_padded` never return true.
unsafe impl<T: Scalar> DwEngine<T> for Portable {
    fn tile(&self, _: usize, _: usize, _: usize, _: usize) -> (usize, usize) {
        (1, 1)
    }
    fn lanes(&self) -> usize {
        1
    }
    fn corr(&self, c: &Corr2, src: &[T], w: &[T], out: &mut [T]) {
        let ([k0, k1], [d0, d1]) = (c.kernel, c.dilation);
        for i in 0..c.rows {
            let orow = &mut out[i * c.out_stride..][..c.cols];
            for a in 0..k0 {
                let srow = &src[(i + d0 * a) * c.src_stride..];
                for b in 0..k1 {
                    let wv = w[a * k1 + b];
                    for (o, s) in orow.iter_mut().zip(&srow[d1 * b..]) {
                        *o = *o + wv * *s;
                    }
                }
            }
        }
    }
    fn corr_fresh(&self, _: &Corr2, _: &[T], _: &[T], _: &mut [MaybeUninit<T>]) -> bool {
        false
    }
    fn corr_zero_padded(&self, _: &Corr2, _: &ZeroPadded<'_, T>, _: &[T], _: Out<'_, T>) -> bool {
        false
    }
    fn reduce(&self, r: &Red2, x: &[T], dy: &[T], dw: &mut [T]) {
        let ([k0, k1], [d0, d1]) = (r.kernel, r.dilation);
        for a in 0..k0 {
            for b in 0..k1 {
                let mut s = T::zero();
                for i in 0..r.rows {
                    let xr = &x[(i + d0 * a) * r.x_stride + d1 * b..];
                    let dr = &dy[(i + DY_ROWS_AROUND) * r.dy_stride..][..r.cols];
                    s = s + dr.iter().zip(xr).map(|(&p, &q)| p * q).sum::<T>();
                }
                dw[a * k1 + b] = dw[a * k1 + b] + s;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) use x86::Avx2Dw;

#[cfg(target_arch = "x86_64")]
mod x86;
