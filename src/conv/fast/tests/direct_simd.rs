//! The tiled direct path (`Algorithm::DirectSimd`) agrees with the loop witness (`Direct`) on
//! forward, ∂x, ∂w and ∂b: random stride-1 specs (the geometry it computes itself: dilation,
//! groups, every padding mode, transposes, 1-D to 3-D, widths and channel counts off its tile
//! sizes) in f64 and f32, plus strided specs (its fallback); the detected, portable and
//! AVX2-only kernels, and the 256-bit ones in AVX-512's registers (the detected kernels are
//! 512-bit ones on a CPU with AVX-512F).
use crate::conv::fast::direct_simd::{self, Kernels};
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

/// A random valid layer; `strided` allows strides above 1.
fn random_case(rng: &mut ChaCha8Rng, strided: bool) -> (ConvSpec, Vec<usize>, Vec<usize>) {
    loop {
        let d = rng.random_range(1..=3usize);
        let transpose = rng.random_range(0..4) == 0;
        let groups = [1, 1, 1, 2, 3][rng.random_range(0..5usize)];
        let c_in = groups * rng.random_range(1..=6usize);
        let c_out = groups * rng.random_range(1..=9usize);
        let n = rng.random_range(1..=3usize);
        let max_s = [0, 40, 21, 7][d];
        let spatial: Vec<usize> = (0..d).map(|_| rng.random_range(1..=max_s)).collect();
        let kernel: Vec<usize> = (0..d).map(|_| rng.random_range(1..=5usize)).collect();
        let stride: Vec<usize> = (0..d)
            .map(|_| if strided { rng.random_range(1..=3) } else { 1 })
            .collect();
        let dilation: Vec<usize> = (0..d).map(|_| rng.random_range(1..=3usize)).collect();
        let pads: Vec<(usize, usize)> = (0..d)
            .map(|_| (rng.random_range(0..=3usize), rng.random_range(0..=3usize)))
            .collect();
        if let Some(case) = super::layer(
            rng,
            Draw {
                transpose,
                n,
                c_in,
                c_out,
                groups,
                spatial,
                kernel,
                stride,
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
    let (x, w, b, dy, at) = (&r.x, &r.w, &r.b, &r.dy, &r.at);
    // Through the public dispatch (AVX2 kernels where the CPU has them), and the portable
    // kernels every other CPU runs.
    let y = conv::forward(spec, x, w, Some(b), Algorithm::DirectSimd)
        .unwrap_or_else(|e| panic!("forward failed ({e}): {at}"));
    let gr = conv::backward(spec, x, w, dy, true, Algorithm::DirectSimd)
        .unwrap_or_else(|e| panic!("backward failed ({e}): {at}"));
    let yp = direct_simd::forward_using(spec, x, w, Some(b), Kernels::Portable)
        .unwrap_or_else(|e| panic!("portable forward failed ({e}): {at}"));
    let gp = direct_simd::backward_using(spec, x, w, dy, true, Kernels::Portable)
        .unwrap_or_else(|e| panic!("portable backward failed ({e}): {at}"));
    // The 16-register AVX2 tiles, which a CPU with AVX-512 would not run otherwise.
    let ya = direct_simd::forward_using(spec, x, w, Some(b), Kernels::Avx2Only)
        .unwrap_or_else(|e| panic!("AVX2-only forward failed ({e}): {at}"));
    let ga = direct_simd::backward_using(spec, x, w, dy, true, Kernels::Avx2Only)
        .unwrap_or_else(|e| panic!("AVX2-only backward failed ({e}): {at}"));
    // The 256-bit vectors in AVX-512VL's 32 registers, which a CPU with AVX-512F would not
    // run otherwise (it runs 512-bit vectors: "detected").
    let yw = direct_simd::forward_using(spec, x, w, Some(b), Kernels::Avx512Ymm)
        .unwrap_or_else(|e| panic!("AVX-512 ymm forward failed ({e}): {at}"));
    let gw = direct_simd::backward_using(spec, x, w, dy, true, Kernels::Avx512Ymm)
        .unwrap_or_else(|e| panic!("AVX-512 ymm backward failed ({e}): {at}"));
    let t = tol::<T>();
    for (kernels, y, gr) in [
        ("detected", &y, &gr),
        ("portable", &yp, &gp),
        ("AVX2 only", &ya, &ga),
        ("AVX-512 ymm", &yw, &gw),
    ] {
        r.assert_agrees(&format!("DirectSimd ({kernels})"), y, gr, t);
    }
}

#[test]
fn direct_simd_matches_loops_at_stride_one() {
    let mut rng = ChaCha8Rng::seed_from_u64(31);
    for case in 0..80 {
        let (spec, xs, ws) = random_case(&mut rng, false);
        check::<f64>(&spec, &xs, &ws, 1000 + case);
        check::<f32>(&spec, &xs, &ws, 2000 + case);
    }
}

#[test]
fn direct_simd_falls_back_on_strides() {
    let mut rng = ChaCha8Rng::seed_from_u64(32);
    for case in 0..20 {
        let (spec, xs, ws) = random_case(&mut rng, true);
        check::<f64>(&spec, &xs, &ws, 3000 + case);
        check::<f32>(&spec, &xs, &ws, 4000 + case);
    }
}

#[test]
fn direct_simd_on_benchmark_like_layers() {
    // Channel counts on and off the 4-channel blocks, widths on and off the 8/16 tiles.
    let same = ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1]);
    check::<f32>(&same, &[2, 16, 19, 33], &[16, 16, 3, 3], 1);
    check::<f64>(&same, &[2, 16, 19, 33], &[16, 16, 3, 3], 2);
    check::<f32>(&same, &[1, 5, 17, 16], &[7, 5, 3, 3], 3);
    check::<f64>(&same, &[1, 5, 17, 16], &[7, 5, 3, 3], 4);
    let circular = ConvSpec {
        padding: Padding::Same,
        padding_mode: PadMode::Circular,
        ..Default::default()
    };
    check::<f32>(&circular, &[2, 6, 13, 24], &[9, 6, 5, 3], 5);
    // Rows of 1 to 17 vectors of 8 (1 to 9 of 16): every split into tiles of 1 to 4 vectors,
    // and short last tiles.
    for (i, width) in [4, 8, 24, 40, 60, 64, 68, 100, 136].into_iter().enumerate() {
        let seed = 10 + 2 * i as u64;
        check::<f32>(&same, &[1, 3, 2, width], &[5, 3, 3, 3], seed);
        check::<f64>(&same, &[1, 3, 2, width], &[5, 3, 3, 3], seed + 1);
    }
    // One-row kernels: the ∂w sweep over whole rows must not read the next slab's data.
    let valid = ConvSpec::conv(&[1, 1, 1], Padding::Valid, &[1, 1, 1]);
    check::<f64>(&valid, &[2, 3, 4, 5, 13], &[5, 3, 2, 1, 3], 6);
    check::<f32>(&valid, &[2, 3, 4, 5, 13], &[5, 3, 2, 1, 3], 7);
}

/// The stem at full width (3 input channels, 7×7 at stride 2 on rows of 128, and an odd
/// width): `∂x` in blocks of 3 rows with tiles of 8 vectors, `∂w` swept row by row, the
/// phase classes' planes split row by row from `x`.
#[test]
fn direct_simd_on_the_stem_at_full_width() {
    let stem = ConvSpec::conv(&[2, 2], Padding::Explicit(vec![(3, 3), (3, 3)]), &[1, 1]);
    check::<f32>(&stem, &[1, 3, 12, 128], &[6, 3, 7, 7], 40);
    check::<f64>(&stem, &[1, 3, 12, 128], &[6, 3, 7, 7], 41);
    check::<f32>(&stem, &[2, 3, 9, 117], &[5, 3, 7, 7], 42);
    check::<f64>(&stem, &[2, 3, 9, 117], &[5, 3, 7, 7], 43);
}

/// Planes longer than one `∂w` chunk (4 KB of a plane: 1024 floats, 512 doubles): the stem's
/// row sweep over 20 output rows of 64 (two or three chunks of whole rows), and a 1-D layer's
/// single row of 2100 outputs (the flat sweep cut into pieces, a short last one).
#[test]
fn direct_simd_weight_sweep_in_chunks() {
    let stem = ConvSpec::conv(&[2, 2], Padding::Explicit(vec![(3, 3), (3, 3)]), &[1, 1]);
    check::<f32>(&stem, &[2, 3, 40, 128], &[5, 3, 7, 7], 50);
    check::<f64>(&stem, &[1, 3, 40, 128], &[6, 3, 7, 7], 51);
    let same = ConvSpec::conv(&[1], Padding::Same, &[1]);
    check::<f32>(&same, &[1, 3, 2100], &[5, 3, 7], 52);
    check::<f64>(&same, &[2, 2, 2100], &[4, 2, 4], 53);
    let strided = ConvSpec::conv(&[2], Padding::Explicit(vec![(3, 3)]), &[1]);
    check::<f32>(&strided, &[1, 3, 4200], &[5, 3, 7], 54);
    check::<f64>(&strided, &[1, 3, 4200], &[5, 3, 7], 55);
}

/// `∂w` tasks of up to 3 input channels each (`plan::WEIGHT_CHANNELS`), swept together over
/// each chunk of the cotangent: channel counts per group of 1 to 7 (a last task of 1, 2 or 3
/// channels), one group and two, on planes of one and of several chunks.
#[test]
fn direct_simd_weight_tasks_of_several_channels() {
    let same = ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1]);
    let grouped = ConvSpec {
        groups: 2,
        ..same.clone()
    };
    for cg in 1..=7usize {
        let seed = 60 + 4 * cg as u64;
        check::<f32>(&same, &[2, cg, 5, 19], &[6, cg, 3, 4], seed);
        check::<f64>(&same, &[1, cg, 5, 19], &[5, cg, 4, 3], seed + 1);
        check::<f32>(&grouped, &[1, 2 * cg, 3, 70], &[10, cg, 3, 3], seed + 2);
        check::<f64>(&grouped, &[1, 2 * cg, 20, 33], &[4, cg, 2, 4], seed + 3);
    }
}

