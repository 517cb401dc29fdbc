//! TEMPORARY stand-in for `fftconv::check::compare` (foundation issue), written against its
//! announced signature; deleted when that lands on main.

use crate::error::Result;
use crate::tensor::{unravel, Tensor};

/// Norm-wise tolerance: pass iff `max|got − ref| ≤ atol + rtol · max|ref|`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Relative part, scaled by `max|ref|`.
    pub rtol: f64,
    /// Absolute part.
    pub atol: f64,
}

/// The outcome of comparing a tensor with its reference.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// `max|got − ref|` (NaN when `got` holds NaN).
    pub max_abs_err: f64,
    /// `max|got − ref| / max|ref|`.
    pub max_rel_err: f64,
    /// The bound `atol + rtol · max|ref|`.
    pub tol: f64,
    /// Whether `max_abs_err ≤ tol` (false for NaN).
    pub pass: bool,
    /// Multi-index of the worst element.
    pub worst_index: Vec<usize>,
}

/// Compare `got` with `reference` norm-wise.
///
/// # Errors
/// [`crate::Error::Shape`] when the shapes differ.
pub fn compare(got: &Tensor<f64>, reference: &Tensor<f64>, tol: Tolerance) -> Result<Comparison> {
    got.expect_shape(reference.shape(), "compared tensor")?;
    let mut worst = 0usize;
    let mut max_abs_err = 0.0f64;
    for (i, (g, r)) in got.data().iter().zip(reference.data()).enumerate() {
        let e = (g - r).abs();
        if e.is_nan() {
            max_abs_err = f64::NAN;
            worst = i;
            break;
        }
        if e > max_abs_err {
            max_abs_err = e;
            worst = i;
        }
    }
    let scale = reference.max_abs();
    let bound = tol.atol + tol.rtol * scale;
    Ok(Comparison {
        max_abs_err,
        max_rel_err: if scale > 0.0 {
            max_abs_err / scale
        } else if max_abs_err == 0.0 {
            0.0
        } else {
            f64::INFINITY
        },
        tol: bound,
        pass: max_abs_err <= bound,
        worst_index: unravel(worst, reference.shape()),
    })
}
