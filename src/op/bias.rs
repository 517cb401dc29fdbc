//! Bias broadcast ↔ sum over batch and space (note `derivations/14-bias.md`, identity BIAS-1).

use super::primitive::{Params, Primitive, Resolution, Rule, Site, Syntax};
use super::shape_rules as rules;
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

fn written_shape<'a>(s: &Site<'a>) -> Option<&'a [usize]> {
    match s.params {
        Params::Shape(v) => v.as_deref(),
        _ => None,
    }
}

/// The DSL's `broadcast` or `broadcast[N, C, *S]`: a bias `(C,)` → `(N, C, *S)`; its adjoint
/// is `sum_nc` (BIAS-1).
pub static BROADCAST: Primitive = Primitive {
    dsl: "broadcast",
    aliases: &[],
    op: "BiasBroadcast",
    syntax: Syntax::OptionalShape,
    adjoint: &SUM_NC,
    rule: Rule {
        name: "broadcast* = sum",
        note: "BIAS-1",
        statement: "broadcast' = sum_nc",
    },
    grouped_rule: None,
    example: "broadcast[1, 2, 3]",
    domain: &[2],
    forward: |s, d| {
        rules::need(d.len() == 1, || {
            format!("maps a bias (C,), not {}", rules::fmt_shape(d))
        })?;
        match written_shape(s) {
            Some(out) => {
                rules::need(out.len() >= 2 && out[1] == d[0], || {
                    format!("shape {} must be (N, {}, ...)", rules::fmt_shape(out), d[0])
                })?;
                Ok(Some(out.to_vec()))
            }
            None => Ok(None),
        }
    },
    backward: |_, c| {
        rules::need(c.len() >= 2, || "needs an output (N, C, ...)".into())?;
        Ok(Some(vec![c[1]]))
    },
    resolve: |_, _, c| Ok(Resolution::Params(Params::Shape(Some(c.to_vec())))),
    mismatch_hint: "",
    lower: crate::lowering!(lower_broadcast),
};

/// The DSL's `sum_nc` or `sum_nc[N, C, *S]`: `(N, C, *S)` → `(C,)`, the adjoint of
/// `broadcast` (BIAS-1).
pub static SUM_NC: Primitive = Primitive {
    dsl: "sum_nc",
    aliases: &[],
    op: "BiasBroadcast*",
    syntax: Syntax::OptionalShape,
    adjoint: &BROADCAST,
    rule: Rule {
        name: "sum* = broadcast",
        note: "BIAS-1",
        statement: "sum_nc' = broadcast",
    },
    grouped_rule: None,
    example: "sum_nc",
    domain: &[1, 2, 3],
    forward: |s, d| {
        rules::need(d.len() >= 2, || "needs an input (N, C, ...)".into())?;
        if let Some(w) = written_shape(s) {
            rules::need(w == d, || {
                format!(
                    "is written for {} but acts on {}",
                    rules::fmt_shape(w),
                    rules::fmt_shape(d)
                )
            })?;
        }
        Ok(Some(vec![d[1]]))
    },
    backward: |s, _| Ok(written_shape(s).map(<[usize]>::to_vec)),
    resolve: |_, d, _| Ok(Resolution::Params(Params::Shape(Some(d.to_vec())))),
    mismatch_hint: "",
    lower: crate::lowering!(lower_sum_nc),
};

fn lower_broadcast<T: Scalar>(
    _: &Site,
    _: &[usize],
    cod: &[usize],
    _: Option<&Tensor<T>>,
) -> Result<Op<T>> {
    Ok(Arc::new(BiasBroadcast::new(cod)?))
}

fn lower_sum_nc<T: Scalar>(
    _: &Site,
    dom: &[usize],
    _: &[usize],
    _: Option<&Tensor<T>>,
) -> Result<Op<T>> {
    Ok(LinearOp::<T>::adjoint(&BiasBroadcast::new(dom)?))
}
