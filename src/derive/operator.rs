//! An operator `EXPR on [shape]`: its adjoint derived rule by rule, checked against the
//! library's adjoint.

use super::text::{shape_text, steps_text};
use super::{numeric, Options, DENSE_TOL, DOT_TOL};
use crate::error::Result;
use crate::expr::adjoint::{self};
use crate::expr::lower::lower;
use crate::expr::print::{render, Style};
use crate::expr::shape::check;
use crate::expr::{Env, Expr};
use std::fmt::Write;

pub(super) fn derive_operator(
    e: &Expr,
    shape: &[usize],
    env: &Env,
    opts: &Options,
    style: Style,
) -> Result<(String, bool)> {
    let typed = check(e, Some(shape), None, env, "expression")?;
    let r = |e: &Expr| render(e, style);
    let mut out = String::new();
    let _ = writeln!(out, "operator  A = {}", r(&typed.expr));
    let _ = writeln!(
        out,
        "shapes    {} → {}",
        shape_text(&typed.domain),
        shape_text(&typed.codomain)
    );
    out.push('\n');
    let (result, steps) = adjoint::derive(&typed.expr);
    let result = check(
        &result,
        Some(&typed.codomain),
        Some(&typed.domain),
        env,
        "adjoint",
    )?
    .expr;
    let _ = writeln!(out, "Aᵀ = {}", r(&typed.expr.clone().adjoint()));
    steps_text(&mut out, &steps, style);
    let _ = writeln!(out, "  Aᵀ = {}", r(&result));
    let mut ok = true;
    if opts.check {
        let fwd = lower::<f64>(
            &typed.expr,
            &typed.domain,
            &typed.codomain,
            env,
            "expression",
        )?;
        let back = lower::<f64>(&result, &typed.codomain, &typed.domain, env, "adjoint")?;
        let dot = numeric::dot_error(&fwd, &back, 3, opts.seed)?;
        let lib = numeric::operator_distance(back.as_ref(), fwd.adjoint().as_ref(), opts.seed)?;
        let pass = dot <= DOT_TOL && lib <= DENSE_TOL;
        ok &= pass;
        out.push('\n');
        let _ = writeln!(out, "checks (f64, seed {})", opts.seed);
        let _ = writeln!(
            out,
            "  Aᵀ: dot {dot:.1e}, derived vs library adjoint {lib:.1e}: {}",
            if pass { "pass" } else { "FAIL" }
        );
    }
    Ok((out, ok))
}
