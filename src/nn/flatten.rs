//! Flatten: `(N, d1, d2, …) → (N, d1·d2·…)`; the gradient reshapes back.

use super::{no_forward, Layer};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Reshape each sample to a vector (row-major, so no data moves).
///
/// ```
/// use fftconv::nn::{Flatten, Layer};
/// use fftconv::Tensor;
/// let y = Flatten::default().forward(&Tensor::zeros(&[2, 3, 4, 4])).unwrap();
/// assert_eq!(y.shape(), &[2, 48]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Flatten {
    shape: Option<Vec<usize>>,
}

impl Layer for Flatten {
    fn describe(&self) -> String {
        "flatten".into()
    }

    fn forward(&mut self, x: &Tensor) -> Result<Tensor> {
        if x.ndim() < 1 {
            return Err(Error::invalid("flatten", "input needs a batch axis"));
        }
        self.shape = Some(x.shape().to_vec());
        let n = x.shape()[0];
        let f = x.shape()[1..].iter().product();
        x.clone().reshape(&[n, f])
    }

    fn backward(&mut self, dy: &Tensor) -> Result<Tensor> {
        let shape = self.shape.as_ref().ok_or_else(|| no_forward("flatten"))?;
        dy.clone().reshape(shape)
    }
}
