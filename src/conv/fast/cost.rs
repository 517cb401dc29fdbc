//! The cost model behind [`Algorithm::Auto`](crate::conv::Algorithm::Auto): estimated time of
//! the direct side against the FFT path, each as its FLOP count over a sustained rate, per
//! direction ([`choose_forward`], [`choose_backward`]: forward and gradients may take different
//! paths).
//!
//! - im2col: `6·MACs` FLOPs for forward + `∂x` + `∂w` (three GEMMs of `2·MACs`) at
//!   [`GEMM_RATE`], derated when a group has few output channels (the GEMM degenerates towards
//!   a matrix-vector product: depthwise layers) and charged [`IM2COL_BYTES_RATE`] for the
//!   unrolled matrix; depthwise layers ([`depthwise`](super::depthwise)) at
//!   [`DEPTHWISE_RATE`];
//! - FFT: [`fft_conv::flops`] at [`FFT_RATE`];
//! - Winograd F(4×4, 3×3) and F(3×3, 4×4) ([`winograd`], 2-D 3×3 and 4×4 layers at stride 1;
//!   never its strided layers, measured slower):
//!   [`winograd::work`]: its channel products at [`WINOGRAD_RATE`] and the elements its
//!   transforms and channel-last copies touch at [`WINOGRAD_ELEMENTS_RATE`]; it runs a
//!   direction when its estimate is below the direct one (2d-resnet-k3, 64 channels: both
//!   directions; 2d-k3, 16 channels, where the transforms weigh as much as the products: neither;
//!   the stem 2d-stem-s2, 12 channels on F(3×3, 4×4), measured 1.6–1.8× slower than direct:
//!   neither).
//!
//! When the direct estimate wins and [`direct_simd`](super::direct_simd) runs the layer (its
//! conv has stride 1, or strides with dilation 1 on the strided axes, which it runs through the
//! [`polyphase`](super::polyphase) split), the direct work goes there (measured at least as
//! fast as im2col on every such layer tried, e.g. 2d-stem-s2 about 2× faster; README,
//! Performance), else to im2col.
//!
//! The rates are relative (only their ratio matters) and were measured on the benchmark layers
//! (`fftconv bench`, README, Performance).
//!
//! ```
//! use fftconv::conv::{fast::{choose, Choice}, ConvSpec, Padding};
//! let spec = ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1]);
//! let small = spec.geometry(&[8, 16, 64, 64], &[16, 16, 3, 3]).unwrap();
//! let large = spec.geometry(&[8, 16, 64, 64], &[16, 16, 15, 15]).unwrap();
//! assert_eq!(choose(&small), Choice::DirectSimd);
//! assert_eq!(choose(&large), Choice::Fft);
//! ```

use super::{fft_conv, winograd};
use crate::conv::spec::Geometry;
use crate::fft::cached_plan;

/// Sustained FLOP rate of the GEMMs of the im2col path (relative units).
pub const GEMM_RATE: f64 = 8.0;
/// Sustained FLOP rate of the FFT path (relative units).
pub const FFT_RATE: f64 = 1.0;
/// Elements of the unrolled matrix moved per unit of time (relative units).
pub const IM2COL_BYTES_RATE: f64 = 2.0;
/// Sustained rate of the depthwise kernels ([`depthwise`](super::depthwise)) on `2·MACs` per
/// direction (relative units, measured against the FFT path on the depthwise benchmark layers).
pub const DEPTHWISE_RATE: f64 = 3.0;

/// Sustained FLOP rate of the Winograd path's channel products (relative units; with
/// [`WINOGRAD_ELEMENTS_RATE`] fitted to its forward times on 2d-k3 and 2d-resnet-k3, which
/// also predict its gradients' times within 10 %).
pub const WINOGRAD_RATE: f64 = 7.8;
/// Elements of the Winograd path's transforms and copies per unit of time (relative units).
pub const WINOGRAD_ELEMENTS_RATE: f64 = 0.053;

/// Which fast path runs a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// [`fft_conv`].
    Fft,
    /// [`im2col`](super::im2col).
    Im2col,
    /// [`direct_simd`](super::direct_simd): the direct estimate, where it runs the layer
    /// ([`direct_simd::supports`](super::direct_simd::supports)).
    DirectSimd,
    /// [`winograd`]: 2-D 3×3 and 4×4 layers at stride 1 (the model does not pick its strided
    /// layers).
    Winograd,
}

/// Estimated relative times of each direction on each side.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimates {
    /// The direct side (depthwise kernels, tiled direct loops or im2col), forward.
    pub direct_forward: f64,
    /// The direct side, `∂x` + `∂w`.
    pub direct_backward: f64,
    /// The FFT path, forward (transforms of `x`, `w`, the product, the inverse).
    pub fft_forward: f64,
    /// The FFT path, `∂x` + `∂w` with the spectra of `x` and `w` kept from its forward pass.
    pub fft_backward: f64,
    /// The Winograd path, forward (infinite where it does not apply).
    pub winograd_forward: f64,
    /// The Winograd path, `∂x` + `∂w`.
    pub winograd_backward: f64,
}

