//! `fftconv notes`: execute every ```` ```check ```` block of every Markdown note in a
//! directory (default `derivations/`) and report each claim.
//!
//! Conventions (see `derivations/01-notation.md`):
//! - a note declares an identity with a heading that starts with its ID, `### PAD-1 — …`, or
//!   with a bold label `**PAD-1**`; IDs look like `ABC-12`;
//! - a check block starts with `id: ID` and holds one claim per line (see
//!   [`expr::claim`](crate::expr::claim)); blank lines and `#` comments are ignored;
//! - every declared ID must have at least one check block somewhere in the directory; a
//!   missing one counts as a failed claim.
//!
//! The report ends with the line `N claims checked, M failed`.

use crate::conv::{self, Algorithm};
use crate::derive::{numeric, LayerDerivation, DENSE_TOL, DOT_TOL};
use crate::error::{Error, Result};
use crate::expr::adjoint;
use crate::expr::claim::{parse_statement, Statement, Var};
use crate::expr::layer::Layer;
use crate::expr::lower::lower;
use crate::expr::shape::{check, Typed};
use crate::expr::{Env, Expr, Kind};
use crate::op::{LinearOp, Op};
use std::path::Path;

pub mod calc;
pub mod figure;
pub mod prose;

/// The outcome of one claim.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimResult {
    /// `file:line`.
    pub location: String,
    /// The identity the block belongs to.
    pub id: String,
    /// The claim as written.
    pub text: String,
    /// Did it hold?
    pub ok: bool,
    /// Errors measured, or why it failed.
    pub detail: String,
}

/// The outcome of a directory of notes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NotesReport {
    /// Every claim, in file and line order (missing checks included, as failures), then the
    /// failures of the prose pass ([`prose`]).
    pub claims: Vec<ClaimResult>,
    /// Numbers of the prose checked: in a verified equality or tied to a claim's value.
    pub prose_numbers: usize,
    /// Of those, numbers in worked examples (where every number must be tied).
    pub worked_numbers: usize,
    /// Equalities of the prose verified.
    pub equalities: usize,
}

impl NotesReport {
    /// Number of failed claims.
    pub fn failed(&self) -> usize {
        self.claims.iter().filter(|c| !c.ok).count()
    }
    /// The report: one line per claim, then `N claims checked, M failed`.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for c in &self.claims {
            s += &format!(
                "{} {} {:<9} {}  ({})\n",
                if c.ok { "ok  " } else { "FAIL" },
                c.location,
                c.id,
                c.text,
                c.detail
            );
        }
        s += &format!(
            "{} numbers of the prose checked ({} in worked examples), {} written equalities verified\n",
            self.prose_numbers, self.worked_numbers, self.equalities
        );
        s += &format!(
            "{} claims checked, {} failed\n",
            self.claims.len(),
            self.failed()
        );
        s
    }
}

/// Identities declared in a note: headings starting with an ID and `**ID**` labels, with
/// their line numbers.
pub fn declared_ids(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut in_fence = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        if t.starts_with('#') {
            let rest = t.trim_start_matches('#').trim_start();
            if let Some(id) = leading_id(rest) {
                out.push((id, i + 1));
            }
        }
        let mut rest = t;
        while let Some(p) = rest.find("**") {
            let after = &rest[p + 2..];
            if let Some(q) = after.find("**") {
                let inner = &after[..q];
                if leading_id(inner).as_deref() == Some(inner) {
                    out.push((inner.to_string(), i + 1));
                }
                rest = &after[q + 2..];
            } else {
                break;
            }
        }
    }
    out
}

/// `ABC-12` at the start of `s`, if any.
fn leading_id(s: &str) -> Option<String> {
    let letters = s.chars().take_while(|c| c.is_ascii_uppercase()).count();
    if letters == 0 || !s[letters..].starts_with('-') {
        return None;
    }
    let digits = s[letters + 1..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .count();
    if digits == 0 {
        return None;
    }
    let end = letters + 1 + digits;
    if s[end..]
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
    {
        return None;
    }
    Some(s[..end].to_string())
}

/// A ```check block: its first line number and its lines.
fn check_blocks(text: &str) -> Vec<(usize, Vec<(usize, String)>)> {
    let mut out = Vec::new();
    let mut cur: Option<(usize, Vec<(usize, String)>)> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(block) = cur.as_mut() {
            if t.starts_with("```") {
                out.push(cur.take().expect("open block"));
            } else {
                block.1.push((i + 1, line.to_string()));
            }
        } else if t.starts_with("```") && t.trim_start_matches('`').trim() == "check" {
            cur = Some((i + 1, Vec::new()));
        }
    }
    if let Some(b) = cur {
        out.push(b);
    }
    out
}

