//! Every check can fail: deliberately wrong adjoints and gradients, each of which must be
//! rejected — by the dot test AND the dense check (and the FD check), while the matching
//! correct operator passes the same checks.

use fftconv::check::suite::{self, Case};
use fftconv::check::{
    adjoint_transpose_error, compare, dot_test, gradcheck, operator_fd_error, witness,
    GradCheckOptions, Tolerance,
};
use fftconv::fft::RealFftNd;
use fftconv::op::{CircularConv, Crop, LinearOp, Op, Symbol, ZeroPad};
use fftconv::Tensor;
use num_complex::Complex;
use std::sync::Arc;

/// An operator with a *claimed* adjoint that may be wrong.
#[derive(Debug)]
struct Claimed {
    name: &'static str,
    forward: Op,
    claimed_adjoint: Op,
}

impl LinearOp<f64> for Claimed {
    fn domain(&self) -> &[usize] {
        self.forward.domain()
    }
    fn codomain(&self) -> &[usize] {
        self.forward.codomain()
    }
    fn forward(&self, x: &Tensor) -> Tensor {
        self.forward.forward(x)
    }
    fn adjoint(&self) -> Op {
        Arc::new(Claimed {
            name: self.name,
            forward: self.claimed_adjoint.clone(),
            claimed_adjoint: self.forward.clone(),
        })
    }
    fn symbol(&self) -> Symbol {
        Symbol::new(self.name, vec![])
    }
}

/// Single-channel circular convolution through the real FFT, written here from scratch:
/// `y = irfft(ĥ · x̂)`, or with `conjugate`, `irfft(conj(ĥ) · x̂)` (the correlation).
#[derive(Debug)]
struct Spectral {
    shape: Vec<usize>,
    kernel_spectrum: Vec<Complex<f64>>,
    plan: Arc<RealFftNd<f64>>,
    conjugate: bool,
}

impl Spectral {
    fn new(kernel: &Tensor, conjugate: bool) -> Spectral {
        let plan = RealFftNd::plan(kernel.shape());
        Spectral {
            shape: kernel.shape().to_vec(),
            kernel_spectrum: plan.forward(kernel.data()),
            plan,
            conjugate,
        }
    }
}

impl LinearOp<f64> for Spectral {
    fn domain(&self) -> &[usize] {
        &self.shape
    }
    fn codomain(&self) -> &[usize] {
        &self.shape
    }
    fn forward(&self, x: &Tensor) -> Tensor {
        let mut s = self.plan.forward(x.data());
        for (v, h) in s.iter_mut().zip(&self.kernel_spectrum) {
            *v *= if self.conjugate { h.conj() } else { *h };
        }
        Tensor::new(self.shape.clone(), self.plan.inverse(&mut s)).unwrap()
    }
    fn adjoint(&self) -> Op {
        unreachable!("wrapped in Claimed")
    }
    fn symbol(&self) -> Symbol {
        Symbol::new("spectral", vec![])
    }
}

fn claimed(name: &'static str, forward: Op, claimed_adjoint: Op) -> Claimed {
    Claimed {
        name,
        forward,
        claimed_adjoint,
    }
}

/// The three checks on an operator: (dot, dense, FD).
fn errors(op: &dyn LinearOp<f64>) -> (f64, f64, f64) {
    (
        dot_test(op, 4, 3).unwrap().max_err,
        adjoint_transpose_error(op).unwrap(),
        operator_fd_error(op, 4).unwrap(),
    )
}

fn assert_rejected(op: &dyn LinearOp<f64>) {
    let (d, e, f) = errors(op);
    let name = op.symbol().name;
    assert!(
        d > 1e-3,
        "{name}: the dot test missed a wrong adjoint (error {d:.2e})"
    );
    assert!(
        e > 1e-3,
        "{name}: the dense check missed a wrong adjoint (error {e:.2e})"
    );
    assert!(
        f > 1e-3,
        "{name}: the FD check missed a wrong adjoint (error {f:.2e})"
    );
}

fn assert_accepted(op: &dyn LinearOp<f64>) {
    let (d, e, f) = errors(op);
    let name = op.symbol().name;
    assert!(
        d <= 1e-14 && e <= 1e-13 && f <= 1e-7,
        "{name}: control fails: {d:.1e} {e:.1e} {f:.1e}"
    );
}

#[test]
fn circ_2_correlation_replaced_by_convolution_is_rejected() {
    for period in [vec![7], vec![4, 5], vec![3, 2, 5]] {
        let mut ks = vec![2, 2];
        ks.extend(&period);
        let conv: Op = Arc::new(CircularConv::new(&Tensor::randn(&ks, 1), 1, 1).unwrap());
        assert_rejected(&claimed(
            "conv_as_its_own_adjoint",
            conv.clone(),
            conv.clone(),
        ));
        assert_accepted(&claimed(
            "conv_with_correlation",
            conv.clone(),
            conv.adjoint(),
        ));
    }
}

