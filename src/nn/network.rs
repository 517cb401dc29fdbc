//! A sequential network whose conv layers share one [`Algorithm`].

use super::{Algorithm, Layer, Param};
use crate::error::Result;
use crate::tensor::Tensor;

/// Layers applied in order; `backward` runs them in reverse.
///
/// ```
/// use fftconv::nn::{Algorithm, Conv, Layer, Network, FFT};
/// use fftconv::Tensor;
/// let mut net = Network::new(FFT);
/// net.push(Conv::same_2d(1, 2, 3, 1).unwrap());
/// let x = Tensor::randn(&[1, 1, 5, 5], 0);
/// let y_fft = net.forward(&x).unwrap();
/// net.set_algorithm(Algorithm::Direct);
/// let y_direct = net.forward(&x).unwrap();
/// assert!(y_fft.sub(&y_direct).unwrap().max_abs() < 1e-12);
/// ```
pub struct Network {
    layers: Vec<Box<dyn Layer>>,
    algorithm: Algorithm,
}

impl Network {
    /// An empty network whose conv layers will use `algorithm`.
    pub fn new(algorithm: Algorithm) -> Self {
        Network {
            layers: Vec::new(),
            algorithm,
        }
    }

    /// Append a layer (its convolutions switched to the network's algorithm).
    pub fn push(&mut self, mut layer: impl Layer + 'static) {
        layer.set_algorithm(self.algorithm);
        self.layers.push(Box::new(layer));
    }

    /// The algorithm of the conv layers.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Switch every conv layer to `algorithm`.
    pub fn set_algorithm(&mut self, algorithm: Algorithm) {
        self.algorithm = algorithm;
        for l in &mut self.layers {
            l.set_algorithm(algorithm);
        }
    }

    /// The layers, in order.
    pub fn layers(&self) -> &[Box<dyn Layer>] {
        &self.layers
    }

    /// Forward pass through every layer.
    ///
    /// # Errors
    /// The first layer error (shape mismatch).
    pub fn forward(&mut self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        for l in &mut self.layers {
            h = l.forward(&h)?;
        }
        Ok(h)
    }

    /// Backward pass from `∂L/∂output`; returns `∂L/∂input` and leaves parameter gradients in
    /// the layers.
    ///
    /// # Errors
    /// The first layer error.
    pub fn backward(&mut self, dy: &Tensor) -> Result<Tensor> {
        let mut g = dy.clone();
        for l in self.layers.iter_mut().rev() {
            g = l.backward(&g)?;
        }
        Ok(g)
    }

    /// Every parameter with its gradient, layer by layer.
    pub fn params(&mut self) -> Vec<Param<'_>> {
        self.layers.iter_mut().flat_map(|l| l.params()).collect()
    }

    /// Number of trainable scalars.
    pub fn num_params(&mut self) -> usize {
        self.params().iter().map(|p| p.value.len()).sum()
    }

    /// One line per layer.
    pub fn describe(&self) -> Vec<String> {
        self.layers.iter().map(|l| l.describe()).collect()
    }
}
