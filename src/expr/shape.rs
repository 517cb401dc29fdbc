//! Shape inference: an expression is checked *on* a domain shape (or towards a codomain); every
//! intermediate shape follows. Chains whose shapes do not meet are errors at the column of the
//! operator that does not fit. Inference runs both ways (from the domain forwards, from the
//! codomain backwards) until nothing changes, so `adjoint(zero_pad[1:2]) on [2, 3, 5]` works:
//! the adjoint's domain is the codomain of `zero_pad`.
//!
//! No extent is hidden: `zero_insert[s]` maps an extent `m` to exactly `(m-1)s+1` (a longer
//! result is written out, `zero_pad[0:r] @ zero_insert[s]`), and a `subsample[s]` checked on an
//! extent `n` that is not of that form is resolved to `subsample[s] @ crop[0:r]`,
//! `r = (n-1) mod s` (the entries it never reads), so that its adjoint is `zero_insert` with no
//! hidden end padding (STRIDE-1). `subsample[s]` backwards is the one guess: `(m-1)s+1`;
//! `circ`/`mix` with unknown groups backwards assume 1 unless `groups=` is written.

use super::print::ascii;
use super::{Env, Expr, Kind, Operand, Prim, Term};
use crate::error::{Error, Result};
use crate::op::primitive::{Resolution, Site};

/// A shape.
pub type Shape = Vec<usize>;

/// An expression with its groups and broadcast shapes resolved, and its domain and codomain.
#[derive(Clone, Debug, PartialEq)]
pub struct Typed {
    /// The resolved expression (every `groups` that is not 1 written out).
    pub expr: Expr,
    /// Input shape.
    pub domain: Shape,
    /// Output shape.
    pub codomain: Shape,
}

/// Check `e` on a domain and/or codomain and resolve it.
///
/// ```
/// use fftconv::expr::{parse::parse_expr, shape::check, Env};
/// let e = parse_expr("crop[1:1] @ zero_pad[2:0]", "e").unwrap();
/// let t = check(&e, Some(&[2, 3, 5]), None, &Env::new(), "e").unwrap();
/// assert_eq!(t.codomain, vec![2, 3, 5]);
/// let bad = parse_expr("crop[4:4] @ zero_pad[1:1]", "e").unwrap();
/// assert!(check(&bad, Some(&[2, 3, 5]), None, &Env::new(), "e").is_err());
/// ```
///
/// # Errors
/// [`Error::Parse`] naming the column of the operator whose shapes do not fit, or that cannot
/// be determined.
pub fn check(
    e: &Expr,
    domain: Option<&[usize]>,
    codomain: Option<&[usize]>,
    env: &Env,
    source_name: &str,
) -> Result<Typed> {
    let cx = Ctx {
        env,
        src: source_name,
    };
    let (d, c) = cx.shapes(
        e,
        domain.map(|s| s.to_vec()),
        codomain.map(|s| s.to_vec()),
        true,
    )?;
    let (d, c) = match (d, c) {
        (Some(d), Some(c)) => (d, c),
        _ => {
            return Err(cx.err(
                e,
                format!(
                    "cannot determine the shapes of `{}`; state the domain with `on [..]` or give broadcast its shape, broadcast[N, C, ..]",
                    ascii(e)
                ),
            ))
        }
    };
    let expr = cx.resolve(e, &d, &c)?;
    Ok(Typed {
        expr,
        domain: d,
        codomain: c,
    })
}

/// The shape of a tensor term.
///
/// # Errors
/// [`Error::Parse`] / [`Error::Invalid`] when a name is undeclared or an applied operator does
/// not fit.
pub fn term_shape(t: &Term, env: &Env, source_name: &str) -> Result<Shape> {
    Ctx {
        env,
        src: source_name,
    }
    .term_shape(t)
}

/// Shapes at the boundaries of a chain `factors` (outermost first): entry `n` is the domain,
/// entry 0 the codomain, entry `i+1 → i` is factor `i`.
///
/// # Errors
/// As [`check`].
pub fn boundaries(
    factors: &[Expr],
    domain: &[usize],
    codomain: &[usize],
    env: &Env,
    source_name: &str,
) -> Result<Vec<Shape>> {
    let cx = Ctx {
        env,
        src: source_name,
    };
    let s = cx.chain(
        factors,
        Some(domain.to_vec()),
        Some(codomain.to_vec()),
        true,
    )?;
    s.into_iter()
        .enumerate()
        .map(|(i, v)| {
            v.ok_or_else(|| {
                let f = &factors[i.min(factors.len() - 1)];
                cx.err(
                    f,
                    format!("cannot determine the shape next to `{}`", ascii(f)),
                )
            })
        })
        .collect()
}

struct Ctx<'a> {
    env: &'a Env,
    src: &'a str,
}

