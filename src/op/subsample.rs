//! Subsample ↔ zero-insert (note `derivations/09-stride.md`, identity STRIDE-1).

use super::index::{fmt_list, gather, mapped_shape, AxisMaps};
use super::primitive::{list_of, Params, Primitive, Resolution, Rule, Site, Syntax};
use super::shape_rules as rules;
use super::zero_insert::ZeroInsert;
use super::{check_rank, LinearOp, Op, Symbol};
use crate::error::{Error, Result};
use crate::tensor::{Scalar, Tensor};
use std::sync::Arc;

/// Keep every `s`-th entry of each trailing axis, starting at 0.
///
/// Forward: `$y_i = x_{s i}$`, `$0 \le i < \lceil n / s \rceil$`.
///
/// Adjoint ([`ZeroInsert`]): `$x_j = y_{j/s}$` when `$s \mid j$`, else 0 — put each entry back at
/// its stride position and zeros in between (STRIDE-1).
///
/// ```
/// use fftconv::{op::{LinearOp, Subsample}, Tensor};
/// let s = Subsample::new(&[5], &[2]).unwrap();
/// let y = s.apply(&Tensor::new(vec![5], vec![1.0, 2.0, 3.0, 4.0, 5.0]).unwrap()).unwrap();
/// assert_eq!(y.data(), &[1.0, 3.0, 5.0]);
/// ```
///
/// # Errors
/// `new` fails on a zero stride or a rank that does not fit.
#[derive(Clone, Debug)]
pub struct Subsample {
    domain: Vec<usize>,
    codomain: Vec<usize>,
    stride: Vec<usize>,
    pub(crate) maps: AxisMaps,
}

impl Subsample {
    /// Subsample the trailing `stride.len()` axes of tensors of `shape`.
    pub fn new(shape: &[usize], stride: &[usize]) -> Result<Self> {
        check_rank("subsample", shape, stride.len())?;
        let lead = shape.len() - stride.len();
        let mut maps = AxisMaps::new();
        for (a, (&s, &n)) in stride.iter().zip(&shape[lead..]).enumerate() {
            if s == 0 {
                return Err(Error::invalid(format!("stride[{a}]"), "must be at least 1"));
            }
            maps.push((0..n.div_ceil(s)).map(|i| Some(i * s)).collect());
        }
        let codomain = mapped_shape(shape, &maps);
        Ok(Subsample {
            domain: shape.to_vec(),
            codomain,
            stride: stride.to_vec(),
            maps,
        })
    }
    /// The stride per trailing axis.
    pub fn stride(&self) -> &[usize] {
        &self.stride
    }
}

impl<T: Scalar> LinearOp<T> for Subsample {
    fn domain(&self) -> &[usize] {
        &self.domain
    }
    fn codomain(&self) -> &[usize] {
        &self.codomain
    }
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        gather(x, &self.maps)
    }
    fn adjoint(&self) -> Op<T> {
        Arc::new(ZeroInsert::from_subsample(self.clone()))
    }
    fn symbol(&self) -> Symbol {
        Symbol::new("subsample", vec![("stride", fmt_list(&self.stride))])
    }
}

/// The DSL's `subsample[s, …]`; its adjoint is `zero_insert` (STRIDE-1).
///
/// Checked on an extent `n` that is not `(m-1)s+1`, it is written out as
/// `subsample[s] @ crop[0:r]`, `r = (n-1) mod s` (the entries it never reads), so that its
/// adjoint is `zero_insert` with no hidden end padding. Backwards, its domain is a guess:
/// `(m-1)s+1`.
pub static SUBSAMPLE: Primitive = Primitive {
    dsl: "subsample",
    aliases: &[],
    op: "Subsample",
    syntax: Syntax::List { what: "stride" },
    adjoint: &super::zero_insert::ZERO_INSERT,
    rule: Rule {
        name: "subsample* = zero_insert",
        note: "STRIDE-1",
        statement: "subsample[s]' = zero_insert[s]",
    },
    grouped_rule: None,
    example: "subsample[2]",
    domain: &[1, 2, 5],
    forward: |s, d| rules::per_axis(d, rules::list(s)?, |n, s| Some(n.div_ceil(s))).map(Some),
    backward: |s, c| {
        if !s.guess {
            return Ok(None);
        }
        rules::per_axis(c, rules::list(s)?, rules::spread).map(Some)
    },
    resolve: |s, d, _| {
        let stride = rules::list(s)?;
        let lead = rules::trailing(d, stride.len())?;
        let tail: Vec<(usize, usize)> = stride
            .iter()
            .enumerate()
            .map(|(a, &s)| (0, (d[lead + a].max(1) - 1) % s.max(1)))
            .collect();
        Ok(if tail.iter().all(|&(_, r)| r == 0) {
            Resolution::Keep
        } else {
            Resolution::After(&super::crop::CROP, Params::Pads(tail))
        })
    },
    mismatch_hint: "",
    lower: crate::lowering!(lower),
};

fn lower<T: Scalar>(s: &Site, dom: &[usize], _: &[usize], _: Option<&Tensor<T>>) -> Result<Op<T>> {
    Ok(Arc::new(Subsample::new(
        dom,
        list_of("subsample", s.params)?,
    )?))
}
