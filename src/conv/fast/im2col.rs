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
//! Samples run in parallel (rayon); each GEMM is [`gemm`]. This is the core
//! of `Algorithm::Im2col` in the driver (`conv::driver`), which runs a transpose as its
//! conv's `∂x` (forward), forward (`∂x`) and `∂w` with input and cotangent swapped.
//!
//! ```
//! use fftconv::conv::{self, Algorithm, ConvSpec, Padding};
//! use fftconv::Tensor;
//! let spec = ConvSpec::conv(&[2], Padding::Same, &[1]);
//! let x = Tensor::<f32>::randn(&[1, 2, 9], 1);
//! let w = Tensor::<f32>::randn(&[3, 2, 3], 2);
//! let y = conv::forward(&spec, &x, &w, None, Algorithm::Im2col).unwrap();
//! assert_eq!(y.shape(), &[1, 3, 5]);
//! ```

use super::gemm::{gemm, Mat, MatMut};
use super::Layout;
use crate::conv::driver::ConvCore;
use crate::conv::spec::Geometry;
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

/// The plan of a conv geometry: its layout and tap table (the core of `Algorithm::Im2col`).
pub(crate) struct Im2col {
    conv: Geometry,
    lay: Layout,
    tab: Vec<u32>,
}

impl Im2col {
    /// Plan the conv geometry `c` (a transpose's [`Geometry::as_conv`]).
    pub(crate) fn new(c: &Geometry) -> Self {
        let lay = Layout::of(c);
        let tab = taps(&lay);
        Im2col {
            conv: c.clone(),
            lay,
            tab,
        }
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

impl<T: Scalar> ConvCore<T> for Im2col {
    fn forward(&self, x: &Tensor<T>, w: &Tensor<T>) -> Result<Tensor<T>> {
        Tensor::new(self.conv.y_shape(), self.conv_forward(x.data(), w.data()))
    }
    fn grad_x(&self, dy: &Tensor<T>, w: &Tensor<T>) -> Result<Tensor<T>> {
        Tensor::new(
            self.conv.x_shape(),
            self.conv_input_grad(dy.data(), w.data()),
        )
    }
    fn grad_w(&self, x: &Tensor<T>, dy: &Tensor<T>) -> Result<Tensor<T>> {
        Tensor::new(
            self.conv.w_shape(),
            self.conv_weight_grad(x.data(), dy.data()),
        )
    }
}
