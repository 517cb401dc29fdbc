//! The FFT convolution layer with bias: `y = conv(x; w) + b`, forward and gradients through
//! [`crate::conv::Step`] (what `fftconv bench` times: on the FFT path the spectra of `x` and
//! `w` from the forward pass serve the gradients).

use super::{init, no_forward, Layer, Param};
use crate::conv::{Algorithm, ConvSpec, Padding, Step};
use crate::error::Result;
use crate::tensor::Tensor;

/// A convolution layer with weight `(C_out, C_in/groups, *K)` and bias `(C_out)`.
///
/// Forward `y[n,o] = b[o] + Σ_c w[o,c] ⋆ x[n,c]` (cross-correlation with the spec's stride,
/// padding, dilation); backward `dx, dw, db` = the adjoints of the layer seen as a map of `x`,
/// of `w` and of `b`, applied to `dy`. The whole minibatch goes through one call, so the FFT
/// plans and kernel spectra are shared by all its images.
///
/// ```
/// use fftconv::nn::{Conv, Layer};
/// use fftconv::Tensor;
/// let mut conv = Conv::same_2d(3, 4, 5, 1).unwrap();
/// let y = conv.forward(&Tensor::randn(&[2, 3, 8, 8], 2)).unwrap();
/// assert_eq!(y.shape(), &[2, 4, 8, 8]);
/// ```
#[derive(Clone, Debug)]
pub struct Conv {
    /// The layer's hyper-parameters.
    pub spec: ConvSpec,
    /// Weight `(C_out, C_in/groups, *K)`.
    pub weight: Tensor,
    /// Bias `(C_out)`.
    pub bias: Tensor,
    /// How the convolutions are computed.
    pub algorithm: Algorithm,
    dw: Tensor,
    db: Tensor,
    x: Option<Tensor>,
    step: Step<f64>,
}

impl Conv {
    /// A layer with given spec, weight and bias.
    ///
    /// # Errors
    /// [`crate::Error::Shape`] when the bias does not have `C_out` entries.
    pub fn new(spec: ConvSpec, weight: Tensor, bias: Tensor) -> Result<Self> {
        let c_out = weight.shape().first().copied().unwrap_or(0);
        bias.expect_shape(&[c_out], "conv layer bias")?;
        Ok(Conv {
            dw: Tensor::zeros(weight.shape()),
            db: Tensor::zeros(bias.shape()),
            weight,
            bias,
            algorithm: super::FFT,
            x: None,
            step: Step::new(&spec, super::FFT),
            spec,
        })
    }

    /// A 2-D stride-1 "same" conv `c_in → c_out` with `k×k` kernels, He-initialised from
    /// `seed`, zero bias.
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] for zero channels or kernel size.
    pub fn same_2d(c_in: usize, c_out: usize, k: usize, seed: u64) -> Result<Self> {
        Self::he_2d(c_in, c_out, k, Padding::Same, seed)
    }

    /// A 2-D stride-1 conv with the given padding, He-initialised from `seed`, zero bias.
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] for zero channels or kernel size.
    pub fn he_2d(c_in: usize, c_out: usize, k: usize, padding: Padding, seed: u64) -> Result<Self> {
        if c_in == 0 || c_out == 0 || k == 0 {
            return Err(crate::Error::invalid(
                "conv layer",
                format!("channels {c_in}→{c_out} and kernel {k} must all be positive"),
            ));
        }
        let shape = [c_out, c_in, k, k];
        let weight = init::he_normal(&shape, c_in * k * k, seed);
        Self::new(
            ConvSpec::conv(&[1, 1], padding, &[1, 1]),
            weight,
            Tensor::zeros(&[c_out]),
        )
    }
}

impl Layer for Conv {
    fn describe(&self) -> String {
        let s = self.weight.shape();
        let k: Vec<String> = s[2..].iter().map(|v| v.to_string()).collect();
        format!(
            "conv {}→{} {} {:?} ({:?})",
            s[1] * self.spec.groups,
            s[0],
            k.join("×"),
            self.spec.padding,
            self.algorithm
        )
    }

    fn forward(&mut self, x: &Tensor) -> Result<Tensor> {
        if self.step.algorithm() != self.algorithm || self.step.spec() != &self.spec {
            self.step = Step::new(&self.spec, self.algorithm);
        }
        let y = self.step.forward(x, &self.weight, Some(&self.bias))?;
        self.x = Some(x.clone());
        Ok(y)
    }

    fn backward(&mut self, dy: &Tensor) -> Result<Tensor> {
        let x = self.x.as_ref().ok_or_else(|| no_forward("conv layer"))?;
        let g = self.step.backward(x, &self.weight, dy, true)?;
        self.dw = g.dw;
        self.db = g.db.unwrap_or_else(|| Tensor::zeros(self.bias.shape()));
        Ok(g.dx)
    }

    fn params(&mut self) -> Vec<Param<'_>> {
        vec![
            Param {
                name: "conv.weight",
                value: &mut self.weight,
                grad: &self.dw,
            },
            Param {
                name: "conv.bias",
                value: &mut self.bias,
                grad: &self.db,
            },
        ]
    }

    fn set_algorithm(&mut self, algorithm: Algorithm) {
        self.algorithm = algorithm;
    }
}
