//! Zero-insert ↔ subsample (note `derivations/09-stride.md`, identity STRIDE-1).

use super::index::{fmt_list, scatter_add};
use super::primitive::{keep, list_of, Primitive, Rule, Site, Syntax};
use super::shape_rules as rules;
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

/// The DSL's `zero_insert[s, …]`: an extent `m` becomes exactly `(m-1)s+1` (a longer result is
/// written out, `zero_pad[0:r] @ zero_insert[s]`); its adjoint is `subsample` (STRIDE-1).
pub static ZERO_INSERT: Primitive = Primitive {
    dsl: "zero_insert",
    aliases: &[],
    op: "ZeroInsert",
    syntax: Syntax::List { what: "stride" },
    adjoint: &super::subsample::SUBSAMPLE,
    rule: Rule {
        name: "zero_insert* = subsample",
        note: "STRIDE-1",
        statement: "zero_insert[s]' = subsample[s]",
    },
    grouped_rule: None,
    example: "zero_insert[2]",
    domain: &[1, 2, 3],
    forward: |s, d| rules::per_axis(d, rules::list(s)?, rules::spread).map(Some),
    backward: |s, c| rules::per_axis(c, rules::list(s)?, rules::unspread).map(Some),
    resolve: keep,
    mismatch_hint: "; zero_insert[s] gives exactly (m-1)s+1 entries: write a longer result as zero_pad[0:r] @ zero_insert[s]",
    lower: crate::lowering!(lower),
};

fn lower<T: Scalar>(s: &Site, _: &[usize], cod: &[usize], _: Option<&Tensor<T>>) -> Result<Op<T>> {
    Ok(Arc::new(ZeroInsert::new(
        cod,
        list_of("zero_insert", s.params)?,
    )?))
}