#[test]
fn pad_1_crop_off_by_one_is_rejected() {
    for (shape, pads, wrong) in [
        (vec![2, 9], vec![(1, 2)], vec![(2, 1)]),
        (vec![3, 4], vec![(1, 1), (0, 2)], vec![(1, 1), (1, 1)]),
        (vec![2, 3, 4], vec![(2, 0), (1, 1)], vec![(1, 1), (1, 1)]),
    ] {
        let pad: Op = Arc::new(ZeroPad::new(&shape, &pads).unwrap());
        let off: Op = Arc::new(Crop::new(pad.codomain(), &wrong).unwrap());
        let right: Op = Arc::new(Crop::new(pad.codomain(), &pads).unwrap());
        assert_rejected(&claimed("crop_off_by_one", pad.clone(), off));
        assert_accepted(&claimed("crop", pad, right));
    }
}

#[test]
fn rfft_missing_conjugate_is_rejected() {
    for shape in [vec![8], vec![9], vec![4, 6], vec![3, 5]] {
        let h = Tensor::randn(&shape, 2);
        let conv: Op = Arc::new(Spectral::new(&h, false));
        let corr: Op = Arc::new(Spectral::new(&h, true));
        assert_rejected(&claimed("missing_conjugate", conv.clone(), conv.clone()));
        assert_accepted(&claimed("conjugate_spectrum", conv, corr));
    }
}

#[test]
fn a_wrong_adjoint_fails_its_suite_row() {
    let h = Tensor::<f64>::randn(&[2, 2, 6], 1);
    let conv: Op = Arc::new(CircularConv::new(&h, 1, 1).unwrap());
    let case = Case {
        name: "planted".into(),
        op: Arc::new(claimed("planted", conv.clone(), conv.clone())),
        witness: None,
    };
    let row = suite::check_case(&case, 1).unwrap();
    assert!(!row.pass, "{row:?}");
}

#[test]
fn compare_fails_on_an_error_beyond_tolerance_and_on_nan() {
    let r = Tensor::<f64>::randn(&[3, 4], 1);
    let mut g = r.clone();
    g.set(&[1, 2], r.get(&[1, 2]) + 1e-6);
    let c = compare(&g, &r, Tolerance::F64).unwrap();
    assert!(!c.pass, "{c}");
    assert_eq!(c.worst_index, vec![1, 2]);
    assert!(compare(&g, &r, Tolerance::F32).unwrap().pass);
    g.set(&[2, 3], f64::NAN);
    let c = compare(&g, &r, Tolerance::F32).unwrap();
    assert!(!c.pass, "NaN passed: {c}");
    assert_eq!(c.worst_index, vec![2, 3]);
}

#[test]
fn gradcheck_finds_the_wrong_coordinate_and_a_wrong_direction() {
    let f = |x: &Tensor| x.data().iter().map(|v| v.sin()).sum::<f64>();
    let x = Tensor::<f64>::randn(&[4, 5], 9);
    let mut g = x.map(f64::cos);
    let opts = GradCheckOptions::default();
    assert!(gradcheck(&f, &x, &g, &opts).unwrap().pass);
    g.set(&[3, 1], g.get(&[3, 1]) + 1e-3);
    let r = gradcheck(&f, &x, &g, &opts).unwrap();
    assert!(!r.pass, "{r}");
    assert_eq!(r.worst_index, Some(vec![3, 1]));
    // Direction mode (full_limit below the size): a gradient off by 1% everywhere.
    let dir = GradCheckOptions {
        full_limit: 4,
        ..opts
    };
    let good = x.map(f64::cos);
    assert!(gradcheck(&f, &x, &good, &dir).unwrap().pass);
    let r = gradcheck(&f, &x, &good.scale(1.01), &dir).unwrap();
    assert!(!r.pass && r.worst_direction.is_some(), "{r}");
}

#[test]
fn circ_1_witness_rejects_a_shifted_fft_convolution() {
    let h = Tensor::<f64>::randn(&[2, 1, 7], 4);
    let x = Tensor::<f64>::randn(&[1, 2, 7], 5);
    let good = CircularConv::new(&h, 1, 2).unwrap().apply(&x).unwrap();
    let direct = witness::circular_conv(&x, &h, 2).unwrap();
    assert!(compare(&good, &direct, Tolerance::F64).unwrap().pass);
    // The same kernel read one tap late: a plausible indexing bug.
    let shifted = Tensor::from_fn(h.shape(), |i| h.get(&[i[0], i[1], (i[2] + 6) % 7]));
    let bad = CircularConv::new(&shifted, 1, 2)
        .unwrap()
        .apply(&x)
        .unwrap();
    assert!(!compare(&bad, &direct, Tolerance::F32).unwrap().pass);
}
