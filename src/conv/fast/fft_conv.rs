//! The fused FFT conv layer: forward, `∂x`, `∂w`, `∂b` for `Conv` and `ConvTranspose`.
//!
//! Per spatial axis the padded input (extent $S_p$, any padding mode) is embedded in a period
//! $P = $ [`fast_len`]$(S_p)$, the dilated kernel $h$ ($h_{d k} = w_k$) in the same period, and
//! with real-to-complex spectra $\hat x, \hat h$ over $P$:
//!
//! - forward (cross-correlation): $\hat y_{n,o} = \sum_{c \in \text{group}}
//!   \overline{\hat h_{o,c}}\,\hat x_{n,c}$, then $y_{n,o}[i] = \mathcal F^{-1}(\hat y_{n,o})[s\,i]$;
//!   no wrap-around reaches the kept outputs because $s\,i + d\,k \le S_p - 1 < P$;
//! - `∂x`: the upstream gradient zero-inserted at the kept positions, $\hat g$, gives
//!   $\widehat{\partial x_p}_{n,c} = \sum_o \hat h_{o,c}\,\hat g_{n,o}$; the padding is folded back
//!   (its adjoint) onto the input;
//! - `∂w`: $\widehat{\partial h}_{o,c} = \sum_n \overline{\hat g_{n,o}}\,\hat x_{n,c}$, read at the
//!   dilated taps.
//!
//! $\hat x$ and $\hat h$ are computed once by [`FftConv::forward`] and reused by
//! [`FftConv::backward`]. The contraction over channels is, per frequency, a small complex
//! matrix product; it runs over blocks of frequencies (so the accumulator stays in L1) with one
//! output channel row per rayon task, and depthwise layers (`groups = channels`) contract over
//! a single channel. A transpose is the input-adjoint of its [`Geometry::as_conv`]: its forward
//! is that conv's `∂x`, its `∂x` that conv's forward, its `∂w` that conv's `∂w` with the roles
//! of input and cotangent swapped.
//!
//! ```
//! use fftconv::conv::{fast::FftConv, ConvSpec, Padding};
//! use fftconv::Tensor;
//! let spec = ConvSpec::conv(&[1], Padding::Same, &[1]);
//! let x = Tensor::<f64>::randn(&[2, 3, 16], 1);
//! let w = Tensor::<f64>::randn(&[4, 3, 5], 2);
//! let mut layer = FftConv::new(&spec, x.shape(), w.shape()).unwrap();
//! let y = layer.forward(&x, &w, None).unwrap();
//! let grads = layer.backward(&y, true).unwrap(); // reuses the spectra of x and w
//! assert_eq!(grads.dw.shape(), w.shape());
//! ```

use super::Layout;
use crate::conv::spec::{ConvKind, ConvSpec, Geometry};
use crate::conv::Grads;
use crate::error::{Error, Result};
use crate::fft::{fast_len, RealFftNd};
use crate::tensor::{Scalar, Tensor};
use num_complex::Complex;
use rayon::prelude::*;
use std::sync::Arc;

type Spectrum<T> = Vec<Complex<T>>;

/// One term `(a, b)` of a contraction row: two spectra of equal length.
pub type Term<'a, T> = (&'a [Complex<T>], &'a [Complex<T>]);

/// Frequencies per block of the contraction (the accumulator block stays in L1).
const BLOCK: usize = 512;

/// A planned FFT conv layer for fixed shapes, holding the spectra of the last forward pass.
pub struct FftConv<T: Scalar> {
    geometry: Geometry,
    /// The conv (the layer, or the conv a transpose is the adjoint of).
    lay: Layout,
    period: [usize; 3],
    plan: Arc<RealFftNd<T>>,
    /// Spectra of the conv's input (Conv: x) or its output cotangent (transpose: x).
    act_hat: Vec<Spectrum<T>>,
    /// Spectra of the weights, `(c_out·cg)` of them in the conv's layout.
    w_hat: Vec<Spectrum<T>>,
}

impl<T: Scalar> FftConv<T> {
    /// Plan the layer `spec` for inputs of `x_shape` and weights of `w_shape`.
    ///
    /// # Errors
    /// Spec and shape errors of [`ConvSpec::geometry`].
    pub fn new(spec: &ConvSpec, x_shape: &[usize], w_shape: &[usize]) -> Result<Self> {
        let geometry = spec.geometry(x_shape, w_shape)?;
        let lay = Layout::of(&geometry.as_conv());
        let period = lay.padded.map(|e| if e > 1 { fast_len(e) } else { 1 });
        let plan = RealFftNd::plan(&period);
        Ok(FftConv {
            geometry,
            lay,
            period,
            plan,
            act_hat: Vec::new(),
            w_hat: Vec::new(),
        })
    }

