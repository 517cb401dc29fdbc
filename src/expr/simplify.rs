//! Simplification, one named rule at a time: `crop[p] ∘ zero_pad[p] = id` (PAD-2) and its
//! partial forms, merging adjacent zero pads and crops, `flip ∘ flip = id` (FLIP-1),
//! `subsample ∘ zero_insert = id` (STRIDE-2), `dilate_adjoint ∘ dilate = id` (DIL-1),
//! `group_transpose ∘ group_transpose = id` (TRANS-2), dropping identities, merging scalings
//! and `Aᵀᵀ = A`. Every rule keeps the linear map (and its shapes) unchanged.

use super::adjoint::{flatten, Step};
use super::rules::{self, Rule};
use super::{Expr, Kind, Prim};
use crate::op::{
    Params, Primitive, CROP, DILATE, FLIP, GROUP_TRANSPOSE, ID, ZERO_INSERT, ZERO_PAD,
};

/// The primitives `A` that their registered adjoint undoes, `A* ∘ A = id` (isometries onto
/// their range), with the rule that says so; the adjoint is read from the descriptor.
static UNDONE_BY_ADJOINT: [(&Primitive, Rule); 4] = [
    (&FLIP, rules::FLIP_FLIP),
    (&ZERO_INSERT, rules::SUB_INSERT),
    (&DILATE, rules::DILATE_BACK),
    (&GROUP_TRANSPOSE, rules::GT_GT),
];

/// Whether `p` is the registered primitive `desc`.
fn is(p: &Prim, desc: &'static Primitive) -> bool {
    std::ptr::eq(p.desc, desc)
}

fn prim(e: &Expr) -> Option<&Prim> {
    match &e.kind {
        Kind::Prim(p) => Some(p),
        _ => None,
    }
}

/// `a + b` per axis.
fn add(a: &[(usize, usize)], b: &[(usize, usize)]) -> Params {
    Params::Pads(
        a.iter()
            .zip(b)
            .map(|(x, y)| (x.0 + y.0, x.1 + y.1))
            .collect(),
    )
}

/// `crop[c] ∘ zero_pad[p]`: the identity, or what is left of the pad or the crop (PAD-2).
fn crop_after_pad(c: &[(usize, usize)], p: &[(usize, usize)]) -> Option<Option<Prim>> {
    if c == p {
        Some(None)
    } else if c.iter().zip(p).all(|(a, b)| a.0 <= b.0 && a.1 <= b.1) {
        let r = c
            .iter()
            .zip(p)
            .map(|(a, b)| (b.0 - a.0, b.1 - a.1))
            .collect();
        Some(Some(Prim::new(&ZERO_PAD, Params::Pads(r))))
    } else if c.iter().zip(p).all(|(a, b)| a.0 >= b.0 && a.1 >= b.1) {
        let r = c
            .iter()
            .zip(p)
            .map(|(a, b)| (a.0 - b.0, a.1 - b.1))
            .collect();
        Some(Some(Prim::new(&CROP, Params::Pads(r))))
    } else {
        None
    }
}

/// Simplify the pair `outer ∘ inner`, if a rule applies; `None` in the result means `id`.
fn pair(outer: &Prim, inner: &Prim) -> Option<(Option<Prim>, Rule)> {
    let same = outer.params == inner.params && outer.operand == inner.operand;
    if same && std::ptr::eq(outer.desc, inner.desc.adjoint) {
        if let Some((_, rule)) = UNDONE_BY_ADJOINT.iter().find(|(a, _)| is(inner, a)) {
            return Some((None, *rule));
        }
    }
    let (a, b) = (outer.pads()?, inner.pads()?);
    if a.len() != b.len() {
        return None;
    }
    if is(outer, &CROP) && is(inner, &ZERO_PAD) {
        crop_after_pad(a, b).map(|q| (q, rules::CROP_PAD))
    } else if is(outer, &ZERO_PAD) && is(inner, &ZERO_PAD) {
        Some((Some(Prim::new(&ZERO_PAD, add(a, b))), rules::MERGE_PADS))
    } else if is(outer, &CROP) && is(inner, &CROP) {
        Some((Some(Prim::new(&CROP, add(a, b))), rules::MERGE_CROPS))
    } else {
        None
    }
}

