//! Small numeric checks on lowered operators: dense matrices, the dot test, finite differences
//! of a linear loss. (Interim: to be replaced by `crate::check` once it lands on main.)

use crate::error::{Error, Result};
use crate::op::LinearOp;
use crate::tensor::Tensor;
use nalgebra::DMatrix;

/// Largest matrix (entries) built densely.
pub const MAX_DENSE: usize = 1 << 16;

/// The dense matrix of `op` (columns = images of the unit vectors), or `None` when too large.
///
/// # Errors
/// Shape errors of the operator.
pub fn dense(op: &dyn LinearOp<f64>) -> Result<Option<DMatrix<f64>>> {
    let n: usize = op.domain().iter().product();
    let m: usize = op.codomain().iter().product();
    if n.saturating_mul(m) > MAX_DENSE {
        return Ok(None);
    }
    let mut a = DMatrix::zeros(m, n);
    let mut e = Tensor::<f64>::zeros(op.domain());
    for j in 0..n {
        e.data_mut()[j] = 1.0;
        let col = op.apply(&e)?;
        for (i, v) in col.data().iter().enumerate() {
            a[(i, j)] = *v;
        }
        e.data_mut()[j] = 0.0;
    }
    Ok(Some(a))
}

/// Normalised dot-test error of `adj` as the adjoint of `op`:
/// $\max |\langle Ax,y\rangle - \langle x,By\rangle| / (\|Ax\|\|y\| + \|x\|\|By\|)$.
///
/// # Errors
/// Shape errors when `adj` does not have the swapped shapes.
pub fn dot_error(op: &dyn LinearOp<f64>, adj: &dyn LinearOp<f64>, trials: u64, seed: u64) -> Result<f64> {
    if adj.domain() != op.codomain() || adj.codomain() != op.domain() {
        return Err(Error::shape("adjoint codomain", op.domain(), adj.codomain()));
    }
    let mut worst = 0.0f64;
    for t in 0..trials {
        let x = Tensor::<f64>::randn(op.domain(), seed.wrapping_add(2 * t + 1));
        let y = Tensor::<f64>::randn(op.codomain(), seed.wrapping_add(2 * t + 2));
        let ax = op.apply(&x)?;
        let by = adj.apply(&y)?;
        let lhs = ax.dot(&y)?;
        let rhs = x.dot(&by)?;
        let scale = ax.norm() * y.norm() + x.norm() * by.norm();
        let err = if scale > 0.0 { (lhs - rhs).abs() / scale } else { (lhs - rhs).abs() };
        worst = worst.max(err);
    }
    Ok(worst)
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
/// central differences along `directions` random directions.
///
/// # Errors
/// Shape errors.
pub fn fd_error(op: &dyn LinearOp<f64>, x: &Tensor<f64>, dy: &Tensor<f64>, g: &Tensor<f64>, seed: u64) -> Result<f64> {
    let loss = |z: &Tensor<f64>| -> Result<f64> { op.apply(z)?.dot(dy) };
    let eps = 1e-3;
    let mut worst = 0.0f64;
    for t in 0..3 {
        let v = Tensor::<f64>::randn(x.shape(), seed.wrapping_add(100 + t));
        let mut xp = x.clone();
        xp.axpy(eps, &v)?;
        let mut xm = x.clone();
        xm.axpy(-eps, &v)?;
        let fd = (loss(&xp)? - loss(&xm)?) / (2.0 * eps);
        let claimed = g.dot(&v)?;
        let scale = fd.abs().max(claimed.abs()).max(1e-300);
        worst = worst.max((fd - claimed).abs() / scale);
    }
    Ok(worst)
}

/// max |a − b| / max(1e-300, max |b|).
///
/// # Errors
/// Shape errors.
pub fn rel_max(a: &Tensor<f64>, b: &Tensor<f64>) -> Result<f64> {
    Ok(a.sub(b)?.max_abs() / b.max_abs().max(1e-300))
}
