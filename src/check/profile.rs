//! Named tolerance profiles: how far a *correct* result computed in a given precision may sit
//! from the f64 reference, norm-wise (`max|got − ref| ≤ atol + rtol · max|ref|`).
//!
//! `f64` and `f32` are the fixed [`Tolerance::F64`] and [`Tolerance::F32`]. The low-precision
//! profiles (`tf32`, `bf16`, `f16`) follow an error model instead of a magic constant. A
//! convolution output entry is a sum of `K` products (`K` = the tensor's fan-in, see
//! [`fan_in`]). An implementation working in a low precision
//!
//! - rounds its inputs and its output to the *storage* format (unit roundoff `u_s`): each
//!   product carries a relative error of at most `2 u_s`, the stored output one more `u_s`; on
//!   the norm-wise scale `max|y|` these add up to a few `u_s` whatever `K` is, because the
//!   rounding errors are independent and `max|y|` already grows like `√K` (Higham,
//!   *Accuracy and Stability of Numerical Algorithms*, §3.1 and the probabilistic bound of
//!   Higham & Mary 2019);
//! - accumulates the `K` products in an *accumulator* format (unit roundoff `u_a`): each of the
//!   `K` partial sums is rounded, which grows like `√K · u_a` with independent errors.
//!
//! So `rtol = 3·u_s + 2·√K·u_a` and `atol = 10⁻³ · u_s` (the floor matters only for a reference
//! that is zero). The deterministic worst case `γ_K = K u / (1 − K u)` per entry was measured
//! to be looser than this norm-wise rule for most bugs and is vacuous for bf16 once `K ≥ 256`
//! (`K u ≥ 1`); the measured worst norm-wise errors of correct results and of planted bugs are
//! in `docs/PROFILES.md`.
//!
//! | profile | storage `u_s` | accumulator `u_a` | rtol at K = 9 | rtol at K = 576 |
//! |---|---|---|---|---|
//! | `tf32` | 2⁻¹¹ (10-bit mantissa) | 2⁻²⁴ (f32) | 1.5e-3 | 1.5e-3 |
//! | `bf16` | 2⁻⁸ (7-bit mantissa) | 2⁻²⁴ (f32) | 1.2e-2 | 1.2e-2 |
//! | `f16` | 2⁻¹¹ (10-bit mantissa) | 2⁻¹¹ (f16) | 4.4e-3 | 2.5e-2 |
//!
//! ```
//! use fftconv::check::Profile;
//! let bf16 = Profile::parse("bf16").unwrap();
//! let t = bf16.tolerance(576);
//! assert!(t.rtol > 3.3e-3 && t.rtol < 1.4e-2);
//! ```

use super::compare::Tolerance;
use crate::conv::{ConvKind, Geometry};
use crate::error::{Error, Result};
use std::fmt;

/// A named tolerance profile (`[tolerance] profile = "…"` in `case.toml`, `--profile`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Profile {
    /// Results computed in f64: [`Tolerance::F64`].
    F64,
    /// Results computed in f32: [`Tolerance::F32`].
    F32,
    /// TF32 tensor-core products (10-bit mantissa), f32 accumulation.
    Tf32,
    /// bfloat16 storage (7-bit mantissa), f32 accumulation.
    Bf16,
    /// IEEE half storage and accumulation.
    F16,
}

/// Unit roundoff `2^-p` of a format with `p` significand bits (the implicit one included).
fn unit_roundoff(p: i32) -> f64 {
    2f64.powi(-p)
}

impl Profile {
    /// Every profile, in order of decreasing precision.
    pub const ALL: [Profile; 5] = [
        Profile::F64,
        Profile::F32,
        Profile::Tf32,
        Profile::F16,
        Profile::Bf16,
    ];

    /// `"f64"`, `"f32"`, `"tf32"`, `"bf16"` or `"f16"`.
    pub fn name(self) -> &'static str {
        match self {
            Profile::F64 => "f64",
            Profile::F32 => "f32",
            Profile::Tf32 => "tf32",
            Profile::Bf16 => "bf16",
            Profile::F16 => "f16",
        }
    }

    /// The profile named `name`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an unknown name, listing the known ones.
    pub fn parse(name: &str) -> Result<Profile> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| {
                Error::invalid(
                    "tolerance profile",
                    format!("`{name}` is not a profile; use f64, f32, tf32, bf16 or f16"),
                )
            })
    }

    /// Unit roundoffs `(u_s, u_a)` of the storage and accumulator formats.
    pub fn roundoffs(self) -> (f64, f64) {
        match self {
            Profile::F64 => (unit_roundoff(53), unit_roundoff(53)),
            Profile::F32 => (unit_roundoff(24), unit_roundoff(24)),
            Profile::Tf32 => (unit_roundoff(11), unit_roundoff(24)),
            Profile::Bf16 => (unit_roundoff(8), unit_roundoff(24)),
            Profile::F16 => (unit_roundoff(11), unit_roundoff(11)),
        }
    }

    /// The tolerance for a tensor whose entries sum `fan_in` products.
    pub fn tolerance(self, fan_in: usize) -> Tolerance {
        match self {
            Profile::F64 => Tolerance::F64,
            Profile::F32 => Tolerance::F32,
            _ => {
                let (us, ua) = self.roundoffs();
                let k = fan_in.max(1) as f64;
                Tolerance {
                    rtol: 3.0 * us + 2.0 * k.sqrt() * ua,
                    atol: 1e-3 * us,
                }
            }
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The fan-in of a tensor of a layer: how many products one of its entries sums (an upper
/// bound where stride or padding leave some out). `tensor` is `"y"`, `"dx"`, `"dw"` or `"db"`.
///
/// For `conv`: `y` sums `C_in/g · ΠK`, `dx` sums `C_out/g · ΠK`, `dw` and `db` sum over the
/// batch and every output position. For `conv_transpose` the roles of x and y swap in `dw`.
pub fn fan_in(g: &Geometry, tensor: &str) -> usize {
    let taps: usize = g.kernel.iter().product();
    let y_side: usize = g.output.iter().product();
    let x_side: usize = g.input.iter().product();
    match tensor {
        "y" => g.c_in / g.groups * taps,
        "dx" => g.c_out / g.groups * taps,
        "dw" => match g.kind {
            ConvKind::Conv => g.n * y_side,
            ConvKind::ConvTranspose => g.n * x_side,
        },
        _ => g.n * y_side,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_is_refused() {
        for p in Profile::ALL {
            assert_eq!(Profile::parse(p.name()).unwrap(), p);
        }
        let e = Profile::parse("fp8").unwrap_err().to_string();
        assert!(e.contains("fp8") && e.contains("bf16"), "{e}");
    }

    #[test]
    fn low_precision_profiles_loosen_with_precision_and_fan_in() {
        let t = |p: Profile, k| p.tolerance(k).rtol;
        assert!(t(Profile::Tf32, 9) < t(Profile::Bf16, 9));
        assert!(t(Profile::F32, 9) < t(Profile::Tf32, 9));
        assert!(t(Profile::F16, 961) > t(Profile::F16, 9));
        // bf16 accumulates in f32: the fan-in barely matters.
        assert!(t(Profile::Bf16, 4096) < 1.01 * t(Profile::Bf16, 1));
    }
}
