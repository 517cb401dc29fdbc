//! A real 3-axis FFT on a fixed period that skips the lines known to be zero on the way in and
//! the lines nobody reads on the way out, with its columns transformed in contiguous batches.
//!
//! For a period `$T = (T_0, T_1, T_2)$` (leading extents may be 1) the forward transform is
//! `$\hat x_{k} = \sum_{j} x_{j}\, e^{-2\pi i \sum_a j_a k_a / T_a}$` over the half spectrum
//! `$k_2 < H = \lfloor T_2/2 \rfloor + 1$`. It runs in three stages:
//!
//! 1. real-to-complex transforms of the rows `$(j_0, j_1)$` with `$j_0 < e_0$`, `$j_1 < e_1$` (the
//!    *nonzero extent* the caller promises; every other row is zero and is not transformed);
//! 2. for each `$j_0 < e_0$`, the plane `$[T_1][H]$` is transposed to `$[H][T_1]$` and its `$H$`
//!    columns transformed in one batch;
//! 3. the result, `$[T_0][H\,T_1]$`, is transposed to `$[H\,T_1][T_0]$` (rows `$j_0 \ge e_0$` as
//!    zeros) and its columns transformed in one batch.
//!
//! The spectrum is left in the order `$[H][T_1][T_0]$` — a permutation of the bins that every
//! signal of a plan shares, which is all a pointwise product needs. The inverse runs the
//! stages backwards and computes only the output rows `$j_0 < r_0$`, `$j_1 < r_1$` the caller asks
//! for. It is unnormalised: `inverse(forward(x)) = (Π T_a) · x` on the rows computed.
//!
//! Where it measured faster ([`Columns`]: `f32` with AVX-512, 5-smooth column extents) stages
//! 2 and 3 run instead *vertically* in place
//! (`pruned_fft/vertical.rs`): each butterfly combines whole rows of `$[T_0][T_1][H]$`, so neither
//! transpose is needed, and the spectrum stays in that layout with axes 0 and 1 in
//! digit-reversed order ([`PrunedRfft::bin`] maps a bin to its place). On 3-D periods with
//! columns of at most 64 only stage 3 runs vertically ([`Columns::Mixed`]): stage 2 transposes
//! each plane out and transforms it back with rustfft, leaving `$[T_0][H][T_1]$`.
//!
//! Pruning pays where the signal is small in its period: a 7×7 kernel in a 70×70 period needs
//! 7 of the 70 row transforms forward, and its gradient 7 of the 70 rows back.
//!
//! ```
//! use fftconv::conv::fast::pruned_fft::PrunedRfft;
//! let plan = PrunedRfft::<f64>::plan([1, 4, 6]);
//! let mut s = plan.scratch();
//! let x: Vec<f64> = (0..24).map(|i| (i % 5) as f64).collect();
//! s.real_mut().copy_from_slice(&x);
//! let spec = plan.forward(&mut s, [1, 4]).to_vec();
//! assert!((spec[0].re - x.iter().sum::<f64>()).abs() < 1e-12); // the DC bin comes first
//! plan.spectrum_mut(&mut s).copy_from_slice(&spec);
//! let back = plan.inverse(&mut s, [1, 4]);
//! assert!(back.iter().zip(&x).all(|(b, x)| (b / 24.0 - x).abs() < 1e-12));
//! ```

use super::memory::Aligned;
use crate::fft::cached_plan;
use crate::tensor::Scalar;
use num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};
use std::sync::Arc;

mod columns;
mod halfcomplex;
mod paired;
mod rows;
mod scratch;
mod transpose;
mod vertical;
pub use columns::Columns;
use rows::RowBatch;
pub use scratch::LocalScratch;
use transpose::transpose;
use vertical::Vertical;

/// The planned transform for one period (plain data: the plans of each axis).
pub struct PrunedRfft<T: Scalar> {
    period: [usize; 3],
    half: usize,
    r2c: Arc<dyn RealToComplex<T>>,
    c2r: Arc<dyn ComplexToReal<T>>,
    /// The rows in batches of complex lines where that runs faster than realfft (`f32` with
    /// AVX2: [`halfcomplex`], or [`paired`] lines on the lengths where that pays).
    batch: Option<RowBatch<T>>,
    /// Complex plans of axes 0 and 1 (`None` where the extent is 1 or the columns run
    /// vertically).
    forward_axes: [Option<Arc<dyn Fft<T>>>; 2],
    inverse_axes: [Option<Arc<dyn Fft<T>>>; 2],
    /// The vertical passes of axes 0 and 1 (`None` where the extent is 1 or the columns are
    /// transposed).
    vertical_axes: [Option<Vertical<T>>; 2],
    columns: Columns,
}

