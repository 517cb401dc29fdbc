//! The fused depthwise passes ([`super::pointwise`]) of 1-D layers with two samples of a
//! channel packed into one complex line of the period `$P$`: `$z = x_a + i\,x_b$`. Both samples
//! share the channel's real kernel, whose full spectrum is Hermitian, so the products need no
//! separation of the two spectra:
//!
//! - forward: `$\hat z\,\overline{\hat h}$` inverted holds `$y_a$` in its real parts and `$y_b$`
//!   in its imaginary parts; likewise `$\hat g\,\hat h$` for `$\partial x_a, \partial x_b$`;
//! - `∂h`: `$\overline{\hat g_z}\,\hat x_z = \sum_n \overline{\hat g_n}\hat x_n + i(\dots)$` where
//!   the cross term is `$i$` times a Hermitian spectrum (imaginary after the inverse), so the
//!   Hermitian part of the summed product is the weight gradient's spectrum, inverted by the
//!   layer's real transform.
//!
//! One complex transform of `$P$` per pair replaces two real ones (each a complex line of
//! `$P/2$` and a split or merge pass): on 1d-long-dw the split's stores into the kept input
//! spectra and the merges were ~20 % of the profile. The kept input spectra are the pairs'
//! full spectra (`$P$` bins per pair and tile: the bytes of two half spectra). An odd sample
//! out is paired with zeros.

use super::spectral;
use super::*;
use crate::conv::fast::memory::{assume_init, zeroed};
use num_complex::Complex;
use rustfft::{Fft, FftPlanner};
use std::mem::MaybeUninit;

/// The complex transforms of the period, both directions.
pub(super) struct PairPlan<T: Scalar> {
    forward: Arc<dyn Fft<T>>,
    inverse: Arc<dyn Fft<T>>,
}

impl<T: Scalar> PairPlan<T> {
    pub(super) fn new(len: usize) -> Self {
        let mut planner = FftPlanner::new();
        PairPlan {
            forward: planner.plan_fft_forward(len),
            inverse: planner.plan_fft_inverse(len),
        }
    }
}

/// One rayon job's lines.
struct Lines<T> {
    line: Vec<Complex<T>>,
    /// An input spectrum where none is kept.
    local: Vec<Complex<T>>,
    /// The channel's full kernel spectrum.
    w: Vec<Complex<T>>,
    /// A weight-gradient half spectrum.
    half: Vec<Complex<T>>,
    scratch: Vec<Complex<T>>,
}

fn zero<T: Scalar>() -> Complex<T> {
    Complex::new(T::zero(), T::zero())
}

/// The full spectrum (`w.len()` bins) of a real signal from its half spectrum `h`.
fn full_spectrum<T: Scalar>(h: &[Complex<T>], w: &mut [Complex<T>]) {
    let p = w.len();
    let m = p / 2;
    w[..=m].copy_from_slice(&h[..=m]);
    for k in 1..p - m {
        w[p - k] = h[k].conj();
    }
}

/// The half spectrum (`half.len()` bins) of the Hermitian part of `f`.
fn hermitian_half<T: Scalar>(f: &[Complex<T>], half: &mut [Complex<T>]) {
    let p = f.len();
    let h = T::of(0.5);
    for (k, out) in half.iter_mut().enumerate() {
        *out = (f[k] + f[(p - k) % p].conj()) * h;
    }
}

/// The pair's window through the runs of its last axis: `a + i b` (`b` zero if absent) where
/// a run reads the input, zero elsewhere.
fn fill_pair<T: Scalar>(line: &mut [Complex<T>], a: &[T], b: Option<&[T]>, runs: &[Run]) {
    let mut end = 0;
    for &Run { at, from, len } in runs {
        line[end..at].fill(zero());
        let dst = &mut line[at..at + len];
        let a = &a[from..from + len];
        match b {
            Some(b) => {
                for ((d, &u), &v) in dst.iter_mut().zip(a).zip(&b[from..from + len]) {
                    *d = Complex::new(u, v);
                }
            }
            None => {
                for (d, &u) in dst.iter_mut().zip(a) {
                    *d = Complex::new(u, T::zero());
                }
            }
        }
        end = at + len;
    }
    line[end..].fill(zero());
}

impl<T: Scalar> FftConv<T> {
    /// Whether the fused depthwise passes run on packed pairs: 1-D layers.
    pub(super) fn pairs_pay(&self) -> bool {
        self.pointwise() && self.geometry.rank() == 1
    }

    fn lines(&self, plan: &PairPlan<T>) -> Lines<T> {
        let p = self.tiling.period()[2];
        let scratch = plan
            .forward
            .get_inplace_scratch_len()
            .max(plan.inverse.get_inplace_scratch_len());
        Lines {
            line: vec![zero(); p],
            local: vec![zero(); p],
            w: vec![zero(); p],
            half: vec![zero(); self.fft.bins()],
            scratch: vec![zero(); scratch],
        }
    }

