//! The polyphase split (`conv::fast::polyphase`): strided layers run as stride-1 layers on the
//! tiled direct kernels agree with the loop witness (`Algorithm::Direct`) on forward, ∂x, ∂w and
//! ∂b over random strided specs; the split and the weight split are adjoint to their folds
//! (dot-product tests, and a dense-matrix transpose on a tiny shape); f32 follows f64.
use crate::conv::driver::ConvCore;
use crate::conv::fast::direct_simd::Kernels;
use crate::conv::fast::polyphase::{self, Polyphase, PolyphaseCore};
use crate::conv::{self, Algorithm, ConvKind, ConvSpec, Geometry, Padding};
use crate::op::PadMode;
use crate::Tensor;
use nalgebra::DMatrix;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{rel, witness, Draw, MODES};

/// A random valid layer the split applies to: strides 1-3 per axis (at least one above 1),
/// dilation only on stride-1 axes, kernels 1-7, every padding mode, asymmetric explicit pads,
/// `same` and `valid`, groups, transposes with output padding.
fn random_case(rng: &mut ChaCha8Rng) -> (ConvSpec, Vec<usize>, Vec<usize>) {
    loop {
        let d = rng.random_range(1..=3usize);
        let transpose = rng.random_range(0..3) == 0;
        let groups = [1, 1, 2, 3][rng.random_range(0..4usize)];
        let c_in = groups * rng.random_range(1..=3usize);
        let c_out = groups * rng.random_range(1..=5usize);
        let n = rng.random_range(1..=2usize);
        let max_s = [0, 40, 17, 8][d];
        let spatial: Vec<usize> = (0..d).map(|_| rng.random_range(1..=max_s)).collect();
        let kernel: Vec<usize> = (0..d).map(|_| rng.random_range(1..=7usize)).collect();
        let mut stride: Vec<usize> = (0..d).map(|_| rng.random_range(1..=3usize)).collect();
        if stride.iter().all(|&s| s == 1) {
            stride[rng.random_range(0..d)] = rng.random_range(2..=3usize);
        }
        let dilation: Vec<usize> = stride
            .iter()
            .map(|&s| {
                if s == 1 {
                    rng.random_range(1..=2usize)
                } else {
                    1
                }
            })
            .collect();
        let pads: Vec<(usize, usize)> = (0..d)
            .map(|_| (rng.random_range(0..=4usize), rng.random_range(0..=4usize)))
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

/// Forward and all gradients of the split path (detected, portable and AVX2-only kernels, and
/// through the public dispatch of `Algorithm::DirectSimd`) against the loops, in f64.
fn check_against_loops(spec: &ConvSpec, xs: &[usize], ws: &[usize], seed: u64) {
    let g = spec.geometry(xs, ws).unwrap();
    let at = format!("{spec:?} x {xs:?} w {ws:?}");
    assert!(polyphase::applies(&g), "split does not apply: {at}");
    let r = witness::<f64>(spec, xs, ws, seed);
    let (x, w, b, dy) = (&r.x, &r.w, &r.b, &r.dy);
    let run = |kernels: Kernels| {
        let y = polyphase::forward(spec, x, w, Some(b), kernels)
            .unwrap_or_else(|e| panic!("{kernels:?} forward failed ({e}): {at}"));
        let gr = polyphase::backward(spec, x, w, dy, true, kernels)
            .unwrap_or_else(|e| panic!("{kernels:?} backward failed ({e}): {at}"));
        (y, gr)
    };
    let dispatch = (
        conv::forward(spec, x, w, Some(b), Algorithm::DirectSimd).unwrap(),
        conv::backward(spec, x, w, dy, true, Algorithm::DirectSimd).unwrap(),
    );
    for (path, (y, gr)) in [
        ("detected", run(Kernels::Detect)),
        ("portable", run(Kernels::Portable)),
        ("AVX2 only", run(Kernels::Avx2Only)),
        ("DirectSimd dispatch", dispatch),
    ] {
        r.assert_agrees(&format!("polyphase ({path})"), &y, &gr, 1e-11);
    }
}

#[test]
fn polyphase_matches_loops_on_random_strided_specs() {
    let mut rng = ChaCha8Rng::seed_from_u64(61);
    let mut kinds = [0usize; 2];
    for case in 0..60 {
        let (spec, xs, ws) = random_case(&mut rng);
        kinds[(spec.kind == ConvKind::ConvTranspose) as usize] += 1;
        check_against_loops(&spec, &xs, &ws, 100 * case);
    }
    assert!(
        kinds.iter().all(|&k| k >= 10),
        "generator too one-sided: {kinds:?} (conv, transpose)"
    );
}

/// The split core's single passes (`grad_x`, `grad_w`, `forward_and_grad_w`; the driver runs
/// them only inside transposes or not at all) agree with the loops on random conv layers, on
/// every kernel set: the summed classes with `∂x` or `∂w` alone.
#[test]
fn polyphase_core_single_passes_match_loops() {
    let mut rng = ChaCha8Rng::seed_from_u64(67);
    let mut checked = 0;
    while checked < 12 {
        let (spec, xs, ws) = random_case(&mut rng);
        if spec.kind != ConvKind::Conv {
            continue;
        }
        let g = spec.geometry(&xs, &ws).unwrap();
        let r = witness::<f64>(&spec, &xs, &ws, 7 * checked);
        let (x, w, dy, at) = (&r.x, &r.w, &r.dy, &r.at);
        for kernels in [Kernels::Detect, Kernels::Portable, Kernels::Avx2Only] {
            let core = PolyphaseCore::<f64>::new(&g.as_conv(), kernels).unwrap();
            let (y, want_y) = (
                core.forward(x, w).unwrap(),
                conv::forward(&spec, x, w, None, Algorithm::Direct).unwrap(),
            );
            let dx = core.grad_x(dy, w).unwrap();
            let dw = core.grad_w(x, dy).unwrap();
            let (y2, dw2) = core.forward_and_grad_w(x, w, dy).unwrap();
            for (name, got, want) in [
                ("y", &y, &want_y),
                ("dx", &dx, &r.grads.dx),
                ("dw", &dw, &r.grads.dw),
                ("y (with dw)", &y2, &want_y),
                ("dw (with y)", &dw2, &r.grads.dw),
            ] {
                assert_eq!(got.shape(), want.shape(), "{kernels:?} {name} shape: {at}");
                let e = rel(got, want);
                assert!(e < 1e-11, "{kernels:?} {name} off by {e:.2e}: {at}");
            }
        }
        checked += 1;
    }
}

#[test]
fn polyphase_on_the_stem_and_edge_layers() {
    // The benchmark stem (smaller batch and image), every padding mode on it.
    for (i, mode) in MODES.into_iter().enumerate() {
        let spec = ConvSpec {
            padding_mode: mode,
            ..ConvSpec::conv(&[2, 2], Padding::Explicit(vec![(3, 3), (3, 3)]), &[1, 1])
        };
        check_against_loops(&spec, &[1, 3, 22, 19], &[9, 3, 7, 7], 10 + i as u64);
    }
    // Kernel smaller than the stride (phases with no taps), kernel 1, stride larger than the
    // input.
    let valid = ConvSpec::conv(&[3, 2], Padding::Valid, &[1, 1]);
    check_against_loops(&valid, &[2, 2, 10, 9], &[3, 2, 2, 1], 20);
    check_against_loops(&valid, &[1, 2, 2, 5], &[3, 2, 1, 1], 21);
    let mixed = ConvSpec::conv(&[1, 3], Padding::Explicit(vec![(2, 0), (0, 4)]), &[2, 1]);
    check_against_loops(&mixed, &[2, 3, 9, 11], &[5, 3, 3, 5], 22);
    // No output reads an input entry (every tap lands in the padding): no classes, y = b.
    let all_padding = ConvSpec::conv(&[3], Padding::Explicit(vec![(5, 0)]), &[1]);
    let g = all_padding.geometry(&[1, 2, 1], &[2, 2, 1]).unwrap();
    assert_eq!(Polyphase::new(&g).unwrap().classes(), 0, "{all_padding:?}");
    check_against_loops(&all_padding, &[1, 2, 1], &[2, 2, 1], 23);
}

/// A geometry planned again (the second plan comes from the split's plan cache): the same
/// results, bit for bit, through the public dispatch, and against the loop witness, f32 and
/// f64, n = 1, 2, 3.
#[test]
fn a_replanned_stem_gives_the_same_results() {
    let spec = ConvSpec::conv(&[2, 2], Padding::Explicit(vec![(3, 3), (3, 3)]), &[1, 1]);
    for n in 1..=3 {
        let (xs, ws) = ([n, 3, 21, 18], [10, 3, 7, 7]);
        let g = spec.geometry(&xs, &ws).unwrap();
        let first = PolyphaseCore::<f64>::new(&g.as_conv(), Kernels::Detect).unwrap();
        let again = PolyphaseCore::<f64>::new(&g.as_conv(), Kernels::Detect).unwrap();
        assert!(first.is_tiled() && again.is_tiled());
        let x = Tensor::<f64>::randn(&xs, 40 + n as u64);
        let w = Tensor::<f64>::randn(&ws, 50 + n as u64);
        let y = first.forward(&x, &w).unwrap();
        assert_eq!(y.data(), again.forward(&x, &w).unwrap().data());
        let (dx, dw) = first.grads(&x, &w, &y).unwrap();
        let (dx2, dw2) = again.grads(&x, &w, &y).unwrap();
        assert_eq!((dx.data(), dw.data()), (dx2.data(), dw2.data()));
        // Twice through the dispatch (forward then gradients, as a training step plans).
        check_against_loops(&spec, &xs, &ws, 60 + n as u64);
        check_against_loops(&spec, &xs, &ws, 70 + n as u64);
        let x32 = Tensor::<f32>::randn(&xs, 80 + n as u64);
        let w32 = Tensor::<f32>::randn(&ws, 90 + n as u64);
        let a = conv::forward(&spec, &x32, &w32, None, Algorithm::DirectSimd).unwrap();
        let b = conv::forward(&spec, &x32, &w32, None, Algorithm::DirectSimd).unwrap();
        assert_eq!(a.data(), b.data());
        let ga = conv::backward(&spec, &x32, &w32, &a, true, Algorithm::DirectSimd).unwrap();
        let gb = conv::backward(&spec, &x32, &w32, &a, true, Algorithm::DirectSimd).unwrap();
        assert_eq!((ga.dx.data(), ga.dw.data()), (gb.dx.data(), gb.dw.data()));
    }
}

#[test]
fn dilated_strided_axes_are_left_to_im2col() {
    let spec = ConvSpec::conv(&[2, 1], Padding::Valid, &[2, 1]);
    let g = spec.geometry(&[1, 2, 9, 9], &[3, 2, 3, 3]).unwrap();
    assert!(!polyphase::applies(&g), "dilation 2 on a stride-2 axis");
    assert!(Polyphase::new(&g).is_err(), "plan must refuse {spec:?}");
    let stride_one = ConvSpec::conv(&[1, 1], Padding::Valid, &[1, 1]);
    let g1 = stride_one.geometry(&[1, 2, 9, 9], &[3, 2, 3, 3]).unwrap();
    assert!(!polyphase::applies(&g1), "stride 1 needs no split");
    // The dispatch still computes it (through im2col).
    let x = Tensor::<f64>::randn(&[1, 2, 9, 9], 1);
    let w = Tensor::<f64>::randn(&[3, 2, 3, 3], 2);
    let y = conv::forward(&spec, &x, &w, None, Algorithm::DirectSimd).unwrap();
    let y_ref = conv::forward(&spec, &x, &w, None, Algorithm::Direct).unwrap();
    assert!(rel(&y, &y_ref) < 1e-12, "im2col fallback for {spec:?}");
}

/// A few geometries with every padding mode, for the adjoint tests.
fn adjoint_geometries() -> Vec<Geometry> {
    let mut out = vec![];
    for (i, mode) in MODES.into_iter().enumerate() {
        let spec = ConvSpec {
            padding_mode: mode,
            groups: 1 + i % 2,
            ..ConvSpec::conv(&[2, 3], Padding::Explicit(vec![(3, 1), (2, 4)]), &[1, 1])
        };
        out.push(
            spec.geometry(&[2, 2, 7, 8], &[4, 2 / (1 + i % 2), 5, 4])
                .unwrap(),
        );
    }
    let d3 = ConvSpec::conv(
        &[3, 1, 2],
        Padding::Explicit(vec![(1, 0), (0, 2), (2, 2)]),
        &[1, 2, 1],
    );
    out.push(d3.geometry(&[1, 2, 5, 4, 6], &[2, 2, 4, 2, 3]).unwrap());
    let t = ConvSpec {
        kind: ConvKind::ConvTranspose,
        stride: vec![3],
        padding: Padding::Explicit(vec![(2, 1)]),
        output_padding: vec![2],
        ..Default::default()
    };
    out.push(t.geometry(&[2, 3, 6], &[3, 2, 7]).unwrap());
    out
}

/// `Σ_c <a_c, b_c>` over the classes.
fn dots(a: &[Tensor<f64>], b: &[Tensor<f64>]) -> f64 {
    assert_eq!(a.len(), b.len(), "one tensor per class");
    a.iter().zip(b).map(|(a, b)| a.dot(b).unwrap()).sum()
}

#[test]
fn split_and_fold_are_adjoint() {
    let plans = adjoint_geometries().into_iter().flat_map(|g| {
        let (by_class, merged) = (Polyphase::new(&g).unwrap(), Polyphase::merged(&g).unwrap());
        [(g.clone(), by_class, false), (g, merged, true)]
    });
    for (i, (g, plan, merged)) in plans.enumerate() {
        let g = &g;
        let c = g.as_conv();
        let seed = 10 * i as u64;
        let x = Tensor::<f64>::randn(&c.x_shape(), seed);
        let u: Vec<Tensor<f64>> = plan
            .split_shapes(c.n, c.c_in)
            .iter()
            .enumerate()
            .map(|(j, s)| Tensor::randn(s, seed + 1 + j as u64))
            .collect();
        let lhs = dots(&plan.split(&x).unwrap(), &u);
        let rhs = x.dot(&plan.fold(&u).unwrap()).unwrap();
        assert!(
            (lhs - rhs).abs() <= 1e-12 * lhs.abs().max(1.0),
            "<split x, u> = {lhs} but <x, fold u> = {rhs}: {g:?}"
        );
        let w = Tensor::<f64>::randn(&c.w_shape(), seed + 7);
        let v: Vec<Tensor<f64>> = plan
            .split_weight_shapes()
            .iter()
            .enumerate()
            .map(|(j, s)| Tensor::randn(s, seed + 8 + j as u64))
            .collect();
        let lhs = dots(&plan.split_weight(&w).unwrap(), &v);
        let rhs = w.dot(&plan.fold_weight(&v).unwrap()).unwrap();
        assert!(
            (lhs - rhs).abs() <= 1e-12 * lhs.abs().max(1.0),
            "<split_weight w, v> = {lhs} but <w, fold_weight v> = {rhs}: {g:?}"
        );
        // By class, the weight split only permutes the taps (no zero taps): the classes hold
        // as many entries as the weight; merged, it adds zero taps. Either way its fold
        // undoes it.
        let parts = plan.split_weight(&w).unwrap();
        let entries: usize = parts.iter().map(|t| t.data().len()).sum();
        if !merged {
            assert_eq!(entries, w.data().len(), "weight split entries: {g:?}");
        } else {
            assert_eq!(parts.len(), 1, "merged plan has one class: {g:?}");
            assert!(
                entries >= w.data().len(),
                "merged weight split entries: {g:?}"
            );
        }
        let back = plan.fold_weight(&parts).unwrap();
        assert_eq!(
            back, w,
            "fold_weight ∘ split_weight is not the identity: {g:?}"
        );
    }
}

#[test]
fn the_stem_splits_into_four_classes_without_zero_taps() {
    let spec = ConvSpec::conv(&[2, 2], Padding::Explicit(vec![(3, 3), (3, 3)]), &[1, 1]);
    let g = spec.geometry(&[2, 3, 128, 128], &[32, 3, 7, 7]).unwrap();
    let plan = Polyphase::new(&g).unwrap();
    // Phase kernels 4×4, 4×3, 3×4, 3×3 (one phase each), over 3 input channels.
    let mut shapes = plan.split_weight_shapes();
    shapes.sort();
    let want = vec![
        vec![32, 3, 3, 3],
        vec![32, 3, 3, 4],
        vec![32, 3, 4, 3],
        vec![32, 3, 4, 4],
    ];
    assert_eq!(shapes, want, "phase kernels of the stem");
    // Phase extents O + K_r - 1 (66 or 67 with O = 64), of which the 64 positions that read
    // the input are kept (the rest is the inner layers' zero padding).
    for shape in plan.split_shapes(2, 3) {
        assert_eq!(shape, vec![2, 3, 64, 64], "kept phase extents");
    }
}

/// The matrix of a linear map `f` from `n_in` to `n_out` entries, column by column.
fn matrix(n_in: usize, n_out: usize, f: impl Fn(&[f64]) -> Vec<f64>) -> DMatrix<f64> {
    let mut m = DMatrix::zeros(n_out, n_in);
    for j in 0..n_in {
        let mut e = vec![0.0; n_in];
        e[j] = 1.0;
        let col = f(&e);
        assert_eq!(col.len(), n_out, "map output length");
        m.set_column(j, &nalgebra::DVector::from_vec(col));
    }
    m
}

#[test]
fn fold_matrix_is_the_transpose_of_the_split_matrix() {
    for mode in [PadMode::Reflect, PadMode::Circular, PadMode::Zeros] {
        let spec = ConvSpec {
            padding_mode: mode,
            ..ConvSpec::conv(&[2, 3], Padding::Explicit(vec![(2, 1), (1, 2)]), &[1, 1])
        };
        let g = spec.geometry(&[1, 1, 4, 5], &[1, 1, 3, 4]).unwrap();
        for plan in [Polyphase::new(&g).unwrap(), Polyphase::merged(&g).unwrap()] {
            let xs = g.x_shape();
            let us = plan.split_shapes(1, 1);
            let sizes: Vec<usize> = us.iter().map(|s| s.iter().product()).collect();
            let (nx, nu) = (xs.iter().product(), sizes.iter().sum());
            // The split as one map onto the classes' entries, back to back.
            let split = matrix(nx, nu, |e| {
                let x = Tensor::new(xs.clone(), e.to_vec()).unwrap();
                let parts = plan.split(&x).unwrap();
                parts.into_iter().flat_map(|t| t.into_data()).collect()
            });
            let fold = matrix(nu, nx, |e| {
                let mut at = 0;
                let parts: Vec<Tensor<f64>> = us
                    .iter()
                    .zip(&sizes)
                    .map(|(s, &len)| {
                        at += len;
                        Tensor::new(s.clone(), e[at - len..at].to_vec()).unwrap()
                    })
                    .collect();
                plan.fold(&parts).unwrap().into_data()
            });
            let classes = plan.classes();
            assert_eq!(
                fold,
                split.transpose(),
                "M_fold != M_split^T for {mode:?} ({classes} classes)"
            );
            // Every input entry is read by some phase entry (the split loses nothing).
            for (j, col) in split.column_iter().enumerate() {
                assert!(col.sum() >= 1.0, "input entry {j} never read ({mode:?})");
            }
        }
    }
}

#[test]
fn f32_follows_f64() {
    let mut rng = ChaCha8Rng::seed_from_u64(62);
    for case in 0..12 {
        let (spec, xs, ws) = random_case(&mut rng);
        let g = spec.geometry(&xs, &ws).unwrap();
        let at = format!("{spec:?} x {xs:?} w {ws:?}");
        let x = Tensor::<f64>::randn(&xs, case);
        let w = Tensor::<f64>::randn(&ws, case + 1);
        let dy = Tensor::<f64>::randn(&g.y_shape(), case + 2);
        let y64 = polyphase::forward(&spec, &x, &w, None, Kernels::Detect).unwrap();
        let g64 = polyphase::backward(&spec, &x, &w, &dy, true, Kernels::Detect).unwrap();
        let y32 =
            polyphase::forward(&spec, &x.cast::<f32>(), &w.cast(), None, Kernels::Detect).unwrap();
        let g32 = polyphase::backward(
            &spec,
            &x.cast::<f32>(),
            &w.cast(),
            &dy.cast(),
            true,
            Kernels::Detect,
        )
        .unwrap();
        for (name, got, want) in [
            ("y", y32.cast::<f64>(), &y64),
            ("dx", g32.dx.cast(), &g64.dx),
            ("dw", g32.dw.cast(), &g64.dw),
        ] {
            let e = rel(&got, want);
            assert!(e < 1e-4, "f32 {name} off f64 by {e:.2e}: {at}");
        }
    }
}
