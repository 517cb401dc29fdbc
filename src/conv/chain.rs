//! The conv layer as a chain of linear operators, run by FFT — the reference path.
//!
//! Per spatial axis, with padded extent $S_p = S + lo + hi$, dilated kernel extent
//! $K_d = d(K-1)+1$ and a period $P \ge S_p$ rounded up to a fast FFT length:
//!
//! - **conv**, as a map of `x`:
//!   $y = \text{subsample}_s \circ \text{crop}_{[K_d-1,\,P-S_p]} \circ \operatorname{circ}(h)
//!   \circ \text{zero\_pad}_{[0,\,P-S_p]} \circ \text{pad}_{mode,\[lo,hi\]}\,(x)$ with the kernel
//!   $h = \text{zero\_pad}_{[0,P-K_d]} \circ \text{flip} \circ \text{dilate}_d\,(w)$
//!   (cross-correlation is convolution with the flipped kernel; the crop keeps the
//!   "valid" part, where no circular wrap-around reaches);
//! - **conv**, as a map of `w` (the bilinear swap $\operatorname{circ}(h)\,x_p =
//!   \operatorname{circ}(x_p)\,h$): $y = \text{subsample} \circ \text{crop} \circ
//!   \operatorname{circ}(x_p) \circ \text{zero\_pad} \circ \text{flip} \circ \text{dilate}\,(w)$;
//! - **conv_transpose** mirrors it: $y = \text{crop}_{[lo,\,\cdot]} \circ \operatorname{circ}(h_t)
//!   \circ \text{zero\_pad} \circ \text{zero\_insert}_s\,(x)$ with
//!   $h_t = \text{zero\_pad} \circ \text{dilate} \circ \text{group\_transpose}\,(w)$, no flip.
//!
//! Gradients are the adjoints of these chains: `dx = (map of x)*(dy)`,
//! `dw = (map of w)*(dy)`, `db = broadcast*(dy)`.

use super::spec::{ConvKind, ConvSpec, Geometry};
use super::Grads;
use crate::error::Result;
use crate::fft::fast_len;
use crate::op::{
    chain, BiasBroadcast, CircularConv, CircularConvWeight, Crop, Dilate, Flip, GroupTranspose,
    LinearOp, Op, Pad, PadMode, Subsample, ZeroInsert, ZeroPad,
};
use crate::tensor::{Scalar, Tensor};
use std::sync::Arc;

/// The FFT period per axis of a conv geometry, and the extents it needs.
fn conv_period(g: &Geometry) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let kd = g.dilated_kernel();
    let sp: Vec<usize> = (0..g.rank())
        .map(|a| g.input[a] + g.pads[a].0 + g.pads[a].1)
        .collect();
    let p = sp.iter().map(|&s| fast_len(s)).collect();
    (p, sp, kd)
}

/// Extent of the zero-inserted input of a transpose, and the period.
fn transpose_period(g: &Geometry) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let kd = g.dilated_kernel();
    let lu: Vec<usize> = (0..g.rank())
        .map(|a| (g.input[a] - 1) * g.stride[a] + 1)
        .collect();
    let p = (0..g.rank())
        .map(|a| fast_len((lu[a] + kd[a] - 1 + g.output_padding[a]).max(g.pads[a].0 + g.output[a])))
        .collect();
    (p, lu, kd)
}

fn shape_with(lead: &[usize], spatial: &[usize]) -> Vec<usize> {
    [lead.to_vec(), spatial.to_vec()].concat()
}

/// The kernel-side chain `w ↦ h` (embedded in the period), as operators on weight tensors.
fn kernel_chain<T: Scalar>(g: &Geometry, p: &[usize], kd: &[usize]) -> Result<Vec<Op<T>>> {
    let d = g.rank();
    let w_shape = g.w_shape();
    let mut ops: Vec<Op<T>> = Vec::new(); // applied first → last
    let mut shape = w_shape.clone();
    if g.kind == ConvKind::ConvTranspose {
        let t = GroupTranspose::new(&shape, g.groups)?;
        shape = LinearOp::<T>::codomain(&t).to_vec();
        ops.push(Arc::new(t));
    }
    if g.dilation.iter().any(|&dl| dl != 1) {
        let dil = Dilate::new(&shape, &g.dilation)?;
        shape = LinearOp::<T>::codomain(&dil).to_vec();
        ops.push(Arc::new(dil));
    }
    if g.kind == ConvKind::Conv {
        ops.push(Arc::new(Flip::new(&shape, d)?));
    }
    let embed: Vec<(usize, usize)> = (0..d).map(|a| (0, p[a] - kd[a])).collect();
    if embed.iter().any(|&(_, h)| h > 0) {
        ops.push(Arc::new(ZeroPad::new(&shape, &embed)?));
    }
    Ok(ops)
}