/// Work buffers of one thread for a [`PrunedRfft`]: the real signal, two complex planes and
/// the scratch of the 1-D plans.
pub struct Scratch<T: Scalar> {
    period: [usize; 3],
    real: Aligned<T>,
    a: Aligned<Complex<T>>,
    b: Aligned<Complex<T>>,
    fft: Aligned<Complex<T>>,
    r2c: Vec<Complex<T>>,
    c2r: Vec<Complex<T>>,
    /// Work space of the batched rows (about `T1·T2/2`, or empty).
    batch: Aligned<Complex<T>>,
}

fn zero<T: Scalar>() -> Complex<T> {
    Complex::new(T::zero(), T::zero())
}

/// `dst[j·rows + i] = src[i·cols + j]` for `i < rows` (the rows of `src` that exist) and
/// `i < rows_used`; the rest of each destination line is zero.
fn transpose_into<T: Scalar>(
    src: &[Complex<T>],
    rows: usize,
    rows_used: usize,
    cols: usize,
    dst: &mut [Complex<T>],
) {
    transpose(src, cols, dst, rows, [rows_used, cols]);
    if rows_used < rows {
        for line in dst[..rows * cols].chunks_exact_mut(rows) {
            line[rows_used..].fill(zero());
        }
    }
}

impl<T: Scalar> PrunedRfft<T> {
    /// The (process-wide cached) plan for `period`; every extent must be ≥ 1.
    ///
    /// # Panics
    /// If an extent is 0 (callers plan from validated geometries).
    pub fn plan(period: [usize; 3]) -> Arc<Self> {
        assert!(period.iter().all(|&p| p > 0), "FFT period {period:?}");
        cached_plan(period, || {
            Self::plan_columns(period, Columns::chosen::<T>(period))
        })
    }

    /// A new (uncached) plan for `period` whose column stages run as `columns` asks where
    /// the extents allow (else [`Columns::Transposed`]); [`PrunedRfft::plan`] picks the
    /// faster.
    ///
    /// # Panics
    /// If an extent is 0.
    pub fn plan_columns(period: [usize; 3], columns: Columns) -> Self {
        assert!(period.iter().all(|&p| p > 0), "FFT period {period:?}");
        let columns = match columns {
            Columns::Vertical if Columns::fits(period) => Columns::Vertical,
            Columns::Mixed if Columns::fits_mixed(period) => Columns::Mixed,
            _ => Columns::Transposed,
        };
        // Per axis (0, 1): whether it runs vertically.
        let vertical = [columns != Columns::Transposed, columns == Columns::Vertical];
        {
            let mut real = RealFftPlanner::<T>::new();
            let mut cplx = FftPlanner::<T>::new();
            let axis = |a: usize, planner: &mut FftPlanner<T>, fwd: bool| {
                let n = period[a];
                (n > 1 && !vertical[a]).then(|| {
                    if fwd {
                        planner.plan_fft_forward(n)
                    } else {
                        planner.plan_fft_inverse(n)
                    }
                })
            };
            PrunedRfft {
                period,
                half: period[2] / 2 + 1,
                r2c: real.plan_fft_forward(period[2]),
                c2r: real.plan_fft_inverse(period[2]),
                batch: RowBatch::plan(period[2], &mut cplx),
                forward_axes: [axis(0, &mut cplx, true), axis(1, &mut cplx, true)],
                inverse_axes: [axis(0, &mut cplx, false), axis(1, &mut cplx, false)],
                vertical_axes: [0, 1].map(|a| {
                    (vertical[a] && period[a] > 1)
                        .then(|| Vertical::plan(period[a], true))
                        .flatten()
                }),
                columns,
            }
        }
    }

    /// How the column stages run.
    pub fn columns(&self) -> Columns {
        self.columns
    }

    /// Where bin `k = (k0, k1, k2)` (`k2 < T2/2+1`) lies in the spectrum of this plan.
    ///
    /// # Panics
    /// If `k` is outside the half spectrum (in debug builds).
    pub fn bin(&self, k: [usize; 3]) -> usize {
        let [t0, t1, _] = self.period;
        debug_assert!(k[0] < t0 && k[1] < t1 && k[2] < self.half, "bin {k:?}");
        let at = |a: usize| {
            self.vertical_axes[a]
                .as_ref()
                .map_or(0, |v| v.position(k[a]))
        };
        match self.columns {
            Columns::Transposed => (k[2] * t1 + k[1]) * t0 + k[0],
            Columns::Vertical => (at(0) * t1 + at(1)) * self.half + k[2],
            Columns::Mixed => (at(0) * self.half + k[2]) * t1 + k[1],
        }
    }

