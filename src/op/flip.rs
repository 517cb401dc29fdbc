//! Flip (reversal of the trailing axes), self-adjoint (note
//! `derivations/03-circular-convolution.md`, identity FLIP-1).

use super::index::{gather, AxisMaps};
use super::primitive::{count_of, keep, Primitive, Rule, Site, Syntax};
use super::shape_rules as rules;
use super::{check_rank, LinearOp, Op, Symbol};
use crate::error::Result;
use crate::tensor::{Scalar, Tensor};
use std::sync::Arc;

/// Reverse the trailing `axes` axes: `$y_i = x_{n-1-i}$` on each.
///
/// Adjoint: the same flip (`$\langle Fx, y\rangle = \sum_i x_{n-1-i} y_i = \langle x, Fy\rangle$`,
/// FLIP-1). It is also an involution: `$F F = I$`.
///
/// ```
/// use fftconv::{op::{Flip, LinearOp}, Tensor};
/// let f = Flip::new(&[3], 1).unwrap();
/// let y = f.apply(&Tensor::new(vec![3], vec![1.0, 2.0, 3.0]).unwrap()).unwrap();
/// assert_eq!(y.data(), &[3.0, 2.0, 1.0]);
/// ```
///
/// # Errors
/// `new` fails when `axes` is 0 or more than the rank of `shape`.
#[derive(Clone, Debug)]
pub struct Flip {
    shape: Vec<usize>,
    axes: usize,
    maps: AxisMaps,
}

impl Flip {
    /// Flip the trailing `axes` axes of tensors of `shape`.
    pub fn new(shape: &[usize], axes: usize) -> Result<Self> {
        check_rank("flip", shape, axes)?;
        let lead = shape.len() - axes;
        let maps = shape[lead..]
            .iter()
            .map(|&n| (0..n).map(|i| Some(n - 1 - i)).collect())
            .collect();
        Ok(Flip {
            shape: shape.to_vec(),
            axes,
            maps,
        })
    }
}

impl<T: Scalar> LinearOp<T> for Flip {
    fn domain(&self) -> &[usize] {
        &self.shape
    }
    fn codomain(&self) -> &[usize] {
        &self.shape
    }
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        gather(x, &self.maps)
    }
    fn adjoint(&self) -> Op<T> {
        Arc::new(self.clone())
    }
    fn symbol(&self) -> Symbol {
        Symbol::new("flip", vec![("axes", self.axes.to_string())])
    }
}

/// The DSL's `flip[k]`, self-adjoint (FLIP-1).
pub static FLIP: Primitive = Primitive {
    dsl: "flip",
    aliases: &[],
    op: "Flip",
    syntax: Syntax::Count {
        open: "after `flip` (write flip[k] for the trailing k axes)",
        what: "the number of trailing axes to reverse",
    },
    adjoint: &FLIP,
    rule: Rule {
        name: "flip is self-adjoint",
        note: "FLIP-1",
        statement: "flip[k]' = flip[k]",
    },
    grouped_rule: None,
    example: "flip[1]",
    domain: &[1, 2, 4],
    forward: |s, d| {
        rules::trailing(d, rules::count(s)?)?;
        Ok(Some(d.to_vec()))
    },
    backward: |_, c| Ok(Some(c.to_vec())),
    resolve: keep,
    mismatch_hint: "",
    lower: crate::lowering!(lower),
};

fn lower<T: Scalar>(s: &Site, dom: &[usize], _: &[usize], _: Option<&Tensor<T>>) -> Result<Op<T>> {
    Ok(Arc::new(Flip::new(dom, count_of("flip", s.params)?)?))
}
