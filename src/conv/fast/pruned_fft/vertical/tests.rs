//! The column passes against a naive DFT of each column, both kernels, every radix.
use super::*;

fn naive_dft(x: &[Complex<f64>], inverse: bool) -> Vec<Complex<f64>> {
    let n = x.len();
    let sign = if inverse { 2.0 } else { -2.0 };
    (0..n)
        .map(|k| {
            x.iter()
                .enumerate()
                .map(|(j, v)| {
                    let a = sign * std::f64::consts::PI * ((j * k) % n) as f64 / n as f64;
                    v * Complex::new(a.cos(), a.sin())
                })
                .sum()
        })
        .collect()
}

/// Lengths with every radix and mixture (the periods the layers use among them), column
/// counts below, at and above a vector of eight, strides longer than the columns: the forward
/// transform puts bin `k` of each column at `position(k)`; the inverse of any spectrum in that
/// order is the naive inverse DFT; values beyond the columns are untouched.
fn matches_naive_dft<T: Scalar>(vector: bool, tol: f64) {
    for n in [2, 3, 4, 6, 8, 9, 12, 16, 18, 24, 36, 64, 96] {
        let plan = Vertical::<T>::plan(n, vector).expect("3-smooth length");
        let mut seen: Vec<usize> = (0..n).map(|k| plan.position(k)).collect();
        seen.sort_unstable();
        assert!(seen.iter().copied().eq(0..n), "n {n}: positions {seen:?}");
        for (cols, stride) in [(1, 1), (7, 9), (8, 8), (9, 11), (19, 19), (33, 35)] {
            let value = |i: usize, c: usize| {
                let v = ((i * 31 + c * 17 + n) % 23) as f64 - 11.0;
                Complex::new(v, 0.5 * v - ((c + i) % 5) as f64)
            };
            let junk = Complex::new(T::of(7.5), T::of(-3.0));
            let mut data = vec![junk; n * stride];
            for i in 0..n {
                for c in 0..cols {
                    let v = value(i, c);
                    data[i * stride + c] = Complex::new(T::of(v.re), T::of(v.im));
                }
            }
            let mut back = data.clone();
            plan.forward(&mut data, stride, cols);
            plan.inverse(&mut back, stride, cols);
            for c in 0..stride {
                let column: Vec<Complex<f64>> = (0..n).map(|i| value(i, c)).collect();
                let want_fwd = naive_dft(&column, false);
                for k in 0..n {
                    let fwd = data[plan.position(k) * stride + c];
                    if c >= cols {
                        assert_eq!(fwd, junk, "n {n} cols {cols}: column {c} written");
                        assert_eq!(back[plan.position(k) * stride + c], junk);
                        continue;
                    }
                    let err = |got: Complex<T>, want: Complex<f64>| {
                        (got.re.as_f64() - want.re).hypot(got.im.as_f64() - want.im)
                    };
                    assert!(
                        err(fwd, want_fwd[k]) < tol * n as f64 * 20.0,
                        "n {n} cols {cols} col {c} bin {k}: {fwd} vs {}",
                        want_fwd[k]
                    );
                }
                if c < cols {
                    // The inverse reads bin k from row position(k).
                    let permuted: Vec<Complex<f64>> =
                        (0..n).map(|k| value(plan.position(k), c)).collect();
                    let want = naive_dft(&permuted, true);
                    for (j, w) in want.iter().enumerate() {
                        let got = back[j * stride + c];
                        let err = (got.re.as_f64() - w.re).hypot(got.im.as_f64() - w.im);
                        assert!(
                            err < tol * n as f64 * 20.0,
                            "n {n} cols {cols} col {c} inverse sample {j}: {got} vs {w}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn portable_matches_naive_dft_f64() {
    matches_naive_dft::<f64>(false, 1e-15);
}

#[test]
fn portable_matches_naive_dft_f32() {
    matches_naive_dft::<f32>(false, 1e-6);
}

/// The AVX-512 kernels where the CPU has them (the portable loops again elsewhere).
#[test]
fn vector_matches_naive_dft_f32() {
    matches_naive_dft::<f32>(true, 1e-6);
}

#[test]
fn lengths_with_other_primes_are_refused() {
    for n in [5, 7, 10, 14, 22, 98] {
        assert!(Vertical::<f32>::plan(n, true).is_none(), "{n}");
        assert!(!fits(n), "{n}");
    }
    for n in [2, 3, 16, 36, 64, 96] {
        assert!(fits(n), "{n}");
    }
    assert!(radices(96).is_some_and(|r| r == [4, 4, 3, 2]));
}
