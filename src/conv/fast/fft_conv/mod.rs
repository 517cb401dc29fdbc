//! The fused FFT conv layer: forward, `∂x`, `∂w`, `∂b` for `Conv` and `ConvTranspose`.
//!
//! The padded input (any padding mode) is cut into overlapping windows, one per tile of outputs
//! ([`Tiling`], chosen by a cost model; one tile is the whole layer), each embedded in a period
//! `$P$` of fast FFT lengths, the dilated kernel `$h$` (`$h_{d k} = w_k$`) in the same period, and
//! with real-to-complex spectra `$\hat x, \hat h$` over `$P$` (per window):
//!
//! - forward (cross-correlation): `$\hat y_{n,o} = \sum_{c \in \text{group}}
//!   \overline{\hat h_{o,c}}\,\hat x_{n,c}$`, then `$y_{n,o}[i] = \mathcal F^{-1}(\hat y_{n,o})[s\,i]$`;
//!   no wrap-around reaches the kept outputs because a window holds all they see;
//! - `∂x`: the upstream gradient zero-inserted at the kept positions, `$\hat g$`, gives
//!   `$\widehat{\partial x_p}_{n,c} = \sum_o \hat h_{o,c}\,\hat g_{n,o}$`; the padding is folded back
//!   (its adjoint) onto the input, windows adding where they overlap;
//! - `∂w`: `$\widehat{\partial h}_{o,c} = \sum_n \overline{\hat g_{n,o}}\,\hat x_{n,c}$`, read at the
//!   dilated taps.
//!
//! `$\hat x$` and `$\hat h$` are computed once by [`FftConv::forward`] and reused by
//! [`FftConv::backward`]. Transforms skip the rows known to be zero and the rows nobody reads
//! ([`super::pruned_fft`]). The contraction over channels is, per frequency, a small complex
//! matrix product per group, on spectra blocked over frequencies
//! ([`super::contraction`]); depthwise layers (`groups = channels`) contract over a single
//! channel, and from 8 channels on run fused passes (`pointwise.rs`: each spectrum multiplied
//! and inverted while it is in cache, the y, dy and dx spectra never stored). A transpose is
//! the input-adjoint of its [`Geometry::as_conv`]: its forward is that conv's `∂x`, its `∂x`
//! that conv's forward, its `∂w` that conv's `∂w` with the roles of input and cotangent
//! swapped.
//!
//! ```
//! use fftconv::conv::{fast::FftConv, ConvSpec, Padding};
//! use fftconv::Tensor;
//! let spec = ConvSpec::conv(&[1], Padding::Same, &[1]);
//! let x = Tensor::<f64>::randn(&[2, 3, 16], 1);
//! let w = Tensor::<f64>::randn(&[4, 3, 5], 2);
//! let mut layer = FftConv::new(&spec, x.shape(), w.shape()).unwrap();
//! let y = layer.forward(&x, &w, None).unwrap();
//! let grads = layer.backward(&y, true).unwrap(); // reuses the spectra of x and w
//! assert_eq!(grads.dw.shape(), w.shape());
//! ```

use super::contraction::{contract, contract_each, each_pays, BlockedSpectra, Conj, Product};
use super::pruned_fft::{PrunedRfft, Scratch};
use super::tiling::Tiling;
use super::{bias_grad, Layout};
use crate::conv::spec::{ConvKind, ConvSpec, Geometry};
use crate::conv::Grads;
use crate::error::{Error, Result};
use crate::tensor::{Scalar, Tensor};
use rayon::prelude::*;
use std::sync::Arc;

mod fold;
mod passes;
mod pointwise;
mod spectral;
mod stateless;

pub(crate) use stateless::FftCore;

/// A planned FFT conv layer for fixed shapes, holding the spectra of the last forward pass.
pub struct FftConv<T: Scalar> {
    geometry: Geometry,
    /// The conv (the layer, or the conv a transpose is the adjoint of).
    lay: Layout,
    tiling: Tiling,
    fft: Arc<PrunedRfft<T>>,
    /// Spectra of the conv's input windows (Conv: x) or its output cotangent (transpose: x),
    /// one per `(n, c, tile)`.
    act_hat: BlockedSpectra<T>,
    /// Spectra of the weights, one per `(o, c)` in the conv's layout.
    w_hat: BlockedSpectra<T>,
}