    /// The resolved geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// The FFT period per spatial axis (normalised to 3 axes, leading 1s).
    pub fn period(&self) -> [usize; 3] {
        self.period
    }

    /// Bytes held by the cached spectra.
    pub fn cached_bytes(&self) -> usize {
        let bins: usize = self.act_hat.iter().chain(&self.w_hat).map(Vec::len).sum();
        bins * std::mem::size_of::<Complex<T>>()
    }

    /// Forward pass; keeps the spectra of `x` and `w` for [`backward`](Self::backward).
    ///
    /// # Errors
    /// Shapes other than the planned ones; a bias not of shape `(c_out,)`.
    pub fn forward(
        &mut self,
        x: &Tensor<T>,
        w: &Tensor<T>,
        b: Option<&Tensor<T>>,
    ) -> Result<Tensor<T>> {
        let g = &self.geometry;
        x.expect_shape(&g.x_shape(), "input x")?;
        w.expect_shape(&g.w_shape(), "weight w")?;
        if let Some(b) = b {
            b.expect_shape(&g.b_shape(), "bias b")?;
        }
        self.w_hat = self.weight_spectra(w);
        let mut y = match g.kind {
            ConvKind::Conv => {
                self.act_hat = self.input_spectra(x);
                self.conv_output(&self.act_hat, &self.w_hat, self.lay.output)
            }
            ConvKind::ConvTranspose => {
                self.act_hat = self.cotangent_spectra(x);
                self.conv_input_grad(&self.act_hat, &self.w_hat)
            }
        };
        if let Some(b) = b {
            let per: usize = y.shape()[2..].iter().product();
            let c = g.c_out;
            y.data_mut()
                .par_chunks_mut(per.max(1))
                .enumerate()
                .for_each(|(r, row)| {
                    let bv = b.data()[r % c];
                    row.iter_mut().for_each(|v| *v = *v + bv);
                });
        }
        Ok(y)
    }

    /// Gradients for upstream `dy`, from the spectra of the last [`forward`](Self::forward).
    ///
    /// # Errors
    /// [`Error::Invalid`] if `forward` has not run; `dy` not of the output shape.
    pub fn backward(&self, dy: &Tensor<T>, with_bias: bool) -> Result<Grads<T>> {
        let g = &self.geometry;
        if self.w_hat.is_empty() {
            return Err(Error::invalid(
                "FftConv::backward",
                "needs the spectra of a forward pass; call forward first",
            ));
        }
        dy.expect_shape(&g.y_shape(), "upstream gradient dy")?;
        let db = with_bias.then(|| bias_grad(dy));
        Ok(match g.kind {
            ConvKind::Conv => {
                let dy_hat = self.cotangent_spectra(dy);
                Grads {
                    dx: self.conv_input_grad(&dy_hat, &self.w_hat),
                    dw: self.conv_weight_grad(&dy_hat, &self.act_hat),
                    db,
                }
            }
            ConvKind::ConvTranspose => {
                let dy_hat = self.input_spectra(dy);
                let mut extent = [1; 3];
                extent[3 - g.rank()..].copy_from_slice(&g.input);
                Grads {
                    dx: self.conv_output(&dy_hat, &self.w_hat, extent),
                    dw: self.conv_weight_grad(&self.act_hat, &dy_hat),
                    db,
                }
            }
        })
    }

    fn spatial(&self, e: [usize; 3]) -> Vec<usize> {
        e[3 - self.geometry.rank()..].to_vec()
    }

    /// Spectra of the padded conv inputs, one per (n, c).
    fn input_spectra(&self, x: &Tensor<T>) -> Vec<Spectrum<T>> {
        let lay = &self.lay;
        let vol = lay.in_vol();
        let p = self.period;
        x.data()
            .par_chunks(vol)
            .map(|ch| {
                let mut buf = vec![T::zero(); p.iter().product()];
                lay.pad_into(ch, &mut buf, p);
                self.plan.forward(&buf)
            })
            .collect()
    }

    /// Spectra of the dilated kernels embedded in the period, one per (o, c).
    fn weight_spectra(&self, w: &Tensor<T>) -> Vec<Spectrum<T>> {
        let lay = &self.lay;
        let p = self.period;
        let k = lay.kernel;
        let dl = lay.dilation;
        w.data()
            .par_chunks(lay.k_vol())
            .map(|ch| {
                let mut buf = vec![T::zero(); p.iter().product()];
                for k0 in 0..k[0] {
                    for k1 in 0..k[1] {
                        for k2 in 0..k[2] {
                            let at = ((k0 * dl[0]) * p[1] + k1 * dl[1]) * p[2] + k2 * dl[2];
                            buf[at] = ch[(k0 * k[1] + k1) * k[2] + k2];
                        }
                    }
                }
                self.plan.forward(&buf)
            })
            .collect()
    }

