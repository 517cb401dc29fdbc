//! Bias broadcast ↔ sum over batch and space (note `derivations/14-bias.md`, identity BIAS-1).

use super::{LinearOp, Op, Symbol};
use crate::error::{Error, Result};
use crate::tensor::{Scalar, Tensor};
use std::sync::Arc;

/// Broadcast a per-channel bias `b: (C,)` over a tensor of shape `(N, C, *S)`.
///
/// Forward: `$y_{n,c,s} = b_c$`. Adjoint ([`BiasSum`]): `$b_c = \sum_{n,s} y_{n,c,s}$` (BIAS-1).
///
/// ```
/// use fftconv::{op::{BiasBroadcast, LinearOp}, Tensor};
/// let b = BiasBroadcast::new(&[2, 2, 3]).unwrap();
/// let y = b.apply(&Tensor::new(vec![2], vec![1.0, -1.0]).unwrap()).unwrap();
/// assert_eq!(y.get(&[1, 1, 2]), -1.0);
/// ```
///
/// # Errors
/// `new` fails when the shape has fewer than two axes.
#[derive(Clone, Debug)]
pub struct BiasBroadcast {
    shape: Vec<usize>,
    bias_shape: Vec<usize>,
}

impl BiasBroadcast {
    /// Broadcast over tensors of `shape = (N, C, *S)`.
    pub fn new(shape: &[usize]) -> Result<Self> {
        if shape.len() < 2 {
            return Err(Error::invalid(
                "bias",
                format!("needs a shape (N, C, ...), got {shape:?}"),
            ));
        }
        crate::tensor::checked_numel(shape)?;
        Ok(BiasBroadcast {
            shape: shape.to_vec(),
            bias_shape: vec![shape[1]],
        })
    }
    fn spatial(&self) -> usize {
        self.shape[2..].iter().product()
    }
}

impl<T: Scalar> LinearOp<T> for BiasBroadcast {
    fn domain(&self) -> &[usize] {
        &self.bias_shape
    }
    fn codomain(&self) -> &[usize] {
        &self.shape
    }
    fn forward(&self, b: &Tensor<T>) -> Tensor<T> {
        let s = self.spatial();
        let mut y = Tensor::zeros(&self.shape);
        for (i, chunk) in y.data_mut().chunks_mut(s.max(1)).enumerate() {
            let v = b.data()[i % self.shape[1]];
            chunk.iter_mut().for_each(|e| *e = v);
        }
        y
    }
    fn adjoint(&self) -> Op<T> {
        Arc::new(BiasSum {
            broadcast: self.clone(),
        })
    }
    fn symbol(&self) -> Symbol {
        Symbol::new("broadcast", vec![])
    }
}

/// Sum over batch and space: the adjoint of [`BiasBroadcast`] (BIAS-1).
#[derive(Clone, Debug)]
pub struct BiasSum {
    broadcast: BiasBroadcast,
}

impl<T: Scalar> LinearOp<T> for BiasSum {
    fn domain(&self) -> &[usize] {
        &self.broadcast.shape
    }
    fn codomain(&self) -> &[usize] {
        &self.broadcast.bias_shape
    }
    fn forward(&self, y: &Tensor<T>) -> Tensor<T> {
        let c = self.broadcast.shape[1];
        let s = self.broadcast.spatial();
        let mut acc = vec![0.0f64; c];
        for (i, chunk) in y.data().chunks(s.max(1)).enumerate() {
            acc[i % c] += chunk.iter().map(|v| v.as_f64()).sum::<f64>();
        }
        Tensor::new(vec![c], acc.into_iter().map(T::of).collect()).expect("bias length")
    }
    fn adjoint(&self) -> Op<T> {
        Arc::new(self.broadcast.clone())
    }
    fn symbol(&self) -> Symbol {
        Symbol::new("sum_nc", vec![])
    }
}
