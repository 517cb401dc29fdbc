//! The dot-product (adjoint) test: `$\langle Ax, y\rangle = \langle x, A^*y\rangle$` on seeded
//! random vectors, with an error normalised so that one threshold fits every operator.

use crate::error::Result;
use crate::op::LinearOp;
use crate::tensor::{Scalar, Tensor};

/// The result of [`dot_test`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DotReport {
    /// The largest normalised error over the trials.
    pub max_err: f64,
    /// The normalised error of every trial.
    pub errors: Vec<f64>,
    /// The trial with the largest error (0-based).
    pub worst_trial: usize,
    /// The estimate of ‖A‖ used for normalising (a lower bound, see [`operator_norm`]).
    pub op_norm: f64,
}

/// The dot-product test, `trials` times with seeded Gaussian `x` (domain) and `y` (codomain):
///
/// ```math
/// e = \frac{\lvert\langle Ax,y\rangle - \langle x,A^*y\rangle\rvert}
///       {\lVert A\rVert\,\lVert x\rVert\,\lVert y\rVert}
/// ```
///
/// Both products are computed in `T` and the inner products accumulated in f64. For a correct
/// adjoint `$e$` is rounding noise: a few `T::EPSILON` at most (~1e-16 in f64, ~1e-7 in f32); a
/// wrong adjoint gives errors of order 1. The normalisation makes the error independent of the
/// scale of `A`, `x` and `y`. If ‖A‖ is 0 (the zero operator), the error is not normalised.
///
/// ```
/// use fftconv::check::dot::dot_test;
/// use fftconv::op::Flip;
/// let r = dot_test::<f64>(&Flip::new(&[3, 4], 2).unwrap(), 3, 1).unwrap();
/// assert!(r.max_err < 1e-15 && r.errors.len() == 3);
/// ```
///
/// # Errors
/// [`Error::Shape`](crate::Error::Shape) when `A*` does not map the codomain back to the domain
/// (a wrong adjoint can fail this way before any number is compared).
pub fn dot_test<T: Scalar>(op: &dyn LinearOp<T>, trials: usize, seed: u64) -> Result<DotReport> {
    let adj = op.adjoint();
    let op_norm = operator_norm(op, 20, seed ^ 0x5eed_0fd0)?;
    let mut errors = Vec::with_capacity(trials);
    for t in 0..trials as u64 {
        let x = Tensor::<T>::randn(op.domain(), seed.wrapping_add(2 * t));
        let y = Tensor::<T>::randn(op.codomain(), seed.wrapping_add(2 * t + 1));
        let ax = op.apply(&x)?;
        let aty = adj.apply(&y)?;
        aty.expect_shape(op.domain(), "dot test: output of the adjoint")?;
        let diff = (ax.dot(&y)? - x.dot(&aty)?).abs();
        let denom = op_norm * x.norm() * y.norm();
        errors.push(if denom > 0.0 { diff / denom } else { diff });
    }
    let (worst_trial, max_err) =
        errors
            .iter()
            .copied()
            .enumerate()
            .fold((0, 0.0f64), |(wi, wv), (i, v)| {
                if v > wv || v.is_nan() && !wv.is_nan() {
                    (i, v)
                } else {
                    (wi, wv)
                }
            });
    Ok(DotReport {
        max_err,
        errors,
        worst_trial,
        op_norm,
    })
}

/// An estimate of the operator norm ‖A‖ (largest singular value) by power iteration on
/// `$A^*A$`, from a seeded random start.
///
/// The value returned is the largest `$\lVert Av\rVert / \lVert v\rVert$` seen over the iterates,
/// so it is always a **lower bound** of ‖A‖ computed with the forward map alone — even if the
/// adjoint is wrong (then the iteration just converges less well). A lower bound makes the
/// normalised dot error larger, never smaller: the test stays conservative. 20 iterations give
/// a few digits, which is all a normalisation needs.
///
/// ```
/// use fftconv::check::dot::operator_norm;
/// use fftconv::op::{LinearOp, Scale, Identity, Op};
/// use std::sync::Arc;
/// let id: Op = Arc::new(Identity::new(&[5]));
/// let a = Scale::new(-3.0, id).unwrap();
/// assert!((operator_norm::<f64>(&a, 10, 1).unwrap() - 3.0).abs() < 1e-12);
/// ```
///
/// # Errors
/// [`Error::Shape`](crate::Error::Shape) when the adjoint's shapes do not fit.
pub fn operator_norm<T: Scalar>(op: &dyn LinearOp<T>, iterations: usize, seed: u64) -> Result<f64> {
    let adj = op.adjoint();
    let mut v = Tensor::<T>::randn(op.domain(), seed);
    let mut best = 0.0f64;
    for _ in 0..iterations.max(1) {
        let n = v.norm();
        if n == 0.0 || !n.is_finite() {
            break;
        }
        v = v.scale(T::of(1.0 / n));
        let av = op.apply(&v)?;
        best = best.max(av.norm() / v.norm());
        v = adj.apply(&av)?;
        v.expect_shape(op.domain(), "operator norm: output of the adjoint")?;
    }
    Ok(best)
}
