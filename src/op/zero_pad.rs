//! Zero padding ↔ crop (note `derivations/02-pad-and-crop.md`, identity PAD-1).

use super::crop::Crop;
use super::index::{fmt_list, gather, mapped_shape, AxisMaps};
use super::primitive::{keep, pads_of, Primitive, Rule, Site, Syntax};
use super::shape_rules as rules;
use super::{check_rank, LinearOp, Op, Symbol};
use crate::error::Result;
use crate::tensor::{Scalar, Tensor};
use std::sync::Arc;

/// Zero padding of the trailing axes by `[lo, hi]` each.
///
/// Forward: `$y_i = x_{i - lo}$` for `$lo \le i < lo + n$`, else `$0$`; output extent `$n + lo + hi$`.
///
/// Adjoint ([`Crop`] by the same `[lo, hi]`): `$x_j = y_{j + lo}$` — the padded zeros receive no
/// input, so their cotangent is dropped (PAD-1).
///
/// ```
/// use fftconv::{op::{LinearOp, ZeroPad}, Tensor};
/// let pad = ZeroPad::new(&[3], &[(1, 2)]).unwrap();
/// let y = pad.apply(&Tensor::new(vec![3], vec![1.0, 2.0, 3.0]).unwrap()).unwrap();
/// assert_eq!(y.data(), &[0.0, 1.0, 2.0, 3.0, 0.0, 0.0]);
/// ```
///
/// # Errors
/// `new` fails when `pads` has more entries than `shape` has axes, or none.
#[derive(Clone, Debug)]
pub struct ZeroPad {
    domain: Vec<usize>,
    codomain: Vec<usize>,
    pads: Vec<(usize, usize)>,
    maps: AxisMaps,
}

impl ZeroPad {
    /// Pad the trailing `pads.len()` axes of tensors of `shape`.
    pub fn new(shape: &[usize], pads: &[(usize, usize)]) -> Result<Self> {
        check_rank("zero_pad", shape, pads.len())?;
        let lead = shape.len() - pads.len();
        let maps: AxisMaps = pads
            .iter()
            .zip(&shape[lead..])
            .map(|(&(lo, hi), &n)| {
                (0..lo + n + hi)
                    .map(|i| {
                        if i >= lo && i < lo + n {
                            Some(i - lo)
                        } else {
                            None
                        }
                    })
                    .collect()
            })
            .collect();
        let codomain = mapped_shape(shape, &maps);
        crate::tensor::checked_numel(&codomain)?;
        Ok(ZeroPad {
            domain: shape.to_vec(),
            codomain,
            pads: pads.to_vec(),
            maps,
        })
    }
    /// The `[lo, hi]` per trailing axis.
    pub fn pads(&self) -> &[(usize, usize)] {
        &self.pads
    }
}

impl<T: Scalar> LinearOp<T> for ZeroPad {
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
        Arc::new(Crop::new(&self.codomain, &self.pads).expect("crop of a padded shape is valid"))
    }
    fn symbol(&self) -> Symbol {
        Symbol::new("zero_pad", vec![("pads", fmt_list(&self.pads))])
    }
}

/// The DSL's `zero_pad[lo:hi, …]` (also `pad_zeros`); its adjoint is `crop` (PAD-1).
pub static ZERO_PAD: Primitive = Primitive {
    dsl: "zero_pad",
    aliases: &["pad_zeros"],
    op: "ZeroPad",
    syntax: Syntax::Pads,
    adjoint: &super::crop::CROP,
    rule: Rule {
        name: "zero_pad* = crop",
        note: "PAD-1",
        statement: "zero_pad[p]' = crop[p]",
    },
    grouped_rule: None,
    example: "zero_pad[1:2]",
    domain: &[1, 2, 4],
    forward: |s, d| rules::pad_shape(d, rules::pads(s)?, true).map(Some),
    backward: |s, c| rules::pad_shape(c, rules::pads(s)?, false).map(Some),
    resolve: keep,
    mismatch_hint: "",
    lower: crate::lowering!(lower),
};

fn lower<T: Scalar>(s: &Site, dom: &[usize], _: &[usize], _: Option<&Tensor<T>>) -> Result<Op<T>> {
    Ok(Arc::new(ZeroPad::new(dom, pads_of("zero_pad", s.params)?)?))
}
