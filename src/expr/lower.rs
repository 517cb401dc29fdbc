//! Lowering: an expression (checked on a domain) to an executable [`Op`], in f64 or f32.
//!
//! Each primitive becomes the operator of `src/op` with the same name (its descriptor's
//! lowering); an `adjoint(A)` node
//! becomes `lower(A).adjoint()` — the library's own adjoint — so comparing the lowering of the
//! *rewritten* adjoint with the adjoint of the lowering checks the rewrite rules numerically.

use super::print::ascii;
use super::shape::{boundaries, check};
use super::{Env, Expr, Kind, Prim, Term};
use crate::error::{Error, Result};
use crate::op::primitive::Site;
use crate::op::{chain, Op, Scale, Sum};
use crate::tensor::{Scalar, Tensor};
use std::sync::Arc;

/// Check `e` on `domain` and lower it.
///
/// ```
/// use fftconv::expr::{lower::lower_on, parse::parse_expr, Env};
/// use fftconv::{op::LinearOp, Tensor};
/// let e = parse_expr("crop[1:1] @ zero_pad[1:1]", "e").unwrap();
/// let op = lower_on::<f64>(&e, &[4], &Env::new(), "e").unwrap();
/// let x = Tensor::new(vec![4], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
/// assert_eq!(op.apply(&x).unwrap(), x);
/// ```
///
/// # Errors
/// Shape errors of [`check`], and operator construction errors, reported at the column.
pub fn lower_on<T: Scalar>(
    e: &Expr,
    domain: &[usize],
    env: &Env,
    source_name: &str,
) -> Result<Op<T>> {
    let t = check(e, Some(domain), None, env, source_name)?;
    lower(&t.expr, &t.domain, &t.codomain, env, source_name)
}

/// Evaluate a tensor term (`w`, or `flip[1] (w)`).
///
/// # Errors
/// Undeclared names and shape errors.
pub fn eval_term<T: Scalar>(t: &Term, env: &Env, source_name: &str) -> Result<Tensor<T>> {
    match t {
        Term::Name(n) => Ok(env.get(n)?.cast::<T>()),
        Term::Apply(op, inner) => {
            let x = eval_term::<T>(inner, env, source_name)?;
            let op = lower_on::<T>(op, x.shape(), env, source_name)?;
            op.apply(&x)
        }
    }
}

/// Lower `e` with known domain and codomain (from [`check`]).
///
/// # Errors
/// Operator construction errors, reported at the column of the operator.
pub fn lower<T: Scalar>(
    e: &Expr,
    dom: &[usize],
    cod: &[usize],
    env: &Env,
    src: &str,
) -> Result<Op<T>> {
    let at = |err: Error| -> Error {
        match err {
            Error::Parse { .. } => err,
            other => Error::Parse {
                source_name: src.to_string(),
                column: e.col.max(1),
                message: format!("`{}`: {other}", ascii(e)),
            },
        }
    };
    let op: Op<T> = match &e.kind {
        Kind::Prim(p) => lower_prim::<T>(p, dom, cod, env, src).map_err(at)?,
        Kind::Adjoint(a) => lower::<T>(a, cod, dom, env, src)?.adjoint(),
        Kind::Scale(s, a) => {
            Arc::new(Scale::new(*s, lower::<T>(a, dom, cod, env, src)?).map_err(at)?)
        }
        Kind::Sum(t) => {
            let ops = t
                .iter()
                .map(|x| lower::<T>(x, dom, cod, env, src))
                .collect::<Result<Vec<_>>>()?;
            Arc::new(Sum::new(ops).map_err(at)?)
        }
        Kind::Compose(f) => {
            let s = boundaries(f, dom, cod, env, src)?;
            let ops = f
                .iter()
                .enumerate()
                .map(|(i, x)| lower::<T>(x, &s[i + 1], &s[i], env, src))
                .collect::<Result<Vec<_>>>()?;
            chain(ops).map_err(at)?
        }
    };
    if op.domain() != dom || op.codomain() != cod {
        return Err(at(Error::shape(
            format!("lowered `{}` maps {:?} →", ascii(e), op.domain()),
            cod,
            op.codomain(),
        )));
    }
    Ok(op)
}

fn lower_prim<T: Scalar>(
    p: &Prim,
    dom: &[usize],
    cod: &[usize],
    env: &Env,
    src: &str,
) -> Result<Op<T>> {
    // The resource guard: every operator's input and output is refused before it is built or
    // applied when it would exceed `--max-memory`.
    let what = format!("operator on {dom:?} → {cod:?}");
    crate::limits::guard_shape(&what, dom, 2 * std::mem::size_of::<T>())?;
    crate::limits::guard_shape(&what, cod, 2 * std::mem::size_of::<T>())?;
    let tensor = match &p.operand {
        Some(o) => Some(eval_term::<T>(&o.tensor, env, src)?),
        None => None,
    };
    let shape = tensor.as_ref().map(|t| t.shape().to_vec());
    let site = Site {
        params: &p.params,
        operand: shape.as_deref(),
        groups: p.groups(),
        guess: true,
    };
    p.desc.lower(&site, dom, cod, tensor.as_ref())
}