/// Blocks of 3 output planes (a stem's `∂x`, forward passes with 3, 5 or 6 output channels)
/// run two output rows per 512-bit tile: every count of rows (a last odd one alone), rows of
/// 1 to 5 vectors, under zero and reflect padding and through the polyphase split.
#[test]
fn direct_simd_pairs_of_output_rows() {
    let same = ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1]);
    let reflect = ConvSpec {
        padding: Padding::Same,
        padding_mode: PadMode::Reflect,
        ..Default::default()
    };
    let mut seed = 60;
    for rows in [1, 2, 3, 4, 5, 8] {
        for width in [5, 16, 40, 64, 70] {
            check::<f32>(&same, &[1, 3, rows, width], &[3, 3, 3, 3], seed);
            check::<f64>(&same, &[1, 3, rows, width], &[6, 3, 3, 3], seed + 1);
            seed += 2;
        }
        check::<f32>(&reflect, &[2, 3, rows + 2, 33], &[5, 3, 3, 3], seed);
        check::<f64>(&reflect, &[1, 3, rows + 2, 33], &[3, 3, 3, 3], seed + 1);
        seed += 2;
    }
    let stem = ConvSpec::conv(&[2, 2], Padding::Explicit(vec![(3, 3), (3, 3)]), &[1, 1]);
    for rows in [7, 8, 11] {
        check::<f32>(&stem, &[1, 3, rows, 64], &[3, 3, 7, 7], seed);
        check::<f64>(&stem, &[1, 3, rows, 64], &[4, 3, 7, 7], seed + 1);
        seed += 2;
    }
}

