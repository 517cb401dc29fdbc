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
                    let hint = if matches!(p, Prim::ZeroInsert(_)) {
                        "; zero_insert[s] gives exactly (m-1)s+1 entries: write a longer result as zero_pad[0:r] @ zero_insert[s]"
                    } else {
                        ""
                    };
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

    fn trailing(&self, e: &Expr, s: &[usize], k: usize) -> Result<usize> {
        if k == 0 || k > s.len() {
            return Err(self.err(
                e,
                format!(
                    "`{}` has {k} per-axis parameters but acts on {} (rank {}); give one per trailing axis",
                    ascii(e),
                    fmt_shape(s),
                    s.len()
                ),
            ));
        }
        Ok(s.len() - k)
    }

    fn pad_shape(
        &self,
        e: &Expr,
        s: &[usize],
        pads: &[(usize, usize)],
        grow: bool,
    ) -> Result<Shape> {
        let lead = self.trailing(e, s, pads.len())?;
        let mut out = s.to_vec();
        for (a, &(lo, hi)) in pads.iter().enumerate() {
            let n = s[lead + a];
            out[lead + a] = if grow {
                n.checked_add(lo)
                    .and_then(|m| m.checked_add(hi))
                    .ok_or_else(|| {
                        self.err(
                            e,
                            format!(
                                "`{}` makes axis {} of {} overflow",
                                ascii(e),
                                lead + a,
                                fmt_shape(s)
                            ),
                        )
                    })?
            } else if lo.saturating_add(hi) <= n {
                n - lo - hi
            } else {
                return Err(self.err(
                    e,
                    format!(
                        "`{}` removes {} entries from axis {} of {}, which has only {n}",
                        ascii(e),
                        lo.saturating_add(hi),
                        lead + a,
                        fmt_shape(s)
                    ),
                ));
            };
        }
        Ok(out)
    }

    fn per_axis(
        &self,
        e: &Expr,
        s: &[usize],
        v: &[usize],
        f: impl Fn(usize, usize) -> Option<usize>,
    ) -> Result<Shape> {
        let lead = self.trailing(e, s, v.len())?;
        let mut out = s.to_vec();
        for (a, &k) in v.iter().enumerate() {
            if k == 0 {
                return Err(self.err(e, format!("`{}`: parameters must be at least 1", ascii(e))));
            }
            out[lead + a] = f(s[lead + a], k).ok_or_else(|| {
                self.err(
                    e,
                    format!(
                        "`{}` does not fit axis {} of {}",
                        ascii(e),
                        lead + a,
                        fmt_shape(s)
                    ),
                )
            })?;
        }
        Ok(out)
    }

    fn operand_shape(&self, e: &Expr, o: &Operand, rank: usize, what: &str) -> Result<Shape> {
        let s = self.term_shape(&o.tensor)?;
        if s.len() != rank && !(rank == 0 && s.len() >= 3) {
            return Err(self.err(
                e,
                format!(
                    "`{}`: {what} must have rank {rank}, has shape {}",
                    ascii(e),
                    fmt_shape(&s)
                ),
            ));
        }
        Ok(s)
    }

    fn need(&self, e: &Expr, ok: bool, msg: impl FnOnce() -> String) -> Result<()> {
        if ok {
            Ok(())
        } else {
            Err(self.err(e, format!("`{}`: {}", ascii(e), msg())))
        }
    }

    /// The groups of a channel-mixing primitive given the side that carries `C`.
    fn groups_from(&self, e: &Expr, o: &Operand, c: usize, cg: usize) -> Result<usize> {
        let g = match o.groups {
            Some(g) => g,
            None => {
                self.need(e, cg > 0 && c.is_multiple_of(cg), || {
                    format!("{c} channels are not a multiple of {cg}")
                })?;
                c / cg
            }
        };
        self.need(e, g > 0 && g.checked_mul(cg) == Some(c), || {
            format!("groups={g} times {cg} channels per group is not {c}")
        })?;
        Ok(g)
    }

    fn conv_check(
        &self,
        e: &Expr,
        signal: &[usize],
        kernel: &[usize],
        groups: usize,
    ) -> Result<()> {
        self.need(e, signal.len() == kernel.len() && signal.len() >= 3, || {
            format!(
                "signal {} and kernel {} need equal rank ≥ 3",
                fmt_shape(signal),
                fmt_shape(kernel)
            )
        })?;
        self.need(e, signal[2..] == kernel[2..], || {
            format!(
                "the kernel's period {} is not the signal's {}",
                fmt_shape(&kernel[2..]),
                fmt_shape(&signal[2..])
            )
        })?;
        self.need(
            e,
            groups > 0
                && kernel[0].is_multiple_of(groups)
                && kernel[1].checked_mul(groups) == Some(signal[1]),
            || {
                format!(
                    "groups={groups} must divide O={} and give C/groups={} for C={}",
                    kernel[0], kernel[1], signal[1]
                )
            },
        )
    }

    fn forward(&self, e: &Expr, p: &Prim, d: &[usize], guess: bool) -> Result<Option<Shape>> {
        let ambiguous = match p {
            Prim::Corr(o) | Prim::CorrSignal(o) | Prim::MixT(o) => o.groups.is_none(),
            _ => false,
        };
        if ambiguous && !guess {
            return Ok(None);
        }
        let with = |ch: usize, s: &[usize]| {
            let mut v = s.to_vec();
            v[1] = ch;
            v
        };
        Ok(Some(match p {
            Prim::ZeroPad(x) | Prim::Pad(_, x) => self.pad_shape(e, d, x, true)?,
            Prim::Crop(x) | Prim::Fold(_, x) => self.pad_shape(e, d, x, false)?,
            Prim::Flip(k) => {
                self.trailing(e, d, *k)?;
                d.to_vec()
            }
            Prim::Subsample(s) => self.per_axis(e, d, s, |n, s| Some(n.div_ceil(s)))?,
            Prim::ZeroInsert(s) => self.per_axis(e, d, s, |n, s| {
                n.checked_sub(1)
                    .and_then(|m| m.checked_mul(s))
                    .and_then(|m| m.checked_add(1))
            })?,
            Prim::Dilate(s) => self.per_axis(e, d, s, |n, s| {
                n.checked_sub(1)
                    .and_then(|m| m.checked_mul(s))
                    .and_then(|m| m.checked_add(1))
            })?,
            Prim::DilateAdjoint(s) => self.per_axis(e, d, s, |n, s| {
                (n > 0 && (n - 1) % s == 0).then(|| (n - 1) / s + 1)
            })?,
            Prim::Circ(o) => {
                let k = self.operand_shape(e, o, d.len(), "the kernel")?;
                let g = self.groups_from(e, o, d[1], k[1])?;
                self.conv_check(e, d, &k, g)?;
                with(k[0], d)
            }
            Prim::Corr(o) => {
                let k = self.operand_shape(e, o, d.len(), "the kernel")?;
                let g = o.groups.unwrap_or(1);
                self.need(e, d[1] == k[0], || {
                    format!("input has {} channels, the kernel {} outputs", d[1], k[0])
                })?;
                let out = with(k[1].saturating_mul(g), d);
                self.conv_check(e, &out, &k, g)?;
                out
            }
            Prim::CircSignal(o) => {
                let x = self.operand_shape(e, o, d.len(), "the signal")?;
                let g = self.groups_from(e, o, x[1], d[1])?;
                self.conv_check(e, &x, d, g)?;
                with(d[0], &x)
            }
            Prim::CorrSignal(o) => {
                let x = self.operand_shape(e, o, d.len(), "the signal")?;
                let g = o.groups.unwrap_or(1);
                self.need(e, d.len() >= 3 && d[0] == x[0] && d[2..] == x[2..], || {
                    format!(
                        "input {} does not fit the signal {}",
                        fmt_shape(d),
                        fmt_shape(&x)
                    )
                })?;
                self.need(e, g > 0 && x[1] % g == 0, || {
                    format!("groups={g} must divide C={}", x[1])
                })?;
                let mut k = x.clone();
                k[0] = d[1];
                k[1] = x[1] / g;
                self.conv_check(e, &x, &k, g)?;
                k
            }
            Prim::Mix(o) => {
                let a = self.operand_shape(e, o, 2, "the matrix")?;
                self.need(e, d.len() >= 2, || "needs an input (N, C, ...)".into())?;
                let g = self.groups_from(e, o, d[1], a[1])?;
                self.need(e, a[0] % g == 0, || {
                    format!("groups={g} must divide O={}", a[0])
                })?;
                with(a[0], d)
            }
            Prim::MixT(o) => {
                let a = self.operand_shape(e, o, 2, "the matrix")?;
                let g = o.groups.unwrap_or(1);
                self.need(e, d.len() >= 2 && d[1] == a[0], || {
                    format!("input must have {} channels", a[0])
                })?;
                self.need(e, g > 0 && a[0] % g == 0, || {
                    format!("groups={g} must divide O={}", a[0])
                })?;
                with(a[1].saturating_mul(g), d)
            }
            Prim::GroupTranspose(g) => {
                self.need(e, d.len() >= 3 && *g > 0 && d[0].is_multiple_of(*g), || {
                    format!(
                        "needs (A, B/g, *K) with g={g} dividing A, got {}",
                        fmt_shape(d)
                    )
                })?;
                let mut v = d.to_vec();
                v[0] = d[1].saturating_mul(*g);
                v[1] = d[0] / g;
                v
            }
            Prim::Broadcast(s) => {
                self.need(e, d.len() == 1, || {
                    format!("maps a bias (C,), not {}", fmt_shape(d))
                })?;
                match s {
                    Some(s) => {
                        self.need(e, s.len() >= 2 && s[1] == d[0], || {
                            format!("shape {} must be (N, {}, ...)", fmt_shape(s), d[0])
                        })?;
                        s.clone()
                    }
                    None => return Ok(None),
                }
            }
            Prim::SumNc(s) => {
                self.need(e, d.len() >= 2, || "needs an input (N, C, ...)".into())?;
                if let Some(s) = s {
                    self.need(e, s.as_slice() == d, || {
                        format!(
                            "is written for {} but acts on {}",
                            fmt_shape(s),
                            fmt_shape(d)
                        )
                    })?;
                }
                vec![d[1]]
            }
            Prim::Id => d.to_vec(),
        }))
    }

    fn backward(&self, e: &Expr, p: &Prim, c: &[usize], guess: bool) -> Result<Option<Shape>> {
        let ambiguous = match p {
            Prim::Subsample(_) => true,
            Prim::Circ(o) | Prim::CircSignal(o) | Prim::Mix(o) => o.groups.is_none(),
            _ => false,
        };
        if ambiguous && !guess {
            return Ok(None);
        }
        Ok(match p {
            Prim::ZeroPad(x) | Prim::Pad(_, x) => Some(self.pad_shape(e, c, x, false)?),
            Prim::Crop(x) | Prim::Fold(_, x) => Some(self.pad_shape(e, c, x, true)?),
            Prim::Flip(_) | Prim::Id => Some(c.to_vec()),
            Prim::Subsample(s) => Some(self.per_axis(e, c, s, |n, s| {
                n.checked_sub(1)
                    .and_then(|m| m.checked_mul(s))
                    .and_then(|m| m.checked_add(1))
            })?),
            Prim::ZeroInsert(s) => Some(self.per_axis(e, c, s, |n, s| {
                (n > 0 && (n - 1) % s == 0).then(|| (n - 1) / s + 1)
            })?),
            Prim::Dilate(s) => Some(self.per_axis(e, c, s, |n, s| {
                (n > 0 && (n - 1) % s == 0).then(|| (n - 1) / s + 1)
            })?),
            Prim::DilateAdjoint(s) => Some(self.per_axis(e, c, s, |n, s| {
                n.checked_sub(1)
                    .and_then(|m| m.checked_mul(s))
                    .and_then(|m| m.checked_add(1))
            })?),
            Prim::Circ(o) => {
                let k = self.operand_shape(e, o, c.len(), "the kernel")?;
                let mut v = c.to_vec();
                v[1] = k[1].saturating_mul(o.groups.unwrap_or(1));
                Some(v)
            }
            Prim::Corr(o) => {
                let k = self.operand_shape(e, o, c.len(), "the kernel")?;
                let mut v = c.to_vec();
                v[1] = k[0];
                Some(v)
            }
            Prim::CircSignal(o) => {
                let x = self.operand_shape(e, o, c.len(), "the signal")?;
                let g = o.groups.unwrap_or(1);
                let mut k = x.clone();
                k[0] = c[1];
                k[1] = x[1] / g.max(1);
                Some(k)
            }
            Prim::CorrSignal(o) => {
                let x = self.operand_shape(e, o, c.len(), "the signal")?;
                let mut v = x.clone();
                v[1] = c[0];
                Some(v)
            }
            Prim::Mix(o) => {
                let a = self.operand_shape(e, o, 2, "the matrix")?;
                let mut v = c.to_vec();
                v[1] = a[1].saturating_mul(o.groups.unwrap_or(1));
                Some(v)
            }
            Prim::MixT(o) => {
                let a = self.operand_shape(e, o, 2, "the matrix")?;
                let mut v = c.to_vec();
                v[1] = a[0];
                Some(v)
            }
            Prim::GroupTranspose(g) => {
                self.need(e, c.len() >= 3 && *g > 0 && c[0].is_multiple_of(*g), || {
                    format!("output {} does not fit g={g}", fmt_shape(c))
                })?;
                let mut v = c.to_vec();
                v[0] = c[1].saturating_mul(*g);
                v[1] = c[0] / g;
                Some(v)
            }
            Prim::Broadcast(_) => {
                self.need(e, c.len() >= 2, || "needs an output (N, C, ...)".into())?;
                Some(vec![c[1]])
            }
            Prim::SumNc(s) => s.clone(),
        })
    }

    /// Fill in groups and broadcast shapes, knowing both ends.
    fn resolve(&self, e: &Expr, d: &[usize], c: &[usize]) -> Result<Expr> {
        let kind = match &e.kind {
            Kind::Prim(Prim::Subsample(s)) => {
                // Say the entries a subsample never reads: subsample[s] @ crop[0:r].
                let lead = self.trailing(e, d, s.len())?;
                let tail: Vec<(usize, usize)> = s
                    .iter()
                    .enumerate()
                    .map(|(a, &s)| (0, (d[lead + a].max(1) - 1) % s.max(1)))
                    .collect();
                if tail.iter().all(|&(_, r)| r == 0) {
                    return Ok(e.clone());
                }
                let at = |p| Expr {
                    kind: Kind::Prim(p),
                    col: e.col,
                };
                Kind::Compose(vec![at(Prim::Subsample(s.clone())), at(Prim::Crop(tail))])
            }
            Kind::Prim(p) => Kind::Prim(self.resolve_prim(e, p, d, c)?),
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

    fn resolve_prim(&self, e: &Expr, p: &Prim, d: &[usize], c: &[usize]) -> Result<Prim> {
        let set = |o: &Operand, cch: usize, cg: usize| -> Result<Operand> {
            let g = self.groups_from(e, o, cch, cg)?;
            Ok(Operand {
                tensor: o.tensor.clone(),
                groups: (g != 1).then_some(g),
            })
        };
        Ok(match p {
            Prim::Circ(o) => Prim::Circ(set(o, d[1], self.term_shape(&o.tensor)?[1])?),
            Prim::Corr(o) => Prim::Corr(set(o, c[1], self.term_shape(&o.tensor)?[1])?),
            Prim::CircSignal(o) => Prim::CircSignal(set(o, self.term_shape(&o.tensor)?[1], d[1])?),
            Prim::CorrSignal(o) => Prim::CorrSignal(set(o, self.term_shape(&o.tensor)?[1], c[1])?),
            Prim::Mix(o) => Prim::Mix(set(o, d[1], self.term_shape(&o.tensor)?[1])?),
            Prim::MixT(o) => Prim::MixT(set(o, c[1], self.term_shape(&o.tensor)?[1])?),
            Prim::Broadcast(_) => Prim::Broadcast(Some(c.to_vec())),
            Prim::SumNc(_) => Prim::SumNc(Some(d.to_vec())),
            other => other.clone(),
        })
    }
}
