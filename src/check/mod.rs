//! Checks that prove adjoints and gradients right, usable on your own operators and functions.
//!
//! Four independent ways to catch a wrong adjoint or gradient:
//!
//! | module | checks | catches |
//! |---|---|---|
//! | [`dot`] | `$\lvert\langle Ax,y\rangle-\langle x,A^*y\rangle\rvert / (\lVert A\rVert\lVert x\rVert\lVert y\rVert)$` over seeded trials | any wrong adjoint, cheaply, at any size |
//! | [`dense`] | `$\max\lvert \mathrm{dense}(A^*) - \mathrm{dense}(A)^T\rvert$` | every entry of a small operator |
//! | [`gradcheck`](mod@gradcheck) | central finite differences (`finitediff`) against a claimed gradient | gradients of any `Fn(&Tensor) -> f64` |
//! | [`witness`] | circular convolution/correlation by plain loops | the FFT path itself |
//!
//! [`compare`](mod@compare) compares two tensors with dtype tolerance profiles (norm-wise, as the case
//! verifier does), and [`suite`] runs every check on every operator of [`crate::op`] — the
//! table printed by `fftconv check`.
//!
//! The definition these checks test — `$\langle Ax, y\rangle = \langle x, A^*y\rangle$` for the real
//! inner product — is `derivations/01-notation.md`, NOT-2; the notes' `check` blocks
//! ([`crate::notes`]) run through the same functions.
//!
//! ```
//! use fftconv::check::{dense, dot};
//! use fftconv::op::{LinearOp, ZeroPad};
//! let pad = ZeroPad::new(&[2, 5], &[(1, 2)]).unwrap();
//! let report = dot::dot_test::<f64>(&pad, 4, 7).unwrap();
//! assert!(report.max_err <= 1e-14);
//! assert!(dense::adjoint_transpose_error::<f64>(&pad).unwrap() <= 1e-13);
//! ```

pub mod compare;
pub mod dense;
pub mod dot;
pub mod gradcheck;
pub mod profile;
pub mod suite;
pub mod witness;

pub use compare::{compare, Comparison, Tolerance};
pub use dense::{adjoint_transpose_error, dense_matrix};
pub use dot::{dot_test, operator_norm, DotReport};
pub use gradcheck::{gradcheck, operator_fd_error, GradCheckOptions, GradReport};
pub use profile::{fan_in, Profile};
