//! Kernel dilation ↔ its adjoint (note `derivations/10-dilation.md`, identity DIL-1).

use super::index::{fmt_list, gather, mapped_shape, scatter_add, AxisMaps};
use super::primitive::{keep, list_of, Primitive, Rule, Site, Syntax};
use super::shape_rules as rules;
use super::{check_rank, LinearOp, Op, Symbol};
use crate::error::{Error, Result};
use crate::tensor::{Scalar, Tensor};
use std::sync::Arc;

/// Dilate a kernel: spread its taps `d` apart along each trailing axis.
///
/// Forward: extent `$K \mapsto d(K-1)+1$`, `$y_{d k} = x_k$`, zeros between.
///
/// Adjoint: `$x_k = y_{d k}$` — read the taps back, drop the gaps (DIL-1). A dilated
/// convolution is an ordinary one with the dilated kernel, so its weight gradient is the
/// ordinary weight gradient read at the taps.
///
/// ```
/// use fftconv::{op::{Dilate, LinearOp}, Tensor};
/// let d = Dilate::new(&[3], &[2]).unwrap();
/// let y = d.apply(&Tensor::new(vec![3], vec![1.0, 2.0, 3.0]).unwrap()).unwrap();
/// assert_eq!(y.data(), &[1.0, 0.0, 2.0, 0.0, 3.0]);
/// ```
///
/// # Errors
/// `new` fails on a zero dilation, an empty axis or a rank that does not fit.
#[derive(Clone, Debug)]
pub struct Dilate {
    kernel_shape: Vec<usize>,
    dilated_shape: Vec<usize>,
    dilation: Vec<usize>,
    /// Maps from dilated positions to taps.
    maps: AxisMaps,
    adjoint: bool,
}

impl Dilate {
    /// Dilate the trailing `dilation.len()` axes of kernels of `shape`.
    pub fn new(shape: &[usize], dilation: &[usize]) -> Result<Self> {
        check_rank("dilate", shape, dilation.len())?;
        let lead = shape.len() - dilation.len();
        let mut maps = AxisMaps::new();
        for (a, (&d, &k)) in dilation.iter().zip(&shape[lead..]).enumerate() {
            if d == 0 {
                return Err(Error::invalid(
                    format!("dilation[{a}]"),
                    "must be at least 1",
                ));
            }
            if k == 0 {
                return Err(Error::invalid(
                    format!("kernel axis {a}"),
                    "kernel extent must be at least 1",
                ));
            }
            let n = d
                .checked_mul(k - 1)
                .and_then(|v| v.checked_add(1))
                .ok_or_else(|| {
                    Error::invalid(format!("dilation[{a}]"), "dilated kernel extent overflows")
                })?;
            maps.push((0..n).map(|j| (j % d == 0).then_some(j / d)).collect());
        }
        let dilated_shape = mapped_shape(shape, &maps);
        crate::tensor::checked_numel(&dilated_shape)?;
        Ok(Dilate {
            kernel_shape: shape.to_vec(),
            dilated_shape,
            dilation: dilation.to_vec(),
            maps,
            adjoint: false,
        })
    }
}

impl<T: Scalar> LinearOp<T> for Dilate {
    fn domain(&self) -> &[usize] {
        if self.adjoint {
            &self.dilated_shape
        } else {
            &self.kernel_shape
        }
    }
    fn codomain(&self) -> &[usize] {
        if self.adjoint {
            &self.kernel_shape
        } else {
            &self.dilated_shape
        }
    }
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        if self.adjoint {
            scatter_add(x, &self.kernel_shape, &self.maps)
        } else {
            gather(x, &self.maps)
        }
    }
    fn adjoint(&self) -> Op<T> {
        Arc::new(Dilate {
            adjoint: !self.adjoint,
            ..self.clone()
        })
    }
    fn symbol(&self) -> Symbol {
        let name = if self.adjoint {
            "dilate_adjoint"
        } else {
            "dilate"
        };
        Symbol::new(name, vec![("dilation", fmt_list(&self.dilation))])
    }
}

/// The DSL's `dilate[d, …]`; its adjoint is `dilate_adjoint` (DIL-1).
pub static DILATE: Primitive = Primitive {
    dsl: "dilate",
    aliases: &[],
    op: "Dilate",
    syntax: Syntax::List { what: "dilation" },
    adjoint: &DILATE_ADJOINT,
    rule: Rule {
        name: "dilate* = dilate_adjoint",
        note: "DIL-1",
        statement: "dilate[d]' = dilate_adjoint[d]",
    },
    grouped_rule: None,
    example: "dilate[2]",
    domain: &[2, 3, 3],
    forward: |s, d| rules::per_axis(d, rules::list(s)?, rules::spread).map(Some),
    backward: |s, c| rules::per_axis(c, rules::list(s)?, rules::unspread).map(Some),
    resolve: keep,
    mismatch_hint: "",
    lower: crate::lowering!(lower),
};

/// The DSL's `dilate_adjoint[d, …]`; its adjoint is `dilate` (DIL-1).
pub static DILATE_ADJOINT: Primitive = Primitive {
    dsl: "dilate_adjoint",
    aliases: &[],
    op: "Dilate*",
    syntax: Syntax::List { what: "dilation" },
    adjoint: &DILATE,
    rule: Rule {
        name: "dilate_adjoint* = dilate",
        note: "DIL-1",
        statement: "dilate_adjoint[d]' = dilate[d]",
    },
    grouped_rule: None,
    example: "dilate_adjoint[2]",
    domain: &[2, 3, 5],
    forward: |s, d| rules::per_axis(d, rules::list(s)?, rules::unspread).map(Some),
    backward: |s, c| rules::per_axis(c, rules::list(s)?, rules::spread).map(Some),
    resolve: keep,
    mismatch_hint: "",
    lower: crate::lowering!(lower_adjoint),
};

fn lower<T: Scalar>(s: &Site, dom: &[usize], _: &[usize], _: Option<&Tensor<T>>) -> Result<Op<T>> {
    Ok(Arc::new(Dilate::new(dom, list_of("dilate", s.params)?)?))
}

fn lower_adjoint<T: Scalar>(
    s: &Site,
    _: &[usize],
    cod: &[usize],
    _: Option<&Tensor<T>>,
) -> Result<Op<T>> {
    Ok(LinearOp::<T>::adjoint(&Dilate::new(
        cod,
        list_of("dilate_adjoint", s.params)?,
    )?))
}
