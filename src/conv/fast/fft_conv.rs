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
//! matrix product per group, on planar spectra blocked over frequencies
//! ([`super::contraction`]); depthwise layers (`groups = channels`) contract over a single
//! channel. A transpose is the input-adjoint of its [`Geometry::as_conv`]: its forward
//! is that conv's `∂x`, its `∂x` that conv's forward, its `∂w` that conv's `∂w` with the roles
//! of input and cotangent swapped.
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

use super::contraction::{contract, Conj, Planar, Product};
use super::pruned_fft::{PrunedRfft, Scratch};
use super::tiling::Tiling;
use super::{bias_grad, Layout};
use crate::conv::driver::ConvCore;
use crate::conv::spec::{ConvKind, ConvSpec, Geometry};
use crate::conv::Grads;
use crate::error::{Error, Result};
use crate::tensor::{Scalar, Tensor};
use rayon::prelude::*;
use std::sync::Arc;

/// A planned FFT conv layer for fixed shapes, holding the spectra of the last forward pass.
pub struct FftConv<T: Scalar> {
    geometry: Geometry,
    /// The conv (the layer, or the conv a transpose is the adjoint of).
    lay: Layout,
    tiling: Tiling,
    fft: Arc<PrunedRfft<T>>,
    /// Spectra of the conv's input windows (Conv: x) or its output cotangent (transpose: x),
    /// one per `(n, c, tile)`.
    act_hat: Planar<T>,
    /// Spectra of the weights, one per `(o, c)` in the conv's layout.
    w_hat: Planar<T>,
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
            act_hat: Planar::default(),
            w_hat: Planar::default(),
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
        self.w_hat = self.weight_spectra(w);
        let mut y = match g.kind {
            ConvKind::Conv => {
                self.act_hat = self.input_spectra(x);
                self.conv_output(&self.act_hat, &self.w_hat, self.lay.output)
            }
            ConvKind::ConvTranspose => {
                self.act_hat = self.cotangent_spectra(x);
                self.conv_input_grad(&self.act_hat, &self.w_hat)
            }
        };
        if let Some(b) = b {
            super::add_bias(&mut y, b);
        }
        Ok(y)
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
        Ok(match g.kind {
            ConvKind::Conv => {
                let dy_hat = self.cotangent_spectra(dy);
                Grads {
                    dx: self.conv_input_grad(&dy_hat, &self.w_hat),
                    dw: self.conv_weight_grad(&dy_hat, &self.act_hat),
                    db,
                }
            }
            ConvKind::ConvTranspose => {
                let dy_hat = self.input_spectra(dy);
                let mut extent = [1; 3];
                extent[3 - g.rank()..].copy_from_slice(&g.input);
                Grads {
                    dx: self.conv_output(&dy_hat, &self.w_hat, extent),
                    dw: self.conv_weight_grad(&self.act_hat, &dy_hat),
                    db,
                }
            }
        })
    }

    fn spatial(&self, e: [usize; 3]) -> Vec<usize> {
        e[3 - self.geometry.rank()..].to_vec()
    }

    fn tiles(&self) -> usize {
        self.tiling.tiles()
    }

    /// First padded-input position of tile `t`'s window, per axis.
    fn window_start(&self, t: [usize; 3]) -> [usize; 3] {
        [0, 1, 2].map(|a| t[a] * self.tiling.axes[a].block * self.lay.stride[a])
    }

    /// Extent of tile `t`'s window inside the padded input, per axis.
    fn window(&self, start: [usize; 3]) -> [usize; 3] {
        [0, 1, 2].map(|a| {
            self.tiling.axes[a]
                .period
                .min(self.lay.padded[a] - start[a])
        })
    }

    /// Outputs of tile `t` within `extent` (0 where the tile lies beyond it), per axis.
    fn outputs(&self, t: [usize; 3], extent: [usize; 3]) -> [usize; 3] {
        [0, 1, 2].map(|a| {
            let blk = self.tiling.axes[a].block;
            blk.min(extent[a].saturating_sub(t[a] * blk))
        })
    }

    /// Per tile, its window's last axis as runs of consecutive input entries (the same for
    /// every sample, channel and row).
    fn tile_runs(&self) -> Vec<Vec<Run>> {
        (0..self.tiles())
            .map(|t| {
                let start = self.window_start(tile_coords(t, &self.tiling));
                let e2 = self.window(start)[2];
                runs(&self.lay.maps[2][start[2]..][..e2])
            })
            .collect()
    }

    /// Spectra of the padded conv input's tile windows, one per `(n, c, tile)`.
    fn input_spectra(&self, x: &Tensor<T>) -> Planar<T> {
        let lay = &self.lay;
        let tile_runs = self.tile_runs();
        let nt = self.tiles();
        let [_, t1, t2] = self.tiling.period();
        let i2 = lay.input[2];
        let i12 = lay.input[1] * i2;
        let mut out = Planar::dirty(lay.n * lay.c_in * nt, self.fft.bins());
        out.signals_mut()
            .into_par_iter()
            .chunks(nt)
            .zip(x.data().par_chunks(lay.in_vol()))
            .for_each(|(sigs, ch)| {
                let mut s = self.fft.local_scratch();
                let s = &mut *s;
                for (t, mut sig) in sigs.into_iter().enumerate() {
                    let start = self.window_start(tile_coords(t, &self.tiling));
                    let [e0, e1, _] = self.window(start);
                    let runs = &tile_runs[t];
                    let real = s.real_mut();
                    for j0 in 0..e0 {
                        let s0 = lay.maps[0][start[0] + j0];
                        for j1 in 0..e1 {
                            let s1 = lay.maps[1][start[1] + j1];
                            let row = &mut real[(j0 * t1 + j1) * t2..][..t2];
                            if let (Some(s0), Some(s1)) = (s0, s1) {
                                let src = &ch[s0 * i12 + s1 * i2..][..i2];
                                row.fill(T::zero());
                                for &Run { at, from, len } in runs {
                                    row[at..at + len].copy_from_slice(&src[from..from + len]);
                                }
                            } else {
                                row.fill(T::zero());
                            }
                        }
                    }
                    sig.store(self.fft.forward(s, [e0, e1]));
                }
            });
        out
    }

    /// Spectra of the dilated kernels placed at the origin of a tile, one per `(o, c)`.
    fn weight_spectra(&self, w: &Tensor<T>) -> Planar<T> {
        let lay = &self.lay;
        let [_, t1, t2] = self.tiling.period();
        let (k, dl) = (lay.kernel, lay.dilation);
        let ke = [0, 1, 2].map(|a| (k[a] - 1) * dl[a] + 1);
        let mut out = Planar::dirty(lay.c_out * lay.cg, self.fft.bins());
        out.signals_mut()
            .into_par_iter()
            .zip(w.data().par_chunks(lay.k_vol()))
            .for_each(|(mut sig, ch)| {
                let mut s = self.fft.local_scratch();
                let s = &mut *s;
                let real = s.real_mut();
                for j0 in 0..ke[0] {
                    real[j0 * t1 * t2..][..ke[1] * t2].fill(T::zero());
                }
                for k0 in 0..k[0] {
                    for k1 in 0..k[1] {
                        let row = &mut real[(k0 * dl[0] * t1 + k1 * dl[1]) * t2..];
                        for k2 in 0..k[2] {
                            row[k2 * dl[2]] = ch[(k0 * k[1] + k1) * k[2] + k2];
                        }
                    }
                }
                sig.store(self.fft.forward(s, [ke[0], ke[1]]));
            });
        out
    }

    /// Spectra of conv output cotangents, zero-inserted at the strided positions of each tile,
    /// one per `(n, o, tile)`; `t` may be shorter than the conv output on any axis (missing
    /// entries are zeros).
    fn cotangent_spectra(&self, t: &Tensor<T>) -> Planar<T> {
        let lay = &self.lay;
        let nt = self.tiles();
        let [_, t1, t2] = self.tiling.period();
        let st = lay.stride;
        let mut e = [1; 3];
        e[3 - self.geometry.rank()..].copy_from_slice(&t.shape()[2..]);
        let vol: usize = e.iter().product();
        let mut out = Planar::dirty(lay.n * lay.c_out * nt, self.fft.bins());
        out.signals_mut()
            .into_par_iter()
            .chunks(nt)
            .zip(t.data().par_chunks(vol))
            .for_each(|(sigs, ch)| {
                let mut s = self.fft.local_scratch();
                let s = &mut *s;
                for (tile, mut sig) in sigs.into_iter().enumerate() {
                    let tc = tile_coords(tile, &self.tiling);
                    let cnt = self.outputs(tc, e);
                    if cnt.contains(&0) {
                        continue; // an all-zero window: its spectrum stays zero
                    }
                    let first = [0, 1, 2].map(|a| tc[a] * self.tiling.axes[a].block);
                    let rows = [0, 1, 2].map(|a| (cnt[a] - 1) * st[a] + 1);
                    let real = s.real_mut();
                    for j0 in 0..rows[0] {
                        real[j0 * t1 * t2..][..rows[1] * t2].fill(T::zero());
                    }
                    for i0 in 0..cnt[0] {
                        for i1 in 0..cnt[1] {
                            let row = &mut real[(i0 * st[0] * t1 + i1 * st[1]) * t2..];
                            let src = &ch
                                [((first[0] + i0) * e[1] + first[1] + i1) * e[2] + first[2]..]
                                [..cnt[2]];
                            for (i2, &v) in src.iter().enumerate() {
                                row[i2 * st[2]] = v;
                            }
                        }
                    }
                    sig.store(self.fft.forward(s, [rows[0], rows[1]]));
                }
            });
        out
    }

    /// Inverse transform of spectrum `sig` of `spectra` into the scratch's real buffer,
    /// computing rows `rows`; returns the buffer and the normalisation `1/ΠT`.
    fn invert<'s>(
        &self,
        s: &'s mut Scratch<T>,
        spectra: &Planar<T>,
        sig: usize,
        rows: [usize; 2],
    ) -> &'s [T] {
        spectra.load(sig, self.fft.spectrum_mut(s));
        self.fft.inverse(s, rows)
    }

    fn scale(&self) -> T {
        T::one() / T::of(self.fft.real_len() as f64)
    }

    /// The conv's output from input spectra, read at the strided positions within `extent`.
    fn conv_output(&self, x_hat: &Planar<T>, w_hat: &Planar<T>, extent: [usize; 3]) -> Tensor<T> {
        let lay = &self.lay;
        let nt = self.tiles();
        let (ci, co, cg, og) = (lay.c_in, lay.c_out, lay.cg, lay.og);
        let mut y_hat = Planar::dirty(lay.n * co * nt, self.fft.bins());
        let p = Product {
            groups: lay.groups,
            rows: lay.n * nt,
            cols: og,
            depth: cg,
            conj: Conj::B,
        };
        contract(
            &p,
            &mut y_hat,
            |g, i, j| ((i / nt) * co + g * og + j) * nt + i % nt,
            x_hat,
            |g, i, k| ((i / nt) * ci + g * cg + k) * nt + i % nt,
            w_hat,
            |g, k, j| (g * og + j) * cg + k,
        );
        let [_, t1, t2] = self.tiling.period();
        let st = lay.stride;
        let scale = self.scale();
        let vol: usize = extent.iter().product();
        let shape = [vec![lay.n, co], self.spatial(extent)].concat();
        let mut y = Tensor::zeros(&shape);
        y.data_mut()
            .par_chunks_mut(vol)
            .enumerate()
            .for_each(|(row, out)| {
                let mut s = self.fft.local_scratch();
                let s = &mut *s;
                for tile in 0..nt {
                    let tc = tile_coords(tile, &self.tiling);
                    let cnt = self.outputs(tc, extent);
                    if cnt.contains(&0) {
                        continue;
                    }
                    let first = [0, 1, 2].map(|a| tc[a] * self.tiling.axes[a].block);
                    let rows = [(cnt[0] - 1) * st[0] + 1, (cnt[1] - 1) * st[1] + 1];
                    let full = self.invert(s, &y_hat, row * nt + tile, rows);
                    for i0 in 0..cnt[0] {
                        for i1 in 0..cnt[1] {
                            let src = &full[(i0 * st[0] * t1 + i1 * st[1]) * t2..];
                            let dst = &mut out[((first[0] + i0) * extent[1] + first[1] + i1)
                                * extent[2]
                                + first[2]..][..cnt[2]];
                            // Unit stride apart: a strided index does not vectorise.
                            if st[2] == 1 {
                                for (d, v) in dst.iter_mut().zip(src) {
                                    *d = *v * scale;
                                }
                            } else {
                                for (d, v) in dst.iter_mut().zip(src.iter().step_by(st[2])) {
                                    *d = *v * scale;
                                }
                            }
                        }
                    }
                }
            });
        y
    }

    /// The conv's input gradient from cotangent spectra: each window's gradient folded back
    /// through the padding and added where windows overlap.
    fn conv_input_grad(&self, g_hat: &Planar<T>, w_hat: &Planar<T>) -> Tensor<T> {
        let lay = &self.lay;
        let nt = self.tiles();
        let tile_runs = self.tile_runs();
        let (ci, co, cg, og) = (lay.c_in, lay.c_out, lay.cg, lay.og);
        let mut dx_hat = Planar::dirty(lay.n * ci * nt, self.fft.bins());
        let p = Product {
            groups: lay.groups,
            rows: lay.n * nt,
            cols: cg,
            depth: og,
            conj: Conj::None,
        };
        contract(
            &p,
            &mut dx_hat,
            |g, i, j| ((i / nt) * ci + g * cg + j) * nt + i % nt,
            g_hat,
            |g, i, k| ((i / nt) * co + g * og + k) * nt + i % nt,
            w_hat,
            |g, k, j| (g * og + k) * cg + j,
        );
        let [_, t1, t2] = self.tiling.period();
        let [_, i1, i2] = lay.input;
        let scale = self.scale();
        let shape = [vec![lay.n, ci], self.spatial(lay.input)].concat();
        let mut dx = Tensor::zeros(&shape);
        dx.data_mut()
            .par_chunks_mut(lay.in_vol())
            .enumerate()
            .for_each(|(row, out)| {
                let mut s = self.fft.local_scratch();
                let s = &mut *s;
                for (tile, runs) in tile_runs.iter().enumerate() {
                    let start = self.window_start(tile_coords(tile, &self.tiling));
                    let [e0, e1, e2] = self.window(start);
                    let full = self.invert(s, &dx_hat, row * nt + tile, [e0, e1]);
                    for j0 in 0..e0 {
                        let Some(s0) = lay.maps[0][start[0] + j0] else {
                            continue;
                        };
                        for j1 in 0..e1 {
                            let Some(s1) = lay.maps[1][start[1] + j1] else {
                                continue;
                            };
                            let src = &full[(j0 * t1 + j1) * t2..][..e2];
                            let dst = &mut out[(s0 * i1 + s1) * i2..][..i2];
                            for &Run { at, from, len } in runs {
                                for (d, v) in dst[from..from + len].iter_mut().zip(&src[at..]) {
                                    *d = *d + *v * scale;
                                }
                            }
                        }
                    }
                }
            });
        dx
    }

    /// The conv's weight gradient from cotangent and input spectra (summed over the batch and
    /// the tiles before one inverse transform per weight).
    fn conv_weight_grad(&self, g_hat: &Planar<T>, x_hat: &Planar<T>) -> Tensor<T> {
        let lay = &self.lay;
        let nt = self.tiles();
        let (ci, co, cg, og) = (lay.c_in, lay.c_out, lay.cg, lay.og);
        let mut dw_hat = Planar::dirty(co * cg, self.fft.bins());
        let p = Product {
            groups: lay.groups,
            rows: og,
            cols: cg,
            depth: lay.n * nt,
            conj: Conj::A,
        };
        contract(
            &p,
            &mut dw_hat,
            |g, i, j| (g * og + i) * cg + j,
            g_hat,
            |g, i, k| ((k / nt) * co + g * og + i) * nt + k % nt,
            x_hat,
            |g, k, j| ((k / nt) * ci + g * cg + j) * nt + k % nt,
        );
        let [_, t1, t2] = self.tiling.period();
        let (k, dl) = (lay.kernel, lay.dilation);
        let ke = [0, 1, 2].map(|a| (k[a] - 1) * dl[a] + 1);
        let scale = self.scale();
        let shape = [vec![co, cg], self.spatial(lay.kernel)].concat();
        let mut dw = Tensor::zeros(&shape);
        dw.data_mut()
            .par_chunks_mut(lay.k_vol())
            .enumerate()
            .for_each(|(row, out)| {
                let mut s = self.fft.local_scratch();
                let s = &mut *s;
                let full = self.invert(s, &dw_hat, row, [ke[0], ke[1]]);
                for k0 in 0..k[0] {
                    for k1 in 0..k[1] {
                        let src = &full[(k0 * dl[0] * t1 + k1 * dl[1]) * t2..];
                        for k2 in 0..k[2] {
                            out[(k0 * k[1] + k1) * k[2] + k2] = src[k2 * dl[2]] * scale;
                        }
                    }
                }
            });
        dw
    }
}

