//! With small integer inputs, the f64 FFT path rounds to the exact integer results of a direct
//! loop computed in i64 — across sizes including primes and a 4096-long 1-D signal. (The FFT
//! path's error is far below 0.5, so rounding recovers every integer exactly.)
use fftconv::conv::{self, Algorithm, ConvSpec, Padding};
use fftconv::Tensor;

/// Integers in [-8, 8] from a seed.
fn ints(shape: &[usize], seed: u64) -> (Tensor<f64>, Vec<i64>) {
    let t = Tensor::<f64>::uniform(shape, -8.5, 8.5, seed)
        .unwrap()
        .map(|v| v.round());
    let i = t.data().iter().map(|&v| v as i64).collect();
    (t, i)
}

/// Sizes of a 1-D layer: batch, channels in/out, signal, kernel, padding lo/hi.
#[derive(Clone, Copy)]
struct Dims {
    n: usize,
    c: usize,
    o: usize,
    s: usize,
    k: usize,
    lo: usize,
    hi: usize,
}

/// y[n,o,i] = Σ_c Σ_k w[o,c,k] x[n,c,i+k-lo] in i64, 1-D, stride 1.
fn corr1d(x: &[i64], w: &[i64], d: &Dims) -> Vec<i64> {
    let Dims {
        n,
        c,
        o,
        s,
        k,
        lo,
        hi,
    } = *d;
    let out = s + lo + hi - k + 1;
    let mut y = vec![0i64; n * o * out];
    for b in 0..n {
        for oc in 0..o {
            for i in 0..out {
                let mut acc = 0i64;
                for ic in 0..c {
                    for kk in 0..k {
                        let p = (i + kk) as i64 - lo as i64;
                        if p >= 0 && (p as usize) < s {
                            acc += w[(oc * c + ic) * k + kk] * x[(b * c + ic) * s + p as usize];
                        }
                    }
                }
                y[(b * o + oc) * out + i] = acc;
            }
        }
    }
    y
}

fn assert_exact(got: &Tensor<f64>, want: &[i64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let worst = got
        .data()
        .iter()
        .zip(want)
        .map(|(g, &w)| (g - w as f64).abs())
        .fold(0.0, f64::max);
    assert!(
        worst < 0.25,
        "{what}: FFT result is {worst} away from the integers"
    );
    for (i, (g, &w)) in got.data().iter().zip(want).enumerate() {
        assert_eq!(g.round() as i64, w, "{what}: element {i}");
    }
}

#[test]
fn one_d_forward_rounds_to_exact_integers_for_prime_and_long_sizes() {
    for &(s, k, lo, hi) in &[
        (7usize, 3usize, 1usize, 1usize),
        (13, 5, 0, 4),
        (31, 7, 3, 3),
        (97, 11, 5, 5),
        (4096, 65, 32, 32),
    ] {
        let (n, c, o) = (2, 3, 2);
        let (x, xi) = ints(&[n, c, s], 1);
        let (w, wi) = ints(&[o, c, k], 2);
        let spec = ConvSpec::conv(&[1], Padding::Explicit(vec![(lo, hi)]), &[1]);
        let y = conv::forward(&spec, &x, &w, None, Algorithm::Chain).unwrap();
        assert_exact(
            &y,
            &corr1d(
                &xi,
                &wi,
                &Dims {
                    n,
                    c,
                    o,
                    s,
                    k,
                    lo,
                    hi,
                },
            ),
            &format!("forward S={s} K={k}"),
        );
    }
}

#[test]
fn gradients_round_to_exact_integers() {
    // dw[o,c,k] = Σ_{n,i} dy[n,o,i] x[n,c,i+k-lo];  dx[n,c,p] = Σ_{o,k} w[o,c,k] dy[n,o,p+lo-k].
    let (n, c, o, s, k, lo, hi) = (2usize, 2usize, 3usize, 4096usize, 65usize, 32usize, 32usize);
    let (x, xi) = ints(&[n, c, s], 3);
    let (w, wi) = ints(&[o, c, k], 4);
    let out = s + lo + hi - k + 1;
    let (dy, dyi) = ints(&[n, o, out], 5);
    let spec = ConvSpec::conv(&[1], Padding::Explicit(vec![(lo, hi)]), &[1]);
    let g = conv::backward(&spec, &x, &w, &dy, false, Algorithm::Chain).unwrap();
    let mut dw = vec![0i64; o * c * k];
    let mut dx = vec![0i64; n * c * s];
    for b in 0..n {
        for oc in 0..o {
            for i in 0..out {
                let d = dyi[(b * o + oc) * out + i];
                for ic in 0..c {
                    for kk in 0..k {
                        let p = (i + kk) as i64 - lo as i64;
                        if p >= 0 && (p as usize) < s {
                            dw[(oc * c + ic) * k + kk] += d * xi[(b * c + ic) * s + p as usize];
                            dx[(b * c + ic) * s + p as usize] += d * wi[(oc * c + ic) * k + kk];
                        }
                    }
                }
            }
        }
    }
    assert_exact(&g.dw, &dw, "dw, S=4096 K=65");
    assert_exact(&g.dx, &dx, "dx, S=4096 K=65");
}

#[test]
fn two_and_three_d_forward_rounds_to_exact_integers() {
    for (xs, ws) in [
        (vec![1usize, 2, 11, 13], vec![2usize, 2, 3, 5]),
        (vec![1, 1, 7, 5, 11], vec![1, 1, 3, 2, 3]),
    ] {
        let (x, _) = ints(&xs, 6);
        let (w, _) = ints(&ws, 7);
        let spec = ConvSpec::conv(&[1], Padding::Explicit(vec![(1, 1); xs.len() - 2]), &[1]);
        let fft = conv::forward(&spec, &x, &w, None, Algorithm::Chain).unwrap();
        let direct = conv::forward(&spec, &x, &w, None, Algorithm::Direct).unwrap(); // exact: integer sums below 2^53
        assert_exact(
            &fft,
            &direct.data().iter().map(|&v| v as i64).collect::<Vec<_>>(),
            &format!("x {xs:?}"),
        );
    }
}
