//! The input gradient's fold: each tile window's inverse transform folded back through the
//! padding into `∂x`, stored where a window is the first to reach an input entry and added
//! where windows overlap.

use super::*;
use crate::conv::fast::memory::assume_init;
use num_complex::Complex;
use std::mem::MaybeUninit;

/// A piece of a [`Run`] whose input entries are all reached first here (`store`) or all
/// reached before (added into).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Piece {
    at: usize,
    from: usize,
    len: usize,
    store: bool,
}

/// Where in `∂x` the windows store rather than add (see [`FftConv::fold_plan`]).
pub(super) struct FoldPlan {
    /// Per tile, per window row `j0 · e1 + j1`: its runs cut into pieces (none where the row
    /// is padding).
    pieces: Vec<Vec<Vec<Piece>>>,
    /// Ranges `(start, len)` of a sample-channel's entries no window reaches: zeroed.
    zero: Vec<(usize, usize)>,
}

impl<T: Scalar> FftConv<T> {
    /// Which window entries store and which add. In the fold's order (tiles, then window rows,
    /// then runs), the first to reach an input entry stores it and every later one adds; only
    /// entries no window reaches are zeroed. Zeroing the whole of `∂x` and adding every window
    /// was a memset of `∂x` and a read of it per window (2d-k7: 2.2 % of the step in `memset`,
    /// most of it this).
    pub(super) fn fold_plan(&self, tile_runs: &[Vec<Run>]) -> FoldPlan {
        let lay = &self.lay;
        let [i0, i1, i2] = lay.input;
        let mut reached = vec![false; i0 * i1 * i2];
        let mut pieces = Vec::with_capacity(tile_runs.len());
        for (t, runs) in tile_runs.iter().enumerate() {
            let start = self.window_start(tile_coords(t, &self.tiling));
            let [e0, e1, _] = self.window(start);
            let mut here = vec![Vec::new(); e0 * e1];
            for j0 in 0..e0 {
                let Some(s0) = lay.maps[0][start[0] + j0] else {
                    continue;
                };
                for j1 in 0..e1 {
                    let Some(s1) = lay.maps[1][start[1] + j1] else {
                        continue;
                    };
                    let row = &mut reached[(s0 * i1 + s1) * i2..][..i2];
                    let cut: &mut Vec<Piece> = &mut here[j0 * e1 + j1];
                    for r in runs {
                        for k in 0..r.len {
                            let store = !row[r.from + k];
                            row[r.from + k] = true;
                            match cut.last_mut() {
                                Some(p)
                                    if p.store == store
                                        && p.at + p.len == r.at + k
                                        && p.from + p.len == r.from + k =>
                                {
                                    p.len += 1
                                }
                                _ => cut.push(Piece {
                                    at: r.at + k,
                                    from: r.from + k,
                                    len: 1,
                                    store,
                                }),
                            }
                        }
                    }
                }
            }
            pieces.push(here);
        }
        let mut zero: Vec<(usize, usize)> = Vec::new();
        for (at, _) in reached.iter().enumerate().filter(|(_, &r)| !r) {
            match zero.last_mut() {
                Some((from, len)) if *from + *len == at => *len += 1,
                _ => zero.push((at, 1)),
            }
        }
        FoldPlan { pieces, zero }
    }

    /// The conv's input gradient from cotangent spectra: each window's gradient folded back
    /// through the padding, stored or added as `fold_plan` says.
    pub(super) fn conv_input_grad(
        &self,
        g_hat: &BlockedSpectra<T>,
        w_hat: &BlockedSpectra<T>,
    ) -> Result<Tensor<T>> {
        let lay = &self.lay;
        let nt = self.tiles();
        let tile_runs = self.tile_runs();
        let plan = self.fold_plan(&tile_runs);
        let (ci, co, cg, og) = (lay.c_in, lay.c_out, lay.cg, lay.og);
        let mut dx_hat = BlockedSpectra::dirty(lay.n * ci * nt, self.fft.bins());
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
        let shape = [vec![lay.n, ci], self.spatial(lay.input)].concat();
        let len = lay.n * ci * lay.in_vol();
        let mut dx: Vec<MaybeUninit<T>> = Vec::with_capacity(len);
        // SAFETY: `MaybeUninit` values need no initialisation; each task zeroes the entries of
        // its chunk no window reaches (`plan.zero`) and the windows store every other entry
        // before any adds into it (`fold_plan`), and `assume_init` comes after.
        unsafe { dx.set_len(len) };
        let mut spectra = dx_hat.spectra_mut();
        dx.par_chunks_mut(lay.in_vol().max(1))
            .zip(spectra.par_chunks_mut(nt))
            .for_each(|(out, tiles)| {
                for &(at, len) in &plan.zero {
                    out[at..][..len].fill(MaybeUninit::new(T::zero()));
                }
                let mut s = self.fft.local_scratch();
                let s = &mut *s;
                for (tile, (pieces, spectrum)) in
                    plan.pieces.iter().zip(tiles.iter_mut()).enumerate()
                {
                    self.fold_input_grad_tile(s, spectrum, tile, pieces, out);
                }
            });
        // SAFETY: every entry was zeroed or stored by its chunk's task above (`fold_plan`).
        let dx = unsafe { assume_init(dx) };
        Tensor::new(shape, dx)
    }

