//! The direct path for small kernels: sliding windows unrolled into a matrix (im2col) and one
//! GEMM per (sample, group).
//!
//! With `col[(c,k), i] = x_p[c, s·i + d·k]` (the padded input read through the padding maps of
//! `Layout`) and `W_g` the `(C_out/g) × (C_in/g · K)` weight matrix of group `g`:
//!
//! - forward: `y_g = W_g · col`;
//! - `∂x`: `dcol = W_gᵀ · dy_g`, scattered back through the same index table (col2im, which
//!   also folds the padding: every tap adds onto the input sample it read);
//! - `∂w`: `dW_g = Σ_n dy_{n,g} · col_nᵀ`.
//!
//! Samples run in parallel (rayon); each GEMM is [`gemm`]. A transpose is
//! its conv's `∂x` (forward), forward (`∂x`) and `∂w` with input and cotangent swapped.
//!
//! ```
//! use fftconv::conv::{fast::im2col, ConvSpec, Padding};
//! use fftconv::Tensor;
//! let spec = ConvSpec::conv(&[2], Padding::Same, &[1]);
//! let x = Tensor::<f32>::randn(&[1, 2, 9], 1);
//! let w = Tensor::<f32>::randn(&[3, 2, 3], 2);
//! let y = im2col::forward(&spec, &x, &w, None).unwrap();
//! assert_eq!(y.shape(), &[1, 3, 5]);
//! ```

use super::gemm::{gemm, Mat, MatMut};
use super::Layout;
use crate::conv::spec::{ConvKind, ConvSpec, Geometry};
use crate::conv::Grads;
use crate::error::Result;
use crate::tensor::{Scalar, Tensor};
use rayon::prelude::*;

const PAD: u32 = u32::MAX;

/// For each (kernel tap, output position) the flat input index it reads, or `PAD`.
fn taps(lay: &Layout) -> Vec<u32> {
    let (k, o, s, d) = (lay.kernel, lay.output, lay.stride, lay.dilation);
    let [_, i1, i2] = lay.input;
    let mut tab = Vec::with_capacity(lay.k_vol() * lay.out_vol());
    for k0 in 0..k[0] {
        for k1 in 0..k[1] {
            for k2 in 0..k[2] {
                for o0 in 0..o[0] {
                    let s0 = lay.maps[0][s[0] * o0 + d[0] * k0];
                    for o1 in 0..o[1] {
                        let s1 = lay.maps[1][s[1] * o1 + d[1] * k1];
                        for o2 in 0..o[2] {
                            let s2 = lay.maps[2][s[2] * o2 + d[2] * k2];
                            tab.push(match (s0, s1, s2) {
                                (Some(a), Some(b), Some(c)) => ((a * i1 + b) * i2 + c) as u32,
                                _ => PAD,
                            });
                        }
                    }
                }
            }
        }
    }
    tab
}

/// Unroll the channels of group `grp` of one sample into `col` (`cg·K` rows of `out_vol`).
fn fill_col<T: Scalar>(lay: &Layout, tab: &[u32], xs: &[T], grp: usize, col: &mut [T]) {
    let (kv, ov, iv) = (lay.k_vol(), lay.out_vol(), lay.in_vol());
    for ci in 0..lay.cg {
        let ch = &xs[(grp * lay.cg + ci) * iv..][..iv];
        for kk in 0..kv {
            let row = &mut col[(ci * kv + kk) * ov..][..ov];
            for (r, &t) in row.iter_mut().zip(&tab[kk * ov..(kk + 1) * ov]) {
                *r = if t == PAD { T::zero() } else { ch[t as usize] };
            }
        }
    }
}

struct Ctx {
    lay: Layout,
    tab: Vec<u32>,
}

impl Ctx {
    fn new(g: &Geometry) -> Self {
        let lay = Layout::of(&g.as_conv());
        let tab = taps(&lay);
        Ctx { lay, tab }
    }

    fn kdim(&self) -> usize {
        self.lay.cg * self.lay.k_vol()
    }

    /// The conv's output, `(n, c_out, out)`.
    fn conv_forward<T: Scalar>(&self, x: &[T], w: &[T]) -> Vec<T> {
        let lay = &self.lay;
        let (ov, kd) = (lay.out_vol(), self.kdim());
        let mut y = vec![T::zero(); lay.n * lay.c_out * ov];
        y.par_chunks_mut(lay.c_out * ov)
            .zip(x.par_chunks(lay.c_in * lay.in_vol()))
            .for_each(|(yn, xn)| {
                let mut col = vec![T::zero(); kd * ov];
                for grp in 0..lay.groups {
                    fill_col(lay, &self.tab, xn, grp, &mut col);
                    gemm(
                        Mat::row_major(&w[grp * lay.og * kd..], lay.og, kd),
                        Mat::row_major(&col, kd, ov),
                        MatMut::row_major(&mut yn[grp * lay.og * ov..], lay.og, ov),
                        T::zero(),
                    );
                }
            });
        y
    }