    /// The pairs' input spectra (one per `(pair, c, tile)`) when `keep`, else an empty set;
    /// and the conv's output when `w_hat` is given.
    pub(super) fn pair_forward(
        &self,
        plan: &PairPlan<T>,
        x: &Tensor<T>,
        w_hat: Option<&BlockedSpectra<T>>,
        keep: bool,
    ) -> Result<(BlockedSpectra<T>, Option<Tensor<T>>)> {
        let lay = &self.lay;
        let (n, c) = (lay.n, lay.c_in);
        let pairs = n.div_ceil(2);
        let nt = self.tiles();
        let p = self.tiling.period()[2];
        let tile_runs = self.tile_runs();
        let extent = lay.output;
        let vol = extent[2].max(1);
        let in_vol = lay.in_vol().max(1);
        let mut y = match w_hat {
            Some(_) => self.output_buffer(n * c * extent[2], extent),
            None => Vec::new(),
        };
        let mut outs: Vec<[Option<&mut [MaybeUninit<T>]>; 2]> =
            (0..pairs * c).map(|_| [None, None]).collect();
        for (i, chunk) in y.chunks_mut(vol).enumerate() {
            outs[(i / c / 2) * c + i % c][(i / c) % 2] = Some(chunk);
        }
        let mut x_hat = BlockedSpectra::dirty(if keep { pairs * c * nt } else { 0 }, p);
        let mut spectra = x_hat.spectra_mut();
        let mut kept: Vec<Option<&mut [&mut [Complex<T>]]>> = if keep {
            spectra.chunks_mut(nt).map(Some).collect()
        } else {
            (0..pairs * c).map(|_| None).collect()
        };
        let sample = |s: usize, ch: usize| &x.data()[(s * c + ch) * in_vol..][..in_vol];
        outs.par_iter_mut()
            .zip(kept.par_iter_mut())
            .enumerate()
            .for_each_init(
                || self.lines(plan),
                |b, (pc, (out, kept))| {
                    let (pair, ch) = (pc / c, pc % c);
                    let xa = sample(2 * pair, ch);
                    let xb = (2 * pair + 1 < n).then(|| sample(2 * pair + 1, ch));
                    if let Some(w_hat) = w_hat {
                        full_spectrum(w_hat.spectrum(ch), &mut b.w);
                    }
                    for (t, runs) in tile_runs.iter().enumerate() {
                        let sig: &mut [Complex<T>] = match kept {
                            Some(k) => k[t],
                            None => &mut b.local,
                        };
                        fill_pair(sig, xa, xb, runs);
                        plan.forward.process_with_scratch(sig, &mut b.scratch);
                        if w_hat.is_some() {
                            spectral::mul_conj(&mut b.line, sig, &b.w);
                            plan.inverse.process_with_scratch(&mut b.line, &mut b.scratch);
                            self.write_pair_outputs(&b.line, t, extent, out);
                        }
                    }
                },
            );
        drop(kept);
        drop(spectra);
        let y = match w_hat {
            Some(_) => {
                // SAFETY: zeros where the tiles do not cover the extent; where they do, every
                // entry was written by `write_pair_outputs` (as `write_output_tile` does).
                let y = unsafe { assume_init(y) };
                Some(Tensor::new([vec![n, c], self.spatial(extent)].concat(), y)?)
            }
            None => None,
        };
        Ok((x_hat, y))
    }

    /// Tile `t`'s outputs within `extent` from the pair's inverse `line`, read at the strided
    /// positions and scaled: real parts into the first sample's `out`, imaginary parts into
    /// the second's.
    fn write_pair_outputs(
        &self,
        line: &[Complex<T>],
        t: usize,
        extent: [usize; 3],
        out: &mut [Option<&mut [MaybeUninit<T>]>; 2],
    ) {
        let st = self.lay.stride[2];
        let scale = self.scale();
        let tc = tile_coords(t, &self.tiling);
        let cnt = self.outputs(tc, extent)[2];
        if cnt == 0 {
            return;
        }
        let first = tc[2] * self.tiling.axes[2].block;
        let [a, b] = out;
        if let Some(a) = a {
            for (d, v) in a[first..][..cnt].iter_mut().zip(line.iter().step_by(st)) {
                d.write(v.re * scale);
            }
        }
        if let Some(b) = b {
            for (d, v) in b[first..][..cnt].iter_mut().zip(line.iter().step_by(st)) {
                d.write(v.im * scale);
            }
        }
    }

