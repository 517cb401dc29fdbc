//! Dense (fully connected) layer: `y = x Wᵀ + b`.

use super::{init, no_forward, Layer, Param};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// `y[n,o] = b[o] + Σ_f W[o,f] x[n,f]` with `W: (O, F)`, `b: (O)`.
///
/// Gradients: `dx = dy W`, `dW = dyᵀ x`, `db = Σ_n dy[n]`.
///
/// ```
/// use fftconv::nn::{Dense, Layer};
/// use fftconv::Tensor;
/// let mut d = Dense::new(4, 3, 1);
/// assert_eq!(d.forward(&Tensor::randn(&[5, 4], 2)).unwrap().shape(), &[5, 3]);
/// ```
#[derive(Clone, Debug)]
pub struct Dense {
    /// Weight `(O, F)`.
    pub weight: Tensor,
    /// Bias `(O)`.
    pub bias: Tensor,
    dw: Tensor,
    db: Tensor,
    x: Option<Tensor>,
}

impl Dense {
    /// A `inputs → outputs` layer, Glorot-uniform weight from `seed`, zero bias.
    pub fn new(inputs: usize, outputs: usize, seed: u64) -> Self {
        let weight = init::glorot_uniform(&[outputs, inputs], inputs, outputs, seed);
        Dense {
            dw: Tensor::zeros(weight.shape()),
            db: Tensor::zeros(&[outputs]),
            bias: Tensor::zeros(&[outputs]),
            weight,
            x: None,
        }
    }
}

impl Layer for Dense {
    fn describe(&self) -> String {
        format!(
            "dense {}→{}",
            self.weight.shape()[1],
            self.weight.shape()[0]
        )
    }

    fn forward(&mut self, x: &Tensor) -> Result<Tensor> {
        let (o, f) = (self.weight.shape()[0], self.weight.shape()[1]);
        if x.ndim() != 2 || x.shape()[1] != f {
            return Err(Error::shape(
                "dense layer input",
                &[x.shape().first().copied().unwrap_or(0), f],
                x.shape(),
            ));
        }
        let n = x.shape()[0];
        let (w, b, xd) = (self.weight.data(), self.bias.data(), x.data());
        let mut y = vec![0.0; n * o];
        for i in 0..n {
            let xi = &xd[i * f..(i + 1) * f];
            for j in 0..o {
                let wj = &w[j * f..(j + 1) * f];
                y[i * o + j] = b[j] + xi.iter().zip(wj).map(|(a, c)| a * c).sum::<f64>();
            }
        }
        self.x = Some(x.clone());
        Tensor::new(vec![n, o], y)
    }

    fn backward(&mut self, dy: &Tensor) -> Result<Tensor> {
        let x = self.x.as_ref().ok_or_else(|| no_forward("dense layer"))?;
        let (o, f) = (self.weight.shape()[0], self.weight.shape()[1]);
        let n = x.shape()[0];
        dy.expect_shape(&[n, o], "dense layer dy")?;
        let (w, xd, g) = (self.weight.data(), x.data(), dy.data());
        let mut dx = vec![0.0; n * f];
        let mut dw = vec![0.0; o * f];
        let mut db = vec![0.0; o];
        for i in 0..n {
            for j in 0..o {
                let gij = g[i * o + j];
                db[j] += gij;
                for k in 0..f {
                    dx[i * f + k] += gij * w[j * f + k];
                    dw[j * f + k] += gij * xd[i * f + k];
                }
            }
        }
        self.dw = Tensor::new(vec![o, f], dw)?;
        self.db = Tensor::new(vec![o], db)?;
        Tensor::new(vec![n, f], dx)
    }

    fn params(&mut self) -> Vec<Param<'_>> {
        vec![
            Param {
                name: "dense.weight",
                value: &mut self.weight,
                grad: &self.dw,
            },
            Param {
                name: "dense.bias",
                value: &mut self.bias,
                grad: &self.db,
            },
        ]
    }
}
