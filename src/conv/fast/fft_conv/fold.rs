//! The input gradient's fold: each tile window's inverse transform folded back through the
//! padding into `∂x`, stored where a window is the first to reach an input row and added where
//! windows overlap.

use super::*;
use crate::conv::fast::memory::assume_init;
use num_complex::Complex;
use std::mem::MaybeUninit;

/// Which rows of `∂x` the windows store rather than add into (see [`FftConv::fold_plan`]).
pub(super) struct FoldPlan {
    /// Per tile, per window row `j0 · e1 + j1`: whether that row stores its values.
    stores: Vec<Vec<bool>>,
    /// Input rows (`s0 · i1 + s1`) that no window stores first: zeroed before the adds.
    zero: Vec<usize>,
}

impl<T: Scalar> FftConv<T> {
    /// The window rows that can store instead of add. A window row stores when it is the first
    /// (in the fold's order: tiles, then rows) to reach its input row and its runs cover that
    /// row exactly once; every later window row reaching it adds. Zeroing the whole of `∂x`
    /// and adding every window was a memset of `∂x` and a read of it per window (2d-k7: 2.2 %
    /// of the step in `memset`, most of it this).
    pub(super) fn fold_plan(&self, tile_runs: &[Vec<Run>]) -> FoldPlan {
        let lay = &self.lay;
        let [i0, i1, i2] = lay.input;
        let mut stored = vec![false; i0 * i1];
        let mut reached = vec![false; i0 * i1];
        let mut stores = Vec::with_capacity(tile_runs.len());
        for (t, runs) in tile_runs.iter().enumerate() {
            let start = self.window_start(tile_coords(t, &self.tiling));
            let [e0, e1, _] = self.window(start);
            // The runs cover `0 .. i2` exactly once iff, taken in order, each starts where the
            // last ended and the last ends at `i2` (reflected or circular runs that jump back
            // are then not exact; that only costs those rows the zeroing). O(runs), not
            // O(i2): a count per entry was 13 × i2 steps per call on 1d-k65.
            let end = runs
                .iter()
                .try_fold(0, |end, r| (r.from == end).then_some(end + r.len));
            let exact = end == Some(i2);
            let mut here = vec![false; e0 * e1];
            for (j0, j1, row) in self.input_rows(start) {
                if !reached[row] {
                    reached[row] = true;
                    stored[row] = exact;
                    here[j0 * e1 + j1] = exact;
                }
            }
            stores.push(here);
        }
        let zero = (0..i0 * i1).filter(|&r| !stored[r]).collect();
        FoldPlan { stores, zero }
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
        let i2 = lay.input[2];
        let mut dx: Vec<MaybeUninit<T>> = Vec::with_capacity(len);
        // SAFETY: `MaybeUninit` values need no initialisation; each task zeroes the rows of its
        // chunk no window stores (`plan.zero`) and the windows store every other row before
        // any adds into it (`fold_plan`), and `assume_init` comes after.
        unsafe { dx.set_len(len) };
        let mut spectra = dx_hat.spectra_mut();
        dx.par_chunks_mut(lay.in_vol().max(1))
            .zip(spectra.par_chunks_mut(nt))
            .for_each(|(out, tiles)| {
                for &r in &plan.zero {
                    out[r * i2..][..i2].fill(MaybeUninit::new(T::zero()));
                }
                let mut s = self.fft.local_scratch();
                let s = &mut *s;
                let each = tile_runs.iter().zip(&plan.stores).zip(tiles.iter_mut());
                for (tile, ((runs, stores), spectrum)) in each.enumerate() {
                    self.fold_input_grad_tile(s, spectrum, tile, (runs, stores), out);
                }
            });
        // SAFETY: every row was zeroed or stored by its chunk's task above (`fold_plan`).
        let dx = unsafe { assume_init(dx) };
        Tensor::new(shape, dx)
    }

