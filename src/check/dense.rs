//! The dense matrix of a small operator (nalgebra) and the check `dense(A*) = dense(A)ᵀ`.

use crate::error::{Error, Result};
use crate::op::LinearOp;
use crate::tensor::{checked_numel, Scalar, Tensor};
use nalgebra::DMatrix;

/// The largest matrix [`dense_matrix`] builds: 4 Mi entries (32 MiB of f64). Building it takes
/// one application of the operator per column, so this is also a time bound.
pub const MAX_DENSE_ENTRIES: usize = 1 << 22;

/// The matrix of `A` in f64: column `j` is `A e_j` (row-major flattening of domain and
/// codomain), so it has `numel(codomain)` rows and `numel(domain)` columns.
///
/// ```
/// use fftconv::check::dense::dense_matrix;
/// use fftconv::op::Crop;
/// let m = dense_matrix::<f64>(&Crop::new(&[4], &[(1, 0)]).unwrap()).unwrap();
/// assert_eq!((m.nrows(), m.ncols()), (3, 4));
/// assert_eq!(m[(0, 1)], 1.0);
/// ```
///
/// # Errors
/// [`Error::TooLarge`] when the matrix would have more than [`MAX_DENSE_ENTRIES`] entries (use a
/// smaller shape; the dot test works at any size) or more than the memory limit
/// ([`crate::limits`]); [`Error::Shape`] from the operator.
pub fn dense_matrix<T: Scalar>(op: &dyn LinearOp<T>) -> Result<DMatrix<f64>> {
    let n = checked_numel(op.domain())?;
    let m = checked_numel(op.codomain())?;
    let entries = (n as u128) * (m as u128);
    if entries > MAX_DENSE_ENTRIES as u128 {
        return Err(Error::TooLarge {
            context: format!(
                "dense matrix of {} ({m}×{n}; the dense check is for small operators)",
                op.symbol()
            ),
            bytes: entries * 8,
            limit: (MAX_DENSE_ENTRIES as u128) * 8,
        });
    }
    crate::limits::guard(
        &format!("dense matrix of {} ({m}×{n})", op.symbol()),
        entries,
        8,
    )?;
    let mut mat = DMatrix::<f64>::zeros(m, n);
    let mut e = Tensor::<T>::zeros(op.domain());
    for j in 0..n {
        e.data_mut()[j] = T::one();
        let col = op.apply(&e)?;
        col.expect_shape(op.codomain(), "dense matrix: operator output")?;
        for (i, v) in col.data().iter().enumerate() {
            mat[(i, j)] = v.as_f64();
        }
        e.data_mut()[j] = T::zero();
    }
    Ok(mat)
}

/// `max|dense(A*) − dense(A)ᵀ|`: every entry of the adjoint against the transpose of the
/// operator's matrix (absolute; the operators under test have entries of order 1).
///
/// ```
/// use fftconv::check::dense::adjoint_transpose_error;
/// use fftconv::op::{Pad, PadMode};
/// let pad = Pad::new(PadMode::Reflect, &[2, 5], &[(2, 1)]).unwrap();
/// assert_eq!(adjoint_transpose_error::<f64>(&pad).unwrap(), 0.0);
/// ```
///
/// # Errors
/// [`Error::Shape`] when `A*` does not have the swapped shapes of `A`; [`Error::TooLarge`] as
/// for [`dense_matrix`].
pub fn adjoint_transpose_error<T: Scalar>(op: &dyn LinearOp<T>) -> Result<f64> {
    let adj = op.adjoint();
    if adj.domain() != op.codomain() {
        return Err(Error::shape(
            format!("domain of the adjoint of {}", op.symbol()),
            op.codomain(),
            adj.domain(),
        ));
    }
    if adj.codomain() != op.domain() {
        return Err(Error::shape(
            format!("codomain of the adjoint of {}", op.symbol()),
            op.domain(),
            adj.codomain(),
        ));
    }
    let a = dense_matrix(op)?;
    let at = dense_matrix(adj.as_ref())?;
    let mut worst = 0.0f64;
    for i in 0..a.nrows() {
        for j in 0..a.ncols() {
            let e = (at[(j, i)] - a[(i, j)]).abs();
            if e > worst || e.is_nan() {
                worst = e;
            }
        }
    }
    Ok(worst)
}
