//! The numbers of the prose, tied to the claims.
//!
//! Every `$…$` span of a note is split at `=` and `≈` (outside braces) and at the relations
//! that assert nothing checkable (`\mapsto`, `\to`, `\le`, `<`, `;`, `\quad`, …). Then, for
//! each link `A = B`:
//!
//! - both sides plain arithmetic (`calc::eval_tex`): they must agree, within the rounding of
//!   the numbers as written (`\frac14(100 + 2\cdot 8 + 4) = 30`);
//! - one side a name bound in the section's check blocks (`val \bar x = grad_x(…)`), the other
//!   arithmetic: the bound value must agree with the written one (`$\bar x = (2, 4, 2, 4, 2)$`).
//!
//! An arithmetic piece that is neither is still *tied* when its value equals a value the
//! section's claims computed or state (`value …`, `val …`). In code spans, a piece of DSL is tied
//! when the section's check blocks contain it, and a bracketed list when it equals a value.
//!
//! In a **worked example** (from a line starting with `Worked example`, bold or not, to the end
//! of its paragraph, run-in `*Label.*` paragraphs and lists included; and inside `<details>`,
//! the exercises), every number in a math or code span that is not
//! a subscript, superscript or note/ID number must be tied; an untied number fails the run. So
//! any one-number change there either breaks an equality, or leaves a number that no claim
//! computes. Every `value` claim with a literal right-hand side must be quoted in its section's
//! prose.

use super::calc::{agree, eval, eval_tex, eval_tex_in, Env, Span, Val};
use super::ClaimResult;

mod read;

pub use read::sections;
use read::{countable_numbers, inline_spans, paren_groups, split, Link, WorkedTracker};

/// What a section's check blocks computed.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// `val NAME = …` bindings (NAME as written, may be TeX).
    pub names: Vec<(String, Val)>,
    /// Values that tie a prose number: claim results and literals, non-scalar bindings.
    pub values: Vec<Val>,
    /// The section's check lines, whitespace removed.
    pub check_text: String,
    /// `value … = LITERAL` claims: location and literal, to be quoted in the prose.
    pub quoted: Vec<(String, String, Val)>,
}

/// The outcome of the prose pass of one note.
#[derive(Clone, Debug, Default)]
pub struct ProseReport {
    /// Failures (one per broken equality, untied number or unquoted literal).
    pub failures: Vec<ClaimResult>,
    /// Numbers of the prose checked (part of a verified equality or tied to a claim).
    pub tied: usize,
    /// Of those, numbers in worked examples.
    pub tied_worked: usize,
    /// Equalities verified.
    pub equalities: usize,
}

type Spans2 = (Vec<Span>, Vec<Span>);

/// `A = B` where both read one-letter names bound in the section (`val x = …`) and a free
/// index `i`, `j`, `k` or `m`: `None` when it is not such a formula, else whether it holds for
/// every value of the index.
fn letter_env(f: &Facts) -> Env {
    let mut env = Env::new();
    for (n, v) in &f.names {
        if n.len() == 1 && n.chars().all(|c| c.is_ascii_alphabetic()) {
            env.insert(n.clone(), v.clone());
        }
    }
    env
}

fn formula(a: &str, b: &str, f: &Facts) -> Option<Result<Spans2, String>> {
    let mut env = letter_env(f);
    if env.is_empty() {
        return None;
    }
    let var = ["i", "j", "k", "m"].into_iter().find(|v| {
        !env.contains_key(*v) && (a.contains(&format!("_{v}")) || a.contains(&format!("_{{{v}")))
    });
    let Some(var) = var else {
        // No free index: both sides read bound names (`K - 1 = 2`, `-1 + x_3`).
        let (va, sa, _) = eval_tex_in(a, &env)?;
        let (vb, sb, _) = eval_tex_in(b, &env)?;
        return Some(if agree(&va, &vb) {
            Ok((sa, sb))
        } else {
            Err(format!(
                "`{}` is {} but `{}` is {}",
                a.trim(),
                va.show(),
                b.trim(),
                vb.show()
            ))
        });
    };
    let zero = Val::Arr {
        shape: vec![],
        data: vec![0.0.into()],
        tol: vec![0.0],
    };
    env.insert(var.to_string(), zero);
    let (_, _, n) = eval_tex_in(a, &env)?;
    // `x_i - x_{i+2} = (-2, -2, -2)`: the right side lists the values over the index.
    let listed = eval_tex(b).filter(|(v, _)| v.len() > 1);
    let n = match &listed {
        Some((v, _)) => v.len(),
        None => n?,
    };
    let mut spans = None;
    for idx in 0..n {
        let v = Val::Arr {
            shape: vec![],
            data: vec![(idx as f64).into()],
            tol: vec![0.0],
        };
        env.insert(var.to_string(), v);
        let (va, sa, _) = eval_tex_in(a, &env)?;
        let (vb, sb, _) = match &listed {
            Some((v, s)) => {
                let d = v.data().ok()?;
                let t = v.clone();
                let Val::Arr { tol, .. } = t else { return None };
                (
                    Val::Arr {
                        shape: vec![],
                        data: vec![d[idx]],
                        tol: vec![tol[idx]],
                    },
                    s.clone(),
                    None,
                )
            }
            None => eval_tex_in(b, &env)?,
        };
        if !agree(&va, &vb) {
            return Some(Err(format!(
                "`{} = {}` fails at {var} = {idx}: {} ≠ {}",
                a.trim(),
                b.trim(),
                va.show(),
                vb.show()
            )));
        }
        spans = Some((sa, sb));
    }
    spans.map(Ok)
}

