//! Channel mixing over groups ↔ block transpose (note `derivations/11-channels-and-groups.md`,
//! identity CHAN-1).

use super::primitive::{operand, Primitive, Resolution, Rule, Site, Syntax};
use super::shape_rules as rules;
use super::{LinearOp, Op, Symbol};
use crate::error::{Error, Result};
use crate::tensor::{Scalar, Tensor};
use std::sync::Arc;

/// Mix channels with a matrix, group by group: for `x: (N, C, *S)` and `A: (O, C/g)`,
/// `$y_{n,o,s} = \sum_{c < C/g} A_{o,c}\, x_{n,\, \gamma(o) C/g + c,\, s}$`, where
/// `$\gamma(o) = \lfloor o / (O/g) \rfloor$` is the group of output channel `$o$`.
///
/// As a matrix over channels this is block diagonal with one block per group; the adjoint is
/// the block transpose: `$x_{n,\gamma C/g + c,s} = \sum_{o \in \gamma} A_{o,c}\, y_{n,o,s}$`
/// (CHAN-1). A convolution layer is this with every `$A_{o,c}$` a convolution.
///
/// ```
/// use fftconv::{op::{ChannelMix, LinearOp}, Tensor};
/// let a = Tensor::new(vec![1, 2], vec![1.0, 10.0]).unwrap();
/// let mix = ChannelMix::new(&a, &[1, 2, 1], 1).unwrap();
/// let y = mix.apply(&Tensor::new(vec![1, 2, 1], vec![2.0, 3.0]).unwrap()).unwrap();
/// assert_eq!(y.data(), &[32.0]);
/// ```
///
/// # Errors
/// `new` fails when `groups` does not divide both channel counts or shapes do not fit.
#[derive(Clone, Debug)]
pub struct ChannelMix<T: Scalar> {
    matrix: Tensor<T>,
    groups: usize,
    in_shape: Vec<usize>,
    out_shape: Vec<usize>,
    adjoint: bool,
}

impl<T: Scalar> ChannelMix<T> {
    /// Mix channels of tensors of `shape = (N, C, *S)` with `matrix: (O, C/groups)`.
    pub fn new(matrix: &Tensor<T>, shape: &[usize], groups: usize) -> Result<Self> {
        if matrix.ndim() != 2 || shape.len() < 2 {
            return Err(Error::invalid(
                "channel_mix",
                format!(
                    "needs a matrix (O, C/groups) and a shape (N, C, ...), got {:?} and {shape:?}",
                    matrix.shape()
                ),
            ));
        }
        let (o, cg) = (matrix.shape()[0], matrix.shape()[1]);
        if groups == 0 || o % groups != 0 || cg * groups != shape[1] {
            return Err(Error::invalid(
                "channel_mix groups",
                format!(
                    "groups={groups} must divide O={o} and give C/groups={cg} for C={}",
                    shape[1]
                ),
            ));
        }
        let mut out_shape = shape.to_vec();
        out_shape[1] = o;
        Ok(ChannelMix {
            matrix: matrix.clone(),
            groups,
            in_shape: shape.to_vec(),
            out_shape,
            adjoint: false,
        })
    }
}

impl<T: Scalar> LinearOp<T> for ChannelMix<T> {
    fn domain(&self) -> &[usize] {
        if self.adjoint {
            &self.out_shape
        } else {
            &self.in_shape
        }
    }
    fn codomain(&self) -> &[usize] {
        if self.adjoint {
            &self.in_shape
        } else {
            &self.out_shape
        }
    }
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        let (o_n, cg) = (self.matrix.shape()[0], self.matrix.shape()[1]);
        let og = o_n / self.groups;
        let c_n = self.in_shape[1];
        let n_n = self.in_shape[0];
        let s: usize = self.in_shape[2..].iter().product();
        let a = self.matrix.data();
        let mut y = Tensor::zeros(<Self as LinearOp<T>>::codomain(self));
        let (xs, ys) = (x.data(), y.data_mut());
        for n in 0..n_n {
            for o in 0..o_n {
                let g = o / og;
                for c in 0..cg {
                    let coef = a[o * cg + c];
                    let ci = g * cg + c;
                    let (src, dst) = if self.adjoint {
                        ((n * o_n + o) * s, (n * c_n + ci) * s)
                    } else {
                        ((n * c_n + ci) * s, (n * o_n + o) * s)
                    };
                    for k in 0..s {
                        ys[dst + k] = ys[dst + k] + coef * xs[src + k];
                    }
                }
            }
        }
        y
    }
    fn adjoint(&self) -> Op<T> {
        Arc::new(ChannelMix {
            adjoint: !self.adjoint,
            ..self.clone()
        })
    }
    fn symbol(&self) -> Symbol {
        // The DSL names (`op::PRIMITIVES`).
        let name = if self.adjoint { "mix_t" } else { "mix" };
        Symbol::new(name, vec![("groups", self.groups.to_string())])
    }
}

