//! The depthwise direct path (one input channel per group; `conv::fast::depthwise`, reached
//! through `Algorithm::DirectSimd` and `Algorithm::Auto`) agrees with the loop witness
//! (`Direct`) on forward, ∂x, ∂w and ∂b: random depthwise specs (channel multipliers,
//! dilation, every padding mode, 1-D to 3-D, widths off the register tiles) in f64 and f32,
//! with the detected kernels (512-bit row-sharing kernels where the CPU has AVX-512F and VL),
//! the 256-bit ones in AVX-512VL's 32 registers (`Avx512Ymm`), the 16-register AVX2 ones and
//! the portable ones; and the cost model
//! sends ConvNeXt's depthwise 7×7 to it.
use crate::conv::fast::direct_simd::{self, Kernels};
use crate::conv::fast::{choose_backward, choose_forward, Choice};
use crate::conv::{self, Algorithm, ConvSpec, Padding};
use crate::op::PadMode;
use crate::Scalar;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{witness, Draw};

fn tol<T: Scalar>() -> f64 {
    if T::NAME == "f32" {
        1e-4
    } else {
        1e-12
    }
}

/// A random valid depthwise layer (stride 1: the geometry the path runs).
fn random_case(rng: &mut ChaCha8Rng) -> (ConvSpec, Vec<usize>, Vec<usize>) {
    loop {
        let d = rng.random_range(1..=3usize);
        let c = rng.random_range(1..=5usize);
        let m = [1, 1, 2, 3][rng.random_range(0..4usize)];
        let n = rng.random_range(1..=3usize);
        let max_s = [0, 70, 30, 9][d];
        let spatial: Vec<usize> = (0..d).map(|_| rng.random_range(1..=max_s)).collect();
        let kernel: Vec<usize> = (0..d).map(|_| rng.random_range(1..=9usize)).collect();
        let dilation: Vec<usize> = (0..d).map(|_| rng.random_range(1..=2usize)).collect();
        let pads: Vec<(usize, usize)> = (0..d)
            .map(|_| (rng.random_range(0..=4usize), rng.random_range(0..=4usize)))
            .collect();
        if let Some(case) = super::layer(
            rng,
            Draw {
                transpose: false,
                n,
                c_in: c,
                c_out: c * m,
                groups: c,
                spatial,
                kernel,
                stride: vec![1; d],
                dilation,
                pads,
            },
        ) {
            return case;
        }
    }
}

fn check<T: Scalar>(spec: &ConvSpec, xs: &[usize], ws: &[usize], seed: u64) {
    let r = witness::<T>(spec, xs, ws, seed);
    let (x, w, b, dy) = (&r.x, &r.w, &r.b, &r.dy);
    let all = [
        Kernels::Detect,
        Kernels::Avx512Ymm,
        Kernels::Avx2Only,
        Kernels::Portable,
    ];
    for kernels in all {
        let y = direct_simd::forward_using(spec, x, w, Some(b), kernels).unwrap();
        let gr = direct_simd::backward_using(spec, x, w, dy, true, kernels).unwrap();
        r.assert_agrees(&format!("{kernels:?}"), &y, &gr, tol::<T>());
    }
    // And through the public dispatch, whichever path `Auto` picks per direction.
    let y = conv::forward(spec, x, w, Some(b), Algorithm::Auto).unwrap();
    let gr = conv::backward(spec, x, w, dy, true, Algorithm::Auto).unwrap();
    let t = if T::NAME == "f32" { 2e-4 } else { 1e-11 };
    r.assert_agrees("Auto", &y, &gr, t);
}

#[test]
fn depthwise_matches_loops_on_random_specs_f64() {
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    for case in 0..60 {
        let (spec, xs, ws) = random_case(&mut rng);
        check::<f64>(&spec, &xs, &ws, 1000 + 4 * case);
    }
}

#[test]
fn depthwise_matches_loops_on_random_specs_f32() {
    let mut rng = ChaCha8Rng::seed_from_u64(22);
    for case in 0..60 {
        let (spec, xs, ws) = random_case(&mut rng);
        check::<f32>(&spec, &xs, &ws, 2000 + 4 * case);
    }
}

#[test]
fn depthwise_on_convnext_like_layers() {
    // Widths and heights that the register tiles cover exactly (straight into y and ∂x) and
    // ones they do not.
    let same = ConvSpec {
        padding: Padding::Same,
        groups: 8,
        ..Default::default()
    };
    for (hw, seed) in [(56, 1), (16, 2), (13, 3), (33, 4)] {
        check::<f32>(&same, &[2, 8, hw, hw], &[8, 1, 7, 7], seed);
        check::<f64>(&same, &[2, 8, hw, hw], &[8, 1, 7, 7], seed + 10);
    }
}

