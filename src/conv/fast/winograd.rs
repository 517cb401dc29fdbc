//! Winograd's minimal filtering F(4×4, 3×3) for 2-D layers with 3×3 kernels at stride 1 and
//! dilation 1 (any padding mode, any groups): 36 channel products per 4×4 block of outputs
//! where the direct loops spend 144; and its dual F(3×3, 4×4) for 4×4 kernels and, through
//! the polyphase split, stride-2 layers with 5×5 to 8×8 kernels (below).
//!
//! For one 6×6 tile `d` of the padded input (tiles overlap by 2, one every 4 outputs), one 3×3
//! kernel `g` and the 4×4 outputs `Y` of the tile (the correlation `y[i] = Σ_k d[i+k] g[k]` on
//! each axis),
//!
//! ```math
//! Y = A^{\top}\left[(G g G^{\top}) \odot (B^{\top} d B)\right] A ,
//! ```
//!
//! with the 6×3, 6×6 and 6×4 matrices `G`, `Bᵀ`, `Aᵀ` of Lavin and Gray (2016) on the points
//! 0, ±1, ±2, ∞ (`winograd_kernels.rs`). Summed over input channels, the elementwise product
//! becomes, for each of the 36 transform points ξ, one real matrix product over channels:
//! `M[ξ] = V[ξ] · U[ξ]` with `V[ξ]` the transformed tiles (tiles × input channels) and `U[ξ]`
//! the transformed kernels (input × output channels).
//!
//! The AVX-512 builds read the tiles straight from the `(n, c, h, w)` planes through the
//! index maps of `Layout` (every padding mode), transposing channels × columns in registers
//! (`winograd_fused.rs`; f32 where the padded channels fill 16-lane vectors, f64 always).
//! Otherwise the input is copied once to a channel-last layout with the padding applied
//! (`winograd_copy.rs`), so that a tile of 8 channels is 36 vector loads; channels are padded
//! to lanes of 8 with zeros. Tasks (rayon)
//! own bands of tile rows of one sample and write their rows of every output plane in place;
//! within a band, blocks of tiles small enough that their `V` and `M` stay in L2 run the input
//! transform, the 36 products (register-tiled, reading `U[ξ]` in place) and the output
//! transform, in scratch buffers kept per thread. Builds (`Isa`, chosen at run time;
//! `Kernels::Portable` forces the baseline): AVX2 + FMA runs the transforms on 256-bit lane
//! vectors and the products in 6 tiles × 16 channels; with AVX-512 F the products (and the
//! weight gradient's sums over tiles) run in `winograd_avx512.rs`'s 6 tiles × 64 channels
//! (f32; 32 in f64), where the AVX2 kernel waits on its loads, and the input transform and
//! F(4×4, 3×3)'s output transform run on 512-bit vectors of 16 f32 or 8 f64 channels
//! (`winograd_transforms512.rs`; f32 where the padded channels are a multiple of 16): on the
//! Xeon the 8-lane transforms, moved through the stack, took longer than the products.
//!
//! The gradients are the adjoints of the same three linear steps, in reverse:
//!
//! - `∂x`: the cotangent of the padded input is the full correlation of `∂y` with the flipped,
//!   channel-transposed kernel (as in [`direct_simd`]), itself a stride-1
//!   3×3 correlation, so it runs through the same code (zero padding: only the interior is
//!   computed; other modes fold the padded cotangent back through the padding maps). Tile by
//!   tile, the transposed steps read (summed over the overlapping tiles) as below;
//! - `∂w`: `∂U[ξ] = V[ξ]ᵀ · (A ∂Y Aᵀ)[ξ]` summed over tiles (one product per ξ and block,
//!   through [`gemm`](super::gemm)), then `∂g = Gᵀ ∂U G`.
//!
//! ```math
//! \partial d = B\left[(G g G^{\top}) \odot (A\, \partial Y A^{\top})\right] B^{\top} ,
//! \qquad
//! \partial g = G^{\top}\Big[\sum_{\text{tiles}} (B^{\top} d B) \odot (A\, \partial Y A^{\top})\Big] G .
//! ```
//!
//! Rounding: the transforms have entries up to 8 (`Aᵀ`) and 5 (`Bᵀ`), so F(4×4, 3×3) loses
//! about an order of magnitude over the direct sum. Measured against the f64 loop witness
//! (`src/conv/fast/tests/winograd.rs`, `winograd_on_benchmark_layers`), the largest error relative to the
//! largest entry over `y`, `∂x`, `∂w` and `∂b` is 7.7e-6 in f32 on 2d-resnet-k3 (64 channels)
//! and 6.6e-6 on 2d-k3 (16 channels), forward alone about 4e-6 (the direct loops: 2e-7;
//! F(2×2, 3×3), checked in a prototype: 2e-7),
//! and 1.2e-14 in f64: inside the fast paths' tolerance (2e-4 in f32, `tests/fast_paths.rs`),
//! so F(4×4, 3×3) runs in both precisions.
//!
//! Speed (`fftconv bench --stat cpu`, 2 cores of a Zen 4 with AVX-512): 2d-resnet-k3 in f32
//! forward 2.9–3.1 ms, forward + gradients 9.3–9.8 ms (the tiled direct path: 6.7–7.5 and
//! 19.7–21.0); in f64 6.6–6.8 and 20.6–21.6 ms. The products now run near the FMA peak; the
//! copies, transforms and output writes take about as long again. On 2d-k3 (16 channels) they
//! still cost more than the products save (forward 1.1 ms against 0.9 direct), and the cost
//! model ([`cost`](super::cost)) keeps it direct.
//! On 2 cores of an Intel Xeon (Emerald Rapids) with the 512-bit transforms, under load
//! (`benches/results/session14-wino.md`): f32 forward 2.16–2.48 ms (8-lane transforms:
//! 3.05–3.64), forward + gradients 7.06–8.00 (9.50–10.19); f64 5.46–5.87 and 18.4–19.5 (7.4–7.7
//! and 23.1–24.0); 2d-k3 still loses to the direct path (0.92–0.97 ms against 0.62–0.69).
//!
//! **F(3×3, 4×4)** (`Variant::F3x4`), the transpose-dual (the weight gradient above is one:
//! 6×6 input tile, 4×4 "kernel" `∂Y`, 3×3 output), runs 2-D 4×4 layers at stride 1 on the same
//! engine: input transform `Bᵀ`, kernel transform `S·A` and output transform `Ĝᵀ` (`G = S·Ĝ`,
//! `S` the diagonal of `G`'s row scales, moved to the kernel side so that the output
//! transform is integer), one 6×6 tile every 3 outputs, 36 channel products per 9 outputs
//! (derivations/22-winograd.md, WINO-6). Its gradients are the same two adjoints with these
//! matrices (the cotangent tile through `Ĝ`, `∂k = (S·A)ᵀ ∂U (S·A)`).
//!
//! **Strided layers**: a 2-D layer at stride 2 whose kernel has 5–8 taps per axis (dilation 1)
//! is, by the merged polyphase split (`polyphase::winograd_plan`: every phase kernel padded
//! with zero taps to `⌈K/2⌉`), one stride-1 layer of `4·c_in` channels with a 3×3 or 4×4 kernel,
//! which one of the two filterings computes; its input gradient is folded through the split's
//! adjoint and its weight gradient drops the zero taps. Rounding on the ResNet stem
//! (2d-stem-s2, batch 1, F(3×3, 4×4)): 5.4e-6 in f32 and 1.2e-14 in f64 against the witness
//! (`winograd_on_benchmark_layers`). Speed: on that stem it loses to the tiled direct path
//! (f32 forward 0.87–0.95 ms against 0.48–0.62, forward + gradients 2.6–3.0 against
//! 1.4–1.7; f64 1.39–1.49 against 0.85–0.88 and 4.3–4.5 against 2.7–2.8;
//! benches/results/session9-stem.md): with 12 input channels (padded to 16 lanes) and 3×3
//! output tiles the transforms, copies and output writes cost about three times the
//! products, which themselves are 36/9·16 = 64 multiply-adds per output and output channel
//! against the direct path's 147. The cost model keeps the stem direct; `Algorithm::Winograd`
//! runs it when asked.
//!
//! Other geometries (other strides and kernel sizes, dilation, 1-D and 3-D layers) go to
//! [`direct_simd`]; transposes run as their conv's adjoint.

