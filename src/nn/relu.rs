//! ReLU: `y = max(x, 0)`, `dx = dy · [x > 0]`.

use super::{no_forward, Layer};
use crate::error::Result;
use crate::tensor::Tensor;

/// Elementwise `max(x, 0)`; its gradient passes `dy` where `x > 0` and blocks it elsewhere.
///
/// ```
/// use fftconv::nn::{Layer, Relu};
/// use fftconv::Tensor;
/// let y = Relu::default().forward(&Tensor::new(vec![2], vec![-1.0, 2.0]).unwrap()).unwrap();
/// assert_eq!(y.data(), &[0.0, 2.0]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Relu {
    x: Option<Tensor>,
}

impl Layer for Relu {
    fn describe(&self) -> String {
        "relu".into()
    }

    fn forward(&mut self, x: &Tensor) -> Result<Tensor> {
        self.x = Some(x.clone());
        Ok(x.map(|v| v.max(0.0)))
    }

    fn backward(&mut self, dy: &Tensor) -> Result<Tensor> {
        let x = self.x.as_ref().ok_or_else(|| no_forward("relu"))?;
        x.zip_with(dy, |xv, g| if xv > 0.0 { g } else { 0.0 })
    }
}
