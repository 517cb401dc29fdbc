//! `fftconv derive`: the forward expression of a layer (or operator), the derivation of each
//! gradient rule by rule (every step citing its note identity), the final gradient
//! expressions, and — on request — numeric checks of the derived operators: the dot test,
//! the dense transpose, finite differences and the direct-loop witness.
//!
//! Each rule a step cites is an identity of the notes (`STRIDE-1` is in
//! `derivations/09-stride.md`, `DX-1` in `07-input-gradient.md`, `TRANS-*` in
//! `13-conv-transpose.md`, …), where `fftconv notes` executes it; the whole answer in one page
//! is `derivations/00-the-answer.md`.
//!
//! ```
//! use fftconv::derive::{derive, Options};
//! let text = derive("conv1d(x: [1, 2, 8], w: [3, 2, 3], stride=2, padding=1)", &Options::default()).unwrap();
//! assert!(text.contains("STRIDE-1") && text.contains("∂L/∂w"));
//! ```

mod layer;
pub mod numeric;
mod operator;
mod text;

pub use layer::{CheckReport, Gradient, LayerDerivation};

use layer::derive_layer;
use operator::derive_operator;

use crate::error::{Error, Result};
use crate::expr::claim::{parse_statement, Statement, Var};
use crate::expr::print::Style;
use crate::expr::Env;
use crate::op::LinearOp;

/// What `derive` prints.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Options {
    /// Variables to differentiate with respect to (empty = all the layer has).
    pub wrt: Vec<Var>,
    /// LaTeX instead of Unicode expressions.
    pub latex: bool,
    /// Run the numeric checks and print their errors.
    pub check: bool,
    /// Seed of the random data.
    pub seed: u64,
}

/// Pass thresholds of the numeric checks.
pub const DOT_TOL: f64 = 1e-13;
/// Dense transpose / operator equality threshold (relative to the largest entry).
pub const DENSE_TOL: f64 = 1e-12;
/// Finite-difference threshold (relative).
pub const FD_TOL: f64 = 1e-6;
/// Direct-witness threshold (relative to the largest entry).
pub const DIRECT_TOL: f64 = 1e-10;
/// Derive a layer or an operator given as DSL text (statements separated by newlines or `;`:
/// optional `let` lines, then one layer macro or `EXPR on [shape]`).
///
/// # Errors
/// [`Error::Parse`] for bad input; shape and spec errors.
pub fn derive(input: &str, opts: &Options) -> Result<String> {
    Ok(derive_report(input, opts)?.0)
}

/// [`derive()`], also saying whether every requested check passed (true without `--check`).
///
/// # Errors
/// As [`derive()`].
pub fn derive_report(input: &str, opts: &Options) -> Result<(String, bool)> {
    let mut env = Env::new();
    let mut target = None;
    for (i, line) in input.split([';', '\n']).enumerate() {
        let name = if input.contains([';', '\n']) {
            format!("expression, statement {}", i + 1)
        } else {
            "expression".to_string()
        };
        match parse_statement(line, &name)? {
            None => {}
            Some(Statement::Let { name, shape }) => env.declare(&name, &shape)?,
            Some(s @ (Statement::Layer(_) | Statement::On(..))) => {
                if target.is_some() {
                    return Err(Error::invalid("derive", "give one layer or one `EXPR on [shape]`, not several"));
                }
                target = Some(s);
            }
            Some(Statement::Check(l)) | Some(Statement::Grad(l, _)) => target = Some(Statement::Layer(l)),
            Some(_) => {
                return Err(Error::invalid(
                    "derive",
                    "expected a layer such as `conv2d(x: [2,3,8,8], w: [4,3,3,3], stride=2)` or `EXPR on [shape]`",
                ))
            }
        }
    }
    let style = if opts.latex {
        Style::Latex
    } else {
        Style::Unicode
    };
    match target {
        Some(Statement::Layer(l)) => derive_layer(&l, opts, style),
        Some(Statement::On(e, shape)) => derive_operator(&e, &shape, &env, opts, style),
        _ => Err(Error::invalid(
            "derive",
            "nothing to derive; give a layer such as `conv1d(x: [1, 2, 8], w: [3, 2, 3])` or `EXPR on [shape]`",
        )),
    }
}

#[allow(unused)]
fn _assert_linear_op(_: &dyn LinearOp<f64>) {}
