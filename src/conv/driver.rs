//! The one entry skeleton of the fast algorithms (RustFFT's `common.rs` pattern): an
//! algorithm implements only its core, [`ConvCore`], on a **conv** geometry; the driver does
//! the rest, once for all of them:
//!
//! - the geometry of the call ([`ConvSpec::forward_geometry`] /
//!   [`ConvSpec::backward_geometry`]: shapes of `x`, `w`, the bias and `dy` checked);
//! - a transpose as the adjoint of its conv ([`Geometry::as_conv`], `derivations/13`): its
//!   forward is the conv's `∂x`, its `∂x` the conv's forward (first `S` entries per axis), its
//!   `∂w` the conv's `∂w` with input and cotangent swapped (the transpose's input, zero-padded
//!   to the conv's output extent, is the conv's cotangent);
//! - the bias ([`add_bias`], `∂b` by [`bias_grad`], `derivations/14`).
//!
//! (Layers with an empty tensor need no case: [`ConvSpec::geometry`] refuses empty axes and
//! empty outputs before any algorithm runs.)
//!
//! Which core runs is routed by [`Algorithm::resolve`] / [`Algorithm::resolve_backward`]
//! (`Auto`, by the cost model) and [`Algorithm::core`] (the algorithm's planner); within
//! `DirectSimd`, [`direct_simd::core`](super::fast::direct_simd::core) picks depthwise, polyphase, im2col or the tiled
//! kernels by the geometry.
//!
//! **Adding an algorithm** (say `Winograd`): a file `fast/winograd.rs` with a type planned on a
//! conv geometry and `impl<T: Scalar> ConvCore<T>` for it (three methods, two optional ones
//! when a pass can share work); an `Algorithm::Winograd` variant; and one line in
//! [`Algorithm::core`] planning it. Transposes, bias, shape checks and empty layers then hold
//! for it with no more code, and `tests/fast_paths.rs` checks it against the chain and the
//! loops once it is added to its list of algorithms. (Its memory estimate goes in
//! [`super::budget::guard_geometry`], a choice for `Auto` in [`fast::cost`](super::fast::cost).)
//!
//! Two paths stay outside: [`super::chain`], the lowering of the DSL's layer expansion, runs
//! a transpose as the transpose's own expression (the TRANS rules `fftconv derive` prints),
//! not as the adjoint of a conv, so it cannot be a core of this driver without ceasing to be
//! what is derived; and [`super::direct`], the loop witness, shares no code with the fast
//! paths on purpose (not even the transpose, bias and padding rules), so that agreement with
//! it is evidence. [`fast::FftConv`](super::fast::FftConv) (the layer that keeps its spectra between forward and
//! backward, for [`super::Step`]) keeps its own stateful entry; the stateless FFT path is the
//! core [`FftCore`](super::fast::fft_conv::FftCore) of the same planned layer.
//!
//! [`Algorithm::resolve`]: super::Algorithm::resolve
//! [`Algorithm::resolve_backward`]: super::Algorithm::resolve_backward
//! [`Algorithm::core`]: super::Algorithm::core

use super::fast::{add_bias, bias_grad};
use super::spec::{ConvKind, ConvSpec, Geometry};
use super::Grads;
use crate::error::Result;
use crate::tensor::{Scalar, Tensor};
use std::borrow::Cow;

/// The core of one algorithm: the three products of a **conv** layer (planned for one conv
/// geometry `c`, with `x` of shape `c.x_shape()`, `w` of `c.w_shape()`, `dy` of
/// `c.y_shape()`; the driver guarantees the shapes). For the layer `y = A(x; w)`, linear in
/// each of `x` and `w`:
pub(crate) trait ConvCore<T: Scalar>: Sync {
    /// The forward pass `y = A(x; w)` (no bias).
    fn forward(&self, x: &Tensor<T>, w: &Tensor<T>) -> Result<Tensor<T>>;

    /// The input gradient `∂x = A(·; w)*(dy)`.
    fn grad_x(&self, dy: &Tensor<T>, w: &Tensor<T>) -> Result<Tensor<T>>;

    /// The weight gradient `∂w = A(x; ·)*(dy)`.
    fn grad_w(&self, x: &Tensor<T>, dy: &Tensor<T>) -> Result<Tensor<T>>;

