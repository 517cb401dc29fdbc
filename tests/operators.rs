//! Every primitive and combinator of `fftconv::op`, checked four ways over 1-D, 2-D and 3-D
//! shapes (odd, even, prime extents; `check::suite::SPATIAL_SHAPES`) in f64 and f32.
//! Test names cite the identity of `derivations/` each one proves.
//!
//! f64 acceptance figures (issue 2): dot ≤ 1e-14, `max|dense(A*) − dense(A)ᵀ|` ≤ 1e-13,
//! FD relative ≤ 1e-7, FFT vs direct ≤ 1e-12 relative. f32: `Thresholds::F32`.

use fftconv::check::suite::{self, Case, Thresholds, SPATIAL_SHAPES};
use fftconv::check::{dense, dot, gradcheck};
use fftconv::op::{self, Crop, LinearOp, Op, Subsample, ZeroInsert, ZeroPad};
use fftconv::{Scalar, Tensor};
use std::sync::Arc;

/// The f64 figures, written out here rather than read from the library.
const F64: Thresholds = Thresholds {
    dot: 1e-14,
    dense: 1e-13,
    fd: 1e-7,
    direct: 1e-12,
};

/// Run all four checks on every suite case whose name is in `names`, at every spatial shape,
/// in precision `T`; returns how many (case, shape) pairs were checked.
fn check_named<T: Scalar>(names: &[&str], th: Thresholds) -> usize {
    let mut count = 0;
    let mut ranks = [0usize; 3];
    for (i, spatial) in SPATIAL_SHAPES.iter().enumerate() {
        let seed = 77 + 1000 * i as u64;
        let cases = suite::cases::<T>(spatial, seed).expect("suite cases build");
        for case in cases.iter().filter(|c| names.contains(&c.name.as_str())) {
            check_one(case, th, seed);
            count += 1;
            ranks[spatial.len() - 1] += 1;
        }
    }
    assert!(
        ranks.iter().all(|&r| r >= 3 * names.len()),
        "{names:?} in {}: expected ≥3 shapes per rank, got {ranks:?}",
        T::NAME
    );
    count
}

fn check_one<T: Scalar>(case: &Case<T>, th: Thresholds, seed: u64) {
    let op = case.op.as_ref();
    let at = format!("{} {} on {:?}", case.name, T::NAME, op.domain());
    let d = dot::dot_test(op, 3, seed).expect("dot test runs").max_err;
    assert!(d <= th.dot, "{at}: dot error {d:.2e} > {:.0e}", th.dot);
    let e = dense::adjoint_transpose_error(op).expect("dense check runs");
    assert!(
        e <= th.dense,
        "{at}: dense error {e:.2e} > {:.0e}",
        th.dense
    );
    let f = gradcheck::operator_fd_error(op, seed + 5).expect("FD runs");
    assert!(f <= th.fd, "{at}: FD error {f:.2e} > {:.0e}", th.fd);
    if let Some(w) = &case.witness {
        let x = Tensor::<f64>::randn(op.domain(), seed + 9).cast::<T>();
        let got = op.apply(&x).unwrap().cast::<f64>();
        let want = w(&x.cast::<f64>()).unwrap();
        let r = got.sub(&want).unwrap().max_abs() / want.max_abs();
        assert!(
            r <= th.direct,
            "{at}: FFT vs direct {r:.2e} > {:.0e}",
            th.direct
        );
    }
}

fn both(names: &[&str]) {
    assert!(check_named::<f64>(names, F64) > 0);
    assert!(check_named::<f32>(names, Thresholds::F32) > 0);
}

#[test]
fn pad_1_zero_pad_adjoint_is_crop() {
    both(&["zero_pad", "crop"]);
}

#[test]
fn mode_1_pad_modes_adjoint_is_fold_back() {
    both(&[
        "pad[zeros]",
        "pad[circular]",
        "pad[reflect]",
        "pad[replicate]",
        "pad_fold[zeros]",
        "pad_fold[circular]",
        "pad_fold[reflect]",
        "pad_fold[replicate]",
    ]);
}

#[test]
fn flip_1_flip_is_self_adjoint() {
    both(&["flip"]);
}

#[test]
fn stride_1_subsample_adjoint_is_zero_insert() {
    both(&["subsample", "zero_insert"]);
}

#[test]
fn dil_1_dilate_adjoint() {
    both(&["dilate", "dilate_adjoint"]);
}

#[test]
fn chan_1_channel_mix_adjoint_is_block_transpose() {
    both(&["channel_mix", "channel_mix_t"]);
}

#[test]
fn circ_1_circ_2_circular_conv_adjoint_is_correlation_and_matches_loops() {
    both(&["circular_conv", "circular_corr"]);
}

#[test]
fn swap_1_swap_2_weight_view_adjoint_is_weight_correlation() {
    both(&["circular_conv_weight", "circular_conv_weight_t"]);
}

#[test]
fn trans_2_group_transpose_adjoint_is_inverse() {
    both(&["group_transpose", "group_transpose_t"]);
}

#[test]
fn bias_1_broadcast_adjoint_is_sum() {
    both(&["bias_broadcast", "bias_sum"]);
}

#[test]
fn comp_1_to_3_combinators_identity_compose_sum_scale() {
    both(&[
        "identity",
        "compose[crop,circular_conv,zero_pad]",
        "sum[zero_pad,pad_circular]",
        "scale[-1.5,flip]",
    ]);
}

