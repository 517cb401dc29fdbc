//! Group transpose of a weight tensor ↔ its inverse (note `derivations/13-conv-transpose.md`,
//! identity TRANS-2).

use super::primitive::{count_of, keep, Primitive, Rule, Site, Syntax};
use super::shape_rules as rules;
use super::{LinearOp, Op, Symbol};
use crate::error::{Error, Result};
use crate::tensor::{Scalar, Tensor};
use std::sync::Arc;

/// Swap the two channel axes of a grouped weight tensor, group by group:
/// `(A, B/g·…)`: `$y_{\gamma B/g + b,\; a',\, k} = x_{\gamma A/g + a',\; b,\, k}$` maps
/// `x: (A, B/g, *K)` to `y: (B, A/g, *K)`, where `$\gamma$` is the group.
///
/// It turns `conv_transpose` weights `(C_in, C_out/g, *K)` into the `(C_out, C_in/g, *K)`
/// kernel of the convolution that the transpose runs. A permutation, so its adjoint is its
/// inverse: the same swap the other way (TRANS-2).
///
/// # Errors
/// `new` fails when `groups` does not divide the first axis or the rank is below 3.
#[derive(Clone, Debug)]
pub struct GroupTranspose {
    domain: Vec<usize>,
    codomain: Vec<usize>,
    groups: usize,
}

impl GroupTranspose {
    /// Swap for tensors of `shape = (A, B/groups, *K)`.
    pub fn new(shape: &[usize], groups: usize) -> Result<Self> {
        if shape.len() < 3 || groups == 0 || !shape[0].is_multiple_of(groups) {
            return Err(Error::invalid(
                "group_transpose",
                format!("needs (A, B/groups, *K) with groups={groups} dividing A, got {shape:?}"),
            ));
        }
        crate::tensor::checked_numel(shape)?;
        let mut codomain = shape.to_vec();
        codomain[0] = shape[1] * groups;
        codomain[1] = shape[0] / groups;
        Ok(GroupTranspose {
            domain: shape.to_vec(),
            codomain,
            groups,
        })
    }
}

impl<T: Scalar> LinearOp<T> for GroupTranspose {
    fn domain(&self) -> &[usize] {
        &self.domain
    }
    fn codomain(&self) -> &[usize] {
        &self.codomain
    }
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        let (a_n, bg) = (self.domain[0], self.domain[1]);
        let ag = a_n / self.groups;
        let k: usize = self.domain[2..].iter().product();
        let mut y = Tensor::zeros(&self.codomain);
        let ys = y.data_mut();
        for a in 0..a_n {
            let (g, al) = (a / ag, a % ag);
            for b in 0..bg {
                let src = (a * bg + b) * k;
                let dst = ((g * bg + b) * ag + al) * k;
                ys[dst..dst + k].copy_from_slice(&x.data()[src..src + k]);
            }
        }
        y
    }
    fn adjoint(&self) -> Op<T> {
        Arc::new(
            GroupTranspose::new(&self.codomain, self.groups).expect("the swapped shape is valid"),
        )
    }
    fn symbol(&self) -> Symbol {
        Symbol::new("group_transpose", vec![("groups", self.groups.to_string())])
    }
}

/// The DSL's `group_transpose[g]`: `(A, B/g, *K) → (B, A/g, *K)`, its own adjoint (TRANS-2).
pub static GROUP_TRANSPOSE: Primitive = Primitive {
    dsl: "group_transpose",
    aliases: &[],
    op: "GroupTranspose",
    syntax: Syntax::Count {
        open: "after `group_transpose` (write group_transpose[g])",
        what: "the number of groups",
    },
    adjoint: &GROUP_TRANSPOSE,
    rule: Rule {
        name: "group_transpose* = its inverse",
        note: "TRANS-2",
        statement: "group_transpose[g]' = group_transpose[g]",
    },
    grouped_rule: None,
    example: "group_transpose[1]",
    domain: &[2, 3, 3],
    forward: |s, d| {
        let g = rules::count(s)?;
        rules::need(d.len() >= 3 && g > 0 && d[0].is_multiple_of(g), || {
            format!(
                "needs (A, B/g, *K) with g={g} dividing A, got {}",
                rules::fmt_shape(d)
            )
        })?;
        Ok(Some(swap_groups(d, g)))
    },
    backward: |s, c| {
        let g = rules::count(s)?;
        rules::need(c.len() >= 3 && g > 0 && c[0].is_multiple_of(g), || {
            format!("output {} does not fit g={g}", rules::fmt_shape(c))
        })?;
        Ok(Some(swap_groups(c, g)))
    },
    resolve: keep,
    mismatch_hint: "",
    lower: crate::lowering!(lower),
};

/// `(A, B/g, *K) → (B, A/g, *K)`.
fn swap_groups(s: &[usize], g: usize) -> Vec<usize> {
    let mut v = s.to_vec();
    v[0] = s[1].saturating_mul(g);
    v[1] = s[0] / g;
    v
}

fn lower<T: Scalar>(s: &Site, dom: &[usize], _: &[usize], _: Option<&Tensor<T>>) -> Result<Op<T>> {
    Ok(Arc::new(GroupTranspose::new(
        dom,
        count_of("group_transpose", s.params)?,
    )?))
}
