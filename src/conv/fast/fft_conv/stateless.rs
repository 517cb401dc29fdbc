//! [`FftCore`]: the FFT layer as a stateless core of the [`driver`](crate::conv::driver).

use super::super::contraction::BlockedSpectra;
use super::super::tiling::Tiling;
use super::super::Layout;
use super::FftConv;
use crate::conv::driver::ConvCore;
use crate::conv::spec::Geometry;
use crate::error::Result;
use crate::tensor::{Scalar, Tensor};

/// The fused FFT layer as a core of the [`driver`](crate::conv::driver): the layer planned once
/// for a conv geometry (tiling of the cost model), computing the spectra each call needs and
/// forgetting them (the `dy` spectra are shared by `∂x` and `∂w`, the `x` spectra by a
/// transpose's `∂x` and `∂w`). [`FftConv`] is the same layer keeping them between calls.
pub(crate) struct FftCore<T: Scalar>(FftConv<T>);

impl<T: Scalar> FftCore<T> {
    /// Plan the conv geometry `c` (a transpose's [`Geometry::as_conv`]).
    pub(crate) fn new(c: &Geometry) -> Self {
        let lay = Layout::of(c);
        let tiling = Tiling::plan(&lay);
        FftCore(FftConv::with_layout(c.clone(), lay, tiling))
    }

    /// The spectra of `w`, `x` and `dy`, as one parallel region (no barrier between them).
    fn all_spectra(
        &self,
        x: &Tensor<T>,
        w: &Tensor<T>,
        dy: &Tensor<T>,
    ) -> (BlockedSpectra<T>, BlockedSpectra<T>, BlockedSpectra<T>) {
        let l = &self.0;
        let (w_hat, (x_hat, dy_hat)) = rayon::join(
            || l.weight_spectra(w),
            || rayon::join(|| l.input_spectra(x), || l.cotangent_spectra(dy)),
        );
        (w_hat, x_hat, dy_hat)
    }
}

/// Each call runs on a rayon worker with its input spectra joined, as [`FftConv::forward`]
/// and [`FftConv::backward`] do. Two outputs (`∂x` and `∂w`, or `y` and `∂w`) are computed one
/// after the other, not joined: joined, both sets of product spectra are live at once
/// (2d-k7: 16.4 → 19.4 MB peak) for no measured gain in wall time.
impl<T: Scalar> ConvCore<T> for FftCore<T> {
    fn forward(&self, x: &Tensor<T>, w: &Tensor<T>) -> Result<Tensor<T>> {
        let l = &self.0;
        rayon::scope(|_| {
            if l.pointwise() {
                return Ok(l.pointwise_forward(x, &l.weight_spectra(w), false)?.1);
            }
            let (x_hat, w_hat) = rayon::join(|| l.input_spectra(x), || l.weight_spectra(w));
            l.conv_output(&x_hat, &w_hat, l.lay.output)
        })
    }

    fn grad_x(&self, dy: &Tensor<T>, w: &Tensor<T>) -> Result<Tensor<T>> {
        let l = &self.0;
        rayon::scope(|_| {
            let (g_hat, w_hat) = rayon::join(|| l.cotangent_spectra(dy), || l.weight_spectra(w));
            l.conv_input_grad(&g_hat, &w_hat)
        })
    }

    fn grad_w(&self, x: &Tensor<T>, dy: &Tensor<T>) -> Result<Tensor<T>> {
        let l = &self.0;
        rayon::scope(|_| {
            let (g_hat, x_hat) = rayon::join(|| l.cotangent_spectra(dy), || l.input_spectra(x));
            l.conv_weight_grad(&g_hat, &x_hat)
        })
    }

    fn grads(
        &self,
        x: &Tensor<T>,
        w: &Tensor<T>,
        dy: &Tensor<T>,
    ) -> Result<(Tensor<T>, Tensor<T>)> {
        let l = &self.0;
        rayon::scope(|_| {
            if l.pointwise() {
                let (w_hat, x_hat) = rayon::join(|| l.weight_spectra(w), || l.input_spectra(x));
                return l.pointwise_backward(dy, &x_hat, &w_hat);
            }
            let (w_hat, x_hat, dy_hat) = self.all_spectra(x, w, dy);
            Ok((
                l.conv_input_grad(&dy_hat, &w_hat)?,
                l.conv_weight_grad(&dy_hat, &x_hat)?,
            ))
        })
    }

    fn forward_and_grad_w(
        &self,
        x: &Tensor<T>,
        w: &Tensor<T>,
        dy: &Tensor<T>,
    ) -> Result<(Tensor<T>, Tensor<T>)> {
        let l = &self.0;
        rayon::scope(|_| {
            let (w_hat, x_hat, dy_hat) = self.all_spectra(x, w, dy);
            Ok((
                l.conv_output(&x_hat, &w_hat, l.lay.output)?,
                l.conv_weight_grad(&dy_hat, &x_hat)?,
            ))
        })
    }
}
