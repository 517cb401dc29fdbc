//! One descriptor per primitive: everything the DSL needs to know about an operator, kept beside
//! the operator's own file (`src/op/zero_pad.rs` holds `zero_pad`'s descriptor, and so on).
//!
//! A [`Primitive`] gives the DSL spelling, the syntax of its parameters, its shape rules (both
//! ways), its adjoint (another registered primitive) with the rule and note identity that prove
//! it, how it is lowered to the operator, and an example typed on a domain. The parser, shape
//! inference, the adjoint rewrite, printing, the vocabulary and the tests all iterate over
//! [`PRIMITIVES`](super::PRIMITIVES); none of them names a primitive, so adding one is a file in
//! `src/op` with its descriptor, one registry entry in `src/op/mod.rs`, and a row of `check`'s
//! suite (`tests/vocabulary.rs` fails until each is there).

use super::Op;
use crate::error::{Error, Result};
use crate::tensor::{Scalar, Tensor};
use std::any::{Any, TypeId};

/// A rewrite rule: what it does and the note identity that proves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Short name, e.g. `reverse composition`.
    pub name: &'static str,
    /// The note identity, e.g. `COMP-1`.
    pub note: &'static str,
    /// The identity in ASCII DSL form.
    pub statement: &'static str,
}

/// The parameters of a primitive, as written between its brackets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Params {
    /// No brackets (`id`, and the tensor-argument primitives `circ(h)`, …).
    None,
    /// `[lo:hi, …]`, one pair per trailing axis.
    Pads(Vec<(usize, usize)>),
    /// `[k]`.
    Count(usize),
    /// `[s, …]`, one value per trailing axis.
    List(Vec<usize>),
    /// An optional shape `[N, C, …]` (`broadcast`, `sum_nc`).
    Shape(Option<Vec<usize>>),
}

/// How a primitive's parameters are written (the parser and printer follow it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// The bare name.
    Bare,
    /// `name[lo:hi, …]` (a single number `n` means `n:n`).
    Pads,
    /// `name[k]`; `open` is the hint when `[` is missing, `what` names `k`.
    Count {
        /// Hint after "expected `[` after `name`".
        open: &'static str,
        /// What the number is.
        what: &'static str,
    },
    /// `name[s, …]`; `what` names one value (`stride`).
    List {
        /// What one value is.
        what: &'static str,
    },
    /// `name` or `name[N, C, …]`.
    OptionalShape,
    /// `name(T)` or `name(T, groups=g)` with a tensor `T`.
    Operand,
}

/// What a shape rule sees: the parameters, the shape of the tensor argument (if the primitive
/// takes one) with its written `groups`, and whether a guess is allowed (inference first
/// propagates what is certain, then allows one guess at a time).
#[derive(Clone, Copy, Debug)]
pub struct Site<'a> {
    /// The parameters.
    pub params: &'a Params,
    /// The tensor argument's shape.
    pub operand: Option<&'a [usize]>,
    /// The written `groups=` (`None` when not written).
    pub groups: Option<usize>,
    /// May the rule guess where the shapes do not fix the answer?
    pub guess: bool,
}

/// A shape rule: the shape on the other side, `Ok(None)` when it cannot be known yet, or the
/// text of an error that follows the operator in backticks (e.g. `": groups=2 must divide O=3"`).
pub type ShapeRule = fn(&Site, &[usize]) -> std::result::Result<Option<Vec<usize>>, String>;

/// What shape inference writes out once both ends of a primitive are known.
#[derive(Clone, Debug, PartialEq)]
pub enum Resolution {
    /// Nothing to add.
    Keep,
    /// The tensor argument's `groups` (written only when it is not 1).
    Groups(usize),
    /// Parameters the shapes determine (e.g. `broadcast`'s shape).
    Params(Params),
    /// The primitive is applied after another one, named with its parameters, that says what
    /// the shapes hide (`subsample[s] @ crop[0:r]`).
    After(&'static Primitive, Params),
}

/// Resolve a primitive knowing its domain and codomain.
pub type Resolve = fn(&Site, &[usize], &[usize]) -> std::result::Result<Resolution, String>;

/// Build the operator in one precision, from the site, its domain and codomain and the tensor
/// argument.
pub type LowerFn<T> = fn(&Site, &[usize], &[usize], Option<&Tensor<T>>) -> Result<Op<T>>;

/// The lowering in each precision (a `fn` pointer cannot be generic, so the registry holds one
/// instance per scalar type; [`lowering!`](crate::lowering) makes both from one generic fn).
#[derive(Clone, Copy)]
pub struct Lowering {
    /// In f64.
    pub f64: LowerFn<f64>,
    /// In f32.
    pub f32: LowerFn<f32>,
}

/// Both instances of a generic `fn name<T: Scalar>(&Site, &[usize], &[usize],
/// Option<&Tensor<T>>) -> Result<Op<T>>` as a [`Lowering`].
#[macro_export]
#[doc(hidden)]
macro_rules! lowering {
    ($f:expr) => {
        $crate::op::primitive::Lowering { f64: $f, f32: $f }
    };
}

/// One primitive of the DSL.
pub struct Primitive {
    /// DSL spelling, e.g. `zero_pad`.
    pub dsl: &'static str,
    /// Other spellings the parser accepts (`pad_zeros`).
    pub aliases: &'static [&'static str],
    /// The operator in `src/op` (an adjoint form: `Type*`).
    pub op: &'static str,
    /// How the parameters are written.
    pub syntax: Syntax,
    /// The adjoint, with the same parameters and tensor argument.
    pub adjoint: &'static Primitive,
    /// The rule that says so.
    pub rule: Rule,
    /// The rule when the tensor argument has `groups` ≠ 1 (CHAN-2), if it differs.
    pub grouped_rule: Option<Rule>,
    /// An example, typed on [`domain`](Self::domain) with the tensors `h: [2, 3, 6]`,
    /// `x: [1, 3, 6]`, `A: [2, 3]` declared.
    pub example: &'static str,
    /// The example's domain.
    pub domain: &'static [usize],
    /// Codomain from domain.
    pub forward: ShapeRule,
    /// Domain from codomain.
    pub backward: ShapeRule,
    /// What to write out once both ends are known.
    pub resolve: Resolve,
    /// Added to the error when the forward shape does not meet the next operator.
    pub mismatch_hint: &'static str,
    /// The operator.
    pub lower: Lowering,
}