/// Run the claims of one note text; returns the results (claims, then prose failures) and the
/// IDs its blocks cover.
pub fn run_note(text: &str, file: &str) -> (Vec<ClaimResult>, Vec<String>) {
    let (mut results, covered, prose) = run_note_full(text, file);
    results.extend(prose.failures);
    (results, covered)
}

/// A `val`/`value` line of a check block ([`calc`]), run; `None` for any other line.
fn numeric_line(
    line: &str,
    location: &str,
    env: &mut calc::Env,
    facts: &mut prose::Facts,
) -> Option<std::result::Result<(bool, String), String>> {
    let t = line.trim();
    let t = t.split(" #").next().unwrap_or(t).trim();
    if !(t.starts_with("val ") || t.starts_with("value ")) {
        return None;
    }
    // The literal lists a line reads (its inputs) tie the prose that quotes them.
    let mut lists = t;
    while let Some(o) = lists.find('[') {
        let Some(e) = lists[o..].find(']') else { break };
        if let Ok(v) = calc::eval(&lists[o..=o + e], &calc::Env::new()) {
            facts.values.push(v);
        }
        lists = &lists[o + e + 1..];
    }
    if let Some(rest) = t.strip_prefix("val ") {
        let Some((name, expr)) = rest.split_once(" = ") else {
            return Some(Err("write `val NAME = EXPR`".into()));
        };
        return Some(calc::eval(expr, env).map(|v| {
            let name = name.trim().to_string();
            if v.len() > 1 {
                facts.values.push(v.clone());
            }
            let shown = v.show();
            env.insert(name.clone(), v.clone());
            facts.names.push((name.clone(), v));
            (true, format!("{name} = {shown}"))
        }));
    }
    let rest = t.strip_prefix("value ")?;
    let (op, (lhs, rhs)) = [" = ", " < ", " > "]
        .iter()
        .find_map(|op| rest.rsplit_once(op).map(|p| (op.trim(), p)))
        .unwrap_or(("", (rest, "")));
    if op.is_empty() {
        return Some(Err("write `value EXPR = EXPR` (or `<`, `>`)".into()));
    }
    let run = || -> std::result::Result<(bool, String), String> {
        let l = calc::eval(lhs, env)?;
        let r = calc::eval(rhs, env)?;
        let literal = calc::eval(rhs, &calc::Env::new()).is_ok()
            && !rhs
                .chars()
                .any(|c| c.is_ascii_alphabetic() && c != 'i' && c != 'e');
        let ok = match op {
            "=" => calc::agree(&l, &r),
            _ => {
                let (a, b) = (l.data()?, r.data()?);
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|(a, b)| if op == "<" { a.re < b.re } else { a.re > b.re })
            }
        };
        facts.values.push(l.clone());
        if op == "=" {
            facts.values.push(r.clone());
        }
        if literal && op == "=" {
            facts
                .quoted
                .push((location.to_string(), line.trim().to_string(), r.clone()));
        }
        Ok((ok, format!("{} {op} {}", l.show(), r.show())))
    };
    let mut run = run;
    Some(run())
}