    /// `(∂x, ∂w)`, the conv's backward pass: both read `dy`, so a core that prepares it once
    /// (spectra, padded planes) overrides this.
    fn grads(
        &self,
        x: &Tensor<T>,
        w: &Tensor<T>,
        dy: &Tensor<T>,
    ) -> Result<(Tensor<T>, Tensor<T>)> {
        Ok((self.grad_x(dy, w)?, self.grad_w(x, dy)?))
    }

    /// `(y, ∂w)`, a transpose's backward pass on its conv: both read `x`, so a core that
    /// prepares it once overrides this.
    fn forward_and_grad_w(
        &self,
        x: &Tensor<T>,
        w: &Tensor<T>,
        dy: &Tensor<T>,
    ) -> Result<(Tensor<T>, Tensor<T>)> {
        Ok((self.forward(x, w)?, self.grad_w(x, dy)?))
    }
}

/// A boxed core, as the planners return it.
pub(crate) type Core<T> = Box<dyn ConvCore<T>>;

/// Forward pass `y = conv(x; w) + b` of the layer `spec` by the core `plan` makes for the
/// layer's geometry (it plans `g.as_conv()`; it gets the layer to route on its kind).
///
/// # Errors
/// Spec and shape errors of [`ConvSpec::forward_geometry`]; those of the planner and core.
pub(crate) fn forward<T: Scalar>(
    spec: &ConvSpec,
    x: &Tensor<T>,
    w: &Tensor<T>,
    b: Option<&Tensor<T>>,
    plan: impl FnOnce(&Geometry) -> Result<Core<T>>,
) -> Result<Tensor<T>> {
    let g = spec.forward_geometry(x, w, b)?;
    let core = plan(&g)?;
    let mut y = match g.kind {
        ConvKind::Conv => core.forward(x, w)?,
        ConvKind::ConvTranspose => core.grad_x(&pad_tail(x, &g.as_conv().output), w)?,
    };
    if let Some(b) = b {
        add_bias(&mut y, b);
    }
    Ok(y)
}

/// Gradients `∂x`, `∂w` (and `∂b` when `with_bias`) of the layer `spec` for upstream `dy`, by
/// the core `plan` makes (as for [`forward`]).
///
/// # Errors
/// Spec and shape errors of [`ConvSpec::backward_geometry`] (`dy` must have the output
/// shape); those of the planner and core.
pub(crate) fn backward<T: Scalar>(
    spec: &ConvSpec,
    x: &Tensor<T>,
    w: &Tensor<T>,
    dy: &Tensor<T>,
    with_bias: bool,
    plan: impl FnOnce(&Geometry) -> Result<Core<T>>,
) -> Result<Grads<T>> {
    let g = spec.backward_geometry(x, w, dy)?;
    let db = with_bias.then(|| bias_grad(dy));
    let core = plan(&g)?;
    let (dx, dw) = match g.kind {
        ConvKind::Conv => core.grads(x, w, dy)?,
        ConvKind::ConvTranspose => {
            // y = A*(x̃) with A the conv: dx = A(dy) (first S entries), dw = A's weight
            // gradient with input dy and cotangent x̃.
            let c = g.as_conv();
            let (full, dw) = core.forward_and_grad_w(dy, w, &pad_tail(x, &c.output))?;
            (crop_tail(full, &g.input), dw)
        }
    };
    Ok(Grads { dx, dw, db })
}

/// `t` with its spatial axes extended by zeros at the high end up to `extent` (borrowed when
/// it already has that extent).
fn pad_tail<'t, T: Scalar>(t: &'t Tensor<T>, extent: &[usize]) -> Cow<'t, Tensor<T>> {
    let shape = [&t.shape()[..2], extent].concat();
    if shape == t.shape() {
        return Cow::Borrowed(t);
    }
    Cow::Owned(Tensor::from_fn(&shape, |idx| {
        if idx[2..].iter().zip(&t.shape()[2..]).all(|(i, n)| i < n) {
            t.get(idx)
        } else {
            T::zero()
        }
    }))
}

/// The first `extent` entries of each spatial axis of `t`.
fn crop_tail<T: Scalar>(t: Tensor<T>, extent: &[usize]) -> Tensor<T> {
    let shape = [&t.shape()[..2], extent].concat();
    if shape == t.shape() {
        return t;
    }
    Tensor::from_fn(&shape, |idx| t.get(idx))
}