/// Where tile `t` sits: its index per axis.
/// A run of a window read through a padding map: window entries `at .. at + len` are the
/// input entries `from .. from + len`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    at: usize,
    from: usize,
    len: usize,
}

/// The window entries of `map` (`None`: padding, zero) as runs of consecutive input entries,
/// so that filling a row and folding its gradient back are slice copies and slice sums
/// (reflected or circular padding gives short runs at the edges; each input entry a window
/// entry maps to is in exactly one run per window entry).
fn runs(map: &[Option<usize>]) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    for (at, m) in map.iter().enumerate() {
        let Some(from) = *m else { continue };
        match out.last_mut() {
            Some(r) if r.at + r.len == at && r.from + r.len == from => r.len += 1,
            _ => out.push(Run { at, from, len: 1 }),
        }
    }
    out
}

fn tile_coords(t: usize, tiling: &Tiling) -> [usize; 3] {
    let [_, n1, n2] = tiling.axes.map(|a| a.tiles);
    [t / (n1 * n2), (t / n2) % n1, t % n2]
}

impl<T: Scalar> FftConv<T> {
    /// Plan the layer `spec` for inputs of `x_shape` and weights of `w_shape`, with the tiling
    /// of the cost model (`Tiling::plan`).
    ///
    /// # Errors
    /// Spec and shape errors of [`ConvSpec::geometry`].
    pub fn new(spec: &ConvSpec, x_shape: &[usize], w_shape: &[usize]) -> Result<Self> {
        let geometry = spec.geometry(x_shape, w_shape)?;
        let lay = Layout::of(&geometry.as_conv());
        let tiling = Tiling::plan(&lay);
        Ok(Self::with_layout(geometry, lay, tiling))
    }

    /// Plan the layer with one tile per axis (the untiled FFT layer).
    ///
    /// # Errors
    /// Spec and shape errors of [`ConvSpec::geometry`].
    pub fn untiled(spec: &ConvSpec, x_shape: &[usize], w_shape: &[usize]) -> Result<Self> {
        let geometry = spec.geometry(x_shape, w_shape)?;
        let lay = Layout::of(&geometry.as_conv());
        let tiling = Tiling::whole(&lay);
        Ok(Self::with_layout(geometry, lay, tiling))
    }

    /// Plan the layer with `blocks[a]` outputs per tile on each spatial axis of the conv (for
    /// a transpose: of the conv it is the adjoint of), each clipped to the output extent.
    ///
    /// # Errors
    /// Spec and shape errors of [`ConvSpec::geometry`]; [`Error::Invalid`] if `blocks` has
    /// not one entry ≥ 1 per spatial axis.
    pub fn with_blocks(
        spec: &ConvSpec,
        x_shape: &[usize],
        w_shape: &[usize],
        blocks: &[usize],
    ) -> Result<Self> {
        let geometry = spec.geometry(x_shape, w_shape)?;
        let d = geometry.rank();
        if blocks.len() != d || blocks.contains(&0) {
            return Err(Error::invalid(
                "tile blocks",
                format!("{blocks:?} must give {d} extents ≥ 1, one per spatial axis"),
            ));
        }
        let lay = Layout::of(&geometry.as_conv());
        let mut b = [1; 3];
        b[3 - d..].copy_from_slice(blocks);
        let tiling = Tiling::with_blocks(&lay, b);
        Ok(Self::with_layout(geometry, lay, tiling))
    }

    /// Plan the layer with `blocks[a]` outputs per tile on each spatial axis, each tile
    /// transformed on `periods[a]` points instead of the smallest fast length (any length at
    /// least the window the block reads: `(block - 1)·stride + dilation·(kernel - 1) + 1`).
    ///
    /// # Errors
    /// As [`with_blocks`](Self::with_blocks); [`Error::Invalid`] if `periods` has not one entry
    /// per spatial axis or one is shorter than its window.
    pub fn with_tiles(
        spec: &ConvSpec,
        x_shape: &[usize],
        w_shape: &[usize],
        blocks: &[usize],
        periods: &[usize],
    ) -> Result<Self> {
        let mut layer = Self::with_blocks(spec, x_shape, w_shape, blocks)?;
        let d = layer.geometry.rank();
        if periods.len() != d {
            return Err(Error::invalid(
                "tile periods",
                format!("{periods:?} must give {d} lengths, one per spatial axis"),
            ));
        }
        let mut tiling = layer.tiling;
        for (a, &p) in (3 - d..3).zip(periods) {
            let need = layer.tiling.axes[a].period;
            let lay = &layer.lay;
            let window = (tiling.axes[a].block - 1) * lay.stride[a]
                + (lay.kernel[a] - 1) * lay.dilation[a]
                + 1;
            if p < window {
                return Err(Error::invalid(
                    "tile periods",
                    format!(
                        "{p} on axis {} is shorter than the {window} inputs a tile reads; \
                         give at least {window} (the smallest fast length is {need})",
                        a + d - 3
                    ),
                ));
            }
            tiling.axes[a].period = p;
        }
        layer = Self::with_layout(layer.geometry, layer.lay, tiling);
        Ok(layer)
    }