    /// Spectra of conv output cotangents zero-inserted at the strided positions; `t` may be
    /// shorter than the conv output on any axis (missing entries are zeros).
    fn cotangent_spectra(&self, t: &Tensor<T>) -> Vec<Spectrum<T>> {
        let p = self.period;
        let s = self.lay.stride;
        let mut e = [1; 3];
        e[3 - self.geometry.rank()..].copy_from_slice(&t.shape()[2..]);
        let vol: usize = e.iter().product();
        t.data()
            .par_chunks(vol)
            .map(|ch| {
                let mut buf = vec![T::zero(); p.iter().product()];
                for i0 in 0..e[0] {
                    for i1 in 0..e[1] {
                        for i2 in 0..e[2] {
                            let at = ((i0 * s[0]) * p[1] + i1 * s[1]) * p[2] + i2 * s[2];
                            buf[at] = ch[(i0 * e[1] + i1) * e[2] + i2];
                        }
                    }
                }
                self.plan.forward(&buf)
            })
            .collect()
    }

    /// The conv's output from input spectra, read at the strided positions within `extent`.
    fn conv_output(
        &self,
        x_hat: &[Spectrum<T>],
        w_hat: &[Spectrum<T>],
        extent: [usize; 3],
    ) -> Tensor<T> {
        let lay = &self.lay;
        let p = self.period;
        let s = lay.stride;
        let vol: usize = extent.iter().product();
        let shape = [vec![lay.n, lay.c_out], self.spatial(extent)].concat();
        let mut y = Tensor::zeros(&shape);
        y.data_mut()
            .par_chunks_mut(vol)
            .enumerate()
            .for_each(|(row, out)| {
                let (n, o) = (row / lay.c_out, row % lay.c_out);
                let grp = o / lay.og;
                let terms: Vec<_> = (0..lay.cg)
                    .map(|c| {
                        (
                            w_hat[o * lay.cg + c].as_slice(),
                            x_hat[n * lay.c_in + grp * lay.cg + c].as_slice(),
                        )
                    })
                    .collect();
                let mut acc = contract(&terms, true);
                let full = self.plan.inverse(&mut acc);
                for i0 in 0..extent[0] {
                    for i1 in 0..extent[1] {
                        let src = ((i0 * s[0]) * p[1] + i1 * s[1]) * p[2];
                        let dst = (i0 * extent[1] + i1) * extent[2];
                        for i2 in 0..extent[2] {
                            out[dst + i2] = full[src + i2 * s[2]];
                        }
                    }
                }
            });
        y
    }

    /// The conv's input gradient from cotangent spectra (padding folded back).
    fn conv_input_grad(&self, g_hat: &[Spectrum<T>], w_hat: &[Spectrum<T>]) -> Tensor<T> {
        let lay = &self.lay;
        let shape = [vec![lay.n, lay.c_in], self.spatial(lay.input)].concat();
        let mut dx = Tensor::zeros(&shape);
        dx.data_mut()
            .par_chunks_mut(lay.in_vol())
            .enumerate()
            .for_each(|(row, out)| {
                let (n, c) = (row / lay.c_in, row % lay.c_in);
                let (grp, ci) = (c / lay.cg, c % lay.cg);
                let terms: Vec<_> = (0..lay.og)
                    .map(|oo| {
                        let o = grp * lay.og + oo;
                        (
                            w_hat[o * lay.cg + ci].as_slice(),
                            g_hat[n * lay.c_out + o].as_slice(),
                        )
                    })
                    .collect();
                let mut acc = contract(&terms, false);
                let full = self.plan.inverse(&mut acc);
                lay.fold_from(&full, self.period, out);
            });
        dx
    }

    /// The conv's weight gradient from cotangent and input spectra.
    fn conv_weight_grad(&self, g_hat: &[Spectrum<T>], x_hat: &[Spectrum<T>]) -> Tensor<T> {
        let lay = &self.lay;
        let p = self.period;
        let (k, dl) = (lay.kernel, lay.dilation);
        let shape = [vec![lay.c_out, lay.cg], self.spatial(lay.kernel)].concat();
        let mut dw = Tensor::zeros(&shape);
        dw.data_mut()
            .par_chunks_mut(lay.k_vol())
            .enumerate()
            .for_each(|(row, out)| {
                let (o, ci) = (row / lay.cg, row % lay.cg);
                let grp = o / lay.og;
                let terms: Vec<_> = (0..lay.n)
                    .map(|n| {
                        (
                            g_hat[n * lay.c_out + o].as_slice(),
                            x_hat[n * lay.c_in + grp * lay.cg + ci].as_slice(),
                        )
                    })
                    .collect();
                let mut acc = contract(&terms, true);
                let full = self.plan.inverse(&mut acc);
                for k0 in 0..k[0] {
                    for k1 in 0..k[1] {
                        for k2 in 0..k[2] {
                            let at = ((k0 * dl[0]) * p[1] + k1 * dl[1]) * p[2] + k2 * dl[2];
                            out[(k0 * k[1] + k1) * k[2] + k2] = full[at];
                        }
                    }
                }
            });
        dw
    }
}

