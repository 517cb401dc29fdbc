//! Simplification, one named rule at a time: `crop[p] ∘ zero_pad[p] = id` (PAD-2) and its
//! partial forms, merging adjacent zero pads and crops, `flip ∘ flip = id` (FLIP-1),
//! `subsample ∘ zero_insert = id` (STRIDE-2), `dilate_adjoint ∘ dilate = id` (DIL-1),
//! `group_transpose ∘ group_transpose = id` (TRANS-2), dropping identities, merging scalings
//! and `Aᵀᵀ = A`. Every rule keeps the linear map (and its shapes) unchanged.

use super::adjoint::{flatten, Step};
use super::rules::{self, Rule};
use super::{Expr, Kind, Prim};

fn prim(e: &Expr) -> Option<&Prim> {
    match &e.kind {
        Kind::Prim(p) => Some(p),
        _ => None,
    }
}

/// Simplify the pair `outer ∘ inner`, if a rule applies; `None` in the result means `id`.
fn pair(outer: &Prim, inner: &Prim) -> Option<(Option<Prim>, Rule)> {
    use Prim::*;
    match (outer, inner) {
        (Crop(c), ZeroPad(p)) if c.len() == p.len() => {
            if c == p {
                Some((None, rules::CROP_PAD))
            } else if c.iter().zip(p).all(|(a, b)| a.0 <= b.0 && a.1 <= b.1) {
                let r = c
                    .iter()
                    .zip(p)
                    .map(|(a, b)| (b.0 - a.0, b.1 - a.1))
                    .collect();
                Some((Some(ZeroPad(r)), rules::CROP_PAD))
            } else if c.iter().zip(p).all(|(a, b)| a.0 >= b.0 && a.1 >= b.1) {
                let r = c
                    .iter()
                    .zip(p)
                    .map(|(a, b)| (a.0 - b.0, a.1 - b.1))
                    .collect();
                Some((Some(Crop(r)), rules::CROP_PAD))
            } else {
                None
            }
        }
        (ZeroPad(a), ZeroPad(b)) if a.len() == b.len() => Some((
            Some(ZeroPad(
                a.iter()
                    .zip(b)
                    .map(|(x, y)| (x.0 + y.0, x.1 + y.1))
                    .collect(),
            )),
            rules::MERGE_PADS,
        )),
        (Crop(a), Crop(b)) if a.len() == b.len() => Some((
            Some(Crop(
                a.iter()
                    .zip(b)
                    .map(|(x, y)| (x.0 + y.0, x.1 + y.1))
                    .collect(),
            )),
            rules::MERGE_CROPS,
        )),
        (Flip(a), Flip(b)) if a == b => Some((None, rules::FLIP_FLIP)),
        (Subsample(a), ZeroInsert(b)) if a == b => Some((None, rules::SUB_INSERT)),
        (DilateAdjoint(a), Dilate(b)) if a == b => Some((None, rules::DILATE_BACK)),
        (GroupTranspose(a), GroupTranspose(b)) if a == b => Some((None, rules::GT_GT)),
        _ => None,
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
                            kind: Kind::Prim(q.unwrap_or(Prim::Id)),
                            col,
                        });
                        v.extend_from_slice(&f[i + 2..]);
                        return Some((rebuild(v, e.col), r));
                    }
                }
            }
            if f.len() > 1 {
                if let Some(i) = f.iter().position(|x| prim(x) == Some(&Prim::Id)) {
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