    fn with_layout(geometry: Geometry, lay: Layout, tiling: Tiling) -> Self {
        let fft = PrunedRfft::plan(tiling.period());
        FftConv {
            geometry,
            lay,
            tiling,
            fft,
            act_hat: BlockedSpectra::default(),
            w_hat: BlockedSpectra::default(),
        }
    }

    /// The resolved geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// The tiling in use.
    pub fn tiling(&self) -> &Tiling {
        &self.tiling
    }

    /// Bytes of the spectra a forward + backward pass keeps: those of the input windows, the
    /// weights and the output cotangent windows.
    pub fn spectra_bytes(&self) -> usize {
        let lay = &self.lay;
        let count = lay.n * self.tiles() * (lay.c_in + lay.c_out) + lay.c_out * lay.cg;
        let padded =
            self.fft.bins().div_ceil(super::contraction::LANES) * super::contraction::LANES;
        count * 2 * padded * std::mem::size_of::<T>()
    }

    /// Bytes held by the cached spectra.
    pub fn cached_bytes(&self) -> usize {
        self.act_hat.bytes() + self.w_hat.bytes()
    }

    /// Forward pass; keeps the spectra of `x` and `w` for [`backward`](Self::backward).
    ///
    /// # Errors
    /// Shapes other than the planned ones; a bias not of shape `(c_out,)`.
    pub fn forward(
        &mut self,
        x: &Tensor<T>,
        w: &Tensor<T>,
        b: Option<&Tensor<T>>,
    ) -> Result<Tensor<T>> {
        let g = &self.geometry;
        x.expect_shape(&g.x_shape(), "input x")?;
        w.expect_shape(&g.w_shape(), "weight w")?;
        if let Some(b) = b {
            b.expect_shape(&g.b_shape(), "bias b")?;
        }
        let mut y = rayon::scope(|_| self.forward_on_worker(x, w))?;
        if let Some(b) = b {
            super::add_bias(&mut y, b);
        }
        Ok(y)
    }

    /// The body of [`forward`](Self::forward), run on a rayon worker (`rayon::scope`): its
    /// parallel passes then start on the calling worker and end on whichever finishes last,
    /// instead of each being injected from outside the pool, a worker woken, and the caller
    /// woken again at its end (on a calm host 5–26 µs to start a pass and 9–19 µs to hand
    /// back, per pass; benches/results/session17-idle.md). The weight and input spectra are
    /// one parallel region (`rayon::join`): no barrier between the two transforms.
    fn forward_on_worker(&mut self, x: &Tensor<T>, w: &Tensor<T>) -> Result<Tensor<T>> {
        Ok(match self.geometry.kind {
            ConvKind::Conv if self.pointwise() => {
                self.w_hat = self.weight_spectra(w);
                let (x_hat, y) = self.pointwise_forward(x, &self.w_hat, true)?;
                self.act_hat = x_hat;
                y
            }
            ConvKind::Conv => {
                let (w_hat, x_hat) =
                    rayon::join(|| self.weight_spectra(w), || self.input_spectra(x));
                (self.w_hat, self.act_hat) = (w_hat, x_hat);
                self.conv_output(&self.act_hat, &self.w_hat, self.lay.output)?
            }
            ConvKind::ConvTranspose => {
                let (w_hat, x_hat) =
                    rayon::join(|| self.weight_spectra(w), || self.cotangent_spectra(x));
                (self.w_hat, self.act_hat) = (w_hat, x_hat);
                self.conv_input_grad(&self.act_hat, &self.w_hat)?
            }
        })
    }

