//! Strided matrix product `C = A·B + β·C` for the im2col path, through nalgebra's `gemm` (which
//! hands dynamically-sized `f32`/`f64` products to the packed, cache-blocked SIMD kernels of
//! `matrixmultiply`).
//!
//! A matrix is a slice plus `(row stride, column stride)` in elements, so a row-major `m×k`
//! matrix is `(k, 1)` and its transpose is the same slice with `(1, k)`.
//!
//! ```
//! use fftconv::conv::fast::gemm::{gemm, Mat, MatMut};
//! let a = [1.0f64, 2.0, 3.0, 4.0]; // [[1, 2], [3, 4]]
//! let b = [1.0f64, 0.0, 0.0, 1.0];
//! let mut c = [0.0f64; 4];
//! gemm(Mat::row_major(&a, 2, 2).t(), Mat::row_major(&b, 2, 2), MatMut::row_major(&mut c, 2, 2), 0.0);
//! assert_eq!(c, [1.0, 3.0, 2.0, 4.0]);
//! ```

use crate::tensor::Scalar;
use nalgebra::{DMatrixView, DMatrixViewMut, Dyn};
use std::any::TypeId;

/// A read-only strided matrix.
#[derive(Clone, Copy, Debug)]
pub struct Mat<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

/// A writable strided matrix (column stride 1 or row stride 1, no aliasing).
#[derive(Debug)]
pub struct MatMut<'a, T> {
    data: &'a mut [T],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a, T> Mat<'a, T> {
    /// A row-major `rows × cols` matrix.
    ///
    /// # Panics
    /// If `data` is shorter than `rows·cols`.
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        assert!(data.len() >= rows * cols, "matrix data too short");
        Mat {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }
    /// A row-major `rows × cols` block whose rows start `stride` elements apart (a column
    /// range of a wider row-major matrix, `data` starting at its first column).
    ///
    /// # Panics
    /// If `data` does not reach the last element.
    pub fn strided(data: &'a [T], rows: usize, cols: usize, stride: usize) -> Self {
        assert!(
            rows == 0 || data.len() >= (rows - 1) * stride + cols,
            "matrix data too short"
        );
        Mat {
            data,
            rows,
            cols,
            rs: stride,
            cs: 1,
        }
    }
    /// The transpose (no copy).
    pub fn t(self) -> Self {
        Mat {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }
}

impl<'a, T> MatMut<'a, T> {
    /// A row-major `rows × cols` block whose rows start `stride` elements apart (as
    /// [`Mat::strided`]).
    ///
    /// # Panics
    /// If `data` does not reach the last element.
    pub fn strided(data: &'a mut [T], rows: usize, cols: usize, stride: usize) -> Self {
        assert!(
            rows == 0 || data.len() >= (rows - 1) * stride + cols,
            "matrix data too short"
        );
        MatMut {
            data,
            rows,
            cols,
            rs: stride,
            cs: 1,
        }
    }
    /// A row-major `rows × cols` matrix.
    ///
    /// # Panics
    /// If `data` is shorter than `rows·cols`.
    pub fn row_major(data: &'a mut [T], rows: usize, cols: usize) -> Self {
        assert!(data.len() >= rows * cols, "matrix data too short");
        MatMut {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }
}

fn view<'a, U: nalgebra::Scalar>(m: Mat<'a, U>) -> DMatrixView<'a, U, Dyn, Dyn> {
    let len = if m.rows == 0 || m.cols == 0 {
        0
    } else {
        (m.rows - 1) * m.rs + (m.cols - 1) * m.cs + 1
    };
    DMatrixView::from_slice_with_strides_generic(
        &m.data[..len],
        Dyn(m.rows),
        Dyn(m.cols),
        Dyn(m.rs),
        Dyn(m.cs),
    )
}

