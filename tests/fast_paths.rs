//! Every algorithm agrees with the loop witness (`Direct`) on forward, ∂x, ∂w and ∂b, on random
//! specs (stride, dilation, groups, padding modes, transposes) in f64 and f32; and the cached
//! FFT layer's backward equals the stateless one.
use fftconv::conv::{self, fast::FftConv, Algorithm, ConvKind, ConvSpec, Geometry, Padding};
use fftconv::op::PadMode;
use fftconv::{Scalar, Tensor};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ALGOS: [Algorithm; 6] = [
    Algorithm::Fft,
    Algorithm::Im2col,
    Algorithm::DirectSimd,
    Algorithm::Winograd,
    Algorithm::Auto,
    Algorithm::Chain,
];

mod common;
use common::rel;

/// Tolerance per dtype: a few hundred ulps of the output scale (FFT round-off grows like
/// log P; the sums have up to a few hundred terms).
fn tol<T: Scalar>() -> f64 {
    if T::NAME == "f32" {
        2e-4
    } else {
        1e-11
    }
}

fn random_case(rng: &mut ChaCha8Rng) -> (ConvSpec, Vec<usize>, Vec<usize>) {
    loop {
        let d = rng.random_range(1..=3usize);
        let transpose = rng.random_range(0..4) == 0;
        let groups = [1, 1, 2, 3][rng.random_range(0..4usize)];
        let c_in = groups * rng.random_range(1..=3usize);
        let c_out = groups * rng.random_range(1..=3usize);
        let n = rng.random_range(1..=2usize);
        let max_s = [0, 13, 9, 5][d];
        let spatial: Vec<usize> = (0..d).map(|_| rng.random_range(3..=max_s)).collect();
        let kernel: Vec<usize> = (0..d).map(|_| rng.random_range(1..=4usize)).collect();
        let stride: Vec<usize> = (0..d).map(|_| rng.random_range(1..=3usize)).collect();
        let dilation: Vec<usize> = (0..d).map(|_| rng.random_range(1..=2usize)).collect();
        let pads: Vec<(usize, usize)> = (0..d)
            .map(|_| (rng.random_range(0..=2usize), rng.random_range(0..=2usize)))
            .collect();
        let mode = [
            PadMode::Zeros,
            PadMode::Circular,
            PadMode::Reflect,
            PadMode::Replicate,
        ][rng.random_range(0..4usize)];
        let spec = if transpose {
            ConvSpec {
                kind: ConvKind::ConvTranspose,
                stride: stride.clone(),
                dilation,
                padding: Padding::Explicit(pads),
                groups,
                output_padding: stride.iter().map(|&s| rng.random_range(0..s)).collect(),
                ..Default::default()
            }
        } else {
            ConvSpec {
                stride,
                dilation,
                padding: if rng.random_range(0..4) == 0 {
                    Padding::Same
                } else {
                    Padding::Explicit(pads)
                },
                groups,
                padding_mode: mode,
                ..Default::default()
            }
        };
        let x = [vec![n, c_in], spatial].concat();
        let w = if transpose {
            [vec![c_in, c_out / groups], kernel].concat()
        } else {
            [vec![c_out, c_in / groups], kernel].concat()
        };
        if spec.geometry(&x, &w).is_ok() {
            return (spec, x, w);
        }
    }
}

fn check_all<T: Scalar>(spec: &ConvSpec, xs: &[usize], ws: &[usize], seed: u64) {
    let g: Geometry = spec.geometry(xs, ws).unwrap();
    let x = Tensor::<T>::randn(xs, seed);
    let w = Tensor::<T>::randn(ws, seed + 1);
    let b = Tensor::<T>::randn(&g.b_shape(), seed + 2);
    let dy = Tensor::<T>::randn(&g.y_shape(), seed + 3);
    let y_ref = conv::forward(spec, &x, &w, Some(&b), Algorithm::Direct).unwrap();
    let g_ref = conv::backward(spec, &x, &w, &dy, true, Algorithm::Direct).unwrap();
    let t = tol::<T>();
    let at = format!("{} {spec:?} x {xs:?} w {ws:?}", T::NAME);
    for algo in ALGOS {
        let y = conv::forward(spec, &x, &w, Some(&b), algo).unwrap();
        assert!(
            rel(&y, &y_ref) < t,
            "{algo:?} y off by {:.2e}: {at}",
            rel(&y, &y_ref)
        );
        let gr = conv::backward(spec, &x, &w, &dy, true, algo).unwrap();
        assert!(
            rel(&gr.dx, &g_ref.dx) < t,
            "{algo:?} dx off by {:.2e}: {at}",
            rel(&gr.dx, &g_ref.dx)
        );
        assert!(
            rel(&gr.dw, &g_ref.dw) < t,
            "{algo:?} dw off by {:.2e}: {at}",
            rel(&gr.dw, &g_ref.dw)
        );
        let (db, db_ref) = (gr.db.unwrap(), g_ref.db.clone().unwrap());
        assert!(rel(&db, &db_ref) < t, "{algo:?} db off: {at}");
    }
}