    /// Gradients for upstream `dy`, from the spectra of the last [`forward`](Self::forward).
    ///
    /// # Errors
    /// [`Error::Invalid`] if `forward` has not run; `dy` not of the output shape.
    pub fn backward(&self, dy: &Tensor<T>, with_bias: bool) -> Result<Grads<T>> {
        let g = &self.geometry;
        if self.w_hat.is_empty() {
            return Err(Error::invalid(
                "FftConv::backward",
                "needs the spectra of a forward pass; call forward first",
            ));
        }
        dy.expect_shape(&g.y_shape(), "upstream gradient dy")?;
        let db = with_bias.then(|| bias_grad(dy));
        let (dx, dw) = rayon::scope(|_| self.grads_on_worker(dy))?;
        Ok(Grads { dx, dw, db })
    }

    /// `(∂x, ∂w)` of [`backward`](Self::backward), on a rayon worker as
    /// [`forward_on_worker`](Self::forward_on_worker). The two gradients are independent given
    /// the cotangent spectra but run one after the other: joined, both sets of product
    /// spectra are live at once (2d-k7: 16.4 → 19.4 MB peak), and a quiet A/B showed no wall
    /// time gained by it (benches/results/session18-step.md).
    fn grads_on_worker(&self, dy: &Tensor<T>) -> Result<(Tensor<T>, Tensor<T>)> {
        let g = &self.geometry;
        match g.kind {
            ConvKind::Conv if self.pointwise() => {
                self.pointwise_backward(dy, &self.act_hat, &self.w_hat)
            }
            ConvKind::Conv => {
                let dy_hat = self.cotangent_spectra(dy);
                Ok((
                    self.conv_input_grad(&dy_hat, &self.w_hat)?,
                    self.conv_weight_grad(&dy_hat, &self.act_hat)?,
                ))
            }
            ConvKind::ConvTranspose => {
                let dy_hat = self.input_spectra(dy);
                let mut extent = [1; 3];
                extent[3 - g.rank()..].copy_from_slice(&g.input);
                Ok((
                    self.conv_output(&dy_hat, &self.w_hat, extent)?,
                    self.conv_weight_grad(&self.act_hat, &dy_hat)?,
                ))
            }
        }
    }
}