/// The fused FFT layer as a core of the [`driver`](crate::conv::driver): the layer planned once
/// for a conv geometry (tiling of the cost model), computing the spectra each call needs and
/// forgetting them (the `dy` spectra are shared by `∂x` and `∂w`, the `x` spectra by a
/// transpose's `∂x` and `∂w`). [`FftConv`] is the same layer keeping them between calls.
pub(crate) struct FftCore<T: Scalar>(FftConv<T>);

impl<T: Scalar> FftCore<T> {
    /// Plan the conv geometry `c` (a transpose's [`Geometry::as_conv`]).
    pub(crate) fn new(c: &Geometry) -> Self {
        let lay = Layout::of(c);
        let tiling = Tiling::plan(&lay);
        FftCore(FftConv::with_layout(c.clone(), lay, tiling))
    }
}

impl<T: Scalar> ConvCore<T> for FftCore<T> {
    fn forward(&self, x: &Tensor<T>, w: &Tensor<T>) -> Result<Tensor<T>> {
        let l = &self.0;
        Ok(l.conv_output(&l.input_spectra(x), &l.weight_spectra(w), l.lay.output))
    }

    fn grad_x(&self, dy: &Tensor<T>, w: &Tensor<T>) -> Result<Tensor<T>> {
        let l = &self.0;
        Ok(l.conv_input_grad(&l.cotangent_spectra(dy), &l.weight_spectra(w)))
    }

