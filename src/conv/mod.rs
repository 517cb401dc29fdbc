//! The convolution layer: [`ConvSpec`] (the frameworks' semantics, defined in [`crate::spec`]
//! and re-exported here), the operator-chain FFT path ([`chain`], the lowering of the DSL's
//! layer expansion), and the direct witness ([`direct`]) that shares no code with it.
//!
//! The identities these paths rest on are proved, and executed by `fftconv notes`, in the
//! notes: the layer as a chain `derivations/06-conv-layer.md`, linear as circular convolution
//! `04-linear-as-circular.md`, the gradients `07-input-gradient.md` and `08-weight-gradient.md`,
//! stride, dilation, channels and padding modes `09`–`12`, the transpose `13-conv-transpose.md`,
//! the bias `14-bias.md`, and the FFT's rounding error `16-fft-error.md`.

pub mod budget;
pub mod chain;
pub mod direct;
pub(crate) mod driver;
pub mod error_model;
pub mod fast;
pub mod step;

pub use step::Step;

pub use crate::spec::{ConvKind, ConvSpec, Geometry, Padding};

/// The old path `conv::spec` of the layer semantics, for the algorithm modules: the types live
/// in [`crate::spec`], below `expr`.
mod spec {
    pub(crate) use crate::spec::{ConvKind, ConvSpec, Geometry, Padding};
}

use crate::error::Result;
use crate::tensor::{Scalar, Tensor};

/// The gradients of a conv layer for one upstream gradient `dy`.
#[derive(Clone, Debug, PartialEq)]
pub struct Grads<T: Scalar> {
    /// ∂L/∂x.
    pub dx: Tensor<T>,
    /// ∂L/∂w.
    pub dw: Tensor<T>,
    /// ∂L/∂b, when the layer has a bias.
    pub db: Option<Tensor<T>>,
}

/// Which implementation computes a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// The operator chain through FFTs (the derivation, executed).
    Chain,
    /// Plain loops over sliding windows (the witness).
    Direct,
    /// The fused FFT layer ([`fast::fft_conv`]).
    Fft,
    /// im2col + GEMM ([`fast::im2col`]).
    Im2col,
    /// Register-tiled direct loops, SIMD over the output width ([`fast::direct_simd`]; strides
    /// above 1 through the polyphase split into stride-1 layers, [`fast::polyphase`], or
    /// `Im2col` when a strided axis is dilated).
    DirectSimd,
    /// Winograd's F(4×4, 3×3) for 2-D 3×3 layers at stride 1, F(3×3, 4×4) for 4×4 ones and
    /// for stride-2 layers with 5×5 to 8×8 kernels on their merged polyphase split
    /// ([`fast::winograd`]; other geometries through `DirectSimd`).
    Winograd,
    /// Whichever of `Fft`, `Im2col`, `DirectSimd` and `Winograd` the cost model ([`fast::cost`]) expects to
    /// be faster, per direction: [`forward`] and [`backward`] may resolve differently.
    #[default]
    Auto,
}

impl Algorithm {
    /// The algorithm that runs the forward pass of `g` (`Auto` resolved by the cost model,
    /// `Winograd` on a geometry it does not cover resolved to the `DirectSimd` it falls back to).
    pub fn resolve(self, g: &Geometry) -> Algorithm {
        match self {
            Algorithm::Auto => Self::of(fast::cost::choose_forward(g)),
            a => a.runs_as(g),
        }
    }

    /// The algorithm that computes the gradients of `g` (resolved as in [`resolve`](Self::resolve)).
    pub fn resolve_backward(self, g: &Geometry) -> Algorithm {
        match self {
            Algorithm::Auto => Self::of(fast::cost::choose_backward(g)),
            a => a.runs_as(g),
        }
    }

    /// What an explicit choice runs on `g`: so that a report (`fftconv bench`) names the code
    /// that ran, not the one asked for.
    fn runs_as(self, g: &Geometry) -> Algorithm {
        match self {
            Algorithm::Winograd if !fast::winograd::supports(&g.as_conv()) => Algorithm::DirectSimd,
            a => a,
        }
    }

