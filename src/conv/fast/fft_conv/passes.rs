//! The passes of the fused FFT layer ([`FftConv`]): where each tile's window sits, the
//! spectra of the input, the weights and the cotangent (pruned real transforms into the
//! blocked layout), and the three channel contractions with their inverse transforms (forward,
//! `∂x`, `∂w`). The parent module plans the layer and runs these in the order a call needs.

use super::*;
use crate::conv::fast::memory::{assume_init, prefetch_lines};
use num_complex::Complex;
use std::mem::MaybeUninit;

impl<T: Scalar> FftConv<T> {
    pub(super) fn spatial(&self, e: [usize; 3]) -> Vec<usize> {
        e[3 - self.geometry.rank()..].to_vec()
    }

    pub(super) fn tiles(&self) -> usize {
        self.tiling.tiles()
    }

    /// First padded-input position of tile `t`'s window, per axis.
    pub(super) fn window_start(&self, t: [usize; 3]) -> [usize; 3] {
        [0, 1, 2].map(|a| t[a] * self.tiling.axes[a].block * self.lay.stride[a])
    }

    /// Extent of tile `t`'s window inside the padded input, per axis.
    pub(super) fn window(&self, start: [usize; 3]) -> [usize; 3] {
        [0, 1, 2].map(|a| {
            self.tiling.axes[a]
                .period
                .min(self.lay.padded[a] - start[a])
        })
    }

    /// Outputs of tile `t` within `extent` (0 where the tile lies beyond it), per axis.
    pub(super) fn outputs(&self, t: [usize; 3], extent: [usize; 3]) -> [usize; 3] {
        [0, 1, 2].map(|a| {
            let blk = self.tiling.axes[a].block;
            blk.min(extent[a].saturating_sub(t[a] * blk))
        })
    }

    /// Per tile, its window's last axis as runs of consecutive input entries (the same for
    /// every sample, channel and row).
    pub(super) fn tile_runs(&self) -> Vec<Vec<Run>> {
        (0..self.tiles())
            .map(|t| {
                let start = self.window_start(tile_coords(t, &self.tiling));
                let e2 = self.window(start)[2];
                runs(&self.lay.maps[2][start[2]..][..e2])
            })
            .collect()
    }