/// The per-thread spare buffers of the planes are reused across calls of different shapes,
/// dtypes and padding modes: every call gives what it gives alone (bit for bit) and agrees
/// with the loop witness.
#[test]
fn direct_simd_spare_buffers_across_calls() {
    let stem = ConvSpec::conv(&[2, 2], Padding::Explicit(vec![(3, 3), (3, 3)]), &[1, 1]);
    let reflect = ConvSpec {
        padding: Padding::Same,
        padding_mode: PadMode::Reflect,
        ..Default::default()
    };
    let same = ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1]);
    let layers: [(&ConvSpec, [usize; 4], [usize; 4]); 4] = [
        (&stem, [2, 3, 64, 64], [8, 3, 7, 7]),
        (&same, [1, 5, 9, 13], [4, 5, 3, 3]),
        (&reflect, [2, 4, 40, 50], [6, 4, 3, 3]),
        (&stem, [1, 3, 30, 90], [5, 3, 7, 7]),
    ];
    fn run<T: Scalar>(spec: &ConvSpec, xs: &[usize], ws: &[usize], seed: u64) -> Vec<Vec<T>> {
        let r = witness::<T>(spec, xs, ws, seed);
        let y = conv::forward(spec, &r.x, &r.w, Some(&r.b), Algorithm::DirectSimd).unwrap();
        let g = conv::backward(spec, &r.x, &r.w, &r.dy, true, Algorithm::DirectSimd).unwrap();
        r.assert_agrees("DirectSimd after other layers", &y, &g, tol::<T>());
        [y, g.dx, g.dw].map(|t| t.data().to_vec()).to_vec()
    }
    let first32: Vec<_> = (layers.iter().enumerate())
        .map(|(i, (s, xs, ws))| run::<f32>(s, xs, ws, 70 + i as u64))
        .collect();
    let first64: Vec<_> = (layers.iter().enumerate())
        .map(|(i, (s, xs, ws))| run::<f64>(s, xs, ws, 80 + i as u64))
        .collect();
    // Again in the reverse order, the dtypes interleaved: the buffers now hold the others'
    // values.
    for (i, (s, xs, ws)) in layers.iter().enumerate().rev() {
        assert_eq!(
            run::<f32>(s, xs, ws, 70 + i as u64),
            first32[i],
            "f32 layer {i}"
        );
        assert_eq!(
            run::<f64>(s, xs, ws, 80 + i as u64),
            first64[i],
            "f64 layer {i}"
        );
    }
}
