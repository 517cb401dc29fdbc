//! Seeded initialisation: the same seed gives the same parameters on every machine.

use crate::tensor::Tensor;

/// He (Kaiming) normal initialisation: entries `N(0, 2 / fan_in)`, for layers followed by ReLU.
///
/// ```
/// let w = fftconv::nn::init::he_normal(&[8, 1, 5, 5], 25, 3);
/// assert_eq!(w, fftconv::nn::init::he_normal(&[8, 1, 5, 5], 25, 3));
/// ```
pub fn he_normal(shape: &[usize], fan_in: usize, seed: u64) -> Tensor {
    let std = (2.0 / fan_in.max(1) as f64).sqrt();
    Tensor::randn(shape, seed).scale(std)
}

/// Glorot (Xavier) uniform initialisation: entries `U(-a, a)`, `a = √(6 / (fan_in + fan_out))`.
///
/// ```
/// let w = fftconv::nn::init::glorot_uniform(&[10, 64], 64, 10, 1);
/// assert!(w.max_abs() <= (6.0f64 / 74.0).sqrt());
/// ```
pub fn glorot_uniform(shape: &[usize], fan_in: usize, fan_out: usize, seed: u64) -> Tensor {
    let a = (6.0 / (fan_in + fan_out).max(1) as f64).sqrt();
    // `a` is in (0, √6] for every fan-in and fan-out, so the bounds are always valid.
    Tensor::uniform(shape, -a, a, seed).expect("glorot bounds -a < a, a in (0, 2.45]")
}
