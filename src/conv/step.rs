//! One training step of a conv layer: [`Step::forward`] keeps what [`Step::backward`] needs.
//!
//! `Algorithm::Auto` resolves per direction (the forward pass and the gradients may run on
//! different paths, [`fast::cost`](super::fast::cost)); when both directions run on the FFT
//! path, the spectra of `x` and `w` from the forward pass serve the gradients
//! ([`FftConv`]), so a step transforms `x`, `w` and `dy` once each. The trainer
//! ([`crate::nn::Conv`]) and `fftconv bench` both run their layers through this type, so the
//! bench times what training runs.
//!
//! ```
//! use fftconv::conv::{Algorithm, ConvSpec, Padding, Step};
//! use fftconv::Tensor;
//! let spec = ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1]);
//! let (x, w) = (Tensor::<f64>::randn(&[2, 3, 12, 12], 1), Tensor::randn(&[4, 3, 5, 5], 2));
//! let mut step = Step::new(&spec, Algorithm::Fft);
//! let y = step.forward(&x, &w, None).unwrap();
//! let g = step.backward(&x, &w, &y, false).unwrap();
//! assert_eq!(g.dw.shape(), w.shape());
//! ```

use super::fast::FftConv;
use super::{backward, forward, Algorithm, ConvSpec, Grads};
use crate::error::Result;
use crate::tensor::{Scalar, Tensor};

/// A conv layer's forward pass and the state its gradients reuse.
pub struct Step<T: Scalar> {
    spec: ConvSpec,
    algorithm: Algorithm,
    /// The algorithms of the last forward pass and of its gradients.
    resolved: Option<(Algorithm, Algorithm)>,
    /// The FFT layer holding the spectra of the last forward pass (both directions on FFT).
    fft: Option<FftConv<T>>,
}

/// A clone keeps the resolved algorithms but not the spectra: its gradients recompute them
/// (same values, by the stateless path).
impl<T: Scalar> Clone for Step<T> {
    fn clone(&self) -> Self {
        Step {
            spec: self.spec.clone(),
            algorithm: self.algorithm,
            resolved: self.resolved,
            fft: None,
        }
    }
}

impl<T: Scalar> std::fmt::Debug for Step<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Step")
            .field("spec", &self.spec)
            .field("algorithm", &self.algorithm)
            .field("resolved", &self.resolved)
            .field("spectra_kept", &self.fft.is_some())
            .finish()
    }
}

impl<T: Scalar> Step<T> {
    /// A layer computed by `algorithm` (`Auto`: the cost model's choice per direction).
    pub fn new(spec: &ConvSpec, algorithm: Algorithm) -> Self {
        Step {
            spec: spec.clone(),
            algorithm,
            resolved: None,
            fft: None,
        }
    }

    /// The layer's spec.
    pub fn spec(&self) -> &ConvSpec {
        &self.spec
    }

    /// The algorithm asked for (before resolving).
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The algorithms `(forward, gradients)` of the last forward pass.
    pub fn algorithms(&self) -> Option<(Algorithm, Algorithm)> {
        self.resolved
    }

    /// Forward pass `conv(x; w) + b`; keeps the FFT spectra when the gradients will use them.
    ///
    /// # Errors
    /// As [`forward`].
    pub fn forward(
        &mut self,
        x: &Tensor<T>,
        w: &Tensor<T>,
        b: Option<&Tensor<T>>,
    ) -> Result<Tensor<T>> {
        let g = self.spec.forward_geometry(x, w, b)?;
        let (fwd, bwd) = (
            self.algorithm.resolve(&g),
            self.algorithm.resolve_backward(&g),
        );
        self.resolved = Some((fwd, bwd));
        if fwd == Algorithm::Fft && bwd == Algorithm::Fft {
            super::budget::guard_geometry(&g, fwd, size_of::<T>())?;
            let layer = match &mut self.fft {
                Some(l)
                    if l.geometry().x_shape() == x.shape()
                        && l.geometry().w_shape() == w.shape() =>
                {
                    l
                }
                slot => slot.insert(FftConv::new(&self.spec, x.shape(), w.shape())?),
            };
            return layer.forward(x, w, b);
        }
        self.fft = None;
        forward(&self.spec, x, w, b, fwd)
    }

    /// Gradients for upstream `dy` at the `x` and `w` of the last forward pass (the FFT
    /// path reads their spectra instead).
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] before any forward pass; as [`backward`].
    pub fn backward(
        &self,
        x: &Tensor<T>,
        w: &Tensor<T>,
        dy: &Tensor<T>,
        with_bias: bool,
    ) -> Result<Grads<T>> {
        let Some((_, bwd)) = self.resolved else {
            return Err(crate::Error::invalid(
                "conv Step::backward",
                "needs a forward pass first; call forward on the batch",
            ));
        };
        match &self.fft {
            Some(layer) => layer.backward(dy, with_bias),
            None => backward(&self.spec, x, w, dy, with_bias, bwd),
        }
    }
}
