//! The cost model behind [`Algorithm::Auto`](crate::conv::Algorithm::Auto): estimated time of
//! the im2col + GEMM path against the FFT path, each as its FLOP count over a sustained rate.
//!
//! - im2col: `6·MACs` FLOPs for forward + `∂x` + `∂w` (three GEMMs of `2·MACs`) at
//!   [`GEMM_RATE`], derated when a group has few output channels (the GEMM degenerates towards
//!   a matrix-vector product: depthwise layers) and charged [`IM2COL_BYTES_RATE`] for the
//!   unrolled matrix;
//! - FFT: [`fft_conv::flops`] at [`FFT_RATE`].
//!
//! When the direct estimate wins and [`direct_simd`](super::direct_simd) runs the layer (its
//! conv has stride 1, or strides with dilation 1 on the strided axes, which it runs through the
//! [`polyphase`](super::polyphase) split), the direct work goes there (measured at least as
//! fast as im2col on every such layer tried, e.g. 2d-stem-s2 about 2× faster; README,
//! Performance), else to im2col.
//!
//! The rates are relative (only their ratio matters) and were measured on the benchmark layers
//! (`fftconv bench`, README, Performance).
//!
//! ```
//! use fftconv::conv::{fast::{choose, Choice}, ConvSpec, Padding};
//! let spec = ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1]);
//! let small = spec.geometry(&[8, 16, 64, 64], &[16, 16, 3, 3]).unwrap();
//! let large = spec.geometry(&[8, 16, 64, 64], &[16, 16, 15, 15]).unwrap();
//! assert_eq!(choose(&small), Choice::DirectSimd);
//! assert_eq!(choose(&large), Choice::Fft);
//! ```

use super::fft_conv;
use crate::conv::spec::Geometry;

/// Sustained FLOP rate of the GEMMs of the im2col path (relative units).
pub const GEMM_RATE: f64 = 8.0;
/// Sustained FLOP rate of the FFT path (relative units).
pub const FFT_RATE: f64 = 1.0;
/// Elements of the unrolled matrix moved per unit of time (relative units).
pub const IM2COL_BYTES_RATE: f64 = 2.0;

/// Which fast path runs a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// [`fft_conv`].
    Fft,
    /// [`im2col`](super::im2col).
    Im2col,
    /// [`direct_simd`](super::direct_simd): the direct estimate, where it runs the layer
    /// ([`direct_simd::supports`](super::direct_simd::supports)).
    DirectSimd,
}

/// Estimated relative times `(im2col, fft)` of forward + both gradients.
pub fn estimates(g: &Geometry) -> (f64, f64) {
    let c = g.as_conv();
    let og = (c.c_out / c.groups) as f64;
    let macs = c.macs();
    let gemm_eff = (og / 16.0).min(1.0);
    let col_elems = macs / og * 3.0;
    let t_im2col = 6.0 * macs / (GEMM_RATE * gemm_eff) + col_elems / IM2COL_BYTES_RATE;
    let t_fft = fft_conv::flops(g).1 / FFT_RATE;
    (t_im2col, t_fft)
}

/// The path with the smaller estimated time.
pub fn choose(g: &Geometry) -> Choice {
    let (direct, fft) = estimates(g);
    if direct <= fft && super::direct_simd::supports(g) {
        Choice::DirectSimd
    } else if direct <= fft {
        Choice::Im2col
    } else {
        Choice::Fft
    }
}
