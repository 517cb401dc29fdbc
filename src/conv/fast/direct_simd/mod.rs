//! The direct path for small kernels at stride 1: register-tiled loops over the padded input,
//! vectorised over the output width, with no unrolled (im2col) matrix.
//!
//! Sample by sample, the padded input `x_p` (every padding mode, through the index maps of
//! `Layout`) and the cotangent `dy` zero-padded by `d·(K-1)` on each side are built once
//! (a few hundred KB: they stay in L2) and every pass is one of two kernels over them:
//!
//! - a **correlation** `out[r, o] = Σ_c Σ_k wb[c, k, r] · src[c, o + origin + d·k]`: a tile of
//!   `R` output channels × 2 SIMD vectors of consecutive outputs of one row is held in
//!   registers while every source channel and tap adds onto it (one vector load of `src` feeds
//!   `R` fused multiply-adds, one broadcast weight feeds 2);
//!   - forward: `y = corr(x_p, w)`;
//!   - `∂x`: the adjoint is the full correlation of the padded `dy` with the flipped,
//!     channel-transposed kernel `w'[ci, co, k] = w[co, ci, K-1-k]`, which is the cotangent of
//!     the padded input; it folds back onto the input (for zero padding only the interior is
//!     computed, straight into `dx`);
//! - a **reduction** for `∂w[co, ci, k] = Σ_n Σ_o dy[n, co, o] · x_p[n, ci, o + d·k]`: per
//!   (block of `R` output channels, input channel, kernel row, `KB` taps of the row),
//!   `R × KB` vector accumulators sweep the output rows, one by one or back to back
//!   (both planes share one row stride; the columns between rows read zeros of the padded
//!   `dy`), whichever is fewer vectors, and are summed horizontally once per sample.
//!
//! Samples run in parallel (rayon), and within a sample the output-channel blocks (∂w: block ×
//! input channel); each sample's `∂w` is added onto a per-thread sum. The kernels run through an
//! `Engine`: on x86-64 with AVX2 and FMA (checked at run time; `Kernels`) explicit vector
//! kernels for `f32` and `f64` (the correlations in 512-bit vectors when the CPU also has
//! AVX-512F and VL, else 256-bit; `∂w` 256-bit), elsewhere portable Rust loops.
//!
//! The files: `plan.rs` (the passes of a layer; `plan/pad.rs` its padded planes), `sum.rs`
//! (sums of layers of one output shape: the classes of a polyphase split), `portable.rs` and
//! `x86.rs` (the kernels per instruction set), and this one, the routing: `Algorithm::DirectSimd`
//! runs depthwise layers on [`depthwise`], strides above 1 as stride-1 layers
//! over the phases of the input ([`polyphase`]) when every strided axis has dilation 1, other
//! strided layers on [`im2col`](super::im2col), and the rest on the tiled kernels; the
//! driver (`conv::driver`) runs a transpose through its conv and adds the bias.
//!
//! Non-finite inputs: the tiles also multiply padding zeros with neighbouring entries, so an
//! infinity may turn other entries of `∂w` into NaN (as on the FFT path).
//!
//! ```
//! use fftconv::conv::{self, Algorithm, ConvSpec, Padding};
//! use fftconv::Tensor;
//! let spec = ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1]);
//! let x = Tensor::<f32>::randn(&[1, 2, 9, 7], 1);
//! let w = Tensor::<f32>::randn(&[3, 2, 3, 3], 2);
//! let y = conv::forward(&spec, &x, &w, None, Algorithm::DirectSimd).unwrap();
//! assert_eq!(y.shape(), &[1, 3, 9, 7]);
//! ```

mod plan;
mod portable;
mod scratch;
pub(crate) use scratch::release as release_spares;
mod sum;
mod written;
#[cfg(target_arch = "x86_64")]
pub(in crate::conv::fast) mod x86;

use super::depthwise::{self, Depthwise};
use super::im2col::Im2col;
use super::polyphase::{self, PolyphaseCore};
#[cfg(test)]
use crate::conv::driver;
use crate::conv::driver::{ConvCore, Core};
use crate::conv::spec::Geometry;
#[cfg(test)]
use crate::conv::{spec::ConvSpec, Grads};
use crate::error::Result;
use crate::tensor::{Scalar, Tensor};
use plan::Plan;
use portable::Portable;
use std::any::Any;
pub(crate) use sum::{SampleSplit, TiledSum};

