//! The layer macro expands into exactly the chain of `conv::chain`, and lowering commutes with
//! the adjoint: lowering the rewritten adjoint equals the library adjoint of the lowering.

use fftconv::conv::chain;
use fftconv::derive::{numeric, LayerDerivation};
use fftconv::expr::adjoint;
use fftconv::expr::claim::{parse_statement, Statement, Var};
use fftconv::expr::layer::Layer;
use fftconv::expr::lower::lower;
use fftconv::expr::parse::parse_expr;
use fftconv::expr::shape::check;
use fftconv::expr::Env;
use fftconv::op::Op;
use fftconv::Tensor;

const LAYERS: &[&str] = &[
    "conv1d(x: [2, 3, 9], w: [4, 3, 3])",
    "conv1d(x: [2, 3, 16], w: [4, 3, 5], stride=2, padding=1, dilation=1, groups=1, mode=zeros, bias)",
    "conv2d(x: [2, 3, 8, 8], w: [4, 3, 3, 3], stride=2, padding=1)",
    "conv2d(x: [1, 4, 9, 7], w: [6, 2, 3, 2], stride=[2, 1], padding=[[2, 1], [0, 1]], dilation=[2, 1], groups=2)",
    "conv2d(x: [1, 2, 6, 6], w: [2, 2, 3, 3], padding=2, mode=reflect)",
    "conv1d(x: [2, 2, 7], w: [2, 2, 3], padding=[[2, 1]], mode=circular)",
    "conv1d(x: [1, 2, 7], w: [4, 2, 3], padding=[[1, 2]], mode=replicate, stride=3)",
    "conv1d(x: [1, 2, 10], w: [2, 2, 3], padding=same, dilation=2)",
    "conv3d(x: [1, 2, 4, 5, 4], w: [2, 1, 2, 3, 2], stride=2, padding=1, groups=2)",
    "conv_transpose1d(x: [2, 3, 5], w: [3, 2, 3], stride=2, padding=1, output_padding=1)",
    "conv_transpose2d(x: [1, 4, 3, 3], w: [4, 2, 3, 3], stride=2, padding=1, output_padding=1, groups=2, bias)",
    "conv_transpose2d(x: [1, 2, 3, 4], w: [2, 3, 2, 3], stride=[2, 1], dilation=[1, 2], padding=[0, 1])",
    "conv_transpose3d(x: [1, 2, 2, 3, 2], w: [2, 2, 2, 2, 2], stride=2)",
];

fn layer(src: &str) -> Layer {
    match parse_statement(src, "layer").unwrap() {
        Some(Statement::Layer(l)) => l,
        other => panic!("{src} did not parse as a layer: {other:?}"),
    }
}

fn max_diff(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
    a.sub(b).unwrap().max_abs() / b.max_abs().max(1e-300)
}

#[test]
fn the_expansion_lowers_to_the_chain_of_conv_chain() {
    for src in LAYERS {
        let l = layer(src);
        let ld = LayerDerivation::new(&l, 3).unwrap();
        let g = ld.geometry().clone();
        let x = ld.env.get(&l.x_name).unwrap().clone();
        let w = ld.env.get(&l.w_name).unwrap().clone();
        let dy = Tensor::<f64>::randn(&g.y_shape(), 9);
        for var in [Var::X, Var::W] {
            let grad = ld.gradient(var).unwrap();
            let (fwd, back) = ld.operators(&grad).unwrap();
            let reference = match var {
                Var::X => chain::input_operator(&g, &w).unwrap(),
                _ => chain::weight_operator(&g, &x).unwrap(),
            };
            let point = if var == Var::X { &x } else { &w };
            let e = max_diff(&fwd.apply(point).unwrap(), &reference.apply(point).unwrap());
            assert!(
                e < 1e-13,
                "{src}: forward view of {var:?} differs from conv::chain by {e:e}"
            );
            let e = max_diff(
                &back.apply(&dy).unwrap(),
                &reference.adjoint().apply(&dy).unwrap(),
            );
            assert!(
                e < 1e-13,
                "{src}: derived ∂{var:?} differs from conv::chain's adjoint by {e:e}"
            );
            assert_eq!(
                fwd.symbol().to_string(),
                reference.symbol().to_string(),
                "{src}: {var:?} chain structure"
            );
        }
    }
}