    /// Sample-channel `i` of `data` (`vol` values each) for the window fills to prefetch, if
    /// there is one and the layer has more than one spatial axis: a 1-D window is one
    /// contiguous run, which the hardware prefetcher streams (prefetching it measured slower
    /// on 1d-k65).
    pub(super) fn next_channel<'d>(&self, data: &'d [T], i: usize, vol: usize) -> Option<&'d [T]> {
        if self.geometry.rank() < 2 {
            return None;
        }
        data.get(i * vol..(i + 1) * vol)
    }

    /// Spectra of the padded conv input's tile windows, one per `(n, c, tile)`.
    pub(super) fn input_spectra(&self, x: &Tensor<T>) -> BlockedSpectra<T> {
        let lay = &self.lay;
        let tile_runs = self.tile_runs();
        let nt = self.tiles();
        let mut out = BlockedSpectra::dirty(lay.n * lay.c_in * nt, self.fft.bins());
        let in_vol = lay.in_vol().max(1);
        out.spectra_mut()
            .into_par_iter()
            .chunks(nt)
            .zip(x.data().par_chunks(in_vol))
            .enumerate()
            .for_each(|(nc, (sigs, ch))| {
                let mut s = self.fft.local_scratch();
                let s = &mut *s;
                let next = self.next_channel(x.data(), nc + 1, in_vol);
                for (t, sig) in sigs.into_iter().enumerate() {
                    let runs = &tile_runs[t];
                    let [e0, e1] = self.fill_input_window(s.real_mut(), ch, next, t, runs);
                    self.fft.forward_into(s, [e0, e1], sig);
                }
            });
        out
    }

    /// Fill the real buffer with tile `t`'s window of one sample-channel `ch` of the conv
    /// input (through the padding maps; `runs` its last axis, [`tile_runs`](Self::tile_runs));
    /// returns the rows `[e0, e1]` the window has (every other row is left unread). The same
    /// rows of `next` (the sample-channel a task fills next, if any) are prefetched, one row
    /// per row copied: the copies waited on the input's lines (5 % of the 2d-dw31 profile,
    /// 4 % of 2d-k7's), which then arrive while this window is transformed.
    pub(super) fn fill_input_window(
        &self,
        real: &mut [T],
        ch: &[T],
        next: Option<&[T]>,
        t: usize,
        runs: &[Run],
    ) -> [usize; 2] {
        let lay = &self.lay;
        let [_, t1, t2] = self.tiling.period();
        let i2 = lay.input[2];
        let i12 = lay.input[1] * i2;
        let start = self.window_start(tile_coords(t, &self.tiling));
        let [e0, e1, _] = self.window(start);
        for j0 in 0..e0 {
            let s0 = lay.maps[0][start[0] + j0];
            for j1 in 0..e1 {
                let s1 = lay.maps[1][start[1] + j1];
                let row = &mut real[(j0 * t1 + j1) * t2..][..t2];
                if let (Some(s0), Some(s1)) = (s0, s1) {
                    let src = &ch[s0 * i12 + s1 * i2..][..i2];
                    if let Some(next) = next {
                        prefetch_lines(&next[s0 * i12 + s1 * i2..][..i2]);
                    }
                    // Runs are in window order: zero only the gaps between them.
                    let mut end = 0;
                    for &Run { at, from, len } in runs {
                        row[end..at].fill(T::zero());
                        row[at..at + len].copy_from_slice(&src[from..from + len]);
                        end = at + len;
                    }
                    row[end..].fill(T::zero());
                } else {
                    row.fill(T::zero());
                }
            }
        }
        [e0, e1]
    }

    /// Spectra of the dilated kernels placed at the origin of a tile, one per `(o, c)`.
    pub(super) fn weight_spectra(&self, w: &Tensor<T>) -> BlockedSpectra<T> {
        let lay = &self.lay;
        let mut out = BlockedSpectra::dirty(lay.c_out * lay.cg, self.fft.bins());
        out.spectra_mut()
            .into_par_iter()
            .zip(w.data().par_chunks(lay.k_vol()))
            .for_each(|(sig, ch)| {
                let mut s = self.fft.local_scratch();
                let s = &mut *s;
                let rows = self.fill_kernel(s.real_mut(), ch);
                self.fft.forward_into(s, rows, sig);
            });
        out
    }

    /// The real buffer holding the dilated kernel `ch` (one `(o, c)`) at the origin; returns
    /// its nonzero rows.
    pub(super) fn fill_kernel(&self, real: &mut [T], ch: &[T]) -> [usize; 2] {
        let (k, dl) = (self.lay.kernel, self.lay.dilation);
        let ke = [0, 1, 2].map(|a| (k[a] - 1) * dl[a] + 1);
        let rows = [ke[0], ke[1]];
        place_zero_inserted(real, self.tiling.period(), rows, dl, |i0, i1| {
            &ch[(i0 * k[1] + i1) * k[2]..][..k[2]]
        });
        rows
    }

    /// Spectra of conv output cotangents, zero-inserted at the strided positions of each tile,
    /// one per `(n, o, tile)`; `t` may be shorter than the conv output on any axis (missing
    /// entries are zeros).
    pub(super) fn cotangent_spectra(&self, t: &Tensor<T>) -> BlockedSpectra<T> {
        let lay = &self.lay;
        let nt = self.tiles();
        let mut e = [1; 3];
        e[3 - self.geometry.rank()..].copy_from_slice(&t.shape()[2..]);
        let vol: usize = e.iter().product();
        let mut out = BlockedSpectra::dirty(lay.n * lay.c_out * nt, self.fft.bins());
        out.spectra_mut()
            .into_par_iter()
            .chunks(nt)
            .zip(t.data().par_chunks(vol.max(1)))
            .enumerate()
            .for_each(|(nc, (sigs, ch))| {
                let mut s = self.fft.local_scratch();
                let s = &mut *s;
                let next = self.next_channel(t.data(), nc + 1, vol);
                for (tile, sig) in sigs.into_iter().enumerate() {
                    match self.fill_cotangent_window(s.real_mut(), ch, next, tile, e) {
                        Some(rows) => self.fft.forward_into(s, rows, sig),
                        // An all-zero window: so is its spectrum.
                        None => sig.fill(Complex::new(T::zero(), T::zero())),
                    }
                }
            });
        out
    }

    /// The real buffer holding tile `tile`'s window of one sample-channel `ch` of a cotangent
    /// of extent `e`, zero-inserted at the strided positions; returns its nonzero rows, or
    /// `None` where the tile lies past the cotangent (an all-zero window, left unfilled). The
    /// same rows of `next` (the sample-channel filled next) are prefetched, as in
    /// [`fill_input_window`](Self::fill_input_window).
    pub(super) fn fill_cotangent_window(
        &self,
        real: &mut [T],
        ch: &[T],
        next: Option<&[T]>,
        tile: usize,
        e: [usize; 3],
    ) -> Option<[usize; 2]> {
        let st = self.lay.stride;
        let tc = tile_coords(tile, &self.tiling);
        let cnt = self.outputs(tc, e);
        if cnt.contains(&0) {
            return None;
        }
        let first = [0, 1, 2].map(|a| tc[a] * self.tiling.axes[a].block);
        let rows = [0, 1].map(|a| (cnt[a] - 1) * st[a] + 1);
        place_zero_inserted(real, self.tiling.period(), rows, st, |i0, i1| {
            let at = ((first[0] + i0) * e[1] + first[1] + i1) * e[2] + first[2];
            if let Some(next) = next {
                prefetch_lines(&next[at..][..cnt[2]]);
            }
            &ch[at..][..cnt[2]]
        });
        Some(rows)
    }

    /// Inverse transform of `spectrum` (overwritten) into the scratch's real buffer,
    /// computing rows `rows`; returns the buffer (to be scaled by [`scale`](Self::scale)).
    pub(super) fn invert<'s>(
        &self,
        s: &'s mut Scratch<T>,
        spectrum: &mut [Complex<T>],
        rows: [usize; 2],
    ) -> &'s [T] {
        self.fft.inverse_from(s, spectrum, rows)
    }

    pub(super) fn scale(&self) -> T {
        T::one() / T::of(self.fft.real_len() as f64)
    }

    /// The conv's output from input spectra, read at the strided positions within `extent`.
    pub(super) fn conv_output(
        &self,
        x_hat: &BlockedSpectra<T>,
        w_hat: &BlockedSpectra<T>,
        extent: [usize; 3],
    ) -> Result<Tensor<T>> {
        let lay = &self.lay;
        let nt = self.tiles();
        let (ci, co, cg, og) = (lay.c_in, lay.c_out, lay.cg, lay.og);
        let mut y_hat = BlockedSpectra::dirty(lay.n * co * nt, self.fft.bins());
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
        let vol: usize = extent.iter().product();
        let shape = [vec![lay.n, co], self.spatial(extent)].concat();
        let mut y = self.output_buffer(lay.n * co * vol, extent);
        let mut spectra = y_hat.spectra_mut();
        y.par_chunks_mut(vol.max(1))
            .zip(spectra.par_chunks_mut(nt))
            .for_each(|(out, tiles)| {
                let mut s = self.fft.local_scratch();
                let s = &mut *s;
                for (tile, spectrum) in tiles.iter_mut().enumerate() {
                    self.write_output_tile(s, spectrum, tile, extent, out);
                }
            });
        // SAFETY: zeros where the tiles do not cover `extent`; where they do, the loop above
        // wrote every entry (the tiles' output ranges are disjoint and their counts add up to
        // the extent, `covers`).
        let y = unsafe { assume_init(y) };
        Tensor::new(shape, y)
    }

    /// The buffer of a conv output of `len` values within `extent`: zeros where the tiles do
    /// not cover it, else left for [`write_output_tile`](Self::write_output_tile) to write.
    pub(super) fn output_buffer(&self, len: usize, extent: [usize; 3]) -> Vec<MaybeUninit<T>> {
        let mut y: Vec<MaybeUninit<T>> = Vec::with_capacity(len);
        if self.covers(extent) {
            // SAFETY: `MaybeUninit` values need no initialisation; the callers write every
            // entry (the tiles cover the extent) before `assume_init` reads them as `T`.
            unsafe { y.set_len(len) };
        } else {
            y.resize(len, MaybeUninit::new(T::zero()));
        }
        y
    }

    /// Invert tile `tile`'s output spectrum (overwritten) and write its outputs within
    /// `extent`, read at the strided positions and scaled, into one sample-channel `out`.
    pub(super) fn write_output_tile(
        &self,
        s: &mut Scratch<T>,
        spectrum: &mut [Complex<T>],
        tile: usize,
        extent: [usize; 3],
        out: &mut [MaybeUninit<T>],
    ) {
        let [_, t1, t2] = self.tiling.period();
        let st = self.lay.stride;
        let scale = self.scale();
        let tc = tile_coords(tile, &self.tiling);
        let cnt = self.outputs(tc, extent);
        if cnt.contains(&0) {
            return;
        }
        let first = [0, 1, 2].map(|a| tc[a] * self.tiling.axes[a].block);
        let rows = [(cnt[0] - 1) * st[0] + 1, (cnt[1] - 1) * st[1] + 1];
        let full = self.invert(s, spectrum, rows);
        for i0 in 0..cnt[0] {
            for i1 in 0..cnt[1] {
                let src = &full[(i0 * st[0] * t1 + i1 * st[1]) * t2..];
                let dst = &mut out
                    [((first[0] + i0) * extent[1] + first[1] + i1) * extent[2] + first[2]..]
                    [..cnt[2]];
                // Unit stride apart: a strided index does not vectorise.
                if st[2] == 1 {
                    for (d, v) in dst.iter_mut().zip(src) {
                        d.write(*v * scale);
                    }
                } else {
                    for (d, v) in dst.iter_mut().zip(src.iter().step_by(st[2])) {
                        d.write(*v * scale);
                    }
                }
            }
        }
    }

    /// Whether the tiles' outputs within `extent` are all of it: tiles cover disjoint ranges
    /// inside `extent`, so it is enough that their counts add up to its volume.
    pub(super) fn covers(&self, extent: [usize; 3]) -> bool {
        let counted: usize = (0..self.tiles())
            .map(|t| {
                self.outputs(tile_coords(t, &self.tiling), extent)
                    .iter()
                    .product::<usize>()
            })
            .sum();
        counted == extent.iter().product::<usize>()
    }

    /// The conv's weight gradient from cotangent and input spectra (summed over the batch and
    /// the tiles before one inverse transform per weight).
    pub(super) fn conv_weight_grad(
        &self,
        g_hat: &BlockedSpectra<T>,
        x_hat: &BlockedSpectra<T>,
    ) -> Result<Tensor<T>> {
        let lay = &self.lay;
        let p = Product {
            groups: lay.groups,
            rows: lay.og,
            cols: lay.cg,
            depth: lay.n * self.tiles(),
            conj: Conj::A,
        };
        self.weight_grad_by(g_hat, x_hat, &p, each_pays(&p))
    }

    /// [`conv_weight_grad`](Self::conv_weight_grad) for its product `p`, each spectrum
    /// inverted as it is computed when `stream` (else from the stored set of them).
    pub(super) fn weight_grad_by(
        &self,
        g_hat: &BlockedSpectra<T>,
        x_hat: &BlockedSpectra<T>,
        p: &Product,
        stream: bool,
    ) -> Result<Tensor<T>> {
        let lay = &self.lay;
        let nt = self.tiles();
        let (ci, co, cg, og) = (lay.c_in, lay.c_out, lay.cg, lay.og);
        let g_at = |g: usize, i: usize, k: usize| ((k / nt) * co + g * og + i) * nt + k % nt;
        let x_at = |g: usize, k: usize, j: usize| ((k / nt) * ci + g * cg + j) * nt + k % nt;
        let shape = [vec![co, cg], self.spatial(lay.kernel)].concat();
        let len = co * cg * lay.k_vol();
        let mut dw: Vec<MaybeUninit<T>> = Vec::with_capacity(len);
        // SAFETY: `MaybeUninit` values need no initialisation; `write_kernel_grad` writes every
        // tap of each `(o, c)` chunk, and every chunk is handed to it once below.
        unsafe { dw.set_len(len) };
        if stream {
            // Few terms per output: invert each spectrum as it is computed (see
            // `contract_each`) rather than store the set of `co · cg` spectra.
            let outs: Vec<std::sync::Mutex<&mut [MaybeUninit<T>]>> = dw
                .chunks_mut(lay.k_vol().max(1))
                .map(std::sync::Mutex::new)
                .collect();
            contract_each(p, g_hat, g_at, x_hat, x_at, |g, i, j, spectrum| {
                let mut out = outs[(g * og + i) * cg + j]
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                let mut s = self.fft.local_scratch();
                self.write_kernel_grad(&mut s, spectrum, &mut out);
            });
        } else {
            let mut dw_hat = BlockedSpectra::dirty(co * cg, self.fft.bins());
            contract(
                p,
                &mut dw_hat,
                |g, i, j| (g * og + i) * cg + j,
                g_hat,
                g_at,
                x_hat,
                x_at,
            );
            dw.par_chunks_mut(lay.k_vol().max(1))
                .zip(dw_hat.spectra_mut())
                .for_each(|(out, spectrum)| {
                    let mut s = self.fft.local_scratch();
                    let s = &mut *s;
                    self.write_kernel_grad(s, spectrum, out);
                });
        }
        // SAFETY: every chunk was written by `write_kernel_grad` above.
        let dw = unsafe { assume_init(dw) };
        Tensor::new(shape, dw)
    }

    /// Invert one weight-gradient spectrum (overwritten) and write the kernel taps it holds,
    /// scaled, into `out` (one `(o, c)`).
    pub(super) fn write_kernel_grad(
        &self,
        s: &mut Scratch<T>,
        spectrum: &mut [Complex<T>],
        out: &mut [MaybeUninit<T>],
    ) {
        let [_, t1, t2] = self.tiling.period();
        let (k, dl) = (self.lay.kernel, self.lay.dilation);
        let ke = [0, 1, 2].map(|a| (k[a] - 1) * dl[a] + 1);
        let scale = self.scale();
        let full = self.invert(s, spectrum, [ke[0], ke[1]]);
        for k0 in 0..k[0] {
            for k1 in 0..k[1] {
                let src = &full[(k0 * dl[0] * t1 + k1 * dl[1]) * t2..];
                let dst = &mut out[(k0 * k[1] + k1) * k[2]..][..k[2]];
                if dl[2] == 1 {
                    for (d, v) in dst.iter_mut().zip(src) {
                        d.write(*v * scale);
                    }
                } else {
                    for (d, v) in dst.iter_mut().zip(src.iter().step_by(dl[2])) {
                        d.write(*v * scale);
                    }
                }
            }
        }
    }
}

