//! `Tensor<T>`: a shape and contiguous row-major data, for `T = f64` (the reference precision)
//! or `f32`. Deliberately small: creation (zeros, seeded random), element access by multi-index,
//! inner product, norms and elementwise arithmetic. Everything else lives in operators.
//!
//! Conventions (index base 0, row-major NCHW/OIHW layouts, the real inner product
//! `$\langle x, y\rangle = \sum_i x_i y_i$` that defines every adjoint): `derivations/01-notation.md`,
//! NOT-1 and NOT-2.

use crate::error::{Error, Result};
use num_traits::Float;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use std::fmt;

/// The element types fftconv computes in: `f64` (reference) and `f32`.
pub trait Scalar:
    rustfft::FftNum
    + Float
    + Default
    + std::iter::Sum
    + fmt::Display
    + fmt::LowerExp
    + Send
    + Sync
    + 'static
{
    /// `"f64"` or `"f32"`, as in `.npy` descriptors and reports.
    const NAME: &'static str;
    /// Machine epsilon as f64.
    const EPSILON: f64;
    /// Convert from f64 (rounding for f32).
    fn of(v: f64) -> Self;
    /// Convert to f64 (exact).
    fn as_f64(self) -> f64;
    /// The slices as `f32` / `f64` slices when `Self` is that type (for kernels written per
    /// type, e.g. with SIMD intrinsics), else `None`.
    fn views<'a>(_a: &'a [Self], _b: &'a [Self], _out: &'a mut [Self]) -> TypedViews<'a> {
        TypedViews::Other
    }
}

/// Three slices seen at their concrete element type (see [`Scalar::views`]).
pub enum TypedViews<'a> {
    /// `f32` slices.
    F32(&'a [f32], &'a [f32], &'a mut [f32]),
    /// `f64` slices.
    F64(&'a [f64], &'a [f64], &'a mut [f64]),
    /// Another type.
    Other,
}

impl Scalar for f64 {
    const NAME: &'static str = "f64";
    const EPSILON: f64 = f64::EPSILON;
    fn of(v: f64) -> Self {
        v
    }
    fn as_f64(self) -> f64 {
        self
    }
    fn views<'a>(a: &'a [f64], b: &'a [f64], out: &'a mut [f64]) -> TypedViews<'a> {
        TypedViews::F64(a, b, out)
    }
}

impl Scalar for f32 {
    const NAME: &'static str = "f32";
    const EPSILON: f64 = f32::EPSILON as f64;
    fn of(v: f64) -> Self {
        v as f32
    }
    fn as_f64(self) -> f64 {
        self as f64
    }
    fn views<'a>(a: &'a [f32], b: &'a [f32], out: &'a mut [f32]) -> TypedViews<'a> {
        TypedViews::F32(a, b, out)
    }
}

/// Number of elements of `shape`, or an error if the product overflows `usize`.
///
/// # Errors
/// [`Error::Invalid`] when the product of the extents does not fit in `usize`.
pub fn checked_numel(shape: &[usize]) -> Result<usize> {
    shape.iter().try_fold(1usize, |acc, &n| {
        acc.checked_mul(n).ok_or_else(|| {
            Error::invalid(
                format!("shape {shape:?}"),
                "the number of elements overflows; use smaller extents",
            )
        })
    })
}

/// Row-major strides of `shape` (in elements).
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// The multi-index of flat position `flat` in a row-major array of `shape`.
pub fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0usize; shape.len()];
    for i in (0..shape.len()).rev() {
        if shape[i] > 0 {
            idx[i] = flat % shape[i];
            flat /= shape[i];
        }
    }
    idx
}

/// A dense, row-major, n-dimensional array.
#[derive(Clone, PartialEq)]
pub struct Tensor<T: Scalar = f64> {
    shape: Vec<usize>,
    data: Vec<T>,
}

impl<T: Scalar> fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor<{}>{:?}", T::NAME, self.shape)?;
        if self.data.len() <= 16 {
            write!(f, " {:?}", self.data)?;
        }
        Ok(())
    }
}

impl<T: Scalar> Tensor<T> {
    /// A tensor from a shape and row-major data.
    ///
    /// # Errors
    /// [`Error::Shape`] when `data.len()` is not the product of `shape`.
    ///
    /// ```
    /// use fftconv::Tensor;
    /// let t = Tensor::new(vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    /// assert_eq!(t.get(&[1, 0]), 3.0);
    /// ```
    pub fn new(shape: Vec<usize>, data: Vec<T>) -> Result<Self> {
        let n = checked_numel(&shape)?;
        if n != data.len() {
            return Err(Error::invalid(
                format!("tensor of shape {shape:?}"),
                format!("needs {n} elements, got {}", data.len()),
            ));
        }
        Ok(Tensor { shape, data })
    }