/// The signal-side chain `x ↦ x_P` (padded and embedded in the period).
fn signal_chain<T: Scalar>(g: &Geometry, p: &[usize], inner: &[usize]) -> Result<Vec<Op<T>>> {
    let d = g.rank();
    let mut ops: Vec<Op<T>> = Vec::new();
    let mut shape = g.x_shape();
    match g.kind {
        ConvKind::Conv => {
            if g.pads.iter().any(|&(lo, hi)| lo + hi > 0) {
                let op: Op<T> = if g.padding_mode == PadMode::Zeros {
                    Arc::new(ZeroPad::new(&shape, &g.pads)?)
                } else {
                    Arc::new(Pad::new(g.padding_mode, &shape, &g.pads)?)
                };
                shape = op.codomain().to_vec();
                ops.push(op);
            }
        }
        ConvKind::ConvTranspose => {
            if g.stride.iter().any(|&s| s != 1) {
                let z = ZeroInsert::new(&shape_with(&shape[..2], inner), &g.stride)?;
                shape = LinearOp::<T>::codomain(&z).to_vec();
                ops.push(Arc::new(z));
            }
        }
    }
    let embed: Vec<(usize, usize)> = (0..d).map(|a| (0, p[a] - shape[2 + a])).collect();
    if embed.iter().any(|&(_, h)| h > 0) {
        ops.push(Arc::new(ZeroPad::new(&shape, &embed)?));
    }
    Ok(ops)
}

/// The output-side chain: crop out the wanted window of the circular result, then stride.
fn output_chain<T: Scalar>(
    g: &Geometry,
    p: &[usize],
    sp_or_lu: &[usize],
    kd: &[usize],
) -> Result<Vec<Op<T>>> {
    let d = g.rank();
    let mut ops: Vec<Op<T>> = Vec::new();
    let shape = shape_with(&[g.n, g.c_out], p);
    let trims: Vec<(usize, usize)> = match g.kind {
        ConvKind::Conv => (0..d).map(|a| (kd[a] - 1, p[a] - sp_or_lu[a])).collect(),
        ConvKind::ConvTranspose => (0..d)
            .map(|a| (g.pads[a].0, p[a] - g.pads[a].0 - g.output[a]))
            .collect(),
    };
    let crop_shape = if trims.iter().any(|&(lo, hi)| lo + hi > 0) {
        let c = Crop::new(&shape, &trims)?;
        let s = LinearOp::<T>::codomain(&c).to_vec();
        ops.push(Arc::new(c));
        s
    } else {
        shape
    };
    if g.kind == ConvKind::Conv && g.stride.iter().any(|&s| s != 1) {
        ops.push(Arc::new(Subsample::new(&crop_shape, &g.stride)?));
    }
    Ok(ops)
}

fn periods(g: &Geometry) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    match g.kind {
        ConvKind::Conv => conv_period(g),
        ConvKind::ConvTranspose => transpose_period(g),
    }
}

/// Build a chain from ops listed in application order.
fn in_order<T: Scalar>(mut ops: Vec<Op<T>>) -> Result<Op<T>> {
    ops.reverse();
    chain(ops)
}

/// The layer as a linear map of `x` for fixed weights `w` (no bias): the operator whose adjoint
/// gives `dx`.
///
/// # Errors
/// Shape errors when `w` does not have the geometry's weight shape.
pub fn input_operator<T: Scalar>(g: &Geometry, w: &Tensor<T>) -> Result<Op<T>> {
    w.expect_shape(&g.w_shape(), "weights w")?;
    let (p, inner, kd) = periods(g);
    let mut h = w.clone();
    for op in kernel_chain::<T>(g, &p, &kd)? {
        h = op.apply(&h)?;
    }
    let mut ops = signal_chain::<T>(g, &p, &inner)?;
    ops.push(Arc::new(CircularConv::new(&h, g.n, g.groups)?));
    ops.extend(output_chain::<T>(g, &p, &inner, &kd)?);
    in_order(ops)
}

/// The layer as a linear map of `w` for a fixed input `x` (no bias): the operator whose adjoint
/// gives `dw`.
///
/// # Errors
/// Shape errors when `x` does not have the geometry's input shape.
pub fn weight_operator<T: Scalar>(g: &Geometry, x: &Tensor<T>) -> Result<Op<T>> {
    x.expect_shape(&g.x_shape(), "input x")?;
    let (p, inner, kd) = periods(g);
    let mut xp = x.clone();
    for op in signal_chain::<T>(g, &p, &inner)? {
        xp = op.apply(&xp)?;
    }
    let mut ops = kernel_chain::<T>(g, &p, &kd)?;
    ops.push(Arc::new(CircularConvWeight::new(&xp, g.c_out, g.groups)?));
    ops.extend(output_chain::<T>(g, &p, &inner, &kd)?);
    in_order(ops)
}

/// The bias broadcast of the layer: `b ↦ b` on every output position.
///
/// # Errors
/// Never for a valid geometry.
pub fn bias_operator<T: Scalar>(g: &Geometry) -> Result<Op<T>> {
    Ok(Arc::new(BiasBroadcast::new(&g.y_shape())?))
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