/// One simplification step somewhere in `e` (outermost, leftmost first).
pub fn step(e: &Expr) -> Option<(Expr, Rule)> {
    let at = |kind| Expr { kind, col: e.col };
    match &e.kind {
        Kind::Prim(_) => None,
        Kind::Adjoint(x) => {
            if let Kind::Adjoint(y) = &x.kind {
                return Some(((**y).clone(), rules::INVOLUTION));
            }
            step(x).map(|(y, r)| (at(Kind::Adjoint(Box::new(y))), r))
        }
        Kind::Scale(a, x) => {
            if *a == 1.0 {
                return Some(((**x).clone(), rules::SCALE_MERGE));
            }
            if let Kind::Scale(b, y) = &x.kind {
                return Some((at(Kind::Scale(a * b, y.clone())), rules::SCALE_MERGE));
            }
            step(x).map(|(y, r)| (at(Kind::Scale(*a, Box::new(y))), r))
        }
        Kind::Sum(t) => {
            for (i, x) in t.iter().enumerate() {
                if let Some((y, r)) = step(x) {
                    let mut v = t.clone();
                    v[i] = y;
                    return Some((at(Kind::Sum(v)), r));
                }
            }
            None
        }
        Kind::Compose(f) => {
            for i in 0..f.len().saturating_sub(1) {
                if let (Some(a), Some(b)) = (prim(&f[i]), prim(&f[i + 1])) {
                    if let Some((q, r)) = pair(a, b) {
                        let mut v: Vec<Expr> = f[..i].to_vec();
                        let col = f[i].col;
                        v.push(Expr {
                            kind: Kind::Prim(q.unwrap_or_else(Prim::id)),
                            col,
                        });
                        v.extend_from_slice(&f[i + 2..]);
                        return Some((rebuild(v, e.col), r));
                    }
                }
            }
            if f.len() > 1 {
                if let Some(i) = f.iter().position(|x| prim(x).is_some_and(|p| is(p, &ID))) {
                    let mut v = f.clone();
                    v.remove(i);
                    return Some((rebuild(v, e.col), rules::DROP_ID));
                }
            }
            for (i, x) in f.iter().enumerate() {
                if let Some((y, r)) = step(x) {
                    let mut v = f.clone();
                    v[i] = y;
                    return Some((rebuild(v, e.col), r));
                }
            }
            None
        }
    }
}

fn rebuild(v: Vec<Expr>, col: usize) -> Expr {
    let mut v = flatten(v);
    if v.len() == 1 {
        v.pop().expect("one factor")
    } else {
        Expr {
            kind: Kind::Compose(v),
            col,
        }
    }
}

/// Simplify until no rule applies; the trace lists every step.
///
/// ```
/// use fftconv::expr::{parse::parse_expr, print::ascii, simplify::simplify};
/// let e = parse_expr("crop[1:1] @ zero_pad[1:1] @ flip[1] @ flip[1] @ zero_pad[0:2] @ zero_pad[1:0]", "e").unwrap();
/// let (s, trace) = simplify(&e);
/// assert_eq!(ascii(&s), "zero_pad[1:2]");
/// assert_eq!(trace[0].rule.note, "PAD-2");
/// ```
pub fn simplify(e: &Expr) -> (Expr, Vec<Step>) {
    let mut cur = e.clone();
    let mut trace = Vec::new();
    while let Some((next, rule)) = step(&cur) {
        cur = next;
        trace.push(Step {
            rule,
            after: cur.clone(),
        });
    }
    (cur, trace)
}