/// Output channels per register tile.
pub(crate) const R: usize = 4;
/// Kernel taps of one row per `∂w` register tile.
pub(crate) const KB: usize = 3;

/// The widest output tile of any engine (elements); planes are widened for it.
const MAX_W: usize = 16;
/// The widest `∂w` vector of any engine (elements).
const MAX_V: usize = 16;

/// Whether this path computes `g` itself: stride 1 on every axis of its conv, or strides that
/// the [`polyphase`] split turns into stride 1 (dilation 1 on every strided
/// axis); other geometries go to [`im2col`](super::im2col).
pub fn supports(g: &Geometry) -> bool {
    stride_one(g) || polyphase::applies(g)
}

/// Stride 1 on every axis of the layer's conv: the kernels run it as it is.
fn stride_one(g: &Geometry) -> bool {
    g.as_conv().stride.iter().all(|&s| s == 1)
}

fn round_up(v: usize, m: usize) -> usize {
    v.div_ceil(m) * m
}

/// Which kernels run the layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) enum Kernels {
    /// The widest the CPU has (checked at run time): 512-bit vectors with AVX-512F and VL,
    /// else AVX2 + FMA, else portable.
    #[default]
    Detect,
    /// The portable Rust kernels (what a CPU without AVX2 runs; only the tests choose them).
    #[cfg_attr(not(test), allow(dead_code))]
    Portable,
    /// AVX2 + FMA with their 16 vector registers even when the CPU has AVX-512 (what an AVX2
    /// CPU runs; only the tests choose them).
    #[cfg_attr(not(test), allow(dead_code))]
    Avx2Only,
    /// 256-bit vectors in AVX-512VL's 32 registers even when the CPU has AVX-512F (the
    /// engine before the 512-bit tiles: only the tests choose it); AVX2 tiles on a CPU
    /// without AVX-512.
    #[cfg_attr(not(test), allow(dead_code))]
    Avx512Ymm,
}

/// `t` as a `Tensor<U>` when `T` is `U`.
pub(super) fn downcast<T: Scalar, U: Scalar>(t: &Tensor<T>) -> Option<&Tensor<U>> {
    (t as &dyn Any).downcast_ref::<Tensor<U>>()
}

/// `v` back as a `T` value (`U` is `T`: checked by the caller's downcast).
pub(super) fn upcast<T: 'static, U: 'static>(v: U) -> T {
    *(Box::new(v) as Box<dyn Any>)
        .downcast::<T>()
        .expect("upcast to the type that was downcast")
}

/// Return `Ok($body)` computed with `$eng` bound to the AVX2 engine `$avx` (an
/// `Option`, when `$kernels` is `Detect`) and the tensors `$t` rebound as `f32` or `f64`
/// ones when they are, else to the portable engine `$portable` with the tensors as they are.
/// (Generic code cannot name "the engine of `T`": each branch is the body again, for its type.)
macro_rules! with_engine {
    ($kernels:expr, $avx:expr, $portable:expr, ($($t:ident),+), |$eng:ident| $body:expr) => {{
        #[cfg(target_arch = "x86_64")]
        if let Some($eng) = $avx.filter(|_| $kernels != Kernels::Portable) {
            if let ($(Some($t),)+) = ($(downcast::<_, f32>($t),)+) {
                let out = $body;
                return Ok(upcast(out));
            }
            if let ($(Some($t),)+) = ($(downcast::<_, f64>($t),)+) {
                let out = $body;
                return Ok(upcast(out));
            }
        }
        let _ = $kernels;
        let $eng = $portable;
        let out = $body;
        Ok(out)
    }};
}
pub(super) use with_engine;

/// The tiled kernels on a stride-1 conv geometry (the core the routing of [`core`] ends at).
pub(super) struct Tiled {
    conv: Geometry,
    plan: Plan,
    kernels: Kernels,
}

impl Tiled {
    /// Plan the stride-1 conv geometry `c`.
    pub(super) fn new(c: &Geometry, kernels: Kernels) -> Self {
        Tiled {
            conv: c.clone(),
            plan: Plan::new(c),
            kernels,
        }
    }
}

