//! The FFT layer where each output channel reads one input channel (depthwise with one output
//! per group: `groups = c_in = c_out`). Its channel contraction is then one product per
//! frequency, so each spectrum is multiplied and inverted while it is still in cache, instead
//! of being written out whole for [`contract`] to stream back: on a depth of one the
//! contraction is a pass bound by memory, over spectra of megabytes on the long depthwise
//! layers (1d-long-dw: 4 MB per set, three sets a step).
//!
//! - forward: per `(n, c)` and tile, `$\hat x$` (kept for the gradients), then
//!   `$\hat y = \hat x\,\overline{\hat h_c}$` and its inverse;
//! - gradients: per channel `$c$`, for each `$(n, \text{tile})$`, `$\hat g$` of the cotangent,
//!   `$\widehat{\partial h_c} \mathrel{+}= \overline{\hat g}\,\hat x$`, and
//!   `$\hat g\,\hat h_c$` inverted and added into `∂x`; the weight gradient inverted once at the
//!   end. The cotangent spectra are never stored.
//!
//! The products are those of [`super::passes`] with the same conjugations, the sums over the
//! batch and tiles in the same order.

use super::spectral;
use super::*;
use crate::conv::fast::memory::{assume_init, zeroed};
use num_complex::Complex;
use std::mem::MaybeUninit;

/// Fewest channels of a layer run through these passes.
pub(super) const POINTWISE_MIN_CHANNELS: usize = 8;

fn zero<T: Scalar>() -> Complex<T> {
    Complex::new(T::zero(), T::zero())
}

impl<T: Scalar> FftConv<T> {
    /// Whether the conv runs through these passes: one input channel per output channel, and
    /// at least [`POINTWISE_MIN_CHANNELS`] of them (the gradients are split over channels). A
    /// fixed count, not the thread count, so that a layer's result does not depend on the
    /// machine (the notes' measured errors are of one-channel layers, which stay on the
    /// general passes).
    pub(super) fn pointwise(&self) -> bool {
        let lay = &self.lay;
        lay.cg == 1 && lay.og == 1 && lay.c_out >= POINTWISE_MIN_CHANNELS
    }

    /// The conv's output from `x` and the weight spectra `w_hat`, with the input spectra
    /// (one per `(n, c, tile)`, as [`input_spectra`](Self::input_spectra)) when `keep`, else
    /// an empty set.
    pub(super) fn pointwise_forward(
        &self,
        x: &Tensor<T>,
        w_hat: &BlockedSpectra<T>,
        keep: bool,
    ) -> Result<(BlockedSpectra<T>, Tensor<T>)> {
        let lay = &self.lay;
        let nt = self.tiles();
        let bins = self.fft.bins();
        let tile_runs = self.tile_runs();
        let extent = lay.output;
        let vol: usize = extent.iter().product();
        let shape = [vec![lay.n, lay.c_out], self.spatial(extent)].concat();
        let mut y = self.output_buffer(lay.n * lay.c_out * vol, extent);
        let in_vol = lay.in_vol().max(1);
        let mut x_hat = BlockedSpectra::dirty(if keep { lay.n * lay.c_in * nt } else { 0 }, bins);
        let mut spectra = x_hat.spectra_mut();
        let mut kept: Vec<Option<&mut [&mut [Complex<T>]]>> = if keep {
            spectra.chunks_mut(nt).map(Some).collect()
        } else {
            (0..lay.n * lay.c_in).map(|_| None).collect()
        };
        y.par_chunks_mut(vol.max(1))
            .zip(x.data().par_chunks(in_vol))
            .zip(kept.par_iter_mut())
            .enumerate()
            .for_each_init(
                // Per rayon job, not per item: a fresh zeroed buffer per item was 2 % of the
                // 2d-dw31 profile, and every bin is written before it is read.
                || (vec![zero(); bins], Vec::new()),
                |(product, local), (nc, ((out, ch), kept))| {
                    let w = w_hat.spectrum(nc % lay.c_in);
                    let next = self.next_channel(x.data(), nc + 1, in_vol);
                    let mut s = self.fft.local_scratch();
                    let s = &mut *s;
                    for (t, runs) in tile_runs.iter().enumerate() {
                        let sig: &mut [Complex<T>] = match kept {
                            Some(k) => k[t],
                            None => {
                                local.resize(bins, zero());
                                local
                            }
                        };
                        let rows = self.fill_input_window(s.real_mut(), ch, next, t, runs);
                        self.fft.forward_into(s, rows, sig);
                        spectral::mul_conj(product, sig, w);
                        self.write_output_tile(s, product, t, extent, out);
                    }
                },
            );
        drop(kept);
        drop(spectra);
        // SAFETY: zeros where the tiles do not cover the extent; where they do, every entry was
        // written by `write_output_tile` (see `conv_output`).
        let y = unsafe { assume_init(y) };
        Ok((x_hat, Tensor::new(shape, y)?))
    }

