//! The pruned first pass forward (rows from `nonzero` on taken as zero) and last pass
//! backwards (only rows below `rows` computed) against a naive DFT.
use super::*;

/// The lengths the plans use, and a few with a single or a third pass.
const PRUNED_LENGTHS: [usize; 14] = [16, 32, 36, 40, 48, 64, 72, 80, 96, 5, 8, 12, 30, 120];

/// The counts of nonzero lines (rows read) checked for length `n`.
fn counts(n: usize) -> Vec<usize> {
    let mut out = vec![0, 1, 2, 7, n / 4, n / 4 + 1, n / 2, n - 1, n];
    out.retain(|&c| c <= n);
    out.sort_unstable();
    out.dedup();
    out
}

/// For every length, pass grouping (fused where the plan fuses, and every pass alone) and
/// count: forward of columns whose rows from `nonzero` on hold NaN (so that a read shows)
/// is the naive DFT of the columns with those rows zero; the inverse's rows below `rows`
/// are the naive inverse DFT; columns beyond `cols` are untouched.
fn pruned_matches_naive_dft<T: Scalar>(vector: bool, tol: f64) {
    let never: fn(usize, usize) -> bool = |_, _| false;
    let nan = Complex::new(T::of(f64::NAN), T::of(f64::NAN));
    for n in PRUNED_LENGTHS {
        let fused = Vertical::<T>::plan(n, vector).expect("5-smooth length");
        let alone = Vertical::<T>::plan_fusing(n, vector, never).expect("5-smooth length");
        for plan in [fused, alone] {
            for (cols, stride) in [(3, 5), (8, 8), (19, 21)] {
                let value = |i: usize, c: usize| {
                    let v = ((i * 29 + c * 13 + n) % 19) as f64 - 9.0;
                    Complex::new(v, 0.25 * v - ((c + 2 * i) % 7) as f64)
                };
                let junk = Complex::new(T::of(7.5), T::of(-3.0));
                let err = |got: Complex<T>, want: Complex<f64>| {
                    (got.re.as_f64() - want.re).hypot(got.im.as_f64() - want.im)
                };
                let bound = tol * n as f64 * 20.0;
                for live in counts(n) {
                    let mut data = vec![junk; n * stride];
                    let mut back = vec![junk; n * stride];
                    for i in 0..n {
                        for c in 0..cols {
                            let v = value(i, c);
                            let v = Complex::new(T::of(v.re), T::of(v.im));
                            data[i * stride + c] = if i < live { v } else { nan };
                            back[i * stride + c] = v;
                        }
                    }
                    plan.forward_pruned(&mut data, stride, cols, live);
                    plan.inverse_pruned(&mut back, stride, cols, live);
                    for c in 0..stride {
                        if c >= cols {
                            for i in 0..n {
                                assert_eq!(data[i * stride + c], junk, "n {n} col {c} written");
                                assert_eq!(back[i * stride + c], junk, "n {n} col {c} written");
                            }
                            continue;
                        }
                        let column: Vec<Complex<f64>> = (0..n)
                            .map(|i| {
                                if i < live {
                                    value(i, c)
                                } else {
                                    Complex::new(0.0, 0.0)
                                }
                            })
                            .collect();
                        let want = naive_dft(&column, false);
                        for (k, w) in want.iter().enumerate() {
                            let got = data[plan.position(k) * stride + c];
                            assert!(
                                err(got, *w) < bound,
                                "n {n} groups {:?} nonzero {live} cols {cols} col {c} bin {k}: \
                                 {got} vs {w}",
                                plan.groups
                            );
                        }
                        let permuted: Vec<Complex<f64>> =
                            (0..n).map(|k| value(plan.position(k), c)).collect();
                        let want = naive_dft(&permuted, true);
                        for (j, w) in want.iter().enumerate().take(live) {
                            let got = back[j * stride + c];
                            assert!(
                                err(got, *w) < bound,
                                "n {n} groups {:?} rows {live} cols {cols} col {c} sample {j}: \
                                 {got} vs {w}",
                                plan.groups
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn pruned_portable_matches_naive_dft_f64() {
    pruned_matches_naive_dft::<f64>(false, 1e-15);
}

#[test]
fn pruned_portable_matches_naive_dft_f32() {
    pruned_matches_naive_dft::<f32>(false, 1e-6);
}

/// The AVX-512 kernels where the CPU has them (the portable loops again elsewhere).
#[test]
fn pruned_vector_matches_naive_dft_f32() {
    pruned_matches_naive_dft::<f32>(true, 1e-6);
}