#[test]
fn derived_gradients_pass_every_check_for_every_layer() {
    for src in LAYERS {
        let l = layer(src);
        let ld = LayerDerivation::new(&l, 5).unwrap();
        let mut vars = vec![Var::X, Var::W];
        if l.bias {
            vars.push(Var::B);
        }
        for v in vars {
            let rep = ld.check(v, 1).unwrap();
            assert!(rep.pass(), "{src}: {}", rep.line());
        }
    }
}

fn lowered_adjoint_vs_adjoint_of_lowered<T: fftconv::Scalar>(tol: f64) {
    let mut env = Env::new();
    env.declare("w", &[4, 3, 8]).unwrap();
    env.declare("g", &[4, 2, 8]).unwrap();
    env.declare("xs", &[2, 3, 8]).unwrap();
    env.declare("A", &[4, 3]).unwrap();
    let cases: &[(&str, &[usize])] = &[
        (
            "subsample[2] @ crop[2:0] @ circ(w) @ zero_pad[0:1] @ pad_reflect[1:1]",
            &[2, 3, 5],
        ),
        (
            "crop[1:1] @ corr(w) @ zero_pad[3:0] @ zero_insert[2]",
            &[2, 4, 3],
        ),
        (
            "circ(g, groups=2) @ fold_circular[1:2] @ pad_replicate[2:1]",
            &[2, 4, 8],
        ),
        (
            "crop[2:0] @ circ_signal(xs) @ zero_pad[0:5] @ flip[1] @ dilate[2]",
            &[4, 3, 2],
        ),
        ("2.5 * mix(A) + mix(A) @ flip[1]", &[1, 3, 4]),
        ("group_transpose[2] @ dilate_adjoint[2]", &[4, 2, 5]),
        ("sum_nc @ broadcast[2, 3, 4] @ sum_nc", &[2, 3, 4]),
        (
            "adjoint(crop[1:1] @ zero_pad[2:0]) @ subsample[3]",
            &[1, 2, 10],
        ),
    ];
    for &(src, on) in cases {
        let e = parse_expr(src, "case").unwrap();
        let t = check(&e, Some(on), None, &env, "case").unwrap();
        let op: Op<T> = lower(&t.expr, &t.domain, &t.codomain, &env, "case").unwrap();
        let (derived, _) = adjoint::derive(&t.expr);
        let dt = check(
            &derived,
            Some(&t.codomain),
            Some(&t.domain),
            &env,
            "derived",
        )
        .unwrap();
        let dop: Op<T> = lower(&dt.expr, &dt.domain, &dt.codomain, &env, "derived").unwrap();
        let y = Tensor::<f64>::randn(&t.codomain, 4).cast::<T>();
        let a = dop.apply(&y).unwrap().cast::<f64>();
        let b = op.adjoint().apply(&y).unwrap().cast::<f64>();
        let e = max_diff(&a, &b);
        assert!(
            e < tol,
            "{src} ({}): lowered derived adjoint differs by {e:e}",
            T::NAME
        );
        if T::NAME == "f64" {
            let of: Op<f64> = lower(&t.expr, &t.domain, &t.codomain, &env, "case").unwrap();
            let df: Op<f64> = lower(&dt.expr, &dt.domain, &dt.codomain, &env, "derived").unwrap();
            let dot = numeric::dot_error(&of, &df, 2, 3).unwrap();
            assert!(dot < 1e-14, "{src}: dot test {dot:e}");
        }
    }
}

#[test]
fn lowered_adjoint_equals_adjoint_of_lowered_f64() {
    lowered_adjoint_vs_adjoint_of_lowered::<f64>(1e-13);
}

#[test]
fn lowered_adjoint_equals_adjoint_of_lowered_f32() {
    lowered_adjoint_vs_adjoint_of_lowered::<f32>(1e-5);
}

#[test]
fn a_wrong_rewrite_would_be_caught() {
    // Sanity of the comparison itself: corr is not circ.
    let mut env = Env::new();
    env.declare("w", &[2, 2, 8]).unwrap();
    let a: Op<f64> = lower(
        &parse_expr("circ(w)", "a").unwrap(),
        &[1, 2, 8],
        &[1, 2, 8],
        &env,
        "a",
    )
    .unwrap();
    let b: Op<f64> = lower(
        &parse_expr("circ(w)", "b").unwrap(),
        &[1, 2, 8],
        &[1, 2, 8],
        &env,
        "b",
    )
    .unwrap();
    let dot = numeric::dot_error(&a, &b, 2, 1).unwrap();
    assert!(dot > 1e-3, "circ(w) passed as its own adjoint: {dot:e}");
}
