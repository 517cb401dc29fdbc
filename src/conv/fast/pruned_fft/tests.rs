//! Tests of the pruned transform: against the plain n-D FFT, the in-place variants, the
//! work buffers.
use super::*;
use crate::fft::RealFftNd;

/// Every period shape (1-D, 2-D, 3-D, odd/even, with pruning) against the plain n-D FFT
/// in f64, in `T` (f32 runs its even rows through [`halfcomplex`] or [`paired`] where the CPU has
/// AVX2),
/// the columns as `columns` asks (vertically where the extents allow: radices 8, 5, 4, 3, 2
/// and their fused pairs); `forward_into` and `inverse_from` (zero, one and two plane moves) as
/// the scratch versions.
fn matches_plain_fft_with_pruning<T: Scalar>(columns: Columns, tol: f64) {
    for (period, nz, rows) in [
        ([1, 1, 2], [1, 1], [1, 1]),
        ([1, 1, 20], [1, 1], [1, 1]),
        ([1, 5, 18], [1, 2], [1, 5]),
        ([3, 1, 12], [2, 1], [2, 1]),
        ([2, 4, 16], [2, 0], [2, 3]),
        ([1, 1, 9], [1, 1], [1, 1]),
        ([1, 6, 8], [1, 3], [1, 4]),
        ([1, 7, 5], [1, 7], [1, 2]),
        ([4, 3, 6], [2, 2], [3, 1]),
        ([5, 1, 7], [3, 1], [5, 1]),
        ([16, 12, 10], [5, 7], [9, 12]),
        ([9, 8, 6], [9, 3], [4, 8]),
        ([1, 96, 14], [1, 50], [1, 61]),
        ([1, 64, 18], [1, 34], [1, 64]),
        ([6, 2, 4], [6, 2], [1, 2]),
        ([3, 7, 4], [2, 5], [3, 6]),
        ([2, 5, 36], [2, 5], [2, 3]),
        ([2, 6, 36], [1, 6], [2, 5]),
        ([1, 4, 40], [1, 4], [1, 3]),
        ([4, 36, 36], [3, 32], [2, 30]),
        ([16, 36, 36], [12, 32], [16, 32]),
        ([1, 40, 72], [1, 34], [1, 34]),
        ([1, 80, 20], [1, 48], [1, 70]),
        ([1, 120, 10], [1, 100], [1, 120]),
        ([2, 40, 12], [2, 30], [1, 40]),
        ([40, 5, 6], [27, 5], [40, 3]),
        ([10, 45, 8], [6, 40], [9, 45]),
    ] {
        let plan = PrunedRfft::<T>::plan_columns(period, columns);
        let smooth = |mut t: usize| {
            for p in [2, 3, 5] {
                while t.is_multiple_of(p) {
                    t /= p;
                }
            }
            t == 1
        };
        let expected = match columns {
            Columns::Vertical if period[..2].iter().all(|&t| smooth(t)) => Columns::Vertical,
            Columns::Mixed if period[0] > 1 && smooth(period[0]) => Columns::Mixed,
            _ => Columns::Transposed,
        };
        assert_eq!(plan.columns(), expected, "period {period:?}");
        let mut s = plan.scratch();
        let len = plan.real_len();
        let mut x = vec![0.0; len];
        for j0 in 0..nz[0] {
            for j1 in 0..nz[1] {
                for j2 in 0..period[2] {
                    let at = (j0 * period[1] + j1) * period[2] + j2;
                    x[at] = ((at * 37 + 11) % 17) as f64 - 8.0;
                }
            }
        }
        // Junk outside the promised extent must not be read.
        let mut input = x.clone();
        for j0 in 0..period[0] {
            for j1 in 0..period[1] {
                if j0 >= nz[0] || j1 >= nz[1] {
                    input[(j0 * period[1] + j1) * period[2]..][..period[2]].fill(1e9);
                }
            }
        }
        for (r, v) in s.real_mut().iter_mut().zip(&input) {
            *r = T::of(*v);
        }
        let spec = plan.forward(&mut s, nz).to_vec();
        // The same transform written elsewhere, over junk: the same values.
        for (r, v) in s.real_mut().iter_mut().zip(&input) {
            *r = T::of(*v);
        }
        let junk = Complex::new(T::of(3e9), T::of(-1e9));
        let mut elsewhere = vec![junk; plan.bins() + 3];
        plan.forward_into(&mut s, nz, &mut elsewhere);
        assert_eq!(
            elsewhere[..plan.bins()],
            spec[..],
            "period {period:?} forward_into"
        );
        assert!(elsewhere[plan.bins()..].iter().all(|v| *v == junk));
        let reference = RealFftNd::<f64>::plan(&period).forward(&x);
        let (t0, t1, h) = (period[0], period[1], period[2] / 2 + 1);
        for k2 in 0..h {
            for k1 in 0..t1 {
                for k0 in 0..t0 {
                    let got = spec[plan.bin([k0, k1, k2])];
                    let want = reference[(k0 * t1 + k1) * h + k2];
                    let err = (got.re.as_f64() - want.re).hypot(got.im.as_f64() - want.im);
                    assert!(
                        err < tol * len as f64,
                        "period {period:?} bin ({k0},{k1},{k2}): {got} vs {want}"
                    );
                }
            }
        }
        let mut from = spec.clone();
        let back_from = plan.inverse_from(&mut s, &mut from, rows).to_vec();
        plan.spectrum_mut(&mut s).copy_from_slice(&spec);
        let back = plan.inverse(&mut s, rows);
        for j0 in 0..rows[0] {
            let at = j0 * period[1] * period[2];
            let n = rows[1] * period[2];
            assert_eq!(
                back[at..][..n],
                back_from[at..][..n],
                "period {period:?} inverse_from"
            );
        }
        for j0 in 0..rows[0] {
            for j1 in 0..rows[1] {
                for j2 in 0..period[2] {
                    let at = (j0 * period[1] + j1) * period[2] + j2;
                    let got = back[at].as_f64() / len as f64;
                    assert!(
                        (got - x[at]).abs() < tol * len as f64,
                        "period {period:?} sample ({j0},{j1},{j2}): {got} vs {}",
                        x[at]
                    );
                }
            }
        }
    }
}

