//! Crop ↔ zero padding (note `derivations/02-pad-and-crop.md`, identity PAD-1).

use super::index::{fmt_list, gather, mapped_shape, AxisMaps};
use super::primitive::{keep, pads_of, Primitive, Rule, Site, Syntax};
use super::shape_rules as rules;
use super::zero_pad::ZeroPad;
use super::{check_rank, LinearOp, Op, Symbol};
use crate::error::{Error, Result};
use crate::tensor::{Scalar, Tensor};
use std::sync::Arc;

/// Crop of the trailing axes: drop `lo` entries at the start and `hi` at the end of each.
///
/// Forward: `$y_i = x_{i + lo}$`, `$0 \le i < n - lo - hi$`.
///
/// Adjoint ([`ZeroPad`] by the same `[lo, hi]`): put `$y$` back in place and fill the dropped
/// positions with zeros (PAD-1). Zero-embedding a kernel into a period is the same
/// [`ZeroPad`] with `lo = 0`.
///
/// ```
/// use fftconv::{op::{Crop, LinearOp}, Tensor};
/// let crop = Crop::new(&[5], &[(1, 2)]).unwrap();
/// let y = crop.apply(&Tensor::new(vec![5], vec![1.0, 2.0, 3.0, 4.0, 5.0]).unwrap()).unwrap();
/// assert_eq!(y.data(), &[2.0, 3.0]);
/// ```
///
/// # Errors
/// `new` fails when a crop would leave an axis empty or the rank does not fit.
#[derive(Clone, Debug)]
pub struct Crop {
    domain: Vec<usize>,
    codomain: Vec<usize>,
    trims: Vec<(usize, usize)>,
    maps: AxisMaps,
}

impl Crop {
    /// Crop the trailing `trims.len()` axes of tensors of `shape` by `[lo, hi]` each.
    pub fn new(shape: &[usize], trims: &[(usize, usize)]) -> Result<Self> {
        check_rank("crop", shape, trims.len())?;
        let lead = shape.len() - trims.len();
        let mut maps: AxisMaps = Vec::new();
        for (a, (&(lo, hi), &n)) in trims.iter().zip(&shape[lead..]).enumerate() {
            let keep = n
                .checked_sub(lo)
                .and_then(|r| r.checked_sub(hi))
                .filter(|&k| k > 0)
                .ok_or_else(|| {
                    Error::invalid(
                        format!("crop axis {a}"),
                        format!(
                            "cropping [{lo}, {hi}] from an extent of {n} leaves nothing; crop less"
                        ),
                    )
                })?;
            maps.push((0..keep).map(|i| Some(i + lo)).collect());
        }
        let codomain = mapped_shape(shape, &maps);
        Ok(Crop {
            domain: shape.to_vec(),
            codomain,
            trims: trims.to_vec(),
            maps,
        })
    }
    /// The `[lo, hi]` per trailing axis.
    pub fn trims(&self) -> &[(usize, usize)] {
        &self.trims
    }
}

impl<T: Scalar> LinearOp<T> for Crop {
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
        Arc::new(
            ZeroPad::new(&self.codomain, &self.trims).expect("padding a cropped shape is valid"),
        )
    }
    fn symbol(&self) -> Symbol {
        Symbol::new("crop", vec![("trims", fmt_list(&self.trims))])
    }
}

/// The DSL's `crop[lo:hi, …]` (also `fold_zeros`); its adjoint is `zero_pad` (PAD-1).
pub static CROP: Primitive = Primitive {
    dsl: "crop",
    aliases: &["fold_zeros"],
    op: "Crop",
    syntax: Syntax::Pads,
    adjoint: &super::zero_pad::ZERO_PAD,
    rule: Rule {
        name: "crop* = zero_pad",
        note: "PAD-1",
        statement: "crop[p]' = zero_pad[p]",
    },
    grouped_rule: None,
    example: "crop[1:2]",
    domain: &[1, 2, 6],
    forward: |s, d| rules::pad_shape(d, rules::pads(s)?, false).map(Some),
    backward: |s, c| rules::pad_shape(c, rules::pads(s)?, true).map(Some),
    resolve: keep,
    mismatch_hint: "",
    lower: crate::lowering!(lower),
};

fn lower<T: Scalar>(s: &Site, dom: &[usize], _: &[usize], _: Option<&Tensor<T>>) -> Result<Op<T>> {
    Ok(Arc::new(Crop::new(dom, pads_of("crop", s.params)?)?))
}