/// Rows `(j0, j1)` below `rows` of a period's real buffer (`[T0][T1][T2]`) from source rows
/// zero-inserted at `step` (a kernel's dilation, a cotangent's stride): where `j0` and `j1`
/// are multiples of their steps the row is `src(j0 / step0, j1 / step1)` [`spread`] at
/// `step2`, every other row zeros. Each row is written once.
fn place_zero_inserted<'a, T: Scalar>(
    real: &mut [T],
    [_, t1, t2]: [usize; 3],
    rows: [usize; 2],
    step: [usize; 3],
    src: impl Fn(usize, usize) -> &'a [T],
) {
    for j0 in 0..rows[0] {
        for j1 in 0..rows[1] {
            let row = &mut real[(j0 * t1 + j1) * t2..][..t2];
            if j0.is_multiple_of(step[0]) && j1.is_multiple_of(step[1]) {
                spread(src(j0 / step[0], j1 / step[1]), step[2], row);
            } else {
                row.fill(T::zero());
            }
        }
    }
}

/// `row` holding `values` every `step` entries from its start and zeros elsewhere, each entry
/// written once (a zeroing pass and then the values was a memset and a store stall per row on
/// the 2d-k31-dense weights).
fn spread<T: Scalar>(values: &[T], step: usize, row: &mut [T]) {
    if step == 1 {
        let (head, tail) = row.split_at_mut(values.len());
        head.copy_from_slice(values);
        tail.fill(T::zero());
    } else {
        row.fill(T::zero());
        for (d, &v) in row.iter_mut().step_by(step).zip(values) {
            *d = v;
        }
    }
}
