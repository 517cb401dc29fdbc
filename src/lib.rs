//! # fftconv
//!
//! A derivation-checked reference implementation of convolution layers run through FFTs, with
//! their gradients derived as adjoints of linear operators.
//!
//! Layers (data flows down; nothing imports anything above it):
//! [`tensor`] ← [`op`] ← expr ← conv ← check/case/nn ← cli.

pub mod case;
pub mod check;
pub mod conv;
pub mod derive;
pub mod error;
pub mod expr;
pub mod fft;
pub mod limits;
pub mod nn;
pub mod notes;
pub mod npy;
pub mod op;
pub mod spec;
pub mod tensor;

pub use error::{Error, Result};
pub use tensor::{Scalar, Tensor};
