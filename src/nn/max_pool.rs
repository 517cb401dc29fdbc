//! Max pooling over non-overlapping `k×k` windows of `(N, C, H, W)`.

use super::avg_pool::pool_dims;
use super::{no_forward, Layer};
use crate::error::Result;
use crate::tensor::Tensor;

/// `y[n,c,i,j] = max of x[n,c, k·i..k·i+k, k·j..k·j+k]`; output `(N, C, ⌊H/k⌋, ⌊W/k⌋)`.
/// Gradient: `dy` goes to the arg-max of its window (the first one on ties).
///
/// ```
/// use fftconv::nn::{Layer, MaxPool};
/// use fftconv::Tensor;
/// let x = Tensor::new(vec![1, 1, 2, 2], vec![1.0, 5.0, 3.0, 2.0]).unwrap();
/// assert_eq!(MaxPool::new(2).forward(&x).unwrap().data(), &[5.0]);
/// ```
#[derive(Clone, Debug)]
pub struct MaxPool {
    /// Window size and stride.
    pub k: usize,
    x_shape: Option<Vec<usize>>,
    argmax: Vec<usize>,
}

impl MaxPool {
    /// Pooling over `k×k` windows with stride `k`.
    pub fn new(k: usize) -> Self {
        MaxPool {
            k,
            x_shape: None,
            argmax: Vec::new(),
        }
    }
}

impl Layer for MaxPool {
    fn describe(&self) -> String {
        format!("max pool {0}×{0}", self.k)
    }

    fn forward(&mut self, x: &Tensor) -> Result<Tensor> {
        let k = self.k;
        let [nc, h, w, ho, wo] = pool_dims(x.shape(), k, "max pool")?;
        let xd = x.data();
        let mut y = vec![0.0; nc * ho * wo];
        self.argmax = vec![0; nc * ho * wo];
        for p in 0..nc {
            for i in 0..ho {
                for j in 0..wo {
                    let mut best = p * h * w + k * i * w + k * j;
                    for a in 0..k {
                        for b in 0..k {
                            let at = p * h * w + (k * i + a) * w + k * j + b;
                            if xd[at] > xd[best] {
                                best = at;
                            }
                        }
                    }
                    let o = (p * ho + i) * wo + j;
                    y[o] = xd[best];
                    self.argmax[o] = best;
                }
            }
        }
        self.x_shape = Some(x.shape().to_vec());
        Tensor::new(vec![x.shape()[0], x.shape()[1], ho, wo], y)
    }

    fn backward(&mut self, dy: &Tensor) -> Result<Tensor> {
        let shape = self.x_shape.clone().ok_or_else(|| no_forward("max pool"))?;
        let [nc, h, w, ho, wo] = pool_dims(&shape, self.k, "max pool")?;
        dy.expect_shape(&[shape[0], shape[1], ho, wo], "max pool dy")?;
        let mut dx = vec![0.0; nc * h * w];
        for (o, &g) in dy.data().iter().enumerate() {
            dx[self.argmax[o]] += g;
        }
        Tensor::new(shape, dx)
    }
}