/// [`run_note`] with the prose report apart.
pub fn run_note_full(
    text: &str,
    file: &str,
) -> (Vec<ClaimResult>, Vec<String>, prose::ProseReport) {
    let mut results = Vec::new();
    let mut covered = Vec::new();
    let secs = prose::sections(text);
    let mut facts = vec![prose::Facts::default(); secs.last().map_or(1, |s| s + 1)];
    let mut nenv = calc::Env::new();
    for (start, lines) in check_blocks(text) {
        let mut env = Env::new();
        let mut id: Option<String> = None;
        for (n, line) in lines {
            let location = format!("{file}:{n}");
            let sec = secs.get(n - 1).copied().unwrap_or(0);
            let norm: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            facts[sec].check_text.push_str(&norm);
            facts[sec].check_text.push('\n');
            if let Some(out) = numeric_line(&line, &location, &mut nenv, &mut facts[sec]) {
                let (ok, detail) = out.unwrap_or_else(|e| (false, e));
                results.push(ClaimResult {
                    location: location.clone(),
                    id: id.clone().unwrap_or_default(),
                    text: line.trim().to_string(),
                    ok: ok && id.is_some(),
                    detail: if id.is_some() {
                        detail
                    } else {
                        format!("the check block at line {start} must start with `id: ID`")
                    },
                });
                continue;
            }
            let fail = |detail: String| ClaimResult {
                location: location.clone(),
                id: String::new(),
                text: line.trim().to_string(),
                ok: false,
                detail,
            };
            let st = match parse_statement(&line, &location) {
                Ok(None) => continue,
                Ok(Some(s)) => s,
                Err(e) => {
                    results.push(ClaimResult {
                        id: id.clone().unwrap_or_default(),
                        ..fail(e.to_string())
                    });
                    continue;
                }
            };
            match st {
                Statement::Id(i) => {
                    covered.push(i.clone());
                    id = Some(i);
                    continue;
                }
                Statement::Let { name, shape } => {
                    if let Err(e) = env.declare(&name, &shape) {
                        results.push(fail(format!("{location}: {e}")));
                    }
                    continue;
                }
                _ => {}
            }
            let Some(cur_id) = id.clone() else {
                results.push(fail(format!(
                    "the check block at line {start} must start with `id: ID`"
                )));
                continue;
            };
            let outcome = run_claim(&st, &env, &location);
            results.push(match outcome {
                Ok((ok, detail)) => ClaimResult {
                    location: location.clone(),
                    id: cur_id,
                    text: line.trim().to_string(),
                    ok,
                    detail,
                },
                Err(e) => ClaimResult {
                    id: cur_id,
                    ..fail(e.to_string())
                },
            });
        }
    }
    let prose = prose::check(text, file, &facts);
    (results, covered, prose)
}

/// Run every note (`*.md`, sorted) in `dir`.
///
/// # Errors
/// [`Error::File`] when the directory or a note cannot be read.
pub fn run_dir(dir: &Path) -> Result<NotesReport> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Error::file(
            dir.display(),
            format!("cannot read the notes directory: {e}"),
        )
    })?;
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::file(dir.display(), "holds no .md notes"));
    }
    let mut report = NotesReport::default();
    let mut covered = Vec::new();
    let mut declared = Vec::new();
    for f in &files {
        let text =
            std::fs::read_to_string(f).map_err(|e| Error::file(f.display(), e.to_string()))?;
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let (res, cov, prose) = run_note_full(&text, &name);
        report.claims.extend(res);
        report.claims.extend(prose.failures);
        report.prose_numbers += prose.tied;
        report.worked_numbers += prose.tied_worked;
        report.equalities += prose.equalities;
        covered.extend(cov);
        declared.extend(
            declared_ids(&text)
                .into_iter()
                .map(|(id, line)| (id, format!("{name}:{line}"))),
        );
    }
    for (id, loc) in declared {
        if !covered.contains(&id) {
            report.claims.push(ClaimResult {
                location: loc,
                id: id.clone(),
                text: format!("{id} is declared here"),
                ok: false,
                detail: format!("no check block has `id: {id}`; add one that states it in the DSL"),
            });
        }
    }
    Ok(report)
}

fn typed_pair(
    lhs: &Expr,
    rhs: &Expr,
    on: &[usize],
    env: &Env,
    src: &str,
) -> Result<(Typed, Typed)> {
    match check(lhs, Some(on), None, env, src) {
        Ok(l) => {
            let r = check(rhs, Some(on), Some(&l.codomain), env, src)?;
            Ok((l, r))
        }
        Err(e) => {
            let r = check(rhs, Some(on), None, env, src).map_err(|_| e.clone())?;
            let l = check(lhs, Some(on), Some(&r.codomain), env, src)?;
            Ok((l, r))
        }
    }
}

fn lowered(t: &Typed, env: &Env, src: &str) -> Result<Op<f64>> {
    lower::<f64>(&t.expr, &t.domain, &t.codomain, env, src)
}

/// The rewritten (adjoint-free, simplified) form of an expression, lowered.
fn rewritten(t: &Typed, env: &Env, src: &str) -> Result<Op<f64>> {
    let (pushed, _) = adjoint::push_adjoints(&t.expr);
    let (simple, _) = crate::expr::simplify::simplify(&pushed);
    let typed = check(&simple, Some(&t.domain), Some(&t.codomain), env, src)?;
    lowered(&typed, env, src)
}

