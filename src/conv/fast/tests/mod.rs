//! The fast paths' internals, checked from inside the crate: the tiled direct kernels (both
//! kernel sets), the polyphase split (its plan, split and fold, and the strided path) and the
//! depthwise kernels, Winograd's F(4×4, 3×3) (both builds, transposes), each against the loop witness. (`tests/fast_paths.rs` checks every
//! algorithm through the public dispatch.)

mod depthwise;
mod direct_simd;
mod polyphase;
mod winograd;

use crate::tensor::{Scalar, Tensor};

/// max |a - b| / max |b|: the relative error the fast-path tests bound.
fn rel<T: Scalar>(a: &Tensor<T>, b: &Tensor<T>) -> f64 {
    a.sub(b).unwrap().max_abs() / b.max_abs().max(1e-300)
}