fn fmt_shape(s: &[usize]) -> String {
    format!(
        "[{}]",
        s.iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

type Pair = (Option<Shape>, Option<Shape>);

impl Ctx<'_> {
    fn err(&self, e: &Expr, message: String) -> Error {
        Error::Parse {
            source_name: self.src.to_string(),
            column: e.col.max(1),
            message,
        }
    }

    fn term_shape(&self, t: &Term) -> Result<Shape> {
        match t {
            Term::Name(n) => Ok(self.env.get(n)?.shape().to_vec()),
            Term::Apply(op, inner) => {
                let s = self.term_shape(inner)?;
                match self.shapes(op, Some(s), None, true)? {
                    (_, Some(c)) => Ok(c),
                    _ => Err(self.err(
                        op,
                        format!("cannot determine the output shape of `{}`", ascii(op)),
                    )),
                }
            }
        }
    }

    fn shapes(
        &self,
        e: &Expr,
        dom: Option<Shape>,
        cod: Option<Shape>,
        guess: bool,
    ) -> Result<Pair> {
        match &e.kind {
            Kind::Prim(p) => self.prim_shapes(e, p, dom, cod, guess),
            Kind::Adjoint(a) => {
                let (d, c) = self.shapes(a, cod, dom, guess)?;
                Ok((c, d))
            }
            Kind::Scale(_, a) => self.shapes(a, dom, cod, guess),
            Kind::Compose(f) => {
                let s = self.chain(f, dom, cod, guess)?;
                Ok((s[f.len()].clone(), s[0].clone()))
            }
            Kind::Sum(terms) => {
                let (mut d, mut c) = (dom, cod);
                for _ in 0..=terms.len() {
                    let before = (d.clone(), c.clone());
                    for t in terms {
                        let (td, tc) = self.shapes(t, d.clone(), c.clone(), guess)?;
                        d = d.or(td);
                        c = c.or(tc);
                    }
                    if before == (d.clone(), c.clone()) {
                        break;
                    }
                }
                Ok((d, c))
            }
        }
    }

    fn chain(
        &self,
        f: &[Expr],
        dom: Option<Shape>,
        cod: Option<Shape>,
        guess: bool,
    ) -> Result<Vec<Option<Shape>>> {
        let n = f.len();
        let mut s: Vec<Option<Shape>> = vec![None; n + 1];
        s[n] = dom;
        s[0] = cod;
        loop {
            // Exact inference first, to a fixpoint; then one guess (if allowed), and again.
            loop {
                let mut progress = false;
                for i in (0..n).rev() {
                    if s[i + 1].is_some() && s[i].is_none() {
                        let (_, c) = self.shapes(&f[i], s[i + 1].clone(), None, false)?;
                        if c.is_some() {
                            s[i] = c;
                            progress = true;
                        }
                    }
                }
                for i in 0..n {
                    if s[i].is_some() && s[i + 1].is_none() {
                        let (d, _) = self.shapes(&f[i], None, s[i].clone(), false)?;
                        if d.is_some() {
                            s[i + 1] = d;
                            progress = true;
                        }
                    }
                }
                if !progress {
                    break;
                }
            }
            if !guess || s.iter().all(|x| x.is_some()) {
                break;
            }
            let mut guessed = false;
            for i in (0..n).rev() {
                if s[i + 1].is_some() && s[i].is_none() {
                    let (_, c) = self.shapes(&f[i], s[i + 1].clone(), None, true)?;
                    if c.is_some() {
                        s[i] = c;
                        guessed = true;
                        break;
                    }
                }
                if s[i].is_some() && s[i + 1].is_none() {
                    let (d, _) = self.shapes(&f[i], None, s[i].clone(), true)?;
                    if d.is_some() {
                        s[i + 1] = d;
                        guessed = true;
                        break;
                    }
                }
            }
            if !guessed {
                break;
            }
        }
        // Consistency of every factor whose both ends are known.
        for i in 0..n {
            if s[i].is_some() && s[i + 1].is_some() {
                self.shapes(&f[i], s[i + 1].clone(), s[i].clone(), false)?;
            }
        }
        Ok(s)
    }

    fn prim_shapes(
        &self,
        e: &Expr,
        p: &Prim,
        dom: Option<Shape>,
        cod: Option<Shape>,
        guess: bool,
    ) -> Result<Pair> {
        let fwd = match &dom {
            Some(d) => self.forward(e, p, d, guess)?,
            None => None,
        };
        let bwd = match (&cod, &fwd) {
            (Some(c), None) => self.backward(e, p, c, guess)?,
            _ => None,
        };
        match (dom, cod, fwd, bwd) {
            (Some(d), Some(c), Some(f), _) => {
                if f != c {
                    let hint = p.desc.mismatch_hint;
                    return Err(self.err(
                        e,
                        format!(
                            "`{}` maps {} to {}, but {} is needed here; the shapes of the chain do not compose{hint}",
                            ascii(e),
                            fmt_shape(&d),
                            fmt_shape(&f),
                            fmt_shape(&c)
                        ),
                    ));
                }
                Ok((Some(d), Some(c)))
            }
            (Some(d), Some(c), None, b) => {
                if let Some(b) = b {
                    if b != d {
                        return Err(self.err(
                            e,
                            format!(
                                "`{}` gives {} from {}, but its input here is {}",
                                ascii(e),
                                fmt_shape(&c),
                                fmt_shape(&b),
                                fmt_shape(&d)
                            ),
                        ));
                    }
                }
                Ok((Some(d), Some(c)))
            }
            (Some(d), None, f, _) => Ok((Some(d), f)),
            (None, Some(c), _, b) => {
                if let Some(b) = &b {
                    // The backward guess must map forward onto the codomain.
                    if let Some(f2) = self.forward(e, p, b, true)? {
                        if f2 != c {
                            return Err(self.err(
                                e,
                                format!(
                                    "no input of `{}` gives the shape {}",
                                    ascii(e),
                                    fmt_shape(&c)
                                ),
                            ));
                        }
                    }
                }
                Ok((b, Some(c)))
            }
            (None, None, _, _) => Ok((None, None)),
        }
    }

    /// The primitive's shape rule one way (`forward`: codomain from domain), its error text
    /// placed after the operator.
    fn rule(
        &self,
        e: &Expr,
        p: &Prim,
        shape: &[usize],
        guess: bool,
        forward: bool,
    ) -> Result<Option<Shape>> {
        let operand = self.operand_shape(p)?;
        let site = Site {
            params: &p.params,
            operand: operand.as_deref(),
            groups: p.groups(),
            guess,
        };
        let rule = if forward {
            p.desc.forward
        } else {
            p.desc.backward
        };
        rule(&site, shape).map_err(|m| self.err(e, format!("`{}`{m}", ascii(e))))
    }

    /// The shape of the primitive's tensor argument (`w` in `circ(w)`), if it has one.
    fn operand_shape(&self, p: &Prim) -> Result<Option<Shape>> {
        p.operand
            .as_ref()
            .map(|o| self.term_shape(&o.tensor))
            .transpose()
    }

    fn forward(&self, e: &Expr, p: &Prim, d: &[usize], guess: bool) -> Result<Option<Shape>> {
        self.rule(e, p, d, guess, true)
    }

    fn backward(&self, e: &Expr, p: &Prim, c: &[usize], guess: bool) -> Result<Option<Shape>> {
        self.rule(e, p, c, guess, false)
    }

    /// Fill in groups and broadcast shapes, knowing both ends.
    fn resolve(&self, e: &Expr, d: &[usize], c: &[usize]) -> Result<Expr> {
        let kind = match &e.kind {
            Kind::Prim(p) => return self.resolve_prim(e, p, d, c),
            Kind::Adjoint(a) => Kind::Adjoint(Box::new(self.resolve(a, c, d)?)),
            Kind::Scale(s, a) => Kind::Scale(*s, Box::new(self.resolve(a, d, c)?)),
            Kind::Sum(t) => Kind::Sum(
                t.iter()
                    .map(|x| self.resolve(x, d, c))
                    .collect::<Result<_>>()?,
            ),
            Kind::Compose(f) => {
                let s = self.chain(f, Some(d.to_vec()), Some(c.to_vec()), true)?;
                let mut out = Vec::new();
                for (i, x) in f.iter().enumerate() {
                    match (&s[i + 1], &s[i]) {
                        (Some(a), Some(b)) => out.push(self.resolve(x, a, b)?),
                        _ => {
                            return Err(self.err(
                                x,
                                format!("cannot determine the shapes around `{}`", ascii(x)),
                            ))
                        }
                    }
                }
                Kind::Compose(super::adjoint::flatten(out))
            }
        };
        Ok(Expr { kind, col: e.col })
    }

    /// What the primitive's descriptor writes out once both ends are known: the groups of its
    /// tensor argument, parameters the shapes fix, or a factor the shapes hide.
    fn resolve_prim(&self, e: &Expr, p: &Prim, d: &[usize], c: &[usize]) -> Result<Expr> {
        let operand = self.operand_shape(p)?;
        let site = Site {
            params: &p.params,
            operand: operand.as_deref(),
            groups: p.groups(),
            guess: true,
        };
        let at = |q: Prim| Expr {
            kind: Kind::Prim(q),
            col: e.col,
        };
        let resolution =
            (p.desc.resolve)(&site, d, c).map_err(|m| self.err(e, format!("`{}`{m}", ascii(e))))?;
        Ok(match resolution {
            Resolution::Keep => e.clone(),
            Resolution::Groups(g) => at(Prim {
                operand: p.operand.as_ref().map(|o| Operand {
                    tensor: o.tensor.clone(),
                    groups: (g != 1).then_some(g),
                }),
                ..p.clone()
            }),
            Resolution::Params(params) => at(Prim {
                params,
                ..p.clone()
            }),
            Resolution::After(first, params) => Expr {
                kind: Kind::Compose(vec![at(p.clone()), at(Prim::new(first, params))]),
                col: e.col,
            },
        })
    }
}