/// Axis 1 transposed per plane, axis 0 vertically across the planes.
#[test]
fn mixed_columns_match_plain_fft_f64() {
    matches_plain_fft_with_pruning::<f64>(Columns::Mixed, 1e-12);
}

#[test]
fn mixed_columns_match_plain_fft_f32() {
    matches_plain_fft_with_pruning::<f32>(Columns::Mixed, 1e-6);
}

/// Every work buffer starts on a cache line and has the planned length.
#[test]
fn scratch_buffers_start_on_a_cache_line() {
    for period in [[1, 1, 2], [1, 40, 72], [3, 5, 7], [8, 8, 8]] {
        let plan = PrunedRfft::<f32>::plan(period);
        let s = plan.scratch();
        let line = |p: *const u8| p as usize % 64;
        assert_eq!(line(s.real.as_ptr().cast()), 0, "{period:?} real");
        assert_eq!(s.real.len(), plan.real_len());
        assert_eq!(line(s.a.as_ptr().cast()), 0, "{period:?} a");
        assert_eq!(s.a.len(), plan.bins(), "{period:?} a");
        // The second plane only where transposed stages move the planes.
        if plan.columns() == Columns::Transposed {
            assert_eq!(line(s.b.as_ptr().cast()), 0, "{period:?} b");
            assert_eq!(s.b.len(), plan.bins(), "{period:?} b");
        }
    }
}

#[test]
fn matches_plain_fft_with_pruning_f64() {
    matches_plain_fft_with_pruning::<f64>(Columns::Transposed, 1e-12);
}

#[test]
fn matches_plain_fft_with_pruning_f32() {
    matches_plain_fft_with_pruning::<f32>(Columns::Transposed, 1e-6);
}

/// The portable vertical loops in f64.
#[test]
fn vertical_columns_match_plain_fft_f64() {
    matches_plain_fft_with_pruning::<f64>(Columns::Vertical, 1e-12);
}

/// The AVX-512 kernels (single and fused passes) where the CPU has them, else the portable
/// loops.
#[test]
fn vertical_columns_match_plain_fft_f32() {
    matches_plain_fft_with_pruning::<f32>(Columns::Vertical, 1e-6);
}

/// Each plan's bin order is its own: DC first, every bin once.
#[test]
fn bins_are_a_permutation() {
    let periods = [[1, 1, 8], [1, 64, 64], [16, 36, 36], [1, 40, 72], [3, 5, 7]];
    let columns = [Columns::Transposed, Columns::Vertical, Columns::Mixed];
    for (period, columns) in periods.into_iter().flat_map(|p| columns.map(|c| (p, c))) {
        let plan = PrunedRfft::<f32>::plan_columns(period, columns);
        let h = period[2] / 2 + 1;
        let mut seen = vec![false; plan.bins()];
        for k0 in 0..period[0] {
            for k1 in 0..period[1] {
                for k2 in 0..h {
                    let at = plan.bin([k0, k1, k2]);
                    assert!(!seen[at], "{period:?}: bin ({k0},{k1},{k2}) twice at {at}");
                    seen[at] = true;
                }
            }
        }
        assert_eq!(plan.bin([0, 0, 0]), 0);
    }
}

/// A test row of `n` samples in −11 ..= 11, different for each `seed`.
pub(super) fn signal(n: usize, seed: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i * 37 + seed * 11 + 5) % 23) as f64 - 11.0)
        .collect()
}

/// The rows of `x` (`n` samples each) transformed by a row plan: `spectra` holds, `stride`
/// apart, the half spectrum realfft computes in f64 for each, within `tol · n`.
pub(super) fn assert_half_spectra<T: Scalar>(
    x: &[f64],
    n: usize,
    spectra: &[Complex<T>],
    stride: usize,
    tol: f64,
) {
    let r2c = realfft::RealFftPlanner::<f64>::new().plan_fft_forward(n);
    for (r, row) in x.chunks_exact(n).enumerate() {
        let mut line = row.to_vec();
        let mut want = r2c.make_output_vec();
        r2c.process(&mut line, &mut want)
            .unwrap_or_else(|e| panic!("realfft of {n}: {e}"));
        for (k, w) in want.iter().enumerate() {
            let got = spectra[r * stride + k];
            let err = (got.re.as_f64() - w.re).hypot(got.im.as_f64() - w.im);
            assert!(err < tol * n as f64, "n {n} line {r} bin {k}: {got} vs {w}");
        }
    }
}

/// The unnormalised inverse of a row plan: `back / n` equals `x` within `tol · n`.
pub(super) fn assert_round_trip<T: Scalar>(x: &[f64], back: &[T], n: usize, tol: f64) {
    for (i, (b, v)) in back.iter().zip(x).enumerate() {
        let got = b.as_f64() / n as f64;
        assert!(
            (got - v).abs() < tol * n as f64,
            "n {n} sample {i}: {got} vs {v}"
        );
    }
}