fn groups_or_one(s: &Site) -> usize {
    s.groups.unwrap_or(1)
}

/// The DSL's `mix(A[, groups=g])`: channel mixing with `A: (O, C/g)`; its adjoint is `mix_t`
/// (CHAN-1).
pub static MIX: Primitive = Primitive {
    dsl: "mix",
    aliases: &[],
    op: "ChannelMix",
    syntax: Syntax::Operand,
    adjoint: &MIX_T,
    rule: Rule {
        name: "channel mixing* = block transpose",
        note: "CHAN-1",
        statement: "mix(A)' = mix_t(A)",
    },
    grouped_rule: None,
    example: "mix(A)",
    domain: &[1, 3, 4],
    forward: |s, d| {
        let a = rules::operand(s, 2, "the matrix")?;
        rules::need(d.len() >= 2, || "needs an input (N, C, ...)".into())?;
        let g = rules::groups_from(s.groups, d[1], a[1])?;
        rules::need(a[0] % g == 0, || {
            format!("groups={g} must divide O={}", a[0])
        })?;
        Ok(Some(rules::with_channels(a[0], d)))
    },
    backward: |s, c| {
        if rules::wait_for_groups(s) {
            return Ok(None);
        }
        let a = rules::operand(s, 2, "the matrix")?;
        Ok(Some(rules::with_channels(
            a[1].saturating_mul(groups_or_one(s)),
            c,
        )))
    },
    resolve: |s, d, _| {
        let a = rules::operand(s, 2, "the matrix")?;
        rules::groups_from(s.groups, d[1], a[1]).map(Resolution::Groups)
    },
    mismatch_hint: "",
    lower: crate::lowering!(lower_mix),
};

/// The DSL's `mix_t(A[, groups=g])`: the block transpose, the adjoint of `mix` (CHAN-1).
pub static MIX_T: Primitive = Primitive {
    dsl: "mix_t",
    aliases: &[],
    op: "ChannelMix*",
    syntax: Syntax::Operand,
    adjoint: &MIX,
    rule: Rule {
        name: "block transpose* = channel mixing",
        note: "CHAN-1",
        statement: "mix_t(A)' = mix(A)",
    },
    grouped_rule: None,
    example: "mix_t(A)",
    domain: &[1, 2, 4],
    forward: |s, d| {
        if rules::wait_for_groups(s) {
            return Ok(None);
        }
        let a = rules::operand(s, 2, "the matrix")?;
        let g = groups_or_one(s);
        rules::need(d.len() >= 2 && d[1] == a[0], || {
            format!("input must have {} channels", a[0])
        })?;
        rules::need(g > 0 && a[0] % g == 0, || {
            format!("groups={g} must divide O={}", a[0])
        })?;
        Ok(Some(rules::with_channels(a[1].saturating_mul(g), d)))
    },
    backward: |s, c| {
        let a = rules::operand(s, 2, "the matrix")?;
        Ok(Some(rules::with_channels(a[0], c)))
    },
    resolve: |s, _, c| {
        let a = rules::operand(s, 2, "the matrix")?;
        rules::groups_from(s.groups, c[1], a[1]).map(Resolution::Groups)
    },
    mismatch_hint: "",
    lower: crate::lowering!(lower_mix_t),
};

fn lower_mix<T: Scalar>(
    s: &Site,
    dom: &[usize],
    _: &[usize],
    a: Option<&Tensor<T>>,
) -> Result<Op<T>> {
    Ok(Arc::new(ChannelMix::new(
        operand("mix", a)?,
        dom,
        groups_or_one(s),
    )?))
}

fn lower_mix_t<T: Scalar>(
    s: &Site,
    _: &[usize],
    cod: &[usize],
    a: Option<&Tensor<T>>,
) -> Result<Op<T>> {
    Ok(ChannelMix::new(operand("mix_t", a)?, cod, groups_or_one(s))?.adjoint())
}