/// The per-direction estimates of `g`.
pub fn estimates_by_direction(g: &Geometry) -> Estimates {
    let c = g.as_conv();
    let macs = c.macs();
    let (direct_forward, direct_backward) = if super::depthwise::applies(g) {
        (2.0 * macs / DEPTHWISE_RATE, 4.0 * macs / DEPTHWISE_RATE)
    } else {
        let og = (c.c_out / c.groups) as f64;
        let gemm_eff = (og / 16.0).min(1.0);
        let per_pass = 2.0 * macs / (GEMM_RATE * gemm_eff) + macs / og / IM2COL_BYTES_RATE;
        (per_pass, 2.0 * per_pass)
    };
    let (fwd, all) = fft_conv::flops(g);
    // Only its stride-1 layers: on the merged polyphase split (strided layers) it measured
    // slower than, or level with, the direct path on every layer tried (the stem; 5×5 at
    // stride 2 with 64 channels, 7.3 against 8.8 ms forward + gradients in f32; 7×7 at stride
    // 2 with 32 → 64 channels, level), which the estimate below does not see (its zero taps,
    // the split's copies): `Algorithm::Winograd` runs them when asked, the model never picks them.
    let (winograd_forward, winograd_backward) = if winograd::variant(g).is_some() {
        let time = |(products, elements): (f64, f64)| {
            products / WINOGRAD_RATE + elements / WINOGRAD_ELEMENTS_RATE
        };
        let [f, b] = winograd::work(g);
        (time(f), time(b))
    } else {
        (f64::INFINITY, f64::INFINITY)
    };
    Estimates {
        winograd_forward,
        winograd_backward,
        direct_forward,
        direct_backward,
        fft_forward: fwd / FFT_RATE,
        fft_backward: (all - fwd) / FFT_RATE,
    }
}

/// Estimated relative times `(direct, fft)` of forward + both gradients.
pub fn estimates(g: &Geometry) -> (f64, f64) {
    let e = estimates_by_direction(g);
    (
        e.direct_forward + e.direct_backward,
        e.fft_forward + e.fft_backward,
    )
}

/// The direct side: Winograd where it applies and is estimated faster (`winograd` and
/// `direct` the two estimates), else the tiled loops or im2col.
fn direct(g: &Geometry, winograd: f64, direct: f64) -> Choice {
    if winograd < direct {
        Choice::Winograd
    } else if super::direct_simd::supports(g) {
        Choice::DirectSimd
    } else {
        Choice::Im2col
    }
}

/// The path with the smaller estimated time of forward + both gradients.
pub fn choose(g: &Geometry) -> Choice {
    choices(g).both
}

/// The faster path for the forward pass alone.
pub fn choose_forward(g: &Geometry) -> Choice {
    choices(g).forward
}

/// The faster path for the gradients, given the forward pass of [`choose_forward`]: after an
/// FFT forward pass the spectra of `x` and `w` are kept, else the FFT gradients must
/// transform them first (charged as a forward pass).
pub fn choose_backward(g: &Geometry) -> Choice {
    choices(g).backward
}

/// The three choices of one geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Choices {
    forward: Choice,
    backward: Choice,
    both: Choice,
}

/// The choices of `g`, kept per geometry in the plan cache: the estimates run the tiling
/// search, 6–10 µs per training step on 2d-k3, 2d-k7 and 2d-resnet-k3 (forward and backward
/// each ask), against a fraction of a microsecond for the lookup; and a choice depends only
/// on the geometry (and on this CPU, which a process does not change).
fn choices(g: &Geometry) -> Choices {
    *cached_plan(g.clone(), || decide(g, &estimates_by_direction(g)))
}

/// The choices of `g` from its estimates `e`.
fn decide(g: &Geometry, e: &Estimates) -> Choices {
    let forward = pick(g, e.winograd_forward, e.direct_forward, e.fft_forward);
    let fft_backward = match forward {
        Choice::Fft => e.fft_backward,
        _ => e.fft_backward + e.fft_forward,
    };
    let backward = pick(g, e.winograd_backward, e.direct_backward, fft_backward);
    let both = pick(
        g,
        e.winograd_forward + e.winograd_backward,
        e.direct_forward + e.direct_backward,
        e.fft_forward + e.fft_backward,
    );
    Choices {
        forward,
        backward,
        both,
    }
}

/// The side with the smaller of three estimates, the direct side on a tie.
fn pick(g: &Geometry, winograd: f64, direct_estimate: f64, fft: f64) -> Choice {
    if direct_estimate.min(winograd) <= fft {
        direct(g, winograd, direct_estimate)
    } else {
        Choice::Fft
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::spec::{ConvSpec, Padding};

    /// The kept choices are the computed ones, for geometries that share every extent but one
    /// (a cache keyed on less than the whole geometry would hand one of them another's choice).
    #[test]
    fn kept_choices_are_the_computed_ones() {
        let spec = ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1]);
        let mut geometries = Vec::new();
        for k in [1, 3, 5, 7, 11, 15] {
            for (c, hw) in [(16, 64), (64, 56), (3, 32)] {
                let g = spec.geometry(&[8, c, hw, hw], &[c, c, k, k]);
                geometries.push(g.expect("a valid geometry"));
            }
        }
        let computed: Vec<Choices> = (geometries.iter())
            .map(|g| decide(g, &estimates_by_direction(g)))
            .collect();
        let sides = |cs: &[Choices]| cs.iter().map(|c| c.both).collect::<Vec<_>>();
        assert!(sides(&computed).contains(&Choice::Fft), "{computed:?}");
        assert!(
            sides(&computed).contains(&Choice::DirectSimd),
            "{computed:?}"
        );
        for _ in 0..2 {
            for (g, want) in geometries.iter().zip(&computed) {
                let kept = (choose_forward(g), choose_backward(g), choose(g));
                assert_eq!(kept, (want.forward, want.backward, want.both), "{g:?}");
            }
        }
    }
}