    /// The planner of a fast algorithm: its [`driver::ConvCore`] for the conv of the layer `g`
    /// (`g.as_conv()`), which the [`driver`] runs. One line per algorithm.
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] for `Chain`, `Direct` and `Auto`, which are not cores of the
    /// driver ([`forward`] runs the first two by their own entries and resolves `Auto`
    /// first); errors of the planner.
    pub(crate) fn core<T: Scalar>(self, g: &Geometry) -> Result<driver::Core<T>> {
        match self {
            Algorithm::Fft => Ok(Box::new(fast::fft_conv::FftCore::new(&g.as_conv()))),
            Algorithm::Im2col => Ok(Box::new(fast::im2col::Im2col::new(&g.as_conv()))),
            Algorithm::DirectSimd => fast::direct_simd::core(g, fast::direct_simd::Kernels::Detect),
            Algorithm::Winograd => fast::winograd::core(g, fast::direct_simd::Kernels::Detect),
            Algorithm::Chain | Algorithm::Direct | Algorithm::Auto => Err(crate::Error::invalid(
                "algorithm",
                format!("{self:?} has no driver core; run it through conv::forward"),
            )),
        }
    }

    fn of(c: fast::Choice) -> Algorithm {
        match c {
            fast::Choice::Fft => Algorithm::Fft,
            fast::Choice::Im2col => Algorithm::Im2col,
            fast::Choice::DirectSimd => Algorithm::DirectSimd,
            fast::Choice::Winograd => Algorithm::Winograd,
        }
    }
}

/// Forward pass `y = conv(x; w) + b` with the chosen algorithm.
///
/// ```
/// use fftconv::{conv::{self, Algorithm, ConvSpec, Padding}, Tensor};
/// let spec = ConvSpec::conv(&[1], Padding::Valid, &[1]);
/// let x = Tensor::<f64>::new(vec![1, 1, 4], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
/// let w = Tensor::new(vec![1, 1, 2], vec![1.0, -1.0]).unwrap();
/// let y = conv::forward(&spec, &x, &w, None, Algorithm::Chain).unwrap();
/// assert!(y.data().iter().all(|v| (v + 1.0).abs() < 1e-12)); // x[i] - x[i+1]
/// ```
///
/// # Errors
/// Spec and shape errors of [`ConvSpec::geometry`].
/// [`crate::Error::TooLarge`] when the algorithm would need more than `--max-memory` ([`budget`]).
pub fn forward<T: Scalar>(
    spec: &ConvSpec,
    x: &Tensor<T>,
    w: &Tensor<T>,
    b: Option<&Tensor<T>>,
    algo: Algorithm,
) -> Result<Tensor<T>> {
    let g = spec.geometry(x.shape(), w.shape())?;
    budget::guard_geometry(&g, algo, size_of::<T>())?;
    match algo.resolve(&g) {
        Algorithm::Chain => chain::forward(spec, x, w, b),
        Algorithm::Direct => direct::forward(spec, x, w, b),
        fast => driver::forward(spec, x, w, b, |g| fast.core(g)),
    }
}

/// Gradients `dx`, `dw` and (when `with_bias`) `db` for upstream `dy`.
///
/// # Errors
/// Spec and shape errors of [`ConvSpec::geometry`]; `dy` must have the output shape.
/// [`crate::Error::TooLarge`] as for [`forward`].
pub fn backward<T: Scalar>(
    spec: &ConvSpec,
    x: &Tensor<T>,
    w: &Tensor<T>,
    dy: &Tensor<T>,
    with_bias: bool,
    algo: Algorithm,
) -> Result<Grads<T>> {
    let g = spec.geometry(x.shape(), w.shape())?;
    budget::guard_geometry(&g, algo, size_of::<T>())?;
    match algo.resolve_backward(&g) {
        Algorithm::Chain => chain::backward(spec, x, w, dy, with_bias),
        Algorithm::Direct => direct::backward(spec, x, w, dy, with_bias),
        fast => driver::backward(spec, x, w, dy, with_bias, |g| fast.core(g)),
    }
}