    /// All zeros.
    ///
    /// # Panics
    /// If the number of elements overflows `usize` (use [`checked_numel`] first on user shapes).
    pub fn zeros(shape: &[usize]) -> Self {
        let n = checked_numel(shape).expect("tensor shape overflows usize");
        Tensor {
            shape: shape.to_vec(),
            data: vec![T::zero(); n],
        }
    }

    /// Elements `f(multi_index)`.
    pub fn from_fn(shape: &[usize], mut f: impl FnMut(&[usize]) -> T) -> Self {
        let mut t = Self::zeros(shape);
        for (i, v) in t.data.iter_mut().enumerate() {
            *v = f(&unravel(i, shape));
        }
        t
    }

    /// Standard normal entries from a seeded ChaCha8 stream (same numbers on every machine;
    /// f32 tensors are the f64 draws rounded).
    pub fn randn(shape: &[usize], seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut t = Self::zeros(shape);
        for v in t.data.iter_mut() {
            let z: f64 = StandardNormal.sample(&mut rng);
            *v = T::of(z);
        }
        t
    }

    /// Uniform entries in `[lo, hi)` from a seeded stream.
    ///
    /// # Errors
    /// [`Error::Invalid`] unless `lo < hi` and both are finite.
    pub fn uniform(shape: &[usize], lo: f64, hi: f64, seed: u64) -> Result<Self> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let dist = rand_distr::Uniform::new(lo, hi).map_err(|_| {
            Error::invalid(
                "uniform",
                format!("bounds [{lo}, {hi}) must be finite with lo < hi"),
            )
        })?;
        let mut t = Self::zeros(shape);
        for v in t.data.iter_mut() {
            *v = T::of(dist.sample(&mut rng));
        }
        Ok(t)
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }
    /// True when the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    /// Row-major data.
    pub fn data(&self) -> &[T] {
        &self.data
    }
    /// Mutable row-major data.
    pub fn data_mut(&mut self) -> &mut [T] {
        &mut self.data
    }
    /// The data, consuming the tensor.
    pub fn into_data(self) -> Vec<T> {
        self.data
    }

    /// Flat offset of a multi-index (no bounds check beyond debug assertions).
    pub fn offset(&self, idx: &[usize]) -> usize {
        debug_assert_eq!(idx.len(), self.shape.len());
        idx.iter()
            .zip(&self.shape)
            .fold(0usize, |acc, (&i, &n)| acc * n + i)
    }
    /// Element at a multi-index.
    ///
    /// # Panics
    /// If the index is out of bounds.
    pub fn get(&self, idx: &[usize]) -> T {
        self.data[self.offset(idx)]
    }
    /// Set the element at a multi-index.
    ///
    /// # Panics
    /// If the index is out of bounds.
    pub fn set(&mut self, idx: &[usize], v: T) {
        let o = self.offset(idx);
        self.data[o] = v;
    }

    /// The same data under another shape with as many elements.
    ///
    /// # Errors
    /// [`Error::Shape`] when the element counts differ.
    pub fn reshape(self, shape: &[usize]) -> Result<Self> {
        if checked_numel(shape)? != self.data.len() {
            return Err(Error::shape("reshape", &self.shape, shape));
        }
        Ok(Tensor {
            shape: shape.to_vec(),
            data: self.data,
        })
    }

    /// Convert the element type (f64 → f32 rounds).
    pub fn cast<U: Scalar>(&self) -> Tensor<U> {
        Tensor {
            shape: self.shape.clone(),
            data: self.data.iter().map(|v| U::of(v.as_f64())).collect(),
        }
    }

    /// Check that `other` has the same shape; `context` names the caller in the error.
    ///
    /// # Errors
    /// [`Error::Shape`] when the shapes differ.
    pub fn expect_shape(&self, expected: &[usize], context: &str) -> Result<()> {
        if self.shape != expected {
            return Err(Error::shape(context, expected, &self.shape));
        }
        Ok(())
    }

    /// Inner product `⟨self, other⟩ = Σ self[i]·other[i]`, accumulated in f64.
    ///
    /// # Errors
    /// [`Error::Shape`] when the shapes differ.
    pub fn dot(&self, other: &Self) -> Result<f64> {
        other.expect_shape(&self.shape, "inner product")?;
        Ok(self
            .data
            .iter()
            .zip(&other.data)
            .map(|(a, b)| a.as_f64() * b.as_f64())
            .sum())
    }

    /// Largest absolute value (0 for an empty tensor; NaN if any element is NaN).
    pub fn max_abs(&self) -> f64 {
        let mut m = 0.0f64;
        for v in &self.data {
            let a = v.as_f64().abs();
            if a.is_nan() {
                return f64::NAN;
            }
            m = m.max(a);
        }
        m
    }

    /// Euclidean norm, computed with scaling so that values near the float limits do not
    /// overflow or underflow.
    pub fn norm(&self) -> f64 {
        let scale = self.max_abs();
        if scale == 0.0 || !scale.is_finite() {
            return scale;
        }
        let s: f64 = self
            .data
            .iter()
            .map(|v| {
                let r = v.as_f64() / scale;
                r * r
            })
            .sum();
        scale * s.sqrt()
    }

    /// The first non-finite element, as (multi-index, value).
    pub fn first_non_finite(&self) -> Option<(Vec<usize>, f64)> {
        self.data
            .iter()
            .position(|v| !v.is_finite())
            .map(|i| (unravel(i, &self.shape), self.data[i].as_f64()))
    }

    /// Elementwise `self + other`.
    ///
    /// # Errors
    /// [`Error::Shape`] when the shapes differ.
    pub fn add(&self, other: &Self) -> Result<Self> {
        self.zip_with(other, |a, b| a + b)
    }
    /// Elementwise `self - other`.
    ///
    /// # Errors
    /// [`Error::Shape`] when the shapes differ.
    pub fn sub(&self, other: &Self) -> Result<Self> {
        self.zip_with(other, |a, b| a - b)
    }
    /// `alpha · self`.
    pub fn scale(&self, alpha: T) -> Self {
        self.map(|v| v * alpha)
    }
    /// `self += alpha · other`.
    ///
    /// # Errors
    /// [`Error::Shape`] when the shapes differ.
    pub fn axpy(&mut self, alpha: T, other: &Self) -> Result<()> {
        other.expect_shape(&self.shape, "axpy")?;
        for (a, &b) in self.data.iter_mut().zip(&other.data) {
            *a = *a + alpha * b;
        }
        Ok(())
    }
    /// Elementwise map.
    pub fn map(&self, f: impl Fn(T) -> T) -> Self {
        Tensor {
            shape: self.shape.clone(),
            data: self.data.iter().map(|&v| f(v)).collect(),
        }
    }
    /// Elementwise combination of two tensors of the same shape.
    ///
    /// # Errors
    /// [`Error::Shape`] when the shapes differ.
    pub fn zip_with(&self, other: &Self, f: impl Fn(T, T) -> T) -> Result<Self> {
        other.expect_shape(&self.shape, "elementwise operation")?;
        Ok(Tensor {
            shape: self.shape.clone(),
            data: self
                .data
                .iter()
                .zip(&other.data)
                .map(|(&a, &b)| f(a, b))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_refuses_bad_bounds_and_keeps_good_ones() {
        for (lo, hi) in [
            (1.0, 0.0),
            (0.5, 0.5),
            (f64::NAN, 1.0),
            (0.0, f64::INFINITY),
        ] {
            let e = Tensor::<f64>::uniform(&[3], lo, hi, 1).unwrap_err();
            assert!(matches!(e, Error::Invalid { .. }), "{lo}, {hi}: {e}");
        }
        let t = Tensor::<f64>::uniform(&[100], -2.0, 3.0, 1).unwrap();
        assert!(t.data().iter().all(|v| (-2.0..3.0).contains(v)));
    }

    #[test]
    fn randn_is_seeded_and_roughly_standard() {
        let a = Tensor::<f64>::randn(&[1000], 7);
        let b = Tensor::<f64>::randn(&[1000], 7);
        let c = Tensor::<f64>::randn(&[1000], 8);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mean: f64 = a.data().iter().sum::<f64>() / 1000.0;
        let var: f64 = a.data().iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 1000.0;
        assert!(mean.abs() < 0.15, "mean {mean}");
        assert!((var - 1.0).abs() < 0.15, "var {var}");
    }

    #[test]
    fn norm_survives_values_near_the_float_limits() {
        let t = Tensor::new(vec![2], vec![f64::MAX / 2.0, f64::MAX / 2.0]).unwrap();
        let n = t.norm();
        assert!(n.is_finite());
        assert!((n / (f64::MAX / 2.0) - 2f64.sqrt()).abs() < 1e-15);
        let tiny = Tensor::new(vec![2], vec![1e-300, 1e-300]).unwrap();
        assert!((tiny.norm() / 1e-300 - 2f64.sqrt()).abs() < 1e-15);
    }

    #[test]
    fn unravel_inverts_offset() {
        let t = Tensor::<f64>::zeros(&[3, 4, 5]);
        for flat in 0..60 {
            assert_eq!(t.offset(&unravel(flat, &[3, 4, 5])), flat);
        }
    }

    #[test]
    fn overflowing_shape_is_an_error() {
        assert!(checked_numel(&[usize::MAX, 2]).is_err());
        assert!(Tensor::<f64>::new(vec![2, 2], vec![1.0; 3]).is_err());
    }
}
