//! The adjoint as a rewrite: push every `adjoint(…)` down to the primitives, one named rule at
//! a time, recording each step with the note identity that proves it.
//!
//! | expression            | rewrites to                 | rule     |
//! |-----------------------|-----------------------------|----------|
//! | `(A ∘ B)ᵀ`            | `Bᵀ ∘ Aᵀ`                   | COMP-1   |
//! | `(A + B)ᵀ`            | `Aᵀ + Bᵀ`                   | COMP-2   |
//! | `(a·A)ᵀ`              | `a·Aᵀ`                      | COMP-3   |
//! | `Aᵀᵀ`                 | `A`                         | COMP-4   |
//! | `p[…]ᵀ`, a primitive  | its adjoint, same `[…]`     | its note |
//!
//! A primitive's adjoint and the note that proves it come from its descriptor (the table at
//! [`crate::op::PRIMITIVES`]: `zero_pad[p]ᵀ = crop[p]` by PAD-1, `circ(h)ᵀ = corr(h)` by
//! CIRC-2, with `groups=g` ≠ 1 by CHAN-2, …). The rewrite needs resolved `groups` (see
//! [`shape::check`](super::shape::check)) for `corr`/`mix_t` with groups.

use super::rules::{self, Rule};
use super::simplify;
use super::{Expr, Kind, Prim};

/// One step of a derivation: the rule applied and the whole expression after it.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The rule.
    pub rule: Rule,
    /// The expression after the step.
    pub after: Expr,
}

/// The adjoint of a primitive, and the rule that says so: its descriptor's adjoint, with the
/// same parameters and tensor argument.
pub fn prim_adjoint(p: &Prim) -> (Prim, Rule) {
    (
        Prim {
            desc: p.desc.adjoint,
            params: p.params.clone(),
            operand: p.operand.clone(),
        },
        p.desc.adjoint_rule(p.groups()),
    )
}

/// The table of primitive adjoints the rewrite uses: [`prim_adjoint`], or another one to see
/// that the step checks catch a wrong rule (`tests/derive_steps.rs` plants one).
pub type PrimAdjoint = dyn Fn(&Prim) -> (Prim, Rule);

/// Rewrite the node `Adjoint(inner)` once.
fn rewrite_adjoint(inner: &Expr, col: usize, table: &PrimAdjoint) -> (Expr, Rule) {
    let at = |kind| Expr { kind, col };
    match &inner.kind {
        Kind::Compose(f) => (
            at(Kind::Compose(
                f.iter().rev().map(|x| x.clone().adjoint()).collect(),
            )),
            rules::COMPOSE,
        ),
        Kind::Sum(t) => (
            at(Kind::Sum(t.iter().map(|x| x.clone().adjoint()).collect())),
            rules::SUM,
        ),
        Kind::Scale(a, x) => (
            at(Kind::Scale(*a, Box::new((**x).clone().adjoint()))),
            rules::SCALE,
        ),
        Kind::Adjoint(x) => ((**x).clone(), rules::INVOLUTION),
        Kind::Prim(p) => {
            let (q, r) = table(p);
            (at(Kind::Prim(q)), r)
        }
    }
}

/// Apply one adjoint rule at the first `adjoint(…)` node (outermost, leftmost), if any.
pub fn step(e: &Expr) -> Option<(Expr, Rule)> {
    step_with(e, &prim_adjoint)
}

/// [`step`] with another table of primitive adjoints.
pub fn step_with(e: &Expr, table: &PrimAdjoint) -> Option<(Expr, Rule)> {
    match &e.kind {
        Kind::Adjoint(inner) => Some(rewrite_adjoint(inner, e.col, table)),
        Kind::Prim(_) => None,
        Kind::Scale(a, x) => step_with(x, table).map(|(y, r)| {
            (
                Expr {
                    kind: Kind::Scale(*a, Box::new(y)),
                    col: e.col,
                },
                r,
            )
        }),
        Kind::Compose(items) | Kind::Sum(items) => {
            for (i, x) in items.iter().enumerate() {
                if let Some((y, r)) = step_with(x, table) {
                    let mut v = items.clone();
                    v[i] = y;
                    let kind = match &e.kind {
                        Kind::Compose(_) => Kind::Compose(flatten(v)),
                        _ => Kind::Sum(v),
                    };
                    return Some((Expr { kind, col: e.col }, r));
                }
            }
            None
        }
    }
}

/// Nested compositions spliced into their parent (associativity).
pub fn flatten(v: Vec<Expr>) -> Vec<Expr> {
    let mut out = Vec::new();
    for x in v {
        match x.kind {
            Kind::Compose(inner) => out.extend(flatten(inner)),
            _ => out.push(x),
        }
    }
    out
}

/// Push every adjoint down to the primitives; the trace lists every step.
///
/// ```
/// use fftconv::expr::{adjoint::push_adjoints, parse::parse_expr, print::ascii};
/// let e = parse_expr("adjoint(subsample[2] @ crop[2:0] @ circ(h))", "e").unwrap();
/// let (a, trace) = push_adjoints(&e);
/// assert_eq!(ascii(&a), "corr(h) @ zero_pad[2:0] @ zero_insert[2]");
/// let notes: Vec<_> = trace.iter().map(|s| s.rule.note).collect();
/// assert_eq!(notes, ["COMP-1", "CIRC-2", "PAD-1", "STRIDE-1"]);
/// ```
pub fn push_adjoints(e: &Expr) -> (Expr, Vec<Step>) {
    push_adjoints_with(e, &prim_adjoint)
}

/// [`push_adjoints`] with another table of primitive adjoints.
pub fn push_adjoints_with(e: &Expr, table: &PrimAdjoint) -> (Expr, Vec<Step>) {
    let mut cur = e.clone();
    let mut trace = Vec::new();
    while let Some((next, rule)) = step_with(&cur, table) {
        cur = next;
        trace.push(Step {
            rule,
            after: cur.clone(),
        });
    }
    (cur, trace)
}

/// The adjoint of `e`, derived: push adjoints, then simplify; the trace lists every step.
pub fn derive(e: &Expr) -> (Expr, Vec<Step>) {
    derive_with(e, &prim_adjoint)
}

/// [`derive()`] with another table of primitive adjoints.
pub fn derive_with(e: &Expr, table: &PrimAdjoint) -> (Expr, Vec<Step>) {
    let (a, mut trace) = push_adjoints_with(&e.clone().adjoint(), table);
    let (s, t2) = simplify::simplify(&a);
    trace.extend(t2);
    (s, trace)
}