#[test]
fn every_algorithm_matches_direct_on_random_specs_f64() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    for case in 0..60 {
        let (spec, xs, ws) = random_case(&mut rng);
        check_all::<f64>(&spec, &xs, &ws, 100 + case);
    }
}

#[test]
fn every_algorithm_matches_direct_on_random_specs_f32() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for case in 0..60 {
        let (spec, xs, ws) = random_case(&mut rng);
        check_all::<f32>(&spec, &xs, &ws, 500 + case);
    }
}

#[test]
fn depthwise_and_large_kernels_agree() {
    // The shapes the cost model sends to the FFT path: depthwise and wide kernels.
    let dw = ConvSpec {
        padding: Padding::Same,
        groups: 4,
        ..Default::default()
    };
    check_all::<f64>(&dw, &[2, 4, 20, 18], &[4, 1, 9, 9], 1);
    check_all::<f32>(&dw, &[2, 4, 20, 18], &[4, 1, 9, 9], 2);
    // Eight channels and more: the FFT layer's fused depthwise passes.
    let dw8 = ConvSpec {
        groups: 8,
        stride: vec![1, 2],
        ..ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1])
    };
    check_all::<f64>(&dw8, &[2, 8, 13, 16], &[8, 1, 5, 7], 9);
    check_all::<f32>(&dw8, &[2, 8, 13, 16], &[8, 1, 5, 7], 10);
    // Channel counts large enough for the packed GEMM kernels (every extent above 5).
    let dense = ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1]);
    check_all::<f64>(&dense, &[2, 8, 10, 9], &[7, 8, 3, 3], 5);
    check_all::<f32>(&dense, &[2, 8, 10, 9], &[7, 8, 3, 3], 6);
    let grouped = ConvSpec {
        stride: vec![2, 1],
        groups: 2,
        padding: Padding::Explicit(vec![(1, 1), (2, 0)]),
        padding_mode: PadMode::Reflect,
        ..Default::default()
    };
    check_all::<f64>(&grouped, &[2, 12, 11, 10], &[12, 6, 3, 3], 7);
    check_all::<f32>(&grouped, &[2, 12, 11, 10], &[12, 6, 3, 3], 8);
    let wide = ConvSpec::conv(&[1], Padding::Same, &[1]);
    check_all::<f64>(&wide, &[2, 3, 300], &[5, 3, 33], 3);
    check_all::<f32>(&wide, &[2, 3, 300], &[5, 3, 33], 4);
    // A 3-D period of rows of 36: paired rows and mixed columns where the CPU runs them (f32
    // with AVX2 and AVX-512F).
    let cube = ConvSpec::conv(&[1, 1, 1], Padding::Same, &[1, 1, 1]);
    let (xs, ws) = ([1, 2, 8, 16, 32], [2, 2, 3, 3, 5]);
    let g = cube.geometry(&xs, &ws).unwrap();
    let period = fftconv::conv::fast::tiling::Tiling::for_geometry(&g)
        .axes
        .map(|a| a.period);
    assert_eq!(period, [6, 8, 36]);
    check_all::<f64>(&cube, &xs, &ws, 11);
    check_all::<f32>(&cube, &xs, &ws, 12);
}

#[test]
fn cached_fft_layer_matches_stateless_and_refuses_backward_before_forward() {
    let spec = ConvSpec::conv(&[2, 1], Padding::Same, &[1, 2]);
    let (xs, ws) = ([2, 3, 12, 10], [4, 3, 3, 3]);
    let x = Tensor::<f64>::randn(&xs, 1);
    let w = Tensor::<f64>::randn(&ws, 2);
    let mut layer = FftConv::new(&spec, &xs, &ws).unwrap();
    let err = layer.backward(&Tensor::zeros(&layer.geometry().y_shape()), false);
    assert!(err.unwrap_err().to_string().contains("forward"));
    let y = layer.forward(&x, &w, None).unwrap();
    let dy = Tensor::<f64>::randn(y.shape(), 3);
    let cached = layer.backward(&dy, false).unwrap();
    let fresh = conv::backward(&spec, &x, &w, &dy, false, Algorithm::Fft).unwrap();
    assert!(rel(&cached.dx, &fresh.dx) < 1e-14, "cached dx differs");
    assert!(rel(&cached.dw, &fresh.dw) < 1e-14, "cached dw differs");
    // A differently shaped input is refused with the name of the input.
    let wrong = Tensor::<f64>::randn(&[2, 3, 12, 11], 4);
    let msg = layer.forward(&wrong, &w, None).unwrap_err().to_string();
    assert!(msg.contains("input x"), "{msg}");
}