#[test]
fn depthwise_row_sharing_kernels() {
    // Kernels of 3, 5 and 7 rows at row dilation 1 run the row-sharing kernels (7 or 8 output
    // rows per tile with 16 registers; 14 with AVX-512VL's 32 where that pads the height no
    // more: 28, 14, 42 and 13 here); heights on and off those tiles, wide and dilated columns,
    // zero and non-zero padding modes.
    for (k, hw, dil, mode, seed) in [
        (3, [8, 8], 1, PadMode::Zeros, 1),
        (3, [19, 11], 2, PadMode::Reflect, 2),
        (5, [16, 24], 1, PadMode::Zeros, 3),
        (5, [13, 9], 3, PadMode::Circular, 4),
        (7, [14, 14], 1, PadMode::Zeros, 5),
        (7, [23, 30], 2, PadMode::Replicate, 6),
        (3, [28, 20], 1, PadMode::Zeros, 7),
        (5, [14, 9], 1, PadMode::Reflect, 8),
        (7, [42, 17], 1, PadMode::Circular, 9),
        (7, [13, 8], 1, PadMode::Zeros, 10),
    ] {
        let spec = ConvSpec {
            padding: Padding::Same,
            dilation: vec![1, dil],
            groups: 3,
            padding_mode: mode,
            ..Default::default()
        };
        let (xs, ws) = ([2, 3, hw[0], hw[1]], [6, 1, k, k + 1]);
        check::<f32>(&spec, &xs, &ws, seed);
        check::<f64>(&spec, &xs, &ws, seed + 10);
    }
}

/// Kernel size, input height × width, pads per axis, padding mode, row dilation.
type InPlaceCase = (usize, [usize; 2], [(usize, usize); 2], PadMode, usize);

#[test]
fn depthwise_forward_reads_zero_padded_planes_in_place() {
    // 2-D layers under zero padding (or none, in any mode) run the row-sharing forward pass
    // on the input plane itself (and `∂x` on the cotangent plane, when the pads are within
    // the kernel's reach): tiles at the top and bottom skip the rows outside it, strips
    // at the left and right edges load only the lanes inside. Planes narrower than one strip
    // with its reach (no interior strip), lopsided and large pads (strips wholly in the
    // padding), heights off the tiles (the output through a buffer) and on them (written in
    // place), planes several 512-bit strips wide; `∂w` in blocks of 3 and 2 kernel rows
    // (k = 2..7) at row dilation 1 and one row at a time at 2.
    let cases: [InPlaceCase; 12] = [
        (7, [56, 56], [(3, 3), (3, 3)], PadMode::Zeros, 1),
        (7, [14, 5], [(3, 3), (3, 3)], PadMode::Zeros, 1),
        (7, [28, 3], [(0, 6), (6, 0)], PadMode::Zeros, 1),
        (5, [16, 37], [(4, 0), (1, 9)], PadMode::Zeros, 1),
        (3, [9, 1], [(1, 1), (1, 1)], PadMode::Zeros, 1),
        (3, [13, 30], [(0, 0), (0, 0)], PadMode::Reflect, 1),
        (5, [21, 12], [(0, 0), (0, 0)], PadMode::Circular, 2),
        (4, [10, 19], [(2, 1), (0, 3)], PadMode::Zeros, 1),
        (2, [7, 9], [(1, 0), (0, 1)], PadMode::Zeros, 1),
        (7, [42, 17], [(5, 1), (2, 4)], PadMode::Zeros, 2),
        // Several interior 512-bit strips, with and without a 256-bit strip after them.
        (7, [14, 70], [(3, 3), (3, 3)], PadMode::Zeros, 1),
        (3, [16, 64], [(1, 1), (1, 1)], PadMode::Zeros, 1),
    ];
    for (i, (k, hw, pads, mode, dil)) in cases.into_iter().enumerate() {
        let spec = ConvSpec {
            padding: Padding::Explicit(pads.to_vec()),
            dilation: vec![dil, 1],
            groups: 2,
            padding_mode: mode,
            ..Default::default()
        };
        // Channel multipliers 1 (`∂x` reads the cotangent plane in place too) and 2.
        let m = 1 + i % 2;
        let (xs, ws) = ([2, 2, hw[0], hw[1]], [2 * m, 1, k, k.max(2) - 1]);
        check::<f32>(&spec, &xs, &ws, 40 + i as u64);
        check::<f64>(&spec, &xs, &ws, 60 + i as u64);
    }
}

#[test]
fn cost_model_sends_convnext_depthwise_to_the_direct_path() {
    let spec = ConvSpec {
        padding: Padding::Same,
        groups: 96,
        ..Default::default()
    };
    let g = spec.geometry(&[4, 96, 56, 56], &[96, 1, 7, 7]).unwrap();
    assert_eq!(choose_forward(&g), Choice::DirectSimd);
    assert_eq!(choose_backward(&g), Choice::DirectSimd);
    // A depthwise kernel as long as the sequence stays on the FFT path.
    let long = ConvSpec {
        padding: Padding::Explicit(vec![(4095, 0)]),
        groups: 64,
        ..Default::default()
    };
    let g = long.geometry(&[2, 64, 4096], &[64, 1, 4096]).unwrap();
    assert_eq!(choose_forward(&g), Choice::Fft);
    assert_eq!(choose_backward(&g), Choice::Fft);
}