    /// Invert tile `tile`'s input-gradient spectrum (overwritten) and fold its window back
    /// through the padding (`runs` its last axis) into one sample-channel `out`: the rows
    /// `stores` marks are stored, the others added (they hold values already).
    fn fold_input_grad_tile(
        &self,
        s: &mut Scratch<T>,
        spectrum: &mut [Complex<T>],
        tile: usize,
        (runs, stores): (&[Run], &[bool]),
        out: &mut [MaybeUninit<T>],
    ) {
        let (i2, scale) = (self.lay.input[2], self.scale());
        self.window_rows(s, spectrum, tile, |row, src, at| {
            let dst = &mut out[at..][..i2];
            if stores[row] {
                for &Run { at, from, len } in runs {
                    for (d, v) in dst[from..from + len].iter_mut().zip(&src[at..]) {
                        d.write(*v * scale);
                    }
                }
                return;
            }
            // SAFETY: a row no window stores first was zeroed, and one that is stored was
            // stored by an earlier window row (`fold_plan`): every entry is initialised;
            // `MaybeUninit<T>` has the layout of `T`.
            let dst = unsafe { &mut *(dst as *mut [MaybeUninit<T>] as *mut [T]) };
            add_runs(dst, src, runs, scale);
        });
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
        let (i2, scale) = (self.lay.input[2], self.scale());
        self.window_rows(s, spectrum, tile, |_, src, at| {
            add_runs(&mut out[at..][..i2], src, runs, scale);
        });
    }

    /// Invert tile `tile`'s spectrum and hand each window row that lands inside the input to
    /// `each`: its index `j0 · e1 + j1` in the window, its values, and the offset of the input
    /// row it folds onto (`(s0 · i1 + s1) · i2` in a sample-channel).
    fn window_rows(
        &self,
        s: &mut Scratch<T>,
        spectrum: &mut [Complex<T>],
        tile: usize,
        mut each: impl FnMut(usize, &[T], usize),
    ) {
        let [_, t1, t2] = self.tiling.period();
        let i2 = self.lay.input[2];
        let start = self.window_start(tile_coords(tile, &self.tiling));
        let [e0, e1, e2] = self.window(start);
        let full = self.invert(s, spectrum, [e0, e1]);
        for (j0, j1, row) in self.input_rows(start) {
            each(j0 * e1 + j1, &full[(j0 * t1 + j1) * t2..][..e2], row * i2);
        }
    }

    /// The rows of the window starting at `start` that fall on the input (not on zero
    /// padding), in order, as `(j0, j1, s0·i1 + s1)`: window row `(j0, j1)` and the input row
    /// it reads through the padding maps. The fold's plan and the fold itself walk the same
    /// rows, so they take them from here.
    fn input_rows(&self, start: [usize; 3]) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        let maps = &self.lay.maps;
        let i1 = self.lay.input[1];
        let [e0, e1, _] = self.window(start);
        (0..e0)
            .filter_map(move |j0| maps[0][start[0] + j0].map(|s0| (j0, s0)))
            .flat_map(move |(j0, s0)| {
                (0..e1)
                    .filter_map(move |j1| maps[1][start[1] + j1].map(|s1| (j0, j1, s0 * i1 + s1)))
            })
    }
}

/// `dst[from + k] += src[at + k] · scale` for each run.
fn add_runs<T: Scalar>(dst: &mut [T], src: &[T], runs: &[Run], scale: T) {
    for &Run { at, from, len } in runs {
        for (d, v) in dst[from..from + len].iter_mut().zip(&src[at..]) {
            *d = *d + *v * scale;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::fast::tests::rel;
    use crate::conv::{Algorithm, Padding};
    use crate::op::PadMode;

    /// A layer: spec, x shape, w shape, tile blocks, and whether some rows are left to zero.
    type Case = (ConvSpec, Vec<usize>, Vec<usize>, Vec<usize>, bool);

    /// `∂x` with stored first rows equals the direct conv's: zero padding with one window per
    /// row (nothing zeroed) and with several (short windows on the last axis, as 1-D tiles:
    /// zeroed rows),
    /// reflected and circular padding (a window reaching an input entry twice), strided,
    /// dilated and grouped, 1-D to 3-D.
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
                true,
            ),
            (
                reflect,
                vec![1, 2, 12, 11],
                vec![3, 2, 4, 4],
                vec![5, 11],
                true,
            ),
            (
                circular,
                vec![2, 2, 9, 10],
                vec![2, 2, 3, 5],
                vec![4, 10],
                true,
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
            assert_eq!(!plan.zero.is_empty(), zeroes, "rows zeroed: {at}");
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