impl<T: Scalar> ConvCore<T> for Tiled {
    fn forward(&self, x: &Tensor<T>, w: &Tensor<T>) -> Result<Tensor<T>> {
        let (c, p) = (&self.conv, &self.plan);
        with_engine!(
            self.kernels,
            x86::Avx2::of(self.kernels),
            Portable,
            (x, w),
            |eng| { Tensor::new(c.y_shape(), p.forward(&eng, x.data(), w.data()))? }
        )
    }

    fn grad_x(&self, dy: &Tensor<T>, w: &Tensor<T>) -> Result<Tensor<T>> {
        let (c, p) = (&self.conv, &self.plan);
        with_engine!(
            self.kernels,
            x86::Avx2::of(self.kernels),
            Portable,
            (dy, w),
            |eng| { Tensor::new(c.x_shape(), p.input_grad(&eng, dy.data(), w.data()))? }
        )
    }

    fn grad_w(&self, x: &Tensor<T>, dy: &Tensor<T>) -> Result<Tensor<T>> {
        let (c, p) = (&self.conv, &self.plan);
        with_engine!(
            self.kernels,
            x86::Avx2::of(self.kernels),
            Portable,
            (x, dy),
            |eng| { Tensor::new(c.w_shape(), p.grads(&eng, x.data(), dy.data(), None).1)? }
        )
    }

    /// Both sample by sample: each sample's padded cotangent is built once.
    fn grads(
        &self,
        x: &Tensor<T>,
        w: &Tensor<T>,
        dy: &Tensor<T>,
    ) -> Result<(Tensor<T>, Tensor<T>)> {
        let (c, p) = (&self.conv, &self.plan);
        with_engine!(
            self.kernels,
            x86::Avx2::of(self.kernels),
            Portable,
            (x, w, dy),
            |eng| {
                let (dx, dw) = p.grads(&eng, x.data(), dy.data(), Some(w.data()));
                // `grads` returns `∂x` whenever it is given `w`: an error, not a panic, if not.
                let dx = dx.ok_or_else(|| {
                    crate::Error::invalid("direct_simd", "the tiled kernels returned no ∂x")
                })?;
                (Tensor::new(c.x_shape(), dx)?, Tensor::new(c.w_shape(), dw)?)
            }
        )
    }
}

/// The core `Algorithm::DirectSimd` runs for the layer `g` (planned on `g.as_conv()`):
/// depthwise convolutions on [`depthwise`], strided layers through the [`polyphase`] split
/// when it applies, else on [`im2col`](super::im2col), stride 1 on the tiled kernels.
///
/// # Errors
/// None for a valid geometry (those of the polyphase plan).
pub(crate) fn core<T: Scalar>(g: &Geometry, kernels: Kernels) -> Result<Core<T>> {
    let c = g.as_conv();
    Ok(if depthwise::applies(g) {
        Box::new(Depthwise::new(&c, kernels))
    } else if !supports(g) {
        Box::new(Im2col::new(&c))
    } else if !stride_one(g) {
        Box::new(PolyphaseCore::new(&c, kernels)?)
    } else {
        Box::new(Tiled::new(&c, kernels))
    })
}

/// Forward pass of `Algorithm::DirectSimd` with the given kernels (the tests compare the
/// portable kernels with the AVX2 ones).
///
/// # Errors
/// As [`crate::conv::forward`].
#[cfg(test)]
pub(crate) fn forward_using<T: Scalar>(
    spec: &ConvSpec,
    x: &Tensor<T>,
    w: &Tensor<T>,
    b: Option<&Tensor<T>>,
    kernels: Kernels,
) -> Result<Tensor<T>> {
    driver::forward(spec, x, w, b, |g| core(g, kernels))
}

/// Gradients of `Algorithm::DirectSimd` with the given kernels.
///
/// # Errors
/// As [`crate::conv::backward`].
#[cfg(test)]
pub(crate) fn backward_using<T: Scalar>(
    spec: &ConvSpec,
    x: &Tensor<T>,
    w: &Tensor<T>,
    dy: &Tensor<T>,
    with_bias: bool,
    kernels: Kernels,
) -> Result<Grads<T>> {
    driver::backward(spec, x, w, dy, with_bias, |g| core(g, kernels))
}
