use super::*;
use crate::conv::fast::pruned_fft::tests::{assert_half_spectra, assert_round_trip, signal};

/// Batches of lines (below the vertical threshold, at it, with lanes to pad, many) against
/// realfft in f64 and back, the vector kernels or the portable loops; the bins past the half
/// spectrum (up to the stride) are left alone.
fn matches_realfft<T: Scalar>(vector: bool, tol: f64) {
    for n in [8, 12, 20, 24, 30, 40, 72, 80, 96] {
        let Some(plan) = Across::<T>::plan(n, vector, &mut FftPlanner::new()) else {
            panic!("n {n}: no plan");
        };
        for count in [1, 7, 8, 9, 16, 34, 35] {
            let stride = n / 2 + 3;
            let mut scratch = vec![Complex::new(T::zero(), T::zero()); plan.scratch_len()];
            let mut z = vec![Complex::new(T::of(5.0), T::zero()); plan.work_len(count)];
            let x: Vec<f64> = (0..count).flat_map(|r| signal(n, r)).collect();
            let mut real: Vec<T> = x.iter().map(|&v| T::of(v)).collect();
            let junk = Complex::new(T::of(7.0), T::of(7.0));
            let mut spectra = vec![junk; count * stride];
            plan.forward(&mut real, &mut z, &mut spectra, stride, &mut scratch);
            assert_half_spectra(&x, n, &spectra, stride, tol);
            for r in 0..count {
                for &v in &spectra[r * stride + n / 2 + 1..][..2] {
                    assert!(v == junk, "n {n} count {count}: bin past the half spectrum");
                }
            }
            let mut back = vec![T::zero(); count * n];
            plan.inverse(&spectra, stride, &mut z, &mut back, &mut scratch);
            assert_round_trip(&x, &back, n, tol);
        }
    }
}

#[test]
fn lines_match_realfft_f32_vector() {
    matches_realfft::<f32>(true, 1e-5);
}

#[test]
fn lines_match_realfft_f32_portable() {
    matches_realfft::<f32>(false, 1e-5);
}

#[test]
fn lines_match_realfft_f64() {
    matches_realfft::<f64>(false, 1e-12);
}

/// The vector kernels against the portable loops on the same lines (f32).
#[test]
fn vector_matches_portable() {
    for n in [72, 80] {
        let mut planner = FftPlanner::new();
        let plans = [true, false].map(|v| Across::<f32>::plan(n, v, &mut planner));
        let [Some(vector), Some(portable)] = plans else {
            panic!("n {n}: no plan");
        };
        let count = 20;
        let stride = n / 2 + 1;
        let x: Vec<f32> = (0..count)
            .flat_map(|r| signal(n, r))
            .map(|v| v as f32)
            .collect();
        let run = |p: &Across<f32>| {
            let mut z = vec![Complex::new(0.0, 0.0); p.work_len(count)];
            let mut s = vec![Complex::new(0.0, 0.0); p.scratch_len()];
            let mut spectra = vec![Complex::new(0.0, 0.0); count * stride];
            p.forward(&mut x.clone(), &mut z, &mut spectra, stride, &mut s);
            let mut back = vec![0.0; count * n];
            p.inverse(&spectra, stride, &mut z, &mut back, &mut s);
            (spectra, back)
        };
        let (a, b) = (run(&vector), run(&portable));
        for (u, v) in a.0.iter().zip(&b.0) {
            assert!((u - v).norm() < 1e-4 * n as f32, "n {n}: {u} vs {v}");
        }
        for (u, v) in a.1.iter().zip(&b.1) {
            assert!((u - v).abs() < 1e-3 * n as f32, "n {n}: {u} vs {v}");
        }
    }
}

/// The inverse is the exact adjoint of the forward, as the pruned transform's gradients rely
/// on: `<F x, y> = <x, F* y>` with the half spectrum's bins 1..M−1 counted twice (the real
/// line's full spectrum) and the forward's unnormalised inverse as `F*`.
#[test]
fn inverse_is_the_adjoint() {
    for vector in [true, false] {
        let n = 72;
        let m = n / 2;
        let count = 12;
        let plan = Across::<f64>::plan(n, vector, &mut FftPlanner::new()).expect("72 plans");
        let x: Vec<f64> = (0..count * n)
            .map(|i| ((i * 7 + 3) % 13) as f64 - 6.0)
            .collect();
        let mut y: Vec<Complex<f64>> = (0..count * (m + 1))
            .map(|i| Complex::new(((i * 5) % 11) as f64 - 5.0, ((i * 3) % 7) as f64 - 3.0))
            .collect();
        for r in 0..count {
            y[r * (m + 1)].im = 0.0;
            y[r * (m + 1) + m].im = 0.0;
        }
        let mut z = vec![Complex::new(0.0, 0.0); plan.work_len(count)];
        let mut s = vec![Complex::new(0.0, 0.0); plan.scratch_len()];
        let mut fx = vec![Complex::new(0.0, 0.0); count * (m + 1)];
        plan.forward(&mut x.clone(), &mut z, &mut fx, m + 1, &mut s);
        let mut fy = vec![0.0; count * n];
        plan.inverse(&y, m + 1, &mut z, &mut fy, &mut s);
        let lhs: f64 = (0..count * (m + 1))
            .map(|i| {
                let k = i % (m + 1);
                let weight = if k == 0 || k == m { 1.0 } else { 2.0 };
                weight * (fx[i] * y[i].conj()).re
            })
            .sum();
        let rhs: f64 = x.iter().zip(&fy).map(|(a, b)| a * b).sum();
        assert!(
            (lhs - rhs).abs() < 1e-9 * lhs.abs().max(1.0),
            "{lhs} vs {rhs}"
        );
    }
}
