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
pub(crate) fn rel<T: Scalar>(a: &Tensor<T>, b: &Tensor<T>) -> f64 {
    a.sub(b).unwrap().max_abs() / b.max_abs().max(1e-300)
}

use crate::conv::{self, Algorithm, ConvKind, ConvSpec, Grads, Padding};
use crate::op::PadMode;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Every padding mode, in the order the random layers draw from.
const MODES: [PadMode; 4] = [
    PadMode::Zeros,
    PadMode::Circular,
    PadMode::Reflect,
    PadMode::Replicate,
];

/// What a path's random-layer generator drew (each path draws from its own ranges).
struct Draw {
    transpose: bool,
    n: usize,
    c_in: usize,
    c_out: usize,
    groups: usize,
    spatial: Vec<usize>,
    kernel: Vec<usize>,
    stride: Vec<usize>,
    dilation: Vec<usize>,
    pads: Vec<(usize, usize)>,
}

/// The layer of a draw, drawing what every generator draws alike (the padding mode, a
/// transpose's output padding, a conv's `same`/`valid`/explicit padding); `None` when the
/// geometry is invalid, so the generator draws again.
fn layer(rng: &mut ChaCha8Rng, d: Draw) -> Option<(ConvSpec, Vec<usize>, Vec<usize>)> {
    let mode = MODES[rng.random_range(0..4usize)];
    let spec = if d.transpose {
        let output_padding = (0..d.stride.len())
            .map(|a| rng.random_range(0..d.stride[a].max(d.dilation[a])))
            .collect();
        ConvSpec {
            kind: ConvKind::ConvTranspose,
            stride: d.stride,
            dilation: d.dilation,
            padding: Padding::Explicit(d.pads),
            groups: d.groups,
            output_padding,
            ..Default::default()
        }
    } else {
        ConvSpec {
            stride: d.stride,
            dilation: d.dilation,
            padding: match rng.random_range(0..5) {
                0 => Padding::Same,
                1 => Padding::Valid,
                _ => Padding::Explicit(d.pads),
            },
            groups: d.groups,
            padding_mode: mode,
            ..Default::default()
        }
    };
    let x = [vec![d.n, d.c_in], d.spatial].concat();
    let w = if d.transpose {
        [vec![d.c_in, d.c_out / d.groups], d.kernel].concat()
    } else {
        [vec![d.c_out, d.c_in / d.groups], d.kernel].concat()
    };
    spec.geometry(&x, &w).is_ok().then_some((spec, x, w))
}

/// Random inputs of a layer (seeds `seed` to `seed + 3`) and the loop witness's forward and
/// gradients on them.
struct Witness<T: Scalar> {
    x: Tensor<T>,
    w: Tensor<T>,
    b: Tensor<T>,
    dy: Tensor<T>,
    y: Tensor<T>,
    grads: Grads<T>,
    /// The layer and dtype, for failure messages.
    at: String,
}

fn witness<T: Scalar>(spec: &ConvSpec, xs: &[usize], ws: &[usize], seed: u64) -> Witness<T> {
    let g = spec.geometry(xs, ws).unwrap();
    let x = Tensor::<T>::randn(xs, seed);
    let w = Tensor::<T>::randn(ws, seed + 1);
    let b = Tensor::<T>::randn(&g.b_shape(), seed + 2);
    let dy = Tensor::<T>::randn(&g.y_shape(), seed + 3);
    let y = conv::forward(spec, &x, &w, Some(&b), Algorithm::Direct).unwrap();
    let grads = conv::backward(spec, &x, &w, &dy, true, Algorithm::Direct).unwrap();
    let at = format!("{} {spec:?} x {xs:?} w {ws:?}", T::NAME);
    Witness {
        x,
        w,
        b,
        dy,
        y,
        grads,
        at,
    }
}

impl<T: Scalar> Witness<T> {
    /// `y` and every gradient of `path` have the witness's shapes and lie within `tol` of it
    /// (relative to the largest entry); returns the largest error.
    fn assert_agrees(&self, path: &str, y: &Tensor<T>, gr: &Grads<T>, tol: f64) -> f64 {
        let (want, at) = (&self.grads, &self.at);
        let mut worst: f64 = 0.0;
        for (name, got, want) in [
            ("y", y, &self.y),
            ("dx", &gr.dx, &want.dx),
            ("dw", &gr.dw, &want.dw),
            ("db", gr.db.as_ref().unwrap(), want.db.as_ref().unwrap()),
        ] {
            assert_eq!(got.shape(), want.shape(), "{path} {name} shape: {at}");
            let e = rel(got, want);
            assert!(e < tol, "{path} {name} off by {e:.2e}: {at}");
            worst = worst.max(e);
        }
        worst
    }
}