fn view_mut<'a, U: nalgebra::Scalar>(m: MatMut<'a, U>) -> DMatrixViewMut<'a, U, Dyn, Dyn> {
    let len = if m.rows == 0 || m.cols == 0 {
        0
    } else {
        (m.rows - 1) * m.rs + (m.cols - 1) * m.cs + 1
    };
    DMatrixViewMut::from_slice_with_strides_generic(
        &mut m.data[..len],
        Dyn(m.rows),
        Dyn(m.cols),
        Dyn(m.rs),
        Dyn(m.cs),
    )
}

fn cast<'a, T: 'static, U: 'static>(m: Mat<'a, T>) -> Mat<'a, U> {
    assert_eq!(TypeId::of::<T>(), TypeId::of::<U>());
    // SAFETY: T and U are the same type (checked above), so the slice is reinterpreted as itself.
    let data = unsafe { std::slice::from_raw_parts(m.data.as_ptr() as *const U, m.data.len()) };
    Mat {
        data,
        rows: m.rows,
        cols: m.cols,
        rs: m.rs,
        cs: m.cs,
    }
}

fn cast_mut<'a, T: 'static, U: 'static>(m: MatMut<'a, T>) -> MatMut<'a, U> {
    assert_eq!(TypeId::of::<T>(), TypeId::of::<U>());
    let len = m.data.len();
    // SAFETY: T and U are the same type (checked above); the exclusive borrow moves along.
    let data = unsafe { std::slice::from_raw_parts_mut(m.data.as_mut_ptr() as *mut U, len) };
    MatMut {
        data,
        rows: m.rows,
        cols: m.cols,
        rs: m.rs,
        cs: m.cs,
    }
}

/// Below this extent on any axis nalgebra leaves `matrixmultiply` for a gemv loop; we use
/// [`small_gemm`] instead.
const SMALL: usize = 5;

/// `c = a·b + beta·c` by plain loops (for thin products: depthwise layers, tiny channels).
fn small_gemm<T: Scalar>(a: Mat<'_, T>, b: Mat<'_, T>, c: MatMut<'_, T>, beta: T) {
    for i in 0..c.rows {
        for j in 0..c.cols {
            let v = &mut c.data[i * c.rs + j * c.cs];
            *v = if beta == T::zero() {
                T::zero()
            } else {
                *v * beta
            };
        }
        for p in 0..a.cols {
            let aip = a.data[i * a.rs + p * a.cs];
            for j in 0..c.cols {
                let v = &mut c.data[i * c.rs + j * c.cs];
                *v = *v + aip * b.data[p * b.rs + j * b.cs];
            }
        }
    }
}

/// `c = a·b + beta·c` (with `beta = 0`, `c` is only written).
///
/// # Panics
/// If the shapes do not conform.
pub fn gemm<T: Scalar>(a: Mat<'_, T>, b: Mat<'_, T>, c: MatMut<'_, T>, beta: T) {
    assert!(
        a.cols == b.rows && c.rows == a.rows && c.cols == b.cols,
        "gemm shapes {}x{} · {}x{} → {}x{}",
        a.rows,
        a.cols,
        b.rows,
        b.cols,
        c.rows,
        c.cols
    );
    if c.rows == 0 || c.cols == 0 {
        return;
    }
    if a.rows.min(a.cols).min(b.cols) <= SMALL {
        small_gemm(a, b, c, beta);
        return;
    }
    if TypeId::of::<T>() == TypeId::of::<f32>() {
        let mut cv = view_mut(cast_mut::<T, f32>(c));
        cv.gemm(
            1.0,
            &view(cast::<T, f32>(a)),
            &view(cast::<T, f32>(b)),
            beta.as_f64() as f32,
        );
    } else {
        let mut cv = view_mut(cast_mut::<T, f64>(c));
        cv.gemm(
            1.0,
            &view(cast::<T, f64>(a)),
            &view(cast::<T, f64>(b)),
            beta.as_f64(),
        );
    }
}
