//! Zero-insert ↔ subsample (note `derivations/09-stride.md`, identity STRIDE-1).

use super::index::{fmt_list, scatter_add};
use super::subsample::Subsample;
use super::{LinearOp, Op, Symbol};
use crate::error::Result;
use crate::tensor::{Scalar, Tensor};
use std::sync::Arc;

/// Spread the entries of each trailing axis `s` apart, zeros in between, into an extent `n`.
///
/// Forward: `$y_j = x_{j/s}$` when `$s \mid j$`, else `$0$`, for `$0 \le j < n$` (the input extent
/// is `$\lceil n/s \rceil$`).
///
/// Adjoint ([`Subsample`] of extent `n` by `s`): `$x_i = y_{s i}$` (STRIDE-1). Also
/// `$\text{subsample} \circ \text{zero\_insert} = I$`.
///
/// ```
/// use fftconv::{op::{LinearOp, ZeroInsert}, Tensor};
/// let z = ZeroInsert::new(&[5], &[2]).unwrap();
/// let y = z.apply(&Tensor::new(vec![3], vec![1.0, 2.0, 3.0]).unwrap()).unwrap();
/// assert_eq!(y.data(), &[1.0, 0.0, 2.0, 0.0, 3.0]);
/// ```
///
/// # Errors
/// `new` fails on a zero stride or a rank that does not fit.
#[derive(Clone, Debug)]
pub struct ZeroInsert {
    sub: Subsample,
}

impl ZeroInsert {
    /// Zero-insert into tensors of `out_shape` (the full, un-strided shape) with `stride` on its
    /// trailing axes.
    pub fn new(out_shape: &[usize], stride: &[usize]) -> Result<Self> {
        Ok(ZeroInsert {
            sub: Subsample::new(out_shape, stride)?,
        })
    }
    pub(crate) fn from_subsample(sub: Subsample) -> Self {
        ZeroInsert { sub }
    }
}

impl<T: Scalar> LinearOp<T> for ZeroInsert {
    fn domain(&self) -> &[usize] {
        <Subsample as LinearOp<T>>::codomain(&self.sub)
    }
    fn codomain(&self) -> &[usize] {
        <Subsample as LinearOp<T>>::domain(&self.sub)
    }
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        scatter_add(
            x,
            <Subsample as LinearOp<T>>::domain(&self.sub),
            &self.sub.maps,
        )
    }
    fn adjoint(&self) -> Op<T> {
        Arc::new(self.sub.clone())
    }
    fn symbol(&self) -> Symbol {
        Symbol::new("zero_insert", vec![("stride", fmt_list(self.sub.stride()))])
    }
}
