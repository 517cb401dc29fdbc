//! The conv layer as a chain of linear operators, run by FFT — the reference path.
//!
//! Per spatial axis, with padded extent `$S_p = S + lo + hi$`, dilated kernel extent
//! `$K_d = d(K-1)+1$` and a period `$P \ge S_p$` rounded up to a fast FFT length:
//!
//! - **conv**, as a map of `x`:
//!   ```math
//!   y = \operatorname{subsample}_s \circ \operatorname{crop}_{[K_d-1,\,P-S_p]} \circ \operatorname{circ}(h)
//!   \circ \operatorname{zero\_pad}_{[0,\,P-S_p]} \circ \operatorname{pad}_{mode,[lo,hi]}\,(x)
//!   ```
//!   with the kernel
//!   `$h = \operatorname{zero\_pad}_{[0,P-K_d]} \circ \operatorname{flip} \circ \operatorname{dilate}_d\,(w)$`
//!   (cross-correlation is convolution with the flipped kernel; the crop keeps the
//!   "valid" part, where no circular wrap-around reaches);
//! - **conv**, as a map of `w` (the bilinear swap
//!   `$\operatorname{circ}(h)\,x_p = \operatorname{circ}(x_p)\,h$`):
//!   `$y = \operatorname{subsample} \circ \operatorname{crop} \circ \operatorname{circ}(x_p) \circ \operatorname{zero\_pad} \circ \operatorname{flip} \circ \operatorname{dilate}\,(w)$`;
//! - **conv_transpose** mirrors it:
//!   `$y = \operatorname{crop}_{[lo,\,\cdot]} \circ \operatorname{circ}(h_t) \circ \operatorname{zero\_pad} \circ \operatorname{zero\_insert}_s\,(x)$`
//!   with `$h_t = \operatorname{zero\_pad} \circ \operatorname{dilate} \circ \operatorname{group\_transpose}\,(w)$`,
//!   no flip.
//!
//! (For a stride, the crop also removes the `$(S_p - K_d) \bmod s$` entries the stride never
//! reads, so that the subsample acts on exactly `$(O-1)s+1$` entries.)
//!
//! Gradients are the adjoints of these chains: `dx = (map of x)*(dy)`,
//! `dw = (map of w)*(dy)`, `db = broadcast*(dy)`.
//!
//! The chains are not built here: they are the **lowering** of the DSL's layer expansion
//! ([`crate::expr::layer::expand`]), the same expressions `fftconv derive` prints and
//! differentiates, with the period and extents of [`crate::spec::Period`].

use super::spec::{ConvSpec, Geometry};
use super::Grads;
use crate::error::Result;
use crate::expr::layer::{expand, Expansion};
use crate::expr::lower::lower_on;
use crate::expr::{Env, Expr};
use crate::op::Op;
use crate::spec::period;
use crate::tensor::{Scalar, Tensor};

/// Names of the layer's tensors in the lowered expressions.
const X: &str = "x";
const W: &str = "w";

fn expansion<T: Scalar>(g: &Geometry) -> Result<Expansion> {
    period::guard_chain(g, size_of::<T>())?;
    Ok(expand(g, X, W))
}

/// Lower one view of the expansion on `domain`, with `name` bound to `t` (the tensor the view
/// is built from: `w` for the map of `x`, `x` for the map of `w`).
fn lowered<T: Scalar>(
    view: &Expr,
    domain: &[usize],
    name: &str,
    t: Option<&Tensor<T>>,
) -> Result<Op<T>> {
    let mut env = Env::new();
    if let Some(t) = t {
        env.insert(name, t.cast::<f64>());
    }
    lower_on::<T>(view, domain, &env, "conv::chain")
}

/// The layer as a linear map of `x` for fixed weights `w` (no bias): the operator whose adjoint
/// gives `dx` — the lowering of [`Expansion::input_view`].
///
/// # Errors
/// Shape errors when `w` does not have the geometry's weight shape.
pub fn input_operator<T: Scalar>(g: &Geometry, w: &Tensor<T>) -> Result<Op<T>> {
    w.expect_shape(&g.w_shape(), "weights w")?;
    lowered(&expansion::<T>(g)?.input_view, &g.x_shape(), W, Some(w))
}

/// The layer as a linear map of `w` for a fixed input `x` (no bias): the operator whose adjoint
/// gives `dw` — the lowering of [`Expansion::weight_view`].
///
/// # Errors
/// Shape errors when `x` does not have the geometry's input shape.
pub fn weight_operator<T: Scalar>(g: &Geometry, x: &Tensor<T>) -> Result<Op<T>> {
    x.expect_shape(&g.x_shape(), "input x")?;
    lowered(&expansion::<T>(g)?.weight_view, &g.w_shape(), X, Some(x))
}

/// The bias broadcast of the layer, `b ↦ b` on every output position — the lowering of
/// [`Expansion::bias_view`].
///
/// # Errors
/// Never for a valid geometry.
pub fn bias_operator<T: Scalar>(g: &Geometry) -> Result<Op<T>> {
    lowered(&expansion::<T>(g)?.bias_view, &g.b_shape(), X, None)
}

/// Forward pass through the operator chain.
///
/// # Errors
/// Spec and shape errors.
pub fn forward<T: Scalar>(
    spec: &ConvSpec,
    x: &Tensor<T>,
    w: &Tensor<T>,
    b: Option<&Tensor<T>>,
) -> Result<Tensor<T>> {
    let g = spec.forward_geometry(x, w, b)?;
    let mut y = input_operator(&g, w)?.apply(x)?;
    if let Some(b) = b {
        y = y.add(&bias_operator(&g)?.apply(b)?)?;
    }
    Ok(y)
}

/// Gradients through the adjoint chains.
///
/// # Errors
/// Spec and shape errors.
pub fn backward<T: Scalar>(
    spec: &ConvSpec,
    x: &Tensor<T>,
    w: &Tensor<T>,
    dy: &Tensor<T>,
    with_bias: bool,
) -> Result<Grads<T>> {
    let g = spec.backward_geometry(x, w, dy)?;
    let dx = input_operator(&g, w)?.adjoint().apply(dy)?;
    let dw = weight_operator(&g, x)?.adjoint().apply(dy)?;
    let db = if with_bias {
        Some(bias_operator::<T>(&g)?.adjoint().apply(dy)?)
    } else {
        None
    };
    Ok(Grads { dx, dw, db })
}