#[test]
fn auto_is_the_default_and_resolves_to_a_fast_path() {
    assert_eq!(Algorithm::default(), Algorithm::Auto);
    let spec = ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1]);
    let g = spec.geometry(&[8, 16, 64, 64], &[16, 16, 3, 3]).unwrap();
    assert_eq!(Algorithm::Auto.resolve(&g), Algorithm::DirectSimd);
    let g = spec.geometry(&[8, 16, 64, 64], &[16, 16, 15, 15]).unwrap();
    assert_eq!(Algorithm::Auto.resolve(&g), Algorithm::Fft);
}

/// The FFT layer with random tile sizes (overlap–save windows, overlap–add gradients, weight
/// gradients summed over tiles) equals the loop witness, in every geometry the random specs
/// produce.
#[test]
fn every_tiling_matches_direct() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for case in 0..80 {
        let (spec, xs, ws) = random_case(&mut rng);
        let g: Geometry = spec.geometry(&xs, &ws).unwrap();
        let out = g.as_conv().output;
        let blocks: Vec<usize> = out.iter().map(|&o| rng.random_range(1..=o)).collect();
        let at = format!("{spec:?} x {xs:?} w {ws:?} blocks {blocks:?}");
        let x = Tensor::<f64>::randn(&xs, case);
        let w = Tensor::<f64>::randn(&ws, case + 1);
        let dy = Tensor::<f64>::randn(&g.y_shape(), case + 2);
        let mut layer = FftConv::with_blocks(&spec, &xs, &ws, &blocks).unwrap();
        let mut at = at;
        if case % 2 == 1 {
            // Periods longer than the smallest fast length (any length ≥ the window works).
            let d = blocks.len();
            let periods: Vec<usize> = layer.tiling().period()[3 - d..]
                .iter()
                .map(|&p| p + rng.random_range(0..=3))
                .collect();
            at = format!("{at} periods {periods:?}");
            layer = FftConv::with_tiles(&spec, &xs, &ws, &blocks, &periods).unwrap();
        }
        let y = layer.forward(&x, &w, None).unwrap();
        let grads = layer.backward(&dy, false).unwrap();
        let y_ref = conv::forward(&spec, &x, &w, None, Algorithm::Direct).unwrap();
        let g_ref = conv::backward(&spec, &x, &w, &dy, false, Algorithm::Direct).unwrap();
        for (name, got, want) in [
            ("y", &y, &y_ref),
            ("dx", &grads.dx, &g_ref.dx),
            ("dw", &grads.dw, &g_ref.dw),
        ] {
            let e = rel(got, want);
            assert!(e < 1e-11, "{name} off by {e:.2e} with tiles: {at}");
        }
    }
}

#[test]
fn tile_periods_shorter_than_the_window_or_of_the_wrong_rank_are_refused() {
    let spec = ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1]);
    // One output per tile of a 3x3 kernel reads 3 inputs per axis.
    for bad in [&[3, 2][..], &[3], &[3, 3, 3]] {
        let err = FftConv::<f64>::with_tiles(&spec, &[1, 2, 9, 9], &[2, 2, 3, 3], &[1, 1], bad);
        assert!(
            err.is_err_and(|e| e.to_string().contains("tile periods")),
            "{bad:?} accepted"
        );
    }
    assert!(
        FftConv::<f64>::with_tiles(&spec, &[1, 2, 9, 9], &[2, 2, 3, 3], &[1, 1], &[3, 7]).is_ok()
    );
}

#[test]
fn tile_blocks_of_the_wrong_rank_are_refused() {
    let spec = ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1]);
    for bad in [&[4][..], &[4, 0], &[1, 2, 3]] {
        let err = FftConv::<f64>::with_blocks(&spec, &[1, 2, 9, 9], &[2, 2, 3, 3], bad);
        assert!(
            err.is_err_and(|e| e.to_string().contains("tile blocks")),
            "{bad:?} accepted"
        );
    }
}
