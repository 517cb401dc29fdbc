//! `fftconv derive 'EXPR' [--wrt x|w|b] [--latex] [--check]`: the derivation of a layer's
//! gradients (or of an operator's adjoint), rule by rule, each step citing its note.

use fftconv::derive::{derive_report, Options};
use fftconv::expr::claim::Var;
use fftconv::Result;
use std::process::ExitCode;

/// Arguments of `derive`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A layer, e.g. 'conv2d(x: [2,3,8,8], w: [4,3,3,3], stride=2, padding=1)', or an operator
    /// 'let w: [4,3,8]; crop[2:0] @ circ(w) @ zero_pad[0:2] on [2,3,8]'.
    pub expr: String,
    /// Differentiate only with respect to these (x, w, b; repeatable).
    #[arg(long, value_parser = ["x", "w", "b"])]
    pub wrt: Vec<String>,
    /// Print expressions in LaTeX.
    #[arg(long)]
    pub latex: bool,
    /// Run dot, dense, finite-difference and direct checks on the derived operators.
    #[arg(long)]
    pub check: bool,
    /// Seed of the random data used by --check.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Run `derive`: exit 0, or 1 when a check fails.
pub fn run(args: Args) -> Result<ExitCode> {
    let wrt = args
        .wrt
        .iter()
        .map(|s| Var::parse(s))
        .collect::<Result<Vec<_>>>()?;
    let opts = Options {
        wrt,
        latex: args.latex,
        check: args.check,
        seed: args.seed,
    };
    let (text, ok) = derive_report(&args.expr, &opts)?;
    print!("{text}");
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