/// Floating-point operations of the FFT path with the tiling it would use: `(forward,
/// forward + ∂x + ∂w)`, counting `5 n log2 n` per complex 1-D transform of `n` (half for a
/// real one) over the lines the pruned transforms compute, and 8 per complex multiply-add.
pub fn flops(g: &Geometry) -> (f64, f64) {
    let lay = Layout::of(&g.as_conv());
    let (f, b) = Tiling::plan(&lay).work(&lay);
    (f.flops(), f.flops() + b.flops())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::fast::tests::rel;

    /// The output is left unwritten before the tiles fill it only where they cover it all: the
    /// planned extent, tiled or not, with tiles that do not divide it; not one past the
    /// tiles' reach.
    #[test]
    fn tiles_cover_exactly_the_planned_output() {
        let spec = ConvSpec::conv(&[1, 1], crate::conv::Padding::Same, &[1, 1]);
        for blocks in [[5, 64], [7, 3], [64, 64], [1, 1]] {
            let layer =
                FftConv::<f32>::with_blocks(&spec, &[1, 2, 20, 9], &[2, 2, 3, 3], &blocks).unwrap();
            let out = layer.lay.output;
            assert!(layer.covers(out), "blocks {blocks:?}: {out:?} not covered");
            for a in 1..3 {
                let mut more = out;
                more[a] = layer.tiling.axes[a].tiles * layer.tiling.axes[a].block + 1;
                assert!(!layer.covers(more), "blocks {blocks:?}: {more:?} covered");
            }
        }
    }

    /// The weight gradient with each spectrum inverted as it is computed (`contract_each`)
    /// equals the one from the stored spectra and the direct conv's, on layers with few
    /// terms per output (a small batch, one or two tiles): dense, grouped, strided and
    /// dilated, 1-D to 3-D; and every tap of it is written (the buffer starts as NaN).
    fn streamed_weight_grad_matches<T: Scalar>(tol: f64) {
        use crate::conv::{Algorithm, Padding};
        // Spec, x shape, w shape, tile blocks.
        type Case = (ConvSpec, Vec<usize>, Vec<usize>, Vec<usize>);
        let cases: Vec<Case> = vec![
            (
                ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1]),
                vec![1, 8, 12, 10],
                vec![8, 8, 3, 3],
                vec![12, 10],
            ),
            (
                ConvSpec::conv(&[2, 1], Padding::Same, &[1, 2]),
                vec![2, 9, 13, 11],
                vec![7, 9, 3, 4],
                vec![4, 11],
            ),
            (
                ConvSpec {
                    groups: 2,
                    ..ConvSpec::conv(&[1], Padding::Valid, &[1])
                },
                vec![1, 16, 40],
                vec![16, 8, 5],
                vec![36],
            ),
            (
                ConvSpec::conv(&[1, 1, 1], Padding::Same, &[1, 1, 1]),
                vec![1, 6, 5, 6, 4],
                vec![6, 6, 3, 3, 2],
                vec![5, 6, 4],
            ),
        ];
        for (spec, xs, ws, blocks) in cases {
            let at = format!("{} {spec:?} x {xs:?} w {ws:?} blocks {blocks:?}", T::NAME);
            let layer = FftConv::<T>::with_blocks(&spec, &xs, &ws, &blocks).unwrap();
            let lay = &layer.lay;
            let p = Product {
                groups: lay.groups,
                rows: lay.og,
                cols: lay.cg,
                depth: lay.n * layer.tiles(),
                conj: Conj::A,
            };
            assert!(each_pays(&p), "{at}: {p:?} does not take the streamed path");
            let x = Tensor::<T>::randn(&xs, 1);
            let w = Tensor::<T>::randn(&ws, 2);
            let dy = Tensor::<T>::randn(&layer.geometry.y_shape(), 3);
            let (x_hat, dy_hat) = (layer.input_spectra(&x), layer.cotangent_spectra(&dy));
            let streamed = layer.weight_grad_by(&dy_hat, &x_hat, &p, true).unwrap();
            let stored = layer.weight_grad_by(&dy_hat, &x_hat, &p, false).unwrap();
            let direct = crate::conv::backward(&spec, &x, &w, &dy, false, Algorithm::Direct)
                .unwrap()
                .dw;
            for (name, got, want) in [
                ("stored", &streamed, &stored),
                ("direct", &streamed, &direct),
            ] {
                let e = rel(got, want);
                assert!(e < tol, "streamed dw against {name} off by {e:.2e}: {at}");
            }
            // Every tap written: a NaN left anywhere fails.
            let mut spectrum: Vec<num_complex::Complex<T>> = x_hat.spectrum(0).to_vec();
            let mut out = vec![std::mem::MaybeUninit::new(T::of(f64::NAN)); lay.k_vol()];
            let mut s = layer.fft.local_scratch();
            layer.write_kernel_grad(&mut s, &mut spectrum, &mut out);
            // SAFETY: initialised above (NaN), possibly overwritten.
            assert!(
                out.iter()
                    .all(|v| unsafe { v.assume_init() }.as_f64().is_finite()),
                "a kernel tap left unwritten: {at}"
            );
        }
    }

    #[test]
    fn streamed_weight_grad_matches_f64() {
        streamed_weight_grad_matches::<f64>(1e-12);
    }

    #[test]
    fn streamed_weight_grad_matches_f32() {
        streamed_weight_grad_matches::<f32>(2e-5);
    }

    /// Expanding the runs gives the map back, for contiguous, reflected, circular and mixed maps.
    #[test]
    fn runs_cover_exactly_the_mapped_entries() {
        let maps: Vec<Vec<Option<usize>>> = vec![
            vec![None, None, Some(0), Some(1), Some(2), None],
            vec![
                Some(2),
                Some(1),
                Some(0),
                Some(1),
                Some(2),
                Some(3),
                Some(2),
            ],
            vec![
                Some(4),
                Some(0),
                Some(1),
                Some(2),
                Some(3),
                Some(4),
                Some(0),
            ],
            vec![Some(0), None, Some(1), Some(1), Some(2)],
            vec![],
            vec![None],
        ];
        for map in maps {
            let mut back = vec![None; map.len()];
            for r in runs(&map) {
                for i in 0..r.len {
                    assert!(
                        back[r.at + i].is_none(),
                        "{map:?}: entry {} twice",
                        r.at + i
                    );
                    back[r.at + i] = Some(r.from + i);
                }
            }
            assert_eq!(back, map, "runs of {map:?}: {:?}", runs(&map));
        }
    }
}