/// Execute one claim; `(holds, detail)`.
///
/// # Errors
/// Parse, shape and lowering errors (the claim then fails with that message).
pub fn run_claim(st: &Statement, env: &Env, src: &str) -> Result<(bool, String)> {
    match st {
        Statement::Equal { lhs, rhs, on } => {
            let (l, r) = typed_pair(lhs, rhs, on, env, src)?;
            let ol = lowered(&l, env, src)?;
            let or = lowered(&r, env, src)?;
            let numeric_err = numeric::operator_distance(ol.as_ref(), or.as_ref(), 11)?;
            let rewrite_err = numeric::operator_distance(rewritten(&l, env, src)?.as_ref(), or.as_ref(), 12)?;
            let mut detail = format!("numeric {numeric_err:.1e}, rewrite {rewrite_err:.1e}");
            let mut worst = numeric_err.max(rewrite_err);
            if let Kind::Adjoint(a) = &l.expr.kind {
                let inner = lower::<f64>(a, &l.codomain, &l.domain, env, src)?;
                if let (Some(m), Some(mr)) = (numeric::dense(inner.as_ref())?, numeric::dense(or.as_ref())?) {
                    let t = (m.transpose() - &mr).amax() / m.amax().max(1.0);
                    detail += &format!(", transpose {t:.1e}");
                    worst = worst.max(t);
                }
            }
            Ok((worst <= DENSE_TOL, detail))
        }
        Statement::Dot { expr, on } => {
            let t = check(expr, Some(on), None, env, src)?;
            let op = lowered(&t, env, src)?;
            let lib = numeric::dot_error(&op, &op.adjoint(), 3, 21)?;
            let (derived, _) = adjoint::derive(&t.expr);
            let dt = check(&derived, Some(&t.codomain), Some(&t.domain), env, src)?;
            let dop = lowered(&dt, env, src)?;
            let der = numeric::dot_error(&op, &dop, 3, 22)?;
            Ok((
                lib.max(der) <= DOT_TOL,
                format!("dot {lib:.1e}, with the derived adjoint {der:.1e}"),
            ))
        }
        Statement::Check(layer) => layer_claim(layer, None),
        Statement::Grad(layer, var) => layer_claim(layer, Some(*var)),
        Statement::Layer(_) | Statement::On(..) => Err(Error::invalid(
            src,
            "a bare layer or `EXPR on [shape]` is not a claim; write `check LAYER`, `grad LAYER wrt x`, `A == B on [..]` or `dot A on [..]`",
        )),
        Statement::Id(_) | Statement::Let { .. } => Ok((true, String::new())),
    }
}

fn layer_claim(layer: &Layer, only: Option<Var>) -> Result<(bool, String)> {
    let ld = LayerDerivation::new(layer, 0)?;
    let vars = match only {
        Some(v) => vec![v],
        None if layer.bias => vec![Var::X, Var::W, Var::B],
        None => vec![Var::X, Var::W],
    };
    let mut ok = true;
    let mut parts = Vec::new();
    if only.is_none() {
        // The expansion runs the layer: compare with the direct loops.
        let g = ld.geometry();
        let x = ld.env.get(&layer.x_name)?;
        let w = ld.env.get(&layer.w_name)?;
        let b = ld.env.get("b")?;
        let (view, dom) = ld.view(Var::X);
        let t = check(&view, Some(&dom), None, &ld.env, "layer")?;
        let mut y = lower::<f64>(&t.expr, &t.domain, &t.codomain, &ld.env, "layer")?.apply(x)?;
        if layer.bias {
            y = y.add(
                &crate::op::BiasBroadcast::new(&g.y_shape())
                    .and_then(|op| LinearOp::<f64>::apply(&op, b))?,
            )?;
        }
        let witness = conv::forward(
            &layer.spec,
            x,
            w,
            layer.bias.then_some(b),
            Algorithm::Direct,
        )?;
        let fwd = numeric::rel_max(&y, &witness)?;
        ok &= fwd <= crate::derive::DIRECT_TOL;
        parts.push(format!("forward vs direct {fwd:.1e}"));
    }
    for v in vars {
        if v == Var::B && !layer.bias {
            return Err(Error::invalid(
                "wrt b",
                "the layer has no bias; add `bias` to its arguments",
            ));
        }
        let rep = ld.check(v, 0)?;
        ok &= rep.pass();
        parts.push(format!(
            "∂{}: dot {:.1e}, dense {}, fd {:.1e}, direct {:.1e}",
            v.name(),
            rep.dot,
            rep.dense.map_or("-".to_string(), |d| format!("{d:.1e}")),
            rep.fd,
            rep.direct
        ));
    }
    Ok((ok, parts.join("; ")))
}