    /// The period.
    pub fn period(&self) -> [usize; 3] {
        self.period
    }

    /// Samples of a real signal, `T0·T1·T2`.
    pub fn real_len(&self) -> usize {
        self.period.iter().product()
    }

    /// Bins of the half spectrum, `T0·T1·(T2/2+1)`.
    pub fn bins(&self) -> usize {
        self.period[0] * self.period[1] * self.half
    }

    /// Fresh work buffers for this plan (one per thread).
    pub fn scratch(&self) -> Scratch<T> {
        let bins = self.bins();
        let fft = self
            .forward_axes
            .iter()
            .chain(&self.inverse_axes)
            .flatten()
            .map(|p| {
                p.get_inplace_scratch_len()
                    .max(p.get_outofplace_scratch_len())
            })
            .chain(self.batch.as_ref().map(RowBatch::scratch_len))
            .max()
            .unwrap_or(0);
        let batch = self
            .batch
            .as_ref()
            .map_or(0, |r| r.work_len(self.period[1]));
        Scratch {
            period: self.period,
            real: Aligned::new(self.real_len(), T::zero()),
            a: Aligned::new(bins, zero()),
            // Only transposed stages move the planes to a second buffer; mixed ones move one
            // plane at a time.
            b: Aligned::new(
                match self.columns {
                    Columns::Transposed => bins,
                    Columns::Mixed => self.period[1] * self.half,
                    Columns::Vertical => 0,
                },
                zero(),
            ),
            fft: Aligned::new(fft, zero()),
            r2c: self.r2c.make_scratch_vec(),
            c2r: self.c2r.make_scratch_vec(),
            batch: Aligned::new(batch, zero()),
        }
    }

