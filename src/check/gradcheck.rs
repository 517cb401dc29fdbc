//! Finite-difference gradient checks (central differences from the `finitediff` crate): a
//! gradcheck for any `Fn(&Tensor) -> f64`, and the FD check of an operator's adjoint.

use crate::error::{Error, Result};
use crate::op::LinearOp;
use crate::tensor::{checked_numel, unravel, Scalar, Tensor};

/// Options of [`gradcheck`].
#[derive(Clone, Debug, PartialEq)]
pub struct GradCheckOptions {
    /// Inputs with at most this many elements are checked coordinate by coordinate; larger
    /// ones along [`directions`](GradCheckOptions::directions) random unit directions.
    pub full_limit: usize,
    /// Number of random directions for large inputs.
    pub directions: usize,
    /// Seed of the random directions.
    pub seed: u64,
    /// `pass` is `max_rel_err ≤ tolerance`.
    pub tolerance: f64,
}

impl Default for GradCheckOptions {
    /// `full_limit = 256`, `directions = 16`, `seed = 0`, `tolerance = 1e-7` (f64: central
    /// differences with step ∛ε ≈ 6e-6 have truncation error ~h²·f‴ and rounding error
    /// ~ε·|f|/h ≈ 2e-11·|f|, both far below 1e-7 for functions of moderate curvature).
    fn default() -> Self {
        GradCheckOptions {
            full_limit: 256,
            directions: 16,
            seed: 0,
            tolerance: 1e-7,
        }
    }
}

/// What [`gradcheck`] found.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct GradReport {
    /// Largest relative error (see [`gradcheck`] for the normalisation).
    pub max_rel_err: f64,
    /// `max_rel_err ≤ options.tolerance` (false when anything was NaN).
    pub pass: bool,
    /// Coordinates checked (0 in direction mode).
    pub coordinates: usize,
    /// Directions checked (0 in coordinate mode).
    pub directions: usize,
    /// Coordinate mode: the multi-index of the worst coordinate.
    pub worst_index: Option<Vec<usize>>,
    /// Direction mode: the number (0-based) of the worst direction.
    pub worst_direction: Option<usize>,
    /// The finite-difference value at the worst coordinate/direction.
    pub fd_value: f64,
    /// The claimed gradient's value there (`grad[i]` or `⟨grad, v⟩`).
    pub claimed_value: f64,
}

impl std::fmt::Display for GradReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = if self.pass { "pass" } else { "FAIL" };
        match (&self.worst_index, self.worst_direction) {
            (Some(i), _) => write!(
                f,
                "{verdict}: {} coordinates, max rel err {:.3e} at {i:?} (fd {:.6e}, claimed {:.6e})",
                self.coordinates, self.max_rel_err, self.fd_value, self.claimed_value
            ),
            (None, Some(d)) => write!(
                f,
                "{verdict}: {} directions, max rel err {:.3e} along direction {d} (fd {:.6e}, claimed {:.6e})",
                self.directions, self.max_rel_err, self.fd_value, self.claimed_value
            ),
            _ => write!(f, "{verdict}: nothing to check"),
        }
    }
}

/// Check a claimed gradient `grad` of a scalar function `f` at `x` by central differences
/// (`finitediff::vec::central_diff`, step ∛ε).
///
/// * `x.len() ≤ opts.full_limit`: every coordinate; the error is
///   `$\max_i \lvert \mathrm{fd}_i - g_i\rvert / \max(\max_i\lvert g_i\rvert, \max_i\lvert\mathrm{fd}_i\rvert)$`
///   (norm-wise, so coordinates where the gradient vanishes do not blow up), reporting the
///   worst coordinate.
/// * larger inputs: `opts.directions` seeded random unit directions `$v$`, each the derivative of
///   `$t \mapsto f(x + t v)$` at 0 against `$\langle g, v\rangle$`, error
///   `$\lvert \mathrm{fd} - \langle g,v\rangle\rvert / \max(\lVert g\rVert, \lvert\mathrm{fd}\rvert)$`.
///
/// ```
/// use fftconv::check::gradcheck::{gradcheck, GradCheckOptions};
/// use fftconv::Tensor;
/// // f(x) = Σ x_i³ has gradient 3 x_i².
/// let f = |x: &Tensor| x.data().iter().map(|v| v * v * v).sum::<f64>();
/// let x = Tensor::<f64>::randn(&[2, 3], 1);
/// let g = x.map(|v| 3.0 * v * v);
/// let r = gradcheck(&f, &x, &g, &GradCheckOptions::default()).unwrap();
/// assert!(r.pass, "{r}");
/// ```
///
/// # Errors
/// [`Error::Shape`] when `grad` does not have the shape of `x`.
pub fn gradcheck(
    f: &dyn Fn(&Tensor<f64>) -> f64,
    x: &Tensor<f64>,
    grad: &Tensor<f64>,
    opts: &GradCheckOptions,
) -> Result<GradReport> {
    fd_check(f, x, grad, opts)
}