    /// The conv's input gradient, `(n, c_in, in)`.
    fn conv_input_grad<T: Scalar>(&self, dy: &[T], w: &[T]) -> Vec<T> {
        let lay = &self.lay;
        let (ov, kd, kv, iv) = (lay.out_vol(), self.kdim(), lay.k_vol(), lay.in_vol());
        let mut dx = vec![T::zero(); lay.n * lay.c_in * iv];
        dx.par_chunks_mut(lay.c_in * iv)
            .zip(dy.par_chunks(lay.c_out * ov))
            .for_each(|(dxn, dyn_)| {
                let mut dcol = vec![T::zero(); kd * ov];
                for grp in 0..lay.groups {
                    gemm(
                        Mat::row_major(&w[grp * lay.og * kd..], lay.og, kd).t(),
                        Mat::row_major(&dyn_[grp * lay.og * ov..], lay.og, ov),
                        MatMut::row_major(&mut dcol, kd, ov),
                        T::zero(),
                    );
                    for ci in 0..lay.cg {
                        let ch = &mut dxn[(grp * lay.cg + ci) * iv..][..iv];
                        for kk in 0..kv {
                            let row = &dcol[(ci * kv + kk) * ov..][..ov];
                            for (&v, &t) in row.iter().zip(&self.tab[kk * ov..(kk + 1) * ov]) {
                                if t != PAD {
                                    ch[t as usize] = ch[t as usize] + v;
                                }
                            }
                        }
                    }
                }
            });
        dx
    }

    /// The conv's weight gradient, `(c_out, cg, k)`.
    fn conv_weight_grad<T: Scalar>(&self, x: &[T], dy: &[T]) -> Vec<T> {
        let lay = &self.lay;
        let (ov, kd) = (lay.out_vol(), self.kdim());
        let wlen = lay.c_out * kd;
        x.par_chunks(lay.c_in * lay.in_vol())
            .zip(dy.par_chunks(lay.c_out * ov))
            .fold(
                || (vec![T::zero(); wlen], vec![T::zero(); kd * ov]),
                |(mut dw, mut col), (xn, dyn_)| {
                    for grp in 0..lay.groups {
                        fill_col(lay, &self.tab, xn, grp, &mut col);
                        gemm(
                            Mat::row_major(&dyn_[grp * lay.og * ov..], lay.og, ov),
                            Mat::row_major(&col, kd, ov).t(),
                            MatMut::row_major(&mut dw[grp * lay.og * kd..], lay.og, kd),
                            T::one(),
                        );
                    }
                    (dw, col)
                },
            )
            .map(|(dw, _)| dw)
            .reduce(
                || vec![T::zero(); wlen],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(a, b)| *a = *a + *b);
                    a
                },
            )
    }
}

fn with_spatial(lead: [usize; 2], spatial: &[usize]) -> Vec<usize> {
    [lead.to_vec(), spatial.to_vec()].concat()
}

/// Extend the spatial axes of `t` with zeros at the high end up to `extent`.
pub(super) fn pad_tail<T: Scalar>(t: &Tensor<T>, extent: &[usize]) -> Tensor<T> {
    let shape = with_spatial([t.shape()[0], t.shape()[1]], extent);
    if shape == t.shape() {
        return t.clone();
    }
    Tensor::from_fn(&shape, |idx| {
        if idx[2..].iter().zip(&t.shape()[2..]).all(|(i, n)| i < n) {
            t.get(idx)
        } else {
            T::zero()
        }
    })
}

/// Forward pass by im2col + GEMM.
///
/// # Errors
/// Spec and shape errors of [`ConvSpec::geometry`]; a bias not of shape `(c_out,)`.
pub fn forward<T: Scalar>(
    spec: &ConvSpec,
    x: &Tensor<T>,
    w: &Tensor<T>,
    b: Option<&Tensor<T>>,
) -> Result<Tensor<T>> {
    let g = spec.forward_geometry(x, w, b)?;
    let c = g.as_conv();
    let ctx = Ctx::new(&g);
    let data = match g.kind {
        ConvKind::Conv => ctx.conv_forward(x.data(), w.data()),
        ConvKind::ConvTranspose => ctx.conv_input_grad(pad_tail(x, &c.output).data(), w.data()),
    };
    let mut y = Tensor::new(g.y_shape(), data)?;
    if let Some(b) = b {
        super::add_bias(&mut y, b);
    }
    Ok(y)
}

/// Gradients by im2col + GEMM.
///
/// # Errors
/// Spec and shape errors of [`ConvSpec::geometry`]; `dy` must have the output shape.
pub fn backward<T: Scalar>(
    spec: &ConvSpec,
    x: &Tensor<T>,
    w: &Tensor<T>,
    dy: &Tensor<T>,
    with_bias: bool,
) -> Result<Grads<T>> {
    let g = spec.backward_geometry(x, w, dy)?;
    let c = g.as_conv();
    let ctx = Ctx::new(&g);
    let (dx, dw) = match g.kind {
        ConvKind::Conv => (
            ctx.conv_input_grad(dy.data(), w.data()),
            ctx.conv_weight_grad(x.data(), dy.data()),
        ),
        ConvKind::ConvTranspose => {
            let full = Tensor::new(c.y_shape(), ctx.conv_forward(dy.data(), w.data()))?;
            let dx = Tensor::from_fn(&g.x_shape(), |idx| full.get(idx)).into_data();
            let xt = pad_tail(x, &c.output);
            (dx, ctx.conv_weight_grad(dy.data(), xt.data()))
        }
    };
    let db = with_bias.then(|| super::bias_grad(dy));
    Ok(Grads {
        dx: Tensor::new(g.x_shape(), dx)?,
        dw: Tensor::new(g.w_shape(), dw)?,
        db,
    })
}