    /// The conv's input and weight gradients `(∂x, ∂w)` for the output cotangent `dy`, from
    /// the input spectra `x_hat` of [`pointwise_forward`](Self::pointwise_forward) and the
    /// weight spectra `w_hat`.
    pub(super) fn pointwise_backward(
        &self,
        dy: &Tensor<T>,
        x_hat: &BlockedSpectra<T>,
        w_hat: &BlockedSpectra<T>,
    ) -> Result<(Tensor<T>, Tensor<T>)> {
        let lay = &self.lay;
        let (n, c) = (lay.n, lay.c_in);
        let nt = self.tiles();
        let bins = self.fft.bins();
        let tile_runs = self.tile_runs();
        let mut e = [1; 3];
        e[3 - self.geometry.rank()..].copy_from_slice(&dy.shape()[2..]);
        let dy_vol: usize = e.iter().product();
        let in_vol = lay.in_vol().max(1);
        let len = n * c * lay.in_vol();
        let mut dx: Vec<MaybeUninit<T>> = Vec::with_capacity(len);
        // SAFETY: `MaybeUninit` values need no initialisation; each task zeroes the chunks it
        // adds into (`zeroed`) and `assume_init` comes after.
        unsafe { dx.set_len(len) };
        let mut by_channel: Vec<Vec<&mut [MaybeUninit<T>]>> =
            (0..c).map(|_| Vec::with_capacity(n)).collect();
        for (i, chunk) in dx.chunks_mut(in_vol).enumerate() {
            by_channel[i % c].push(chunk);
        }
        let dw_len = c * lay.k_vol();
        let mut dw: Vec<MaybeUninit<T>> = Vec::with_capacity(dw_len);
        // SAFETY: `MaybeUninit` values need no initialisation; each channel's task ends with
        // `write_kernel_grad`, which writes every tap of its chunk.
        unsafe { dw.set_len(dw_len) };
        dw.par_chunks_mut(lay.k_vol().max(1))
            .zip(by_channel.par_iter_mut())
            .enumerate()
            .for_each_init(
                || (vec![zero(); bins], vec![zero(); bins]),
                |(g, dw_hat), (ch, (dw_out, dx_chunks))| {
                    let w = w_hat.spectrum(ch);
                    let mut s = self.fft.local_scratch();
                    let s = &mut *s;
                    dw_hat.fill(zero());
                    for (i, dx_chunk) in dx_chunks.iter_mut().enumerate() {
                        let dx_out = zeroed(dx_chunk);
                        let nc = i * c + ch;
                        let cot = &dy.data()[nc * dy_vol..][..dy_vol];
                        // This channel's next sample.
                        let next = self.next_channel(dy.data(), nc + c, dy_vol);
                        for (t, runs) in tile_runs.iter().enumerate() {
                            // A window past the cotangent adds nothing.
                            let Some(rows) =
                                self.fill_cotangent_window(s.real_mut(), cot, next, t, e)
                            else {
                                continue;
                            };
                            self.fft.forward_into(s, rows, g);
                            let xs = x_hat.spectrum(nc * nt + t);
                            spectral::grad_step(g, xs, dw_hat, w);
                            self.add_input_grad_tile(s, g, t, runs, dx_out);
                        }
                    }
                    self.write_kernel_grad(s, dw_hat, dw_out);
                },
            );
        drop(by_channel);
        // SAFETY: every chunk was zeroed by its channel's task above.
        let dx = unsafe { assume_init(dx) };
        let dx = Tensor::new([vec![n, c], self.spatial(lay.input)].concat(), dx)?;
        // SAFETY: every channel's chunk was written by `write_kernel_grad` above.
        let dw = unsafe { assume_init(dw) };
        let dw = Tensor::new([vec![c, 1], self.spatial(lay.kernel)].concat(), dw)?;
        Ok((dx, dw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::fast::tests::rel;
    use crate::conv::Padding;
    use crate::op::PadMode;

    /// A layer: spec (its groups set to the channels), x shape, w shape, tile blocks.
    type Case = (ConvSpec, Vec<usize>, Vec<usize>, Vec<usize>);

    /// The fused passes equal the general ones (transforms, [`contract`], inverses) on
    /// depthwise layers: tiled and not, strided, dilated, padded by every mode, 1-D to 3-D,
    /// with windows past the cotangent.
    fn fused_matches_general<T: Scalar>(tol: f64) {
        let cases: Vec<Case> = vec![
            (
                ConvSpec::conv(&[1], Padding::Explicit(vec![(6, 0)]), &[1]),
                vec![2, 8, 40],
                vec![8, 1, 7],
                vec![40],
            ),
            (
                ConvSpec::conv(&[2, 1], Padding::Same, &[1, 2]),
                vec![2, 9, 17, 14],
                vec![9, 1, 5, 3],
                vec![3, 4],
            ),
            (
                ConvSpec {
                    padding: Padding::Explicit(vec![(2, 1), (1, 2)]),
                    padding_mode: PadMode::Reflect,
                    ..ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1])
                },
                vec![1, 8, 12, 11],
                vec![8, 1, 4, 4],
                vec![12, 5],
            ),
            (
                ConvSpec {
                    padding_mode: PadMode::Circular,
                    ..ConvSpec::conv(&[1, 1, 1], Padding::Same, &[1, 1, 1])
                },
                vec![2, 8, 7, 6, 9],
                vec![8, 1, 3, 3, 3],
                vec![3, 6, 4],
            ),
        ];
        for (spec, xs, ws, blocks) in cases {
            let spec = ConvSpec {
                groups: xs[1],
                ..spec
            };
            let layer = FftConv::<T>::with_blocks(&spec, &xs, &ws, &blocks).unwrap();
            assert!(layer.pointwise(), "{spec:?} {xs:?}");
            let fewer = [vec![xs[0], 7], xs[2..].to_vec()].concat();
            let few = FftConv::<T>::with_blocks(
                &ConvSpec {
                    groups: 7,
                    ..spec.clone()
                },
                &fewer,
                &[vec![7], ws[1..].to_vec()].concat(),
                &blocks,
            )
            .unwrap();
            assert!(!few.pointwise(), "7 channels: {spec:?}");
            let x = Tensor::<T>::randn(&xs, 1);
            let w = Tensor::<T>::randn(&ws, 2);
            let dy = Tensor::<T>::randn(&layer.geometry.y_shape(), 3);
            let w_hat = layer.weight_spectra(&w);
            let x_hat = layer.input_spectra(&x);
            let y = layer.conv_output(&x_hat, &w_hat, layer.lay.output).unwrap();
            let (kept, y_fused) = layer.pointwise_forward(&x, &w_hat, true).unwrap();
            let (_, y_unkept) = layer.pointwise_forward(&x, &w_hat, false).unwrap();
            let dy_hat = layer.cotangent_spectra(&dy);
            let dx = layer.conv_input_grad(&dy_hat, &w_hat).unwrap();
            let dw = layer.conv_weight_grad(&dy_hat, &x_hat).unwrap();
            let (dx_fused, dw_fused) = layer.pointwise_backward(&dy, &kept, &w_hat).unwrap();
            let at = format!("{} {spec:?} x {xs:?} w {ws:?} blocks {blocks:?}", T::NAME);
            for (name, got, want) in [
                ("y", &y_fused, &y),
                ("y (spectra not kept)", &y_unkept, &y),
                ("dx", &dx_fused, &dx),
                ("dw", &dw_fused, &dw),
            ] {
                let e = rel(got, want);
                assert!(e < tol, "{name} off by {e:.2e}: {at}");
            }
            for s in 0..kept.count() {
                assert_eq!(kept.spectrum(s), x_hat.spectrum(s), "x spectrum {s}: {at}");
            }
        }
    }

    #[test]
    fn fused_depthwise_passes_match_the_general_ones_f64() {
        fused_matches_general::<f64>(1e-13);
    }

    #[test]
    fn fused_depthwise_passes_match_the_general_ones_f32() {
        fused_matches_general::<f32>(2e-6);
    }
}
