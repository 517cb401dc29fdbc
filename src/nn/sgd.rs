//! Stochastic gradient descent with (heavy-ball) momentum.

use super::Network;
use crate::error::Result;
use crate::tensor::Tensor;

/// `v ← μ v + g`, `p ← p − η v` for every parameter `p` with gradient `g` (PyTorch's rule).
///
/// ```
/// use fftconv::nn::{Dense, Layer, Network, Sgd, FFT};
/// use fftconv::Tensor;
/// let mut net = Network::new(FFT);
/// net.push(Dense::new(2, 1, 0));
/// let y = net.forward(&Tensor::randn(&[3, 2], 1)).unwrap();
/// net.backward(&Tensor::new(vec![3, 1], vec![1.0; 3]).unwrap()).unwrap();
/// Sgd::new(0.1, 0.9).step(&mut net).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Sgd {
    /// Learning rate `η`.
    pub lr: f64,
    /// Momentum `μ` (0 = plain gradient descent).
    pub momentum: f64,
    velocity: Vec<Tensor>,
}

impl Sgd {
    /// An optimiser with learning rate `lr` and momentum `momentum`.
    pub fn new(lr: f64, momentum: f64) -> Self {
        Sgd {
            lr,
            momentum,
            velocity: Vec::new(),
        }
    }

    /// One update of every parameter of `net` from its last backward pass.
    ///
    /// # Errors
    /// [`crate::Error::Shape`] when the network's parameters changed shape between steps.
    pub fn step(&mut self, net: &mut Network) -> Result<()> {
        let params = net.params();
        if self.velocity.len() != params.len() {
            self.velocity = params
                .iter()
                .map(|p| Tensor::zeros(p.value.shape()))
                .collect();
        }
        for (p, v) in params.into_iter().zip(self.velocity.iter_mut()) {
            *v = v.scale(self.momentum);
            v.axpy(1.0, p.grad)?;
            p.value.axpy(-self.lr, v)?;
        }
        Ok(())
    }
}