    /// Invert tile `tile`'s input-gradient spectrum (overwritten) and fold its window back
    /// through the padding into one sample-channel `out`, each window row as its `pieces`
    /// (`fold_plan`): stored, or added (those entries hold values already).
    fn fold_input_grad_tile(
        &self,
        s: &mut Scratch<T>,
        spectrum: &mut [Complex<T>],
        tile: usize,
        pieces: &[Vec<Piece>],
        out: &mut [MaybeUninit<T>],
    ) {
        let lay = &self.lay;
        let [_, t1, t2] = self.tiling.period();
        let [_, i1, i2] = lay.input;
        let scale = self.scale();
        let start = self.window_start(tile_coords(tile, &self.tiling));
        let [e0, e1, e2] = self.window(start);
        let full = self.invert(s, spectrum, [e0, e1]);
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
                for &Piece {
                    at,
                    from,
                    len,
                    store,
                } in &pieces[j0 * e1 + j1]
                {
                    let (d, v) = (&mut dst[from..from + len], &src[at..at + len]);
                    if store {
                        for (d, v) in d.iter_mut().zip(v) {
                            d.write(*v * scale);
                        }
                    } else {
                        // SAFETY: these entries were stored by an earlier piece (`fold_plan`),
                        // so they are initialised; `MaybeUninit<T>` has the layout of `T`.
                        let d = unsafe { &mut *(d as *mut [MaybeUninit<T>] as *mut [T]) };
                        for (d, v) in d.iter_mut().zip(v) {
                            *d = *d + *v * scale;
                        }
                    }
                }
            }
        }
    }

    /// Invert tile `tile`'s input-gradient spectrum (overwritten) and add its window, folded
    /// back through the padding (`runs` its last axis), into one sample-channel `out` (for the
    /// depthwise pass, which skips the windows past the cotangent).
    pub(super) fn add_input_grad_tile(
        &self,
        s: &mut Scratch<T>,
        spectrum: &mut [Complex<T>],
        tile: usize,
        runs: &[Run],
        out: &mut [T],
    ) {
        let lay = &self.lay;
        let [_, t1, t2] = self.tiling.period();
        let [_, i1, i2] = lay.input;
        let scale = self.scale();
        let start = self.window_start(tile_coords(tile, &self.tiling));
        let [e0, e1, e2] = self.window(start);
        let full = self.invert(s, spectrum, [e0, e1]);
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::fast::tests::rel;
    use crate::conv::{Algorithm, Padding};
    use crate::op::PadMode;

    /// A layer: spec, x shape, w shape, tile blocks, and whether some entries are left to zero.
    type Case = (ConvSpec, Vec<usize>, Vec<usize>, Vec<usize>, bool);

    /// `∂x` with stored first entries equals the direct conv's: zero padding with one window
    /// and several per row (1-D tiles), input entries no window reaches (zeroed), reflected and
    /// circular padding (a window reaching an input entry twice), strided, dilated and
    /// grouped, 1-D to 3-D.
    fn folded_input_grad_matches<T: Scalar>(tol: f64) {
        let reflect = ConvSpec {
            padding: Padding::Explicit(vec![(2, 1), (1, 2)]),
            padding_mode: PadMode::Reflect,
            ..ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1])
        };
        let circular = ConvSpec {
            padding_mode: PadMode::Circular,
            ..ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1])
        };
        let same = ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1]);
        let cases: Vec<Case> = vec![
            (
                same.clone(),
                vec![2, 3, 20, 16],
                vec![4, 3, 7, 7],
                vec![6, 16],
                false,
            ),
            (
                same.clone(),
                vec![1, 3, 13, 17],
                vec![2, 3, 5, 3],
                vec![4, 5],
                false,
            ),
            (
                reflect,
                vec![1, 2, 12, 11],
                vec![3, 2, 4, 4],
                vec![5, 11],
                false,
            ),
            (
                circular,
                vec![2, 2, 9, 10],
                vec![2, 2, 3, 5],
                vec![4, 10],
                false,
            ),
            (
                ConvSpec::conv(&[2, 1], Padding::Same, &[1, 2]),
                vec![2, 4, 13, 11],
                vec![3, 4, 3, 4],
                vec![4, 11],
                false,
            ),
            (
                ConvSpec {
                    groups: 2,
                    ..ConvSpec::conv(&[1], Padding::Valid, &[1])
                },
                vec![1, 4, 40],
                vec![4, 2, 5],
                vec![9],
                false,
            ),
            (
                ConvSpec::conv(&[3], Padding::Valid, &[1]),
                vec![2, 3, 24],
                vec![2, 3, 2],
                vec![2],
                true,
            ),
            (
                ConvSpec::conv(&[1, 1, 1], Padding::Same, &[1, 1, 1]),
                vec![1, 2, 5, 6, 4],
                vec![3, 2, 3, 3, 2],
                vec![2, 3, 4],
                false,
            ),
        ];
        for (spec, xs, ws, blocks, zeroes) in cases {
            let at = format!("{} {spec:?} x {xs:?} w {ws:?} blocks {blocks:?}", T::NAME);
            let layer = FftConv::<T>::with_blocks(&spec, &xs, &ws, &blocks).unwrap();
            let plan = layer.fold_plan(&layer.tile_runs());
            assert_eq!(!plan.zero.is_empty(), zeroes, "entries zeroed: {at}");
            let w = Tensor::<T>::randn(&ws, 2);
            let x = Tensor::<T>::randn(&xs, 1);
            let dy = Tensor::<T>::randn(&layer.geometry.y_shape(), 3);
            let dx = layer
                .conv_input_grad(&layer.cotangent_spectra(&dy), &layer.weight_spectra(&w))
                .unwrap();
            let want = crate::conv::backward(&spec, &x, &w, &dy, false, Algorithm::Direct)
                .unwrap()
                .dx;
            let e = rel(&dx, &want);
            assert!(e < tol, "dx off by {e:.2e}: {at}");
        }
    }

    #[test]
    fn folded_input_grad_matches_direct_f64() {
        folded_input_grad_matches::<f64>(1e-12);
    }

    #[test]
    fn folded_input_grad_matches_direct_f32() {
        folded_input_grad_matches::<f32>(2e-5);
    }
}