    /// Forward transform of the real signal in [`Scratch::real_mut`], whose rows
    /// `(j0, j1)` with `j0 ≥ nonzero[0]` or `j1 ≥ nonzero[1]` are taken as zero (and not
    /// read). The signal buffer is used as work space. Returns the spectrum, `bins()` long, in
    /// the plan's bin order `[H][T1][T0]`.
    ///
    /// # Panics
    /// If `nonzero` exceeds the period or `s` belongs to another plan.
    pub fn forward<'s>(&self, s: &'s mut Scratch<T>, nonzero: [usize; 2]) -> &'s [Complex<T>] {
        let Scratch {
            real,
            a,
            b,
            fft,
            r2c,
            batch,
            ..
        } = s;
        let bins = self.bins();
        let b_len = bins.min(b.len());
        let (a, b) = (&mut a[..bins], &mut b[..b_len]);
        self.forward_stages(real, a, b, fft, r2c, batch, nonzero)
    }

    /// [`forward`](Self::forward) with the spectrum written into `dst` (`bins()` values; the
    /// scratch's planes are the other work space).
    ///
    /// # Panics
    /// As `forward`; if `dst` is shorter than `bins()`.
    pub fn forward_into(&self, s: &mut Scratch<T>, nonzero: [usize; 2], dst: &mut [Complex<T>]) {
        let Scratch {
            real,
            a,
            fft,
            r2c,
            batch,
            ..
        } = s;
        let bins = self.bins();
        let (a, dst) = (&mut a[..bins], &mut dst[..bins]);
        // Each transposed stage after the rows moves the planes to the other buffer: start
        // where an even number of moves ends in `dst` (vertical stages move none).
        let moves = match self.columns {
            Columns::Transposed => self.forward_axes.iter().flatten().count(),
            // Each plane goes out to the other buffer and back.
            Columns::Mixed | Columns::Vertical => 0,
        };
        let out = if moves.is_multiple_of(2) {
            self.forward_stages(real, dst, a, fft, r2c, batch, nonzero)
        } else {
            self.forward_stages(real, a, dst, fft, r2c, batch, nonzero)
        };
        debug_assert!(out.len() == bins);
    }

    /// The stages of the forward transform, the rows written into `cur`, each later stage
    /// moving the planes to the other buffer; returns the one holding the spectrum.
    #[allow(clippy::too_many_arguments)]
    fn forward_stages<'x>(
        &self,
        real: &mut [T],
        mut cur: &'x mut [Complex<T>],
        mut other: &'x mut [Complex<T>],
        fft: &mut [Complex<T>],
        r2c: &mut [Complex<T>],
        batch_work: &mut [Complex<T>],
        nonzero: [usize; 2],
    ) -> &'x mut [Complex<T>] {
        let [t0, t1, t2] = self.period;
        let h = self.half;
        let [e0, e1] = nonzero;
        assert!(
            e0 <= t0 && e1 <= t1,
            "nonzero extent {nonzero:?} exceeds the period"
        );
        // Stage 1: rows, real to complex, into cur = [t0][t1][h] (rows j0 < e0 only). Lines
        // j1 ≥ e1 are zero; a transposed or vertical stage 2 reads only lines j1 < e1, so they
        // are written only where there is none.
        let zero_lines = self.forward_axes[1].is_none() && self.vertical_axes[1].is_none();
        for j0 in 0..e0 {
            let plane = &mut cur[j0 * t1 * h..][..t1 * h];
            if let Some(batch) = self.batch.as_ref().filter(|_| e1 > 0) {
                let signal = &mut real[j0 * t1 * t2..][..e1 * t2];
                batch.forward(signal, batch_work, plane, h, fft);
            } else {
                for j1 in 0..e1 {
                    let row = &mut real[(j0 * t1 + j1) * t2..][..t2];
                    self.r2c
                        .process_with_scratch(row, &mut plane[j1 * h..][..h], r2c)
                        .expect("realfft lengths are planned");
                }
            }
            if zero_lines {
                plane[e1 * h..].fill(zero());
            }
        }
        if self.columns == Columns::Vertical {
            // Stages 2 and 3 in place: axis 1 per plane, then axis 0 over planes, each
            // reading only its nonzero lines (planes).
            if let Some(plan) = &self.vertical_axes[1] {
                for j0 in 0..e0 {
                    plan.forward_pruned(&mut cur[j0 * t1 * h..][..t1 * h], h, h, e1);
                }
            }
            if let Some(plan) = &self.vertical_axes[0] {
                plan.forward_pruned(cur, t1 * h, t1 * h, e0);
            }
            return cur;
        }
        if self.columns == Columns::Mixed {
            // Stage 2 per plane out to `other` and back, [t1][h] -> [h][t1]; stage 3
            // vertically in place.
            if let Some(plan) = &self.forward_axes[1] {
                let tmp = &mut other[..t1 * h];
                for j0 in 0..e0 {
                    let plane = &mut cur[j0 * t1 * h..][..t1 * h];
                    transpose_into(plane, t1, e1, h, tmp);
                    plan.process_outofplace_with_scratch(tmp, plane, fft);
                }
            }
            if let Some(plan) = &self.vertical_axes[0] {
                plan.forward_pruned(cur, t1 * h, t1 * h, e0);
            }
            return cur;
        }
        // Stage 2: axis 1 per plane, [t1][h] -> [h][t1], into [t0][h][t1].
        if let Some(plan) = &self.forward_axes[1] {
            for j0 in 0..e0 {
                let plane = &cur[j0 * t1 * h..][..t1 * h];
                let dst = &mut other[j0 * t1 * h..][..t1 * h];
                transpose_into(plane, t1, e1, h, dst);
                plan.process_with_scratch(dst, fft);
            }
            std::mem::swap(&mut cur, &mut other);
        }
        // Stage 3: axis 0, [t0][h·t1] -> [h·t1][t0].
        if let Some(plan) = &self.forward_axes[0] {
            let m = h * t1;
            transpose_into(cur, t0, e0, m, other);
            plan.process_with_scratch(&mut other[..t0 * m], fft);
            std::mem::swap(&mut cur, &mut other);
        }
        cur
    }

    /// The buffer the inverse transform reads its spectrum from (`bins()` long, plan order).
    pub fn spectrum_mut<'s>(&self, s: &'s mut Scratch<T>) -> &'s mut [Complex<T>] {
        &mut s.a[..self.bins()]
    }

    /// Unnormalised inverse transform of the spectrum in
    /// [`spectrum_mut`](Self::spectrum_mut) (used as work space), computing only the rows
    /// `(j0, j1)` with `j0 < rows[0]`, `j1 < rows[1]` of the real signal (`T0·T1·T2`
    /// row-major; other rows hold stale values).
    ///
    /// The imaginary parts of the DC and Nyquist bins of the last axis are taken as zero.
    ///
    /// # Panics
    /// If `rows` exceeds the period or `s` belongs to another plan.
    pub fn inverse<'s>(&self, s: &'s mut Scratch<T>, rows: [usize; 2]) -> &'s [T] {
        let Scratch {
            real,
            a,
            b,
            fft,
            c2r,
            batch,
            ..
        } = s;
        let bins = self.bins();
        let b_len = bins.min(b.len());
        let b = &mut b[..b_len];
        self.inverse_stages(real, &mut a[..bins], b, fft, c2r, batch, rows);
        real
    }

    /// [`inverse`](Self::inverse) of the spectrum in `spectrum` (`bins()` values, used as
    /// work space: it is left overwritten).
    ///
    /// # Panics
    /// As `inverse`; if `spectrum` is shorter than `bins()`.
    pub fn inverse_from<'s>(
        &self,
        s: &'s mut Scratch<T>,
        spectrum: &mut [Complex<T>],
        rows: [usize; 2],
    ) -> &'s [T] {
        let Scratch {
            real,
            a,
            fft,
            c2r,
            batch,
            ..
        } = s;
        let bins = self.bins();
        let (spectrum, a) = (&mut spectrum[..bins], &mut a[..bins]);
        self.inverse_stages(real, spectrum, a, fft, c2r, batch, rows);
        real
    }

    /// The stages of the inverse transform from the spectrum in `cur`, `other` the second
    /// work space; the rows land in `real`.
    #[allow(clippy::too_many_arguments)]
    fn inverse_stages<'x>(
        &self,
        real: &mut [T],
        mut cur: &'x mut [Complex<T>],
        mut other: &'x mut [Complex<T>],
        fft: &mut [Complex<T>],
        c2r: &mut [Complex<T>],
        batch_work: &mut [Complex<T>],
        rows: [usize; 2],
    ) {
        let [t0, t1, t2] = self.period;
        let h = self.half;
        let [r0, r1] = rows;
        assert!(r0 <= t0 && r1 <= t1, "rows {rows:?} exceed the period");
        let m = h * t1;
        if self.columns != Columns::Transposed {
            // Each computes only the planes (lines) read after it.
            if let Some(plan) = &self.vertical_axes[0] {
                plan.inverse_pruned(cur, m, m, r0);
            }
            if let Some(plan) = &self.vertical_axes[1] {
                for j0 in 0..r0 {
                    plan.inverse_pruned(&mut cur[j0 * m..][..m], h, h, r1);
                }
            }
        }
        if self.columns == Columns::Mixed {
            // Stage 2 backwards per plane out to `other` and back: [h][t1] -> [t1][h].
            if let Some(plan) = &self.inverse_axes[1] {
                let tmp = &mut other[..m];
                for j0 in 0..r0 {
                    let plane = &mut cur[j0 * m..][..m];
                    plan.process_outofplace_with_scratch(plane, tmp, fft);
                    transpose(tmp, t1, plane, h, [h, r1]);
                }
            }
        }
        // Stage 3 backwards: axis 0 on [m][t0], then back to [t0][m] (rows j0 < r0).
        if let (Some(plan), Columns::Transposed) = (&self.inverse_axes[0], self.columns) {
            plan.process_with_scratch(&mut cur[..t0 * m], fft);
            transpose(cur, t0, other, m, [m, r0]);
            std::mem::swap(&mut cur, &mut other);
        }
        // Stage 2 backwards: per plane [h][t1] -> [t1][h] (rows j1 < r1).
        if let (Some(plan), Columns::Transposed) = (&self.inverse_axes[1], self.columns) {
            for j0 in 0..r0 {
                let plane = &mut cur[j0 * m..][..m];
                plan.process_with_scratch(plane, fft);
                transpose(plane, t1, &mut other[j0 * m..][..m], h, [h, r1]);
            }
            std::mem::swap(&mut cur, &mut other);
        }
        // Stage 1 backwards: rows, complex to real.
        for j0 in 0..r0 {
            for j1 in 0..r1 {
                let line = &mut cur[(j0 * t1 + j1) * h..][..h];
                line[0].im = T::zero();
                if t2.is_multiple_of(2) {
                    line[h - 1].im = T::zero();
                }
                if self.batch.is_none() {
                    // Only the DC/Nyquist imaginary parts can be refused, and they are zero.
                    let _ = self.c2r.process_with_scratch(
                        line,
                        &mut real[(j0 * t1 + j1) * t2..][..t2],
                        c2r,
                    );
                }
            }
            if let Some(batch) = self.batch.as_ref().filter(|_| r1 > 0) {
                let lines = &cur[j0 * t1 * h..][..r1 * h];
                let signal = &mut real[j0 * t1 * t2..][..r1 * t2];
                batch.inverse(lines, h, batch_work, signal, fft);
            }
        }
    }
}

#[cfg(test)]
mod tests;