    /// The pair's cotangent window of tile `t` (extent `e`, zero-inserted at the stride) into
    /// `line`; false where the tile lies past the cotangent.
    fn fill_cotangent_pair(
        &self,
        line: &mut [Complex<T>],
        ga: &[T],
        gb: Option<&[T]>,
        t: usize,
        e: [usize; 3],
    ) -> bool {
        let st = self.lay.stride[2];
        let tc = tile_coords(t, &self.tiling);
        let cnt = self.outputs(tc, e)[2];
        if cnt == 0 {
            return false;
        }
        let first = tc[2] * self.tiling.axes[2].block;
        if st > 1 {
            line.fill(zero());
        } else {
            line[cnt..].fill(zero());
        }
        let ga = &ga[first..][..cnt];
        match gb {
            Some(gb) => {
                for ((d, &u), &v) in line.iter_mut().step_by(st).zip(ga).zip(&gb[first..]) {
                    *d = Complex::new(u, v);
                }
            }
            None => {
                for (d, &u) in line.iter_mut().step_by(st).zip(ga) {
                    *d = Complex::new(u, T::zero());
                }
            }
        }
        true
    }

    /// The conv's input and weight gradients `(∂x, ∂w)` for the output cotangent `dy`, from
    /// the pairs' input spectra of [`pair_forward`](Self::pair_forward) and the weight spectra
    /// `w_hat`.
    pub(super) fn pair_backward(
        &self,
        plan: &PairPlan<T>,
        dy: &Tensor<T>,
        x_hat: &BlockedSpectra<T>,
        w_hat: &BlockedSpectra<T>,
    ) -> Result<(Tensor<T>, Tensor<T>)> {
        let lay = &self.lay;
        let (n, c) = (lay.n, lay.c_in);
        let pairs = n.div_ceil(2);
        let nt = self.tiles();
        let p = self.tiling.period()[2];
        let tile_runs = self.tile_runs();
        let mut e = [1; 3];
        e[2] = dy.shape()[2];
        let dy_vol = e[2];
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
        let cotangent = |s: usize, ch: usize| &dy.data()[(s * c + ch) * dy_vol..][..dy_vol];
        dw.par_chunks_mut(lay.k_vol().max(1))
            .zip(by_channel.par_iter_mut())
            .enumerate()
            .for_each_init(
                || (self.lines(plan), vec![zero(); p]),
                |(b, acc), (ch, (dw_out, dx_chunks))| {
                    full_spectrum(w_hat.spectrum(ch), &mut b.w);
                    acc.fill(zero());
                    let mut dxs: Vec<&mut [T]> =
                        dx_chunks.iter_mut().map(|d| zeroed(d)).collect();
                    for pair in 0..pairs {
                        let (ia, ib) = (2 * pair, 2 * pair + 1);
                        let ga = cotangent(ia, ch);
                        let gb = (ib < n).then(|| cotangent(ib, ch));
                        for (t, runs) in tile_runs.iter().enumerate() {
                            // A window past the cotangent adds nothing.
                            if !self.fill_cotangent_pair(&mut b.line, ga, gb, t, e) {
                                continue;
                            }
                            plan.forward.process_with_scratch(&mut b.line, &mut b.scratch);
                            let xs = x_hat.spectrum((pair * c + ch) * nt + t);
                            spectral::grad_step(&mut b.line, xs, acc, &b.w);
                            plan.inverse.process_with_scratch(&mut b.line, &mut b.scratch);
                            let (lo, hi) = dxs.split_at_mut(ib);
                            let db = hi.first_mut().map(|d| &mut **d);
                            self.add_pair_input_grad(&b.line, runs, lo[ia], db);
                        }
                    }
                    hermitian_half(acc, &mut b.half);
                    let mut s = self.fft.local_scratch();
                    self.write_kernel_grad(&mut s, &mut b.half, dw_out);
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

    /// The pair's inverse input-gradient `line` of one tile, scaled and folded back through the
    /// padding (`runs`), added into the first sample's `da` (real parts) and the second's `db`
    /// (imaginary parts).
    fn add_pair_input_grad(
        &self,
        line: &[Complex<T>],
        runs: &[Run],
        da: &mut [T],
        db: Option<&mut [T]>,
    ) {
        let scale = self.scale();
        for &Run { at, from, len } in runs {
            for (d, v) in da[from..from + len].iter_mut().zip(&line[at..]) {
                *d = *d + v.re * scale;
            }
        }
        if let Some(db) = db {
            for &Run { at, from, len } in runs {
                for (d, v) in db[from..from + len].iter_mut().zip(&line[at..]) {
                    *d = *d + v.im * scale;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::fast::tests::rel;
    use crate::conv::Padding;
    use crate::op::PadMode;

    /// The packed passes equal the general ones (transforms, [`contract`], inverses) on 1-D
    /// depthwise layers: even and odd batches, tiled and not, strided, dilated, padded by
    /// every mode, with windows past the cotangent.
    fn pairs_match_general<T: Scalar>(tol: f64) {
        let causal = Padding::Explicit(vec![(63, 0)]);
        let cases: Vec<(ConvSpec, Vec<usize>, Vec<usize>, usize)> = vec![
            (ConvSpec::conv(&[1], causal, &[1]), vec![2, 8, 64], vec![8, 1, 64], 64),
            (
                ConvSpec::conv(&[1], Padding::Explicit(vec![(6, 0)]), &[1]),
                vec![3, 8, 40],
                vec![8, 1, 7],
                12,
            ),
            (
                ConvSpec::conv(&[2], Padding::Same, &[1]),
                vec![1, 9, 37],
                vec![9, 1, 5],
                40,
            ),
            (
                ConvSpec::conv(&[3], Padding::Explicit(vec![(4, 2)]), &[2]),
                vec![5, 8, 31],
                vec![8, 1, 4],
                5,
            ),
            (
                ConvSpec {
                    padding_mode: PadMode::Reflect,
                    ..ConvSpec::conv(&[1], Padding::Same, &[1])
                },
                vec![2, 8, 21],
                vec![8, 1, 6],
                8,
            ),
            (
                ConvSpec {
                    padding_mode: PadMode::Circular,
                    ..ConvSpec::conv(&[1], Padding::Same, &[1])
                },
                vec![4, 10, 19],
                vec![10, 1, 5],
                19,
            ),
        ];
        for (spec, xs, ws, block) in cases {
            let spec = ConvSpec {
                groups: xs[1],
                ..spec
            };
            let layer = FftConv::<T>::with_blocks(&spec, &xs, &ws, &[block]).unwrap();
            assert!(layer.pairs_pay(), "{spec:?} {xs:?}");
            let plan = layer.pairs.clone().unwrap();
            let x = Tensor::<T>::randn(&xs, 1);
            let w = Tensor::<T>::randn(&ws, 2);
            let dy = Tensor::<T>::randn(&layer.geometry.y_shape(), 3);
            let w_hat = layer.weight_spectra(&w);
            let x_hat = layer.input_spectra(&x);
            let y = layer.conv_output(&x_hat, &w_hat, layer.lay.output).unwrap();
            let (kept, y_pairs) = layer.pair_forward(&plan, &x, Some(&w_hat), true).unwrap();
            let (_, y_unkept) = layer.pair_forward(&plan, &x, Some(&w_hat), false).unwrap();
            let (only, none) = layer.pair_forward(&plan, &x, None, true).unwrap();
            assert!(none.is_none());
            let dy_hat = layer.cotangent_spectra(&dy);
            let dx = layer.conv_input_grad(&dy_hat, &w_hat).unwrap();
            let dw = layer.conv_weight_grad(&dy_hat, &x_hat).unwrap();
            let (dx_pairs, dw_pairs) = layer.pair_backward(&plan, &dy, &kept, &w_hat).unwrap();
            let (dx_only, dw_only) = layer.pair_backward(&plan, &dy, &only, &w_hat).unwrap();
            let at = format!("{} {spec:?} x {xs:?} w {ws:?} block {block}", T::NAME);
            for (name, got, want) in [
                ("y", &y_pairs.unwrap(), &y),
                ("y (spectra not kept)", &y_unkept.unwrap(), &y),
                ("dx", &dx_pairs, &dx),
                ("dw", &dw_pairs, &dw),
                ("dx (spectra alone)", &dx_only, &dx),
                ("dw (spectra alone)", &dw_only, &dw),
            ] {
                let e = rel(got, want);
                assert!(e < tol, "{name} off by {e:.2e}: {at}");
            }
        }
    }

    #[test]
    fn packed_pairs_match_the_general_passes_f64() {
        pairs_match_general::<f64>(1e-13);
    }

    #[test]
    fn packed_pairs_match_the_general_passes_f32() {
        pairs_match_general::<f32>(2e-6);
    }

    /// The layer runs them on 1-D depthwise layers only.
    #[test]
    fn planned_on_1d_depthwise_layers() {
        let dw1 = ConvSpec {
            groups: 8,
            ..ConvSpec::conv(&[1], Padding::Same, &[1])
        };
        let l = FftConv::<f32>::new(&dw1, &[2, 8, 50], &[8, 1, 9]).unwrap();
        assert!(l.pairs.is_some());
        let dw2 = ConvSpec {
            groups: 8,
            ..ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1])
        };
        let l = FftConv::<f32>::new(&dw2, &[2, 8, 12, 12], &[8, 1, 3, 3]).unwrap();
        assert!(l.pairs.is_none());
        let dense = ConvSpec::conv(&[1], Padding::Same, &[1]);
        let l = FftConv::<f32>::new(&dense, &[2, 8, 50], &[8, 8, 9]).unwrap();
        assert!(l.pairs.is_none());
    }
}