#[cfg(target_arch = "x86_64")]
#[path = "winograd_avx512.rs"]
mod avx512;
#[path = "winograd_copy.rs"]
mod copy;
#[path = "winograd_correlate.rs"]
mod correlate;
#[path = "winograd_fused.rs"]
mod fused;
#[path = "winograd_grads.rs"]
mod grads;
#[path = "winograd_kernels.rs"]
mod kernels;
#[cfg(target_arch = "x86_64")]
#[path = "winograd_transforms512.rs"]
mod transforms512;

use super::direct_simd::{self, Kernels};
use super::memory::zeroed;
use super::polyphase::{self, PolyphaseCore};
use super::Layout;
use crate::conv::driver::{ConvCore, Core};
use crate::conv::spec::{ConvKind, Geometry};
use crate::error::Result;
use crate::op::PadMode;
use crate::tensor::{Scalar, Tensor};
use copy::channels_last;
use correlate::{block_tiles, scatter, source, transform_inputs, wide_inputs, Band, Corr, Tiled};
use kernels::{transform_weights, Side, A, M, XI};
pub(crate) use kernels::{Isa, Variant};

/// Bytes of `V` and `M` per block of tiles: half of a 1 MB L2, the rest for `U[ξ]`.
const BLOCK_BYTES: usize = 512 << 10;