/// `Σ_t op(a_t) ⊙ b_t` over frequencies, `op` = conjugate when `conj_a`; blocked over
/// frequencies so that each accumulator block stays in L1 while every term streams past it.
/// (One row of the per-frequency channel contraction; public for the benches.)
///
/// ```
/// use num_complex::Complex;
/// let a = [Complex::new(1.0f64, 2.0)];
/// let b = [Complex::new(3.0f64, 0.0)];
/// let r = fftconv::conv::fast::fft_conv::contract(&[(&a[..], &b[..])], true);
/// assert_eq!(r[0], Complex::new(3.0, -6.0));
/// ```
pub fn contract<T: Scalar>(terms: &[Term<'_, T>], conj_a: bool) -> Spectrum<T> {
    let len = terms.first().map_or(0, |t| t.0.len());
    let mut acc = vec![Complex::new(T::zero(), T::zero()); len];
    let sign = if conj_a { -T::one() } else { T::one() };
    for start in (0..len).step_by(BLOCK) {
        let end = (start + BLOCK).min(len);
        let blk = &mut acc[start..end];
        for (a, b) in terms {
            for ((r, a), b) in blk.iter_mut().zip(&a[start..end]).zip(&b[start..end]) {
                let ai = sign * a.im;
                r.re = r.re + a.re * b.re - ai * b.im;
                r.im = r.im + a.re * b.im + ai * b.re;
            }
        }
    }
    acc
}

fn bias_grad<T: Scalar>(dy: &Tensor<T>) -> Tensor<T> {
    let c = dy.shape()[1];
    let per: usize = dy.shape()[2..].iter().product();
    let mut db = vec![0.0f64; c];
    for (r, row) in dy.data().chunks(per.max(1)).enumerate() {
        db[r % c] += row.iter().map(|v| v.as_f64()).sum::<f64>();
    }
    Tensor::new(vec![c], db.into_iter().map(T::of).collect()).expect("bias shape")
}

/// Forward pass by the fused FFT layer (plans the layer, computes, forgets the spectra).
///
/// # Errors
/// Spec and shape errors of [`ConvSpec::geometry`]; a bias not of shape `(c_out,)`.
pub fn forward<T: Scalar>(
    spec: &ConvSpec,
    x: &Tensor<T>,
    w: &Tensor<T>,
    b: Option<&Tensor<T>>,
) -> Result<Tensor<T>> {
    FftConv::new(spec, x.shape(), w.shape())?.forward(x, w, b)
}

/// Gradients by the fused FFT layer without a cached forward pass (computes the spectra of
/// `x` and `w`, then runs [`FftConv::backward`]).
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
    let mut layer = FftConv::new(spec, x.shape(), w.shape())?;
    x.expect_shape(&layer.geometry.x_shape(), "input x")?;
    w.expect_shape(&layer.geometry.w_shape(), "weight w")?;
    layer.w_hat = layer.weight_spectra(w);
    layer.act_hat = match layer.geometry.kind {
        ConvKind::Conv => layer.input_spectra(x),
        ConvKind::ConvTranspose => layer.cotangent_spectra(x),
    };
    layer.backward(dy, with_bias)
}

/// Floating-point operations of the FFT path: `(forward, forward + ∂x + ∂w)`, counting a real
/// transform of `N` samples as `2.5·N·log2 N` and a complex multiply-add as 8.
pub fn flops(g: &Geometry) -> (f64, f64) {
    let c = g.as_conv();
    let lay = Layout::of(&c);
    let p: Vec<usize> = lay
        .padded
        .iter()
        .map(|&e| if e > 1 { fast_len(e) } else { 1 })
        .collect();
    let n_real: f64 = p.iter().map(|&e| e as f64).product();
    let bins = n_real / p[2] as f64 * (p[2] / 2 + 1) as f64;
    let fft = 2.5 * n_real * n_real.log2().max(1.0);
    let (n, ci, co, cg) = (
        lay.n as f64,
        lay.c_in as f64,
        lay.c_out as f64,
        lay.cg as f64,
    );
    let contraction = 8.0 * bins * n * co * cg;
    let fwd = (n * ci + co * cg + n * co) * fft + contraction;
    let bwd = (n * co + n * ci + co * cg) * fft + 2.0 * contraction;
    (fwd, fwd + bwd)
}