/// The suite names every operator exactly once per shape and the tests above cover them all.
#[test]
fn every_suite_operator_is_covered_by_a_named_test() {
    let covered = [
        "zero_pad",
        "crop",
        "pad[zeros]",
        "pad[circular]",
        "pad[reflect]",
        "pad[replicate]",
        "pad_fold[zeros]",
        "pad_fold[circular]",
        "pad_fold[reflect]",
        "pad_fold[replicate]",
        "flip",
        "subsample",
        "zero_insert",
        "dilate",
        "dilate_adjoint",
        "channel_mix",
        "channel_mix_t",
        "circular_conv",
        "circular_corr",
        "circular_conv_weight",
        "circular_conv_weight_t",
        "group_transpose",
        "group_transpose_t",
        "bias_broadcast",
        "bias_sum",
        "identity",
        "compose[crop,circular_conv,zero_pad]",
        "sum[zero_pad,pad_circular]",
        "scale[-1.5,flip]",
    ];
    for spatial in SPATIAL_SHAPES {
        let names: Vec<String> = suite::cases::<f64>(spatial, 1)
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        for n in &names {
            assert!(
                covered.contains(&n.as_str()),
                "suite operator {n} has no test"
            );
        }
        assert_eq!(names.len(), covered.len(), "at {spatial:?}: {names:?}");
    }
}

fn dense_of(op: &dyn LinearOp<f64>) -> nalgebra::DMatrix<f64> {
    dense::dense_matrix(op).expect("small operator")
}

fn max_diff(a: &nalgebra::DMatrix<f64>, b: &nalgebra::DMatrix<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    (a - b).abs().max()
}

/// adjoint(adjoint(A)) = A, entry by entry, for every suite operator at every shape.
#[test]
fn comp_adjoint_of_adjoint_is_the_operator() {
    for spatial in SPATIAL_SHAPES {
        for case in suite::cases::<f64>(spatial, 5).unwrap() {
            let a = case.op.as_ref();
            let aa = a.adjoint().adjoint();
            assert_eq!(aa.domain(), a.domain(), "{} at {spatial:?}", case.name);
            assert_eq!(aa.codomain(), a.codomain(), "{} at {spatial:?}", case.name);
            let e = max_diff(&dense_of(aa.as_ref()), &dense_of(a));
            assert!(
                e <= 1e-13,
                "{} at {spatial:?}: A** − A = {e:.2e}",
                case.name
            );
        }
    }
}

/// (AB)* = B*A* and dense(AB) = dense(A)·dense(B) for chains of different primitives.
#[test]
fn comp_1_adjoint_of_a_composition_is_the_reversed_chain() {
    for spatial in SPATIAL_SHAPES {
        let cases = suite::cases::<f64>(spatial, 11).unwrap();
        let get = |n: &str| -> Op<f64> { cases.iter().find(|c| c.name == n).unwrap().op.clone() };
        // (2, *S) → pad → flip → fold: A = pad_fold ∘ flip ∘ pad[reflect].
        let pad = get("pad[reflect]");
        let flip: Op<f64> =
            Arc::new(fftconv::op::Flip::new(pad.codomain(), spatial.len()).unwrap());
        let fold = get("pad_fold[circular]");
        let ab = op::chain(vec![fold.clone(), flip.clone(), pad.clone()]).unwrap();
        let product = dense_of(fold.as_ref()) * dense_of(flip.as_ref()) * dense_of(pad.as_ref());
        assert!(
            max_diff(&dense_of(ab.as_ref()), &product) <= 1e-13,
            "{spatial:?}: AB"
        );
        let reversed = dense_of(pad.adjoint().as_ref())
            * dense_of(flip.adjoint().as_ref())
            * dense_of(fold.adjoint().as_ref());
        let e = max_diff(&dense_of(ab.adjoint().as_ref()), &reversed);
        assert!(e <= 1e-13, "{spatial:?}: (AB)* − B*A* = {e:.2e}");
    }
}

/// PAD-2: crop ∘ zero_pad = I; STRIDE-2: subsample ∘ zero_insert = I (dense identity).
#[test]
fn pad_2_and_stride_2_left_inverses() {
    for spatial in SPATIAL_SHAPES {
        let mut shape = vec![2];
        shape.extend_from_slice(spatial);
        let pads: Vec<(usize, usize)> = (0..spatial.len()).map(|a| (a % 2, 2 - a % 2)).collect();
        let zp: Op = Arc::new(ZeroPad::new(&shape, &pads).unwrap());
        let cr: Op = Arc::new(Crop::new(zp.codomain(), &pads).unwrap());
        let id = op::compose(cr, zp).unwrap();
        let m = dense_of(id.as_ref());
        let eye = nalgebra::DMatrix::<f64>::identity(m.nrows(), m.ncols());
        assert_eq!(m, eye, "PAD-2 at {spatial:?}");

        let stride: Vec<usize> = (0..spatial.len()).map(|a| 2 + a % 2).collect();
        let sub: Op = Arc::new(Subsample::new(&shape, &stride).unwrap());
        let zi: Op = Arc::new(ZeroInsert::new(&shape, &stride).unwrap());
        let id = op::compose(sub, zi).unwrap();
        let m = dense_of(id.as_ref());
        let eye = nalgebra::DMatrix::<f64>::identity(m.nrows(), m.ncols());
        assert_eq!(m, eye, "STRIDE-2 at {spatial:?}");
    }
}

/// FLIP-1 (second half): flip ∘ flip = I.
#[test]
fn flip_1_flip_is_an_involution() {
    for spatial in SPATIAL_SHAPES {
        let f: Op = Arc::new(fftconv::op::Flip::new(spatial, spatial.len()).unwrap());
        let x = Tensor::<f64>::randn(spatial, 3);
        assert_eq!(f.apply(&f.apply(&x).unwrap()).unwrap(), x, "{spatial:?}");
    }
}