impl std::fmt::Debug for Primitive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Primitive({})", self.dsl)
    }
}

impl PartialEq for Primitive {
    fn eq(&self, other: &Self) -> bool {
        self.dsl == other.dsl
    }
}

impl Primitive {
    /// The rule of the adjoint step for a tensor argument with `groups`.
    pub fn adjoint_rule(&self, groups: Option<usize>) -> Rule {
        match self.grouped_rule {
            Some(r) if groups.is_some_and(|g| g != 1) => r,
            _ => self.rule,
        }
    }

    /// Build the operator in precision `T`.
    ///
    /// # Errors
    /// Operator construction errors.
    pub fn lower<T: Scalar>(
        &self,
        site: &Site,
        dom: &[usize],
        cod: &[usize],
        operand: Option<&Tensor<T>>,
    ) -> Result<Op<T>> {
        in_precision(self.lower.f64, site, dom, cod, operand)
            .or_else(|| in_precision(self.lower.f32, site, dom, cod, operand))
            .unwrap_or_else(|| {
                Err(Error::invalid(
                    self.dsl,
                    format!("no lowering in {}", T::NAME),
                ))
            })
    }
}

/// Run `f` when `U` is `T` (the registry's per-type instance), else `None`.
fn in_precision<T: Scalar, U: Scalar>(
    f: LowerFn<U>,
    site: &Site,
    dom: &[usize],
    cod: &[usize],
    operand: Option<&Tensor<T>>,
) -> Option<Result<Op<T>>> {
    if TypeId::of::<T>() != TypeId::of::<U>() {
        return None;
    }
    let operand = match operand {
        Some(t) => Some((t as &dyn Any).downcast_ref::<Tensor<U>>()?),
        None => None,
    };
    let out: Box<dyn Any> = Box::new(f(site, dom, cod, operand));
    out.downcast::<Result<Op<T>>>().ok().map(|b| *b)
}

/// The registered primitive spelled `name` (or one of its aliases).
pub fn find(name: &str) -> Option<&'static Primitive> {
    super::PRIMITIVES
        .iter()
        .copied()
        .find(|p| p.dsl == name || p.aliases.contains(&name))
}

/// The tensor argument a lowering needs.
pub(crate) fn operand<'a, T: Scalar>(dsl: &str, t: Option<&'a Tensor<T>>) -> Result<&'a Tensor<T>> {
    t.ok_or_else(|| Error::invalid(dsl, "needs its tensor argument"))
}

/// The parameters of a kind, or an error naming the primitive (a descriptor bug, not input).
pub(crate) fn pads_of<'a>(dsl: &str, p: &'a Params) -> Result<&'a [(usize, usize)]> {
    match p {
        Params::Pads(v) => Ok(v),
        _ => Err(Error::invalid(dsl, "expects [lo:hi, ...] parameters")),
    }
}

/// See [`pads_of`].
pub(crate) fn list_of<'a>(dsl: &str, p: &'a Params) -> Result<&'a [usize]> {
    match p {
        Params::List(v) => Ok(v),
        _ => Err(Error::invalid(dsl, "expects [s, ...] parameters")),
    }
}

/// See [`pads_of`].
pub(crate) fn count_of(dsl: &str, p: &Params) -> Result<usize> {
    match p {
        Params::Count(k) => Ok(*k),
        _ => Err(Error::invalid(dsl, "expects one [k] parameter")),
    }
}

/// A resolution that adds nothing.
pub(crate) fn keep(_: &Site, _: &[usize], _: &[usize]) -> std::result::Result<Resolution, String> {
    Ok(Resolution::Keep)
}
