//! Just enough neural network to train CNN kernels through FFT convolutions.
//!
//! A [`Network`] is a sequence of [`Layer`]s; each layer caches what its backward pass needs
//! during `forward`, and `backward` maps `∂L/∂y` to `∂L/∂x` while storing the gradients of its
//! parameters. The conv layer ([`Conv`]) runs forward and both gradients through
//! [`crate::conv::forward`]/[`crate::conv::backward`] with the network's [`Algorithm`]: the FFT
//! operator chain ([`FFT`]) or the direct witness ([`Algorithm::Direct`]) for comparison.
//!
//! Layers: [`Conv`], [`Relu`], [`AvgPool`], [`MaxPool`], [`Flatten`], [`Dense`]; losses:
//! [`softmax_cross_entropy`], [`mse`]; optimiser: [`Sgd`] (momentum); seeded initialisation
//! in [`init`]. Data: [`shapes`] (procedural ten-class images) and [`idx`] (MNIST files).
//! [`tasks`] puts them together (`fftconv train`).
//!
//! One training step worked by hand, and backpropagation through two layers as the adjoint of
//! the composite: `derivations/15-training-step.md` (TRAIN-1, TRAIN-2).
//!
//! ```
//! use fftconv::nn::{Conv, Dense, Flatten, Layer, Network, Relu, softmax_cross_entropy, Sgd, FFT};
//! use fftconv::Tensor;
//! let mut net = Network::new(FFT);
//! net.push(Conv::same_2d(1, 2, 3, 7).unwrap());
//! net.push(Relu::default());
//! net.push(Flatten::default());
//! net.push(Dense::new(2 * 6 * 6, 3, 8));
//! let x = Tensor::randn(&[4, 1, 6, 6], 1);
//! let logits = net.forward(&x).unwrap();
//! let (loss, dlogits, _) = softmax_cross_entropy(&logits, &[0, 1, 2, 0]).unwrap();
//! net.backward(&dlogits).unwrap();
//! Sgd::new(0.1, 0.9).step(&mut net).unwrap();
//! assert!(loss.is_finite());
//! ```

mod avg_pool;
mod conv_layer;
mod dataset;
mod dense;
mod flatten;
pub mod idx;
pub mod init;
mod loss;
mod max_pool;
mod network;
mod relu;
mod sgd;
pub mod shapes;
pub mod tasks;

pub use avg_pool::AvgPool;
pub use conv_layer::Conv;
pub use dataset::Dataset;
pub use dense::Dense;
pub use flatten::Flatten;
pub use loss::{mse, softmax_cross_entropy};
pub use max_pool::MaxPool;
pub use network::Network;
pub use relu::Relu;
pub use sgd::Sgd;

pub use crate::conv::Algorithm;
use crate::error::Result;
use crate::tensor::Tensor;

/// The algorithm the networks use for their FFT runs: the fused FFT layer
/// ([`crate::conv::fast`]), checked against the operator chain and the direct loops by the test
/// suite. `Algorithm::Chain` runs the same training through the derivation's operator chain.
pub const FFT: Algorithm = Algorithm::Fft;

/// A trainable parameter and its gradient from the last backward pass.
pub struct Param<'a> {
    /// Name for reports, e.g. `conv.weight`.
    pub name: &'static str,
    /// The parameter, updated in place by the optimiser.
    pub value: &'a mut Tensor,
    /// `∂L/∂value` from the last [`Layer::backward`].
    pub grad: &'a Tensor,
}

/// One layer of a [`Network`].
pub trait Layer: Send {
    /// Short description, e.g. `conv 1→8 5×5 same`.
    fn describe(&self) -> String;
    /// `y = layer(x)`; caches what `backward` needs.
    ///
    /// # Errors
    /// Shape errors when `x` does not fit the layer.
    fn forward(&mut self, x: &Tensor) -> Result<Tensor>;
    /// `∂L/∂x` from `∂L/∂y`; stores the parameter gradients.
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] when called before `forward`; shape errors when `dy` does not
    /// have the output shape.
    fn backward(&mut self, dy: &Tensor) -> Result<Tensor>;
    /// The parameters with their gradients (empty for parameter-free layers).
    fn params(&mut self) -> Vec<Param<'_>> {
        Vec::new()
    }
    /// Choose how convolutions are computed (only conv layers care).
    fn set_algorithm(&mut self, _algorithm: Algorithm) {}
}

/// The error for a backward pass before any forward pass.
pub(crate) fn no_forward(layer: &str) -> crate::Error {
    crate::Error::invalid(
        layer,
        "backward called before forward; run forward on a batch first",
    )
}