/// Count tied numbers; the untied ones, as written.
fn count(
    all: &[Span],
    tied: &[Span],
    src: &str,
    worked: bool,
    rep: &mut ProseReport,
) -> Vec<String> {
    let mut untied = Vec::new();
    for num in all {
        if tied.iter().any(|t| t.0 <= num.0 && num.1 <= t.1) {
            rep.tied += 1;
            rep.tied_worked += usize::from(worked);
        } else {
            untied.push(format!("`{}`", &src[num.0..num.1]));
        }
    }
    untied
}

/// Check the prose of one note against the facts of its sections.
pub fn check(text: &str, file: &str, facts: &[Facts]) -> ProseReport {
    let secs = sections(text);
    let mut rep = ProseReport::default();
    let mut quoted_hit: Vec<Vec<bool>> =
        facts.iter().map(|f| vec![false; f.quoted.len()]).collect();
    let mut tracker = WorkedTracker::default();
    let empty = Facts::default();
    for (n, line) in text.lines().enumerate() {
        let t = line.trim_start();
        let Some(worked) = tracker.line(t) else {
            continue;
        };
        let sec = secs[n];
        let f = facts.get(sec).unwrap_or(&empty);
        let loc = format!("{file}:{}", n + 1);
        let fail = |text: &str, detail: String| ClaimResult {
            location: loc.clone(),
            id: "prose".into(),
            text: text.to_string(),
            ok: false,
            detail,
        };
        let mark_quoted = |v: &Val, hits: &mut Vec<Vec<bool>>| {
            if let Some(q) = f.quoted.iter().position(|(_, _, lit)| agree(lit, v)) {
                if let Some(h) = hits.get_mut(sec) {
                    for (i, (_, _, lit)) in f.quoted.iter().enumerate() {
                        if agree(lit, v) {
                            h[i] = true;
                        }
                    }
                    let _ = q;
                }
            }
        };
        let (math, code) = inline_spans(line);
        for (_, span) in &math {
            let (pieces, links) = split(span);
            // Pieces may read the section's one-letter names (`(a, 0, b, 0, c)`).
            let letters = letter_env(f);
            let evals: Vec<Option<(Val, Vec<Span>)>> = pieces
                .iter()
                .map(|(_, p)| {
                    eval_tex(p).or_else(|| eval_tex_in(p, &letters).map(|(v, s, _)| (v, s)))
                })
                .collect();
            let evals_env = evals.clone();
            let mut tied: Vec<Span> = Vec::new();
            for (k, link) in links.iter().enumerate() {
                if *link != Link::Eq {
                    continue;
                }
                let (oa, pa) = pieces[k];
                let (ob, pb) = pieces[k + 1];
                match (&evals[k], &evals[k + 1]) {
                    (Some((va, sa)), Some((vb, sb))) => {
                        if agree(va, vb) {
                            rep.equalities += 1;
                            tied.extend(sa.iter().map(|s| (s.0 + oa, s.1 + oa)));
                            tied.extend(sb.iter().map(|s| (s.0 + ob, s.1 + ob)));
                        } else {
                            rep.failures.push(fail(
                                span,
                                format!(
                                    "`{}` is {} but `{}` is {}",
                                    pa.trim(),
                                    va.show(),
                                    pb.trim(),
                                    vb.show()
                                ),
                            ));
                        }
                    }
                    (None, Some((vb, sb))) | (Some((vb, sb)), None) => {
                        let (name, off, name_range) = if evals[k].is_none() {
                            (pa.trim(), ob, (oa, oa + pa.len()))
                        } else {
                            (pb.trim(), oa, (ob, ob + pb.len()))
                        };
                        let bound_name = f.names.iter().rev().find(|(nm, _)| nm == name);
                        if bound_name.is_none() {
                            if let Some(sp) = formula(pa, pb, f) {
                                match sp {
                                    Ok((sa, sb2)) => {
                                        rep.equalities += 1;
                                        tied.extend(sa.iter().map(|s| (s.0 + oa, s.1 + oa)));
                                        tied.extend(sb2.iter().map(|s| (s.0 + ob, s.1 + ob)));
                                    }
                                    Err(e) => rep.failures.push(fail(span, e)),
                                }
                            }
                        }
                        if let Some((_, bound)) = bound_name {
                            if agree(bound, vb) {
                                rep.equalities += 1;
                                tied.extend(sb.iter().map(|s| (s.0 + off, s.1 + off)));
                                tied.push(name_range);
                            } else {
                                rep.failures.push(fail(
                                    span,
                                    format!("`{name}` is {} (bound in the check block), the prose says {}", bound.show(), vb.show()),
                                ));
                            }
                        }
                    }
                    (None, None) => {
                        // A formula with a free index over the section's one-letter names:
                        // `y_i = x_i + 2x_{i-1}` is checked for every i.
                        if let Some(sp) = formula(pa, pb, f) {
                            match sp {
                                Ok((sa, sb)) => {
                                    rep.equalities += 1;
                                    tied.extend(sa.iter().map(|s| (s.0 + oa, s.1 + oa)));
                                    tied.extend(sb.iter().map(|s| (s.0 + ob, s.1 + ob)));
                                }
                                Err(e) => rep.failures.push(fail(span, e)),
                            }
                        }
                    }
                }
            }
            // Any arithmetic piece: by value, and as a quote of a `value` literal.
            for (k, e) in evals_env.iter().enumerate() {
                let Some((v, s)) = e else { continue };
                mark_quoted(v, &mut quoted_hit);
                if f.values.iter().any(|fv| agree(fv, v)) {
                    let off = pieces[k].0;
                    tied.extend(s.iter().map(|s| (s.0 + off, s.1 + off)));
                }
            }
            // Tuples inside pieces that are not arithmetic as a whole: `Z(1, 2, 3)`.
            for (k, (off, p)) in pieces.iter().enumerate() {
                if evals_env[k].is_some() {
                    continue;
                }
                for (g0, g1) in paren_groups(p) {
                    if let Some((v, s, _)) = eval_tex_in(&p[g0..g1], &letters) {
                        mark_quoted(&v, &mut quoted_hit);
                        if f.values.iter().any(|fv| agree(fv, &v)) {
                            tied.extend(s.iter().map(|s| (s.0 + off + g0, s.1 + off + g0)));
                        }
                    }
                }
            }
            let untied = count(&countable_numbers(span), &tied, span, worked, &mut rep);
            if worked && !untied.is_empty() {
                rep.failures.push(fail(
                    span,
                    format!(
                        "worked-example numbers tied to no claim: {} (no written equality checks them and no claim computes them)",
                        untied.join(", ")
                    ),
                ));
            }
        }
        for (_, c) in &code {
            let norm: String = c.chars().filter(|ch| !ch.is_whitespace()).collect();
            let all = countable_numbers(c);
            if all.is_empty() {
                continue;
            }
            let in_claims = !norm.is_empty() && f.check_text.contains(&norm);
            let mut tied: Vec<Span> = Vec::new();
            if in_claims {
                tied.push((0, c.len()));
            }
            // Bracketed lists by value.
            let mut i = 0;
            while let Some(o) = c[i..].find('[') {
                let s = i + o;
                let Some(e) = c[s..].find(']') else { break };
                let inner = &c[s..=s + e];
                if let Ok(v) = eval(inner, &Env::new()) {
                    mark_quoted(&v, &mut quoted_hit);
                    if f.values.iter().any(|fv| agree(fv, &v)) {
                        tied.push((s, s + e + 1));
                    }
                }
                i = s + e + 1;
            }
            let untied = count(&all, &tied, c, worked, &mut rep);
            if worked && !untied.is_empty() {
                rep.failures.push(fail(
                    c,
                    format!(
                        "worked-example numbers tied to no claim: {} (put the code in a check block, or compute it with `value`)",
                        untied.join(", ")
                    ),
                ));
            }
        }
    }
    for (sec, f) in facts.iter().enumerate() {
        for (i, (loc, text, lit)) in f.quoted.iter().enumerate() {
            if !quoted_hit[sec][i] {
                rep.failures.push(ClaimResult {
                    location: loc.clone(),
                    id: "prose".into(),
                    text: text.clone(),
                    ok: false,
                    detail: format!(
                        "the value {} is not quoted in the prose of its section",
                        lit.show()
                    ),
                });
            }
        }
    }
    rep
}

/// Byte ranges of the numbers the prose pass requires to be tied: in math spans of worked
/// examples, outside sub- and superscripts (the sample space of the mutation test).
pub fn worked_numbers(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut tracker = WorkedTracker::default();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let line = line.trim_end_matches('\n');
        let t = line.trim_start();
        let Some(worked) = tracker.line(t) else {
            continue;
        };
        if !worked {
            continue;
        }
        for (at, span) in inline_spans(line).0 {
            for (a, b) in countable_numbers(&span) {
                out.push((start + at + a, start + at + b));
            }
        }
    }
    out
}
