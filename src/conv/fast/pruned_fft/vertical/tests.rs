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

/// Every radix alone, every pair that fuses or not, and the periods the layers use.
const LENGTHS: [usize; 29] = [
    2, 3, 4, 5, 6, 8, 9, 10, 12, 15, 16, 18, 20, 24, 25, 30, 32, 36, 40, 45, 48, 60, 64, 72, 80,
    96, 120, 128, 256,
];

/// Lengths with every radix and mixture (the periods the layers use among them), column
/// counts below, at and above a vector of eight, strides longer than the columns: the forward
/// transform puts bin `k` of each column at `position(k)`; the inverse of any spectrum in that
/// order is the naive inverse DFT; values beyond the columns are untouched.
/// Both with the pairs of passes the plans fuse and with every pass alone, so that each
/// kernel (fused 8·4, 8·5, 8·8 and the pairs up to 25 rows, every radix alone) is checked.
fn matches_naive_dft<T: Scalar>(vector: bool, tol: f64) {
    let never: fn(usize, usize) -> bool = |_, _| false;
    for n in LENGTHS {
        let fused = Vertical::<T>::plan(n, vector).expect("5-smooth length");
        let alone = Vertical::<T>::plan_fusing(n, vector, never).expect("5-smooth length");
        for plan in [fused, alone] {
            matches_naive_dft_of(&plan, n, tol);
        }
    }
}

fn matches_naive_dft_of<T: Scalar>(plan: &Vertical<T>, n: usize, tol: f64) {
    {
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

/// The inverse is the adjoint of the forward transform: `⟨F x, y⟩ = ⟨x, F^H y⟩` for random
/// columns (the contract the gradients rely on).
fn inverse_is_adjoint<T: Scalar>(vector: bool, tol: f64) {
    let (cols, stride) = (11, 13);
    for n in LENGTHS {
        let plan = Vertical::<T>::plan(n, vector).expect("5-smooth length");
        let mut seed = n as u64 * 7919;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            T::of(((seed >> 33) % 2001) as f64 / 1000.0 - 1.0)
        };
        let x: Vec<Complex<T>> = (0..n * stride)
            .map(|_| Complex::new(next(), next()))
            .collect();
        let y: Vec<Complex<T>> = (0..n * stride)
            .map(|_| Complex::new(next(), next()))
            .collect();
        let (mut fx, mut fy) = (x.clone(), y.clone());
        plan.forward(&mut fx, stride, cols);
        plan.inverse(&mut fy, stride, cols);
        let dot = |a: &[Complex<T>], b: &[Complex<T>]| {
            (0..n)
                .flat_map(|i| (0..cols).map(move |c| i * stride + c))
                .map(|i| {
                    let (a, b) = (a[i], b[i]);
                    Complex::new(a.re.as_f64(), a.im.as_f64())
                        * Complex::new(b.re.as_f64(), -b.im.as_f64())
                })
                .sum::<Complex<f64>>()
        };
        let (lhs, rhs) = (dot(&fx, &y), dot(&x, &fy));
        let scale = (n * cols) as f64 * (n as f64).sqrt();
        assert!(
            (lhs - rhs).norm() < tol * scale * 20.0,
            "n {n}: {lhs} vs {rhs}"
        );
    }
}

#[test]
fn inverse_is_adjoint_f64() {
    inverse_is_adjoint::<f64>(false, 1e-15);
}

#[test]
fn inverse_is_adjoint_f32() {
    inverse_is_adjoint::<f32>(false, 1e-6);
    inverse_is_adjoint::<f32>(true, 1e-6);
}

/// The AVX-512 kernels give the portable loops' values (to rounding), every length.
#[test]
fn vector_matches_portable_f32() {
    let (cols, stride) = (21, 21);
    for n in LENGTHS {
        let (a, b) = (
            Vertical::<f32>::plan(n, true).expect("5-smooth"),
            Vertical::<f32>::plan(n, false).expect("5-smooth"),
        );
        let x: Vec<Complex<f32>> = (0..n * stride)
            .map(|i| Complex::new((i % 17) as f32 - 8.0, (i % 11) as f32 * 0.5 - 2.0))
            .collect();
        for inv in [false, true] {
            let (mut u, mut v) = (x.clone(), x.clone());
            if inv {
                a.inverse(&mut u, stride, cols);
                b.inverse(&mut v, stride, cols);
            } else {
                a.forward(&mut u, stride, cols);
                b.forward(&mut v, stride, cols);
            }
            let big = v.iter().map(|z| z.norm()).fold(1.0f32, f32::max);
            for (i, (p, q)) in u.iter().zip(&v).enumerate() {
                assert!(
                    (p - q).norm() <= 1e-5 * big,
                    "n {n} inv {inv} at {i}: {p} vs {q}"
                );
            }
        }
    }
}

/// The column lengths of the layers' 2-D periods with a radix-8 pass run in one sweep (the
/// fused 8·4, 8·5 and 8·8 kernels) where the AVX-512 kernels run; longer ones fuse the pair
/// after the radix-8 pass.
#[test]
#[allow(clippy::single_range_in_vec_init)] // One group of passes 0..2, as intended.
fn radix_8_pairs_fuse() {
    for n in [32, 40, 64] {
        let plan = Vertical::<f32>::plan(n, true).expect("5-smooth");
        let want: Vec<std::ops::Range<usize>> = if plan.avx512 {
            vec![0..2]
        } else {
            vec![0..1, 1..2]
        };
        assert_eq!(plan.groups, want, "{n}");
    }
    // Before a third pass the radix-8 pass stays alone and the small pair fuses.
    for n in [72, 96] {
        let plan = Vertical::<f32>::plan(n, true).expect("5-smooth");
        let want: Vec<std::ops::Range<usize>> = if plan.avx512 {
            vec![0..1, 1..3]
        } else {
            vec![0..1, 1..2, 2..3]
        };
        assert_eq!(plan.groups, want, "{n}");
    }
}

#[test]
fn lengths_with_other_primes_are_refused() {
    for n in [7, 14, 22, 49, 98] {
        assert!(Vertical::<f32>::plan(n, true).is_none(), "{n}");
        assert!(!fits(n), "{n}");
    }
    for n in [2, 3, 5, 16, 36, 40, 64, 80, 96] {
        assert!(fits(n), "{n}");
    }
    for (n, want) in [
        (96, &[8, 4, 3][..]),
        (40, &[8, 5]),
        (64, &[8, 8]),
        (72, &[8, 3, 3]),
        (80, &[4, 4, 5]),
        (48, &[4, 4, 3]),
        (32, &[8, 4]),
        (2, &[2]),
        (30, &[5, 3, 2]),
    ] {
        assert_eq!(radices(n).as_deref(), Some(want), "{n}");
    }
}

mod pruned;