/// The work of the Winograd passes of `g` (`supports(g)`), `[forward, ∂x + ∂w]`, each as
/// `(products, elements)`: the FLOPs of the 36 channel products per tile (2 per multiply–add,
/// channels padded to lanes), and the elements of the channel-last copies and of the
/// outputs, which the transforms, copies and scatters scale with (the cost model charges each at
/// its own rate).
pub fn work(g: &Geometry) -> [(f64, f64); 2] {
    if variant(g).is_none() {
        if let Some((_, inner)) = polyphase::winograd_plan(g) {
            // The split and fold touch the input and the inner layer's input once per pass.
            let moved = (g.n * g.c_in * g.x_shape()[2..].iter().product::<usize>()) as f64
                + (inner.n * inner.c_in * inner.x_shape()[2..].iter().product::<usize>()) as f64;
            return work(&inner).map(|(p, e)| (p, e + moved));
        }
    }
    let m = variant(g).map_or(M, Variant::m);
    let lay = Layout::of(g);
    let (src, dst) = (Side::new(g.groups, lay.cg), Side::new(g.groups, lay.og));
    let products = (2 * XI * g.groups * src.padded * dst.padded) as f64;
    let (cs, cd) = (src.total_padded() as f64, dst.total_padded() as f64);
    // Per sample: tiles, and the tile grid's extent on the input side (`+ 2`) and output side.
    let grid = |out: [usize; 3]| {
        let t = [out[1].div_ceil(m), out[2].div_ceil(m)];
        let area = |e: usize| ((t[0] * m + e) * (t[1] * m + e)) as f64;
        ((t[0] * t[1]) as f64, area(A - m), area(0))
    };
    let n = g.n as f64;
    let (t, inp, out) = grid(lay.output);
    let forward = (n * t * products, n * (cs * inp + cd * out));
    let zeros = g.padding_mode == PadMode::Zeros || g.pads.iter().all(|&p| p == (0, 0));
    let (t_dx, inp_dx, out_dx) = grid(if zeros { lay.input } else { lay.padded });
    let dx = (n * t_dx * products, n * (cd * inp_dx + cs * out_dx));
    let dw = (n * t * products, n * (cs * inp + cd * out));
    [forward, (dx.0 + dw.0, dx.1 + dw.1)]
}

/// Whether this path computes `g`: `variant` has a filtering for it, or (strided layers)
/// the merged polyphase split makes it one layer that has
/// (`polyphase::winograd_plan`).
pub fn supports(g: &Geometry) -> bool {
    variant(g).is_some() || polyphase::winograd_plan(g).is_some()
}

