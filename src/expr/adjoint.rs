//! The adjoint as a rewrite: push every `adjoint(…)` down to the primitives, one named rule at
//! a time, recording each step with the note identity that proves it.
//!
//! | expression            | rewrites to                 | rule     |
//! |-----------------------|-----------------------------|----------|
//! | `(A ∘ B)ᵀ`            | `Bᵀ ∘ Aᵀ`                   | COMP-1   |
//! | `(A + B)ᵀ`            | `Aᵀ + Bᵀ`                   | COMP-2   |
//! | `(a·A)ᵀ`              | `a·Aᵀ`                      | COMP-3   |
//! | `Aᵀᵀ`, `idᵀ`          | `A`, `id`                   | COMP-4   |
//! | `zero_pad[p]ᵀ`        | `crop[p]`                   | PAD-1    |
//! | `pad_reflect[p]ᵀ`     | `fold_reflect[p]`           | MODE-1   |
//! | `flip[k]ᵀ`            | `flip[k]`                   | FLIP-1   |
//! | `subsample[s]ᵀ`       | `zero_insert[s]`            | STRIDE-1 |
//! | `dilate[d]ᵀ`          | `dilate_adjoint[d]`         | DIL-1    |
//! | `circ(h)ᵀ`            | `corr(h)`                   | CIRC-2   |
//! | `circ_signal(x)ᵀ`     | `corr_signal(x)`            | SWAP-2   |
//! | the same, `groups=g`  | the same, `groups=g`        | CHAN-2   |
//! | `mix(A)ᵀ`             | `mix_t(A)`                  | CHAN-1   |
//! | `group_transpose[g]ᵀ` | `group_transpose[g]`        | TRANS-2  |
//! | `broadcastᵀ`          | `sum_nc`                    | BIAS-1   |
//!
//! and each rule's converse. The rewrite needs resolved `groups` (see
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

fn grouped(o: &super::Operand) -> bool {
    o.groups.is_some_and(|g| g != 1)
}

/// The adjoint of a primitive, and the rule that says so.
pub fn prim_adjoint(p: &Prim) -> (Prim, Rule) {
    match p {
        Prim::ZeroPad(x) => (Prim::Crop(x.clone()), rules::ZERO_PAD),
        Prim::Crop(x) => (Prim::ZeroPad(x.clone()), rules::CROP),
        Prim::Pad(m, x) => (Prim::Fold(*m, x.clone()), rules::PAD_MODE),
        Prim::Fold(m, x) => (Prim::Pad(*m, x.clone()), rules::FOLD_MODE),
        Prim::Flip(k) => (Prim::Flip(*k), rules::FLIP),
        Prim::Subsample(s) => (Prim::ZeroInsert(s.clone()), rules::SUBSAMPLE),
        Prim::ZeroInsert(s) => (Prim::Subsample(s.clone()), rules::ZERO_INSERT),
        Prim::Dilate(d) => (Prim::DilateAdjoint(d.clone()), rules::DILATE),
        Prim::DilateAdjoint(d) => (Prim::Dilate(d.clone()), rules::DILATE_ADJ),
        // With groups, the same rule per group: the block transpose of CHAN-1 per frequency.
        Prim::Circ(o) if grouped(o) => (Prim::Corr(o.clone()), rules::CIRC_GROUPS),
        Prim::Corr(o) if grouped(o) => (Prim::Circ(o.clone()), rules::CORR_GROUPS),
        Prim::CircSignal(o) if grouped(o) => {
            (Prim::CorrSignal(o.clone()), rules::CIRC_SIGNAL_GROUPS)
        }
        Prim::CorrSignal(o) if grouped(o) => {
            (Prim::CircSignal(o.clone()), rules::CORR_SIGNAL_GROUPS)
        }
        Prim::Circ(o) => (Prim::Corr(o.clone()), rules::CIRC),
        Prim::Corr(o) => (Prim::Circ(o.clone()), rules::CORR),
        Prim::CircSignal(o) => (Prim::CorrSignal(o.clone()), rules::CIRC_SIGNAL),
        Prim::CorrSignal(o) => (Prim::CircSignal(o.clone()), rules::CORR_SIGNAL),
        Prim::Mix(o) => (Prim::MixT(o.clone()), rules::MIX),
        Prim::MixT(o) => (Prim::Mix(o.clone()), rules::MIX_T),
        Prim::GroupTranspose(g) => (Prim::GroupTranspose(*g), rules::GROUP_TRANSPOSE),
        Prim::Broadcast(s) => (Prim::SumNc(s.clone()), rules::BROADCAST),
        Prim::SumNc(s) => (Prim::Broadcast(s.clone()), rules::SUM_NC),
        Prim::Id => (Prim::Id, rules::IDENTITY),
    }
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
