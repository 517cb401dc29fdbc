//! The fast paths of the conv layer, one algorithm per file, each checked against the operator
//! chain ([`super::chain`]) and the loop witness ([`super::direct`]) by `tests/fast_paths.rs`:
//!
//! - [`fft_conv`]: the fused FFT layer (real transforms on fast lengths, cached plans, spectra
//!   kept between forward and backward, the channel contraction per frequency, rayon);
//! - [`im2col`]: sliding windows unrolled into a matrix and one GEMM per group ([`gemm`]);
//! - [`direct_simd`]: register-tiled direct loops vectorised over the output width (stride 1);
//! - [`depthwise`]: the direct path for one input channel per group (tiles over a plane's rows);
//! - [`winograd`]: F(4×4, 3×3) for 2-D 3×3 layers at stride 1 (forward, `∂x` and `∂w`);
//! - [`cost`]: the model behind [`Algorithm::Auto`](super::Algorithm::Auto).
//!
//! Both algorithms see a geometry through `Layout`: every layer normalised to three spatial
//! axes (leading axes of extent 1), with the padding of each axis as an index map from padded
//! position to input position, so all padding modes share one code path.

pub mod contraction;
pub mod cost;
pub mod depthwise;
mod depthwise_kernels;
pub mod direct_simd;
pub mod fft_conv;
pub mod gemm;
pub mod im2col;
mod memory;
pub mod polyphase;
pub mod pool;
pub mod pruned_fft;
pub mod tiling;
pub mod winograd;

#[cfg(test)]
mod tests;

pub use cost::{choose, choose_backward, choose_forward, Choice};
pub use fft_conv::FftConv;

use super::spec::Geometry;
use crate::op::PadMode;
use crate::tensor::{Scalar, Tensor};
use rayon::prelude::*;

/// A conv geometry normalised to 3 spatial axes, with per-axis padding maps.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    pub n: usize,
    pub c_in: usize,
    pub c_out: usize,
    pub groups: usize,
    /// Input channels per group.
    pub cg: usize,
    /// Output channels per group.
    pub og: usize,
    pub input: [usize; 3],
    pub output: [usize; 3],
    pub kernel: [usize; 3],
    pub dilation: [usize; 3],
    pub stride: [usize; 3],
    /// Padded extents `S + lo + hi`.
    pub padded: [usize; 3],
    /// Per axis, for each padded position, the input position it reads (`None`: a zero).
    pub maps: [Vec<Option<usize>>; 3],
}

fn source(mode: PadMode, p: i64, n: i64) -> Option<usize> {
    if (0..n).contains(&p) {
        return Some(p as usize);
    }
    let q = match mode {
        PadMode::Zeros => return None,
        PadMode::Circular => p.rem_euclid(n),
        PadMode::Replicate => p.clamp(0, n - 1),
        PadMode::Reflect if n == 1 => 0,
        PadMode::Reflect => {
            let period = 2 * (n - 1);
            let r = p.rem_euclid(period);
            if r < n {
                r
            } else {
                period - r
            }
        }
    };
    Some(q as usize)
}

/// `y[n, o, ·] += b[o]`, shared by the fast paths (`b` of shape `(c_out,)`, checked by the
/// caller).
pub(crate) fn add_bias<T: Scalar>(y: &mut Tensor<T>, b: &Tensor<T>) {
    let c = b.data().len();
    let per = y.data().len() / (y.shape().first().copied().unwrap_or(0) * c).max(1);
    if per == 0 {
        return;
    }
    y.data_mut()
        .par_chunks_mut(per)
        .enumerate()
        .for_each(|(r, row)| {
            let bv = b.data()[r % c];
            row.iter_mut().for_each(|v| *v = *v + bv);
        });
}

/// The bias gradient `∂b_o = Σ_{n, i} ∂y_{n,o,i}` (accumulated in f64), shared by the fast
/// paths. (`conv::direct`, the witness, keeps its own loop on purpose.)
pub(crate) fn bias_grad<T: Scalar>(dy: &Tensor<T>) -> Tensor<T> {
    let c = dy.shape().get(1).copied().unwrap_or(0);
    let per: usize = dy.shape().iter().skip(2).product();
    let mut db = vec![0.0f64; c];
    if c > 0 {
        for (r, row) in dy.data().chunks(per.max(1)).enumerate() {
            db[r % c] += row.iter().map(|v| v.as_f64()).sum::<f64>();
        }
    }
    Tensor::from_fn(&[c], |i| T::of(db[i[0]]))
}

impl Layout {
    /// Normalise a `Conv` geometry (callers pass `as_conv()` for transposes).
    pub(crate) fn of(g: &Geometry) -> Self {
        let d = g.rank();
        let lift = |v: &[usize], fill: usize| {
            let mut a = [fill; 3];
            a[3 - d..].copy_from_slice(v);
            a
        };
        let pads_lo = lift(&g.pads.iter().map(|p| p.0).collect::<Vec<_>>(), 0);
        let pads_hi = lift(&g.pads.iter().map(|p| p.1).collect::<Vec<_>>(), 0);
        let input = lift(&g.input, 1);
        let padded = [0, 1, 2].map(|a| input[a] + pads_lo[a] + pads_hi[a]);
        let maps = [0, 1, 2].map(|a| {
            (0..padded[a])
                .map(|p| {
                    source(
                        g.padding_mode,
                        p as i64 - pads_lo[a] as i64,
                        input[a] as i64,
                    )
                })
                .collect()
        });
        Layout {
            n: g.n,
            c_in: g.c_in,
            c_out: g.c_out,
            groups: g.groups,
            cg: g.c_in / g.groups,
            og: g.c_out / g.groups,
            input,
            output: lift(&g.output, 1),
            kernel: lift(&g.kernel, 1),
            dilation: lift(&g.dilation, 1),
            stride: lift(&g.stride, 1),
            padded,
            maps,
        }
    }

    /// One row of a padded plane (its last axis, `padded[2]` long) from the input row `src`:
    /// the interior copied from `lo` on, the edges read through the last axis's padding map.
    /// `edges_zero`: the row already holds zeros there (zero padding into a cleared buffer),
    /// so the edges are left alone.
    pub(crate) fn pad_row<T: Scalar>(&self, row: &mut [T], src: &[T], lo: usize, edges_zero: bool) {
        let inner = src.len();
        row[lo..lo + inner].copy_from_slice(src);
        if !edges_zero {
            for (p, s) in self.maps[2].iter().enumerate() {
                if p < lo || p >= lo + inner {
                    row[p] = s.map_or(T::zero(), |s| src[s]);
                }
            }
        }
    }

    pub(crate) fn in_vol(&self) -> usize {
        self.input.iter().product()
    }
    pub(crate) fn out_vol(&self) -> usize {
        self.output.iter().product()
    }
    pub(crate) fn k_vol(&self) -> usize {
        self.kernel.iter().product()
    }
}
