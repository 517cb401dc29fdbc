//! The numeric checks `derive --check` and `notes` run on lowered expressions, built on
//! [`crate::check`]: a derived adjoint is paired with its forward operator ([`Paired`]) so
//! that the dot test and the dense transpose check test *the derived operator*, not the
//! library's own adjoint.

use crate::check::{dense::dense_matrix, dot::dot_test, gradcheck};
use crate::error::{Error, Result};
use crate::op::{LinearOp, Op, Symbol};
use crate::tensor::Tensor;
use nalgebra::DMatrix;

/// Largest matrix (entries) built densely by these checks (keeps `notes` fast).
pub const MAX_DENSE: usize = 1 << 16;

/// A forward operator with a given (derived) adjoint.
#[derive(Debug, Clone)]
pub struct Paired {
    /// `A`.
    pub fwd: Op<f64>,
    /// The operator claimed to be `A*`.
    pub adj: Op<f64>,
}

impl LinearOp<f64> for Paired {
    fn domain(&self) -> &[usize] {
        self.fwd.domain()
    }
    fn codomain(&self) -> &[usize] {
        self.fwd.codomain()
    }
    fn forward(&self, x: &Tensor<f64>) -> Tensor<f64> {
        self.fwd.forward(x)
    }
    fn adjoint(&self) -> Op<f64> {
        self.adj.clone()
    }
    fn symbol(&self) -> Symbol {
        self.fwd.symbol()
    }
}

/// The dense matrix of `op`, or `None` when it has more than [`MAX_DENSE`] entries.
///
/// # Errors
/// Shape errors of the operator.
pub fn dense(op: &dyn LinearOp<f64>) -> Result<Option<DMatrix<f64>>> {
    let n: usize = op.domain().iter().product();
    let m: usize = op.codomain().iter().product();
    if n.saturating_mul(m) > MAX_DENSE {
        return Ok(None);
    }
    dense_matrix(op).map(Some)
}

/// Normalised dot-test error of `adj` as the adjoint of `op` ([`check::dot`](crate::check::dot)).
///
/// # Errors
/// Shape errors when `adj` does not have the swapped shapes.
pub fn dot_error(op: &Op<f64>, adj: &Op<f64>, trials: usize, seed: u64) -> Result<f64> {
    let p = Paired {
        fwd: op.clone(),
        adj: adj.clone(),
    };
    Ok(dot_test(&p, trials, seed)?.max_err)
}

/// Max |dense(A*)ᵀ − dense(B)| relative to the largest entry, or `None` when too large.
///
/// # Errors
/// Shape errors.
pub fn transpose_error(op: &Op<f64>, adj: &Op<f64>) -> Result<Option<f64>> {
    match (dense(op.as_ref())?, dense(adj.as_ref())?) {
        (Some(a), Some(b)) => Ok(Some((a.transpose() - &b).amax() / a.amax().max(1e-300))),
        _ => Ok(None),
    }
}

/// Max |A − B| / max(1, max |A|) over the dense matrices, or over random probes when too large.
///
/// # Errors
/// Shape errors when the operators' shapes differ.
pub fn operator_distance(a: &dyn LinearOp<f64>, b: &dyn LinearOp<f64>, seed: u64) -> Result<f64> {
    if a.domain() != b.domain() || a.codomain() != b.codomain() {
        return Err(Error::shape(
            format!("right side (domain {:?})", b.domain()),
            a.codomain(),
            b.codomain(),
        ));
    }
    if let (Some(ma), Some(mb)) = (dense(a)?, dense(b)?) {
        let scale = ma.amax().max(1.0);
        return Ok((ma - mb).amax() / scale);
    }
    let mut worst = 0.0f64;
    for t in 0..4 {
        let x = Tensor::<f64>::randn(a.domain(), seed.wrapping_add(t));
        let ya = a.apply(&x)?;
        let yb = b.apply(&x)?;
        let scale = ya.norm().max(yb.norm()).max(f64::MIN_POSITIVE);
        worst = worst.max(ya.sub(&yb)?.norm() / scale);
    }
    Ok(worst)
}

/// Relative error of a claimed gradient `g` of the linear loss `L(x) = <dy, A x>` against
/// central finite differences ([`check::gradcheck`](fn@crate::check::gradcheck)).
///
/// # Errors
/// Shape errors.
pub fn fd_error(
    op: &dyn LinearOp<f64>,
    x: &Tensor<f64>,
    dy: &Tensor<f64>,
    g: &Tensor<f64>,
    seed: u64,
) -> Result<f64> {
    let loss = |z: &Tensor<f64>| -> f64 { op.apply(z).and_then(|y| y.dot(dy)).unwrap_or(f64::NAN) };
    let opts = gradcheck::GradCheckOptions {
        full_limit: 64,
        directions: 6,
        seed,
        ..Default::default()
    };
    let r = gradcheck::gradcheck(&loss, x, g, &opts)?;
    Ok(r.max_rel_err)
}

/// max |a − b| / max(1e-300, max |b|).
///
/// # Errors
/// Shape errors.
pub fn rel_max(a: &Tensor<f64>, b: &Tensor<f64>) -> Result<f64> {
    Ok(a.sub(b)?.max_abs() / b.max_abs().max(1e-300))
}
