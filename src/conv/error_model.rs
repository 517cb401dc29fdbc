//! How far the FFT path may be from exact arithmetic, and a measurement of it
//! (`derivations/16-fft-error.md`).
//!
//! For one output channel of a 1-D layer run through a period-`$P$` FFT, rounding errors obey
//! `$\lVert \hat y - y \rVert_2 \le C\, \varepsilon \log_2 P\, \lVert x \rVert_2 \lVert w \rVert_1$`:
//! each transform perturbs its output by `$O(\varepsilon \log_2 P)$` relative to its norm
//! (Parseval), the pointwise product is bounded by `$\max_k |\hat w_k| \le \lVert w\rVert_1$`,
//! and the inverse adds another `$O(\varepsilon \log_2 P)$`. [`measure`] reports the ratio
//! `$\lVert \hat y - y \rVert_2 / (\varepsilon \log_2 P\, \lVert x \rVert_2 \lVert w \rVert_1)$` —
//! the constant `$C$` seen in practice.

use super::{forward, Algorithm, ConvSpec, Padding};
use crate::error::Result;
use crate::fft::fast_len;
use crate::tensor::{Scalar, Tensor};

/// One measurement of the FFT path's rounding error.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorSample {
    /// Signal length.
    pub size: usize,
    /// Kernel length.
    pub kernel: usize,
    /// Element type of the FFT path.
    pub dtype: &'static str,
    /// `max|ŷ − y| / max|y|` against the direct loops in f64.
    pub max_rel_err: f64,
    /// `‖ŷ − y‖₂ / (ε log₂P ‖x‖₂ ‖w‖₁)`: the bound's constant.
    pub bound_ratio: f64,
}

/// Measure the FFT path in `T` against the direct loops in f64 on a 1-D layer of `size`
/// samples, a kernel of `kernel` taps and "same" padding, with seeded normal data.
///
/// # Errors
/// Spec errors for impossible sizes (kernel longer than the padded signal).
pub fn measure<T: Scalar>(size: usize, kernel: usize, seed: u64) -> Result<ErrorSample> {
    let spec = ConvSpec::conv(&[1], Padding::Same, &[1]);
    let x = Tensor::<f64>::randn(&[1, 1, size], seed);
    let w = Tensor::<f64>::randn(&[1, 1, kernel], seed + 1);
    let exact = forward(&spec, &x, &w, None, Algorithm::Direct)?;
    let fft = forward(
        &spec,
        &x.cast::<T>(),
        &w.cast::<T>(),
        None,
        Algorithm::Chain,
    )?
    .cast::<f64>();
    let diff = fft.sub(&exact)?;
    let period = fast_len(size + kernel - 1) as f64;
    let w_l1: f64 = w.data().iter().map(|v| v.abs()).sum();
    Ok(ErrorSample {
        size,
        kernel,
        dtype: T::NAME,
        max_rel_err: diff.max_abs() / exact.max_abs(),
        bound_ratio: diff.norm() / (T::EPSILON * period.log2() * x.norm() * w_l1),
    })
}
