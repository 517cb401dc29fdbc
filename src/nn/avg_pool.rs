//! Average pooling over non-overlapping `k×k` windows of `(N, C, H, W)`.

use super::{no_forward, Layer};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// `y[n,c,i,j] = mean of x[n,c, k·i..k·i+k, k·j..k·j+k]`; output `(N, C, ⌊H/k⌋, ⌊W/k⌋)`
/// (a remainder row/column is dropped). Gradient: each `dy` spread as `dy/k²` over its window.
///
/// ```
/// use fftconv::nn::{AvgPool, Layer};
/// use fftconv::Tensor;
/// let x = Tensor::new(vec![1, 1, 2, 2], vec![1.0, 2.0, 3.0, 6.0]).unwrap();
/// assert_eq!(AvgPool::new(2).forward(&x).unwrap().data(), &[3.0]);
/// ```
#[derive(Clone, Debug)]
pub struct AvgPool {
    /// Window size and stride.
    pub k: usize,
    x_shape: Option<Vec<usize>>,
}

impl AvgPool {
    /// Pooling over `k×k` windows with stride `k`.
    pub fn new(k: usize) -> Self {
        AvgPool { k, x_shape: None }
    }
}

/// Check a pooling input and return `(N·C, H, W, H/k, W/k)`.
pub(crate) fn pool_dims(x_shape: &[usize], k: usize, who: &str) -> Result<[usize; 5]> {
    if x_shape.len() != 4 {
        return Err(Error::invalid(
            who,
            format!("input {x_shape:?} must be (N, C, H, W)"),
        ));
    }
    let (h, w) = (x_shape[2], x_shape[3]);
    if k == 0 || h < k || w < k {
        return Err(Error::invalid(
            who,
            format!("window {k} does not fit the {h}×{w} input; use 1 ≤ k ≤ min(H, W)"),
        ));
    }
    Ok([x_shape[0] * x_shape[1], h, w, h / k, w / k])
}

impl Layer for AvgPool {
    fn describe(&self) -> String {
        format!("avg pool {0}×{0}", self.k)
    }

    fn forward(&mut self, x: &Tensor) -> Result<Tensor> {
        let k = self.k;
        let [nc, h, w, ho, wo] = pool_dims(x.shape(), k, "avg pool")?;
        let xd = x.data();
        let mut y = vec![0.0; nc * ho * wo];
        let inv = 1.0 / (k * k) as f64;
        for p in 0..nc {
            for i in 0..ho {
                for j in 0..wo {
                    let mut s = 0.0;
                    for a in 0..k {
                        for b in 0..k {
                            s += xd[p * h * w + (k * i + a) * w + k * j + b];
                        }
                    }
                    y[(p * ho + i) * wo + j] = s * inv;
                }
            }
        }
        self.x_shape = Some(x.shape().to_vec());
        Tensor::new(vec![x.shape()[0], x.shape()[1], ho, wo], y)
    }

    fn backward(&mut self, dy: &Tensor) -> Result<Tensor> {
        let shape = self.x_shape.clone().ok_or_else(|| no_forward("avg pool"))?;
        let k = self.k;
        let [nc, h, w, ho, wo] = pool_dims(&shape, k, "avg pool")?;
        dy.expect_shape(&[shape[0], shape[1], ho, wo], "avg pool dy")?;
        let g = dy.data();
        let mut dx = vec![0.0; nc * h * w];
        let inv = 1.0 / (k * k) as f64;
        for p in 0..nc {
            for i in 0..ho {
                for j in 0..wo {
                    let v = g[(p * ho + i) * wo + j] * inv;
                    for a in 0..k {
                        for b in 0..k {
                            dx[p * h * w + (k * i + a) * w + k * j + b] = v;
                        }
                    }
                }
            }
        }
        Tensor::new(shape, dx)
    }
}