/// The filtering that computes `g`: a 2-D convolution (not a transpose) at stride 1 and
/// dilation 1 with no empty tensor, and a 3×3 kernel (F(4×4, 3×3)) or a 4×4 one (F(3×3, 4×4)).
pub(crate) fn variant(g: &Geometry) -> Option<Variant> {
    let plain = g.kind == ConvKind::Conv
        && g.rank() == 2
        && g.kernel[0] == g.kernel[1]
        && g.stride.iter().all(|&s| s == 1)
        && g.dilation.iter().all(|&d| d == 1)
        && [g.x_shape(), g.w_shape(), g.y_shape()]
            .iter()
            .all(|s| !s.contains(&0));
    if plain {
        Variant::for_taps(g.kernel[0])
    } else {
        None
    }
}

/// The two planes of a 2-D layout (its leading axis has extent 1).
fn plane<V: Copy>(a: [V; 3]) -> [V; 2] {
    [a[1], a[2]]
}

/// The Winograd core of a conv geometry ([`supports`]): the forward pass by F(4×4, 3×3),
/// `∂x` as the same correlation on the flipped, channel-transposed kernel, `∂w` as the adjoint
/// of the tile transforms ([`grads`]). The driver ([`crate::conv::driver`]) runs transposes
/// through it as their conv's adjoint, and adds the bias.
pub(crate) struct Winograd {
    g: Geometry,
    lay: Layout,
    isa: Isa,
    variant: Variant,
}

impl Winograd {
    /// The core of `c`, which must be [`supported`](supports).
    fn new(c: &Geometry, variant: Variant, isa: Isa) -> Self {
        Winograd {
            g: c.clone(),
            lay: Layout::of(c),
            isa: isa.at_most(),
            variant,
        }
    }
}

impl<T: Scalar> ConvCore<T> for Winograd {
    fn forward(&self, x: &Tensor<T>, w: &Tensor<T>) -> Result<Tensor<T>> {
        let (g, lay) = (&self.g, &self.lay);
        let (src, dst) = (Side::new(g.groups, lay.cg), Side::new(g.groups, lay.og));
        let (wd, cg, og, r) = (w.data(), lay.cg, lay.og, self.variant.r());
        let u = transform_weights(self.variant, src, dst, |gr, s, d, a, b| {
            wd[(((gr * og + d) * cg + s) * r + a) * r + b]
        });
        let corr = Corr {
            variant: self.variant,
            n: g.n,
            src,
            dst,
            extent: plane(lay.input),
            maps: [&lay.maps[1], &lay.maps[2]],
            out: plane(lay.output),
        };
        Tensor::new(g.y_shape(), corr.run(x.data(), &u, self.isa))
    }

    fn grad_x(&self, dy: &Tensor<T>, w: &Tensor<T>) -> Result<Tensor<T>> {
        let dx = grads::input_grad(
            &self.g,
            &self.lay,
            self.variant,
            w.data(),
            dy.data(),
            self.isa,
        );
        Tensor::new(self.g.x_shape(), dx)
    }

    fn grad_w(&self, x: &Tensor<T>, dy: &Tensor<T>) -> Result<Tensor<T>> {
        let dw = grads::weight_grad(
            &self.g,
            &self.lay,
            self.variant,
            x.data(),
            dy.data(),
            self.isa,
        );
        Tensor::new(self.g.w_shape(), dw)
    }
}

/// The core `Algorithm::Winograd` runs for the layer `g`: Winograd where its conv is
/// [`supported`](supports) (so a stride-1 3×3 transpose runs it too, as its conv's adjoint),
/// else [`direct_simd`]'s core.
///
/// # Errors
/// Those of [`direct_simd`]'s planner.
pub(crate) fn core<T: Scalar>(g: &Geometry, kernels: Kernels) -> Result<Core<T>> {
    core_on(g, Isa::of(kernels))
}

/// [`core`] with the build `isa` (or the best this CPU runs, if less): the tests run each.
///
/// # Errors
/// Those of [`direct_simd`]'s planner.
pub(crate) fn core_on<T: Scalar>(g: &Geometry, isa: Isa) -> Result<Core<T>> {
    let c = g.as_conv();
    if let Some(v) = variant(&c) {
        Ok(Box::new(Winograd::new(&c, v, isa)))
    } else if polyphase::winograd_plan(&c).is_some() {
        Ok(Box::new(PolyphaseCore::winograd(&c, isa)?))
    } else {
        let kernels = if isa == Isa::Portable {
            Kernels::Portable
        } else {
            Kernels::Detect
        };
        direct_simd::core(g, kernels)
    }
}