/// The gradcheck in the precision `F` of the tensors: the perturbed inputs and the difference
/// quotient are formed in `F` (step ∛ε of `F`), `f` itself reports f64.
fn fd_check<F: Scalar>(
    f: &dyn Fn(&Tensor<F>) -> f64,
    x: &Tensor<F>,
    grad: &Tensor<F>,
    opts: &GradCheckOptions,
) -> Result<GradReport> {
    grad.expect_shape(x.shape(), "gradcheck: gradient vs input")?;
    let shape = x.shape().to_vec();
    let g: Vec<f64> = grad.data().iter().map(|v| v.as_f64()).collect();
    if x.len() <= opts.full_limit {
        let cost = |v: &Vec<F>| -> std::result::Result<F, anyhow::Error> {
            let t = Tensor::new(shape.clone(), v.clone())?;
            Ok(F::of(f(&t)))
        };
        let fd = finitediff::vec::central_diff(&cost)(&x.data().to_vec())
            .map_err(|e| Error::invalid("gradcheck", e.to_string()))?;
        let fd: Vec<f64> = fd.iter().map(|v| v.as_f64()).collect();
        let scale = g.iter().chain(&fd).fold(0.0f64, |m, v| m.max(v.abs()));
        let mut worst = (0usize, 0.0f64);
        for (i, (a, b)) in fd.iter().zip(&g).enumerate() {
            let e = (a - b).abs();
            if e > worst.1 || e.is_nan() && !worst.1.is_nan() {
                worst = (i, e);
            }
        }
        let err = if scale > 0.0 {
            worst.1 / scale
        } else {
            worst.1
        };
        let err = if scale.is_nan() { f64::NAN } else { err };
        return Ok(GradReport {
            max_rel_err: err,
            pass: err <= opts.tolerance,
            coordinates: x.len(),
            directions: 0,
            worst_index: Some(unravel(worst.0, &shape)),
            worst_direction: None,
            fd_value: fd.get(worst.0).copied().unwrap_or(0.0),
            claimed_value: g.get(worst.0).copied().unwrap_or(0.0),
        });
    }
    let g_norm = grad.norm();
    let mut worst = (0usize, f64::NEG_INFINITY, 0.0, 0.0);
    for d in 0..opts.directions {
        let v = Tensor::<F>::randn(&shape, opts.seed.wrapping_add(d as u64 + 1));
        let v = v.scale(F::of(1.0 / v.norm()));
        let along = |t: &Vec<F>| -> std::result::Result<F, anyhow::Error> {
            let mut p = x.clone();
            p.axpy(t[0], &v)?;
            Ok(F::of(f(&p)))
        };
        let fd = finitediff::vec::central_diff(&along)(&vec![F::zero()])
            .map_err(|e| Error::invalid("gradcheck", e.to_string()))?[0]
            .as_f64();
        let claimed = grad.dot(&v)?;
        let scale = g_norm.max(fd.abs());
        let e = (fd - claimed).abs();
        let e = if scale > 0.0 { e / scale } else { e };
        if e > worst.1 || e.is_nan() && !worst.1.is_nan() {
            worst = (d, e, fd, claimed);
        }
    }
    let err = if opts.directions == 0 { 0.0 } else { worst.1 };
    Ok(GradReport {
        max_rel_err: err,
        pass: err <= opts.tolerance,
        coordinates: 0,
        directions: opts.directions,
        worst_index: None,
        worst_direction: (opts.directions > 0).then_some(worst.0),
        fd_value: worst.2,
        claimed_value: worst.3,
    })
}

/// The finite-difference check of an adjoint: the gradient of the linear functional
/// `$L(x) = \langle Ax, r\rangle$` is `$A^* r$` for any `$x$`, so central differences of `$L$` (which
/// use only the forward map) must reproduce `$A^* r$`. Seeded Gaussian `x` and `r`; every
/// coordinate for domains of ≤ 256 elements, 16 random directions above. Returns the
/// relative error of [`gradcheck`].
///
/// The differences are formed in `T` with `T`'s step ∛ε: for f64 the error of a right
/// adjoint is ~1e-10 or below; for f32 (step ≈ 5e-3) rounding in `$L$` gives ~1e-4 relative,
/// so judge f32 with a correspondingly loose threshold (see [`suite`](crate::check::suite)).
///
/// ```
/// use fftconv::check::gradcheck::operator_fd_error;
/// use fftconv::op::ZeroInsert;
/// let e = operator_fd_error::<f64>(&ZeroInsert::new(&[3, 7], &[2]).unwrap(), 1).unwrap();
/// assert!(e < 1e-7, "{e}");
/// ```
///
/// # Errors
/// [`Error::Shape`] when the adjoint's shapes do not fit.
pub fn operator_fd_error<T: Scalar>(op: &dyn LinearOp<T>, seed: u64) -> Result<f64> {
    let x = Tensor::<T>::randn(op.domain(), seed);
    let r = Tensor::<T>::randn(op.codomain(), seed.wrapping_add(1));
    let g = op.adjoint().apply(&r)?;
    g.expect_shape(op.domain(), "FD check: output of the adjoint")?;
    checked_numel(op.domain())?;
    let l = |v: &Tensor<T>| op.forward(v).dot(&r).unwrap_or(f64::NAN);
    let opts = GradCheckOptions {
        seed: seed.wrapping_add(2),
        ..GradCheckOptions::default()
    };
    Ok(fd_check(&l, &x, &g, &opts)?.max_rel_err)
}