    fn grad_w(&self, x: &Tensor<T>, dy: &Tensor<T>) -> Result<Tensor<T>> {
        let l = &self.0;
        Ok(l.conv_weight_grad(&l.cotangent_spectra(dy), &l.input_spectra(x)))
    }

    fn grads(
        &self,
        x: &Tensor<T>,
        w: &Tensor<T>,
        dy: &Tensor<T>,
    ) -> Result<(Tensor<T>, Tensor<T>)> {
        let l = &self.0;
        let (w_hat, x_hat) = (l.weight_spectra(w), l.input_spectra(x));
        let dy_hat = l.cotangent_spectra(dy);
        Ok((
            l.conv_input_grad(&dy_hat, &w_hat),
            l.conv_weight_grad(&dy_hat, &x_hat),
        ))
    }

    fn forward_and_grad_w(
        &self,
        x: &Tensor<T>,
        w: &Tensor<T>,
        dy: &Tensor<T>,
    ) -> Result<(Tensor<T>, Tensor<T>)> {
        let l = &self.0;
        let (w_hat, dy_hat) = (l.weight_spectra(w), l.cotangent_spectra(dy));
        let x_hat = l.input_spectra(x);
        Ok((
            l.conv_output(&x_hat, &w_hat, l.lay.output),
            l.conv_weight_grad(&dy_hat, &x_hat),
        ))
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
