//! Property tests of the conv layer over random specs (rank 1-3, stride, dilation, groups,
//! explicit/same/valid padding in every mode, conv_transpose with output_padding), tiny sizes:
//!
//! - the FFT operator chain equals the direct loops (forward and every gradient);
//! - both equal the dense matrix of the layer, built by applying the chain to unit vectors,
//!   and the dense matrix of the adjoint chain is its transpose;
//! - the dot test `⟨A u, v⟩ = ⟨u, A* v⟩` for the layer as a map of `x` and as a map of `w`;
//! - central finite differences of a scalar loss through the layer match the gradients;
//! - output shapes follow the frameworks' formulas, written here independently;
//! - conv_transpose is the adjoint of conv with the same weights.

use fftconv::check::dense_matrix;
use fftconv::conv::{self, chain, Algorithm, ConvKind, ConvSpec, Padding};
use fftconv::op::PadMode;
use fftconv::Tensor;
use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Layer {
    spec: ConvSpec,
    x_shape: Vec<usize>,
    w_shape: Vec<usize>,
    bias: bool,
    seed: u64,
}

/// Per axis: (S, K, stride, dilation, lo, hi, output_padding seed).
type Axis = (usize, usize, usize, usize, usize, usize, usize);

fn layer() -> impl Strategy<Value = Layer> {
    (1usize..=3)
        .prop_flat_map(|rank| {
            let axis = (
                1usize..=6,
                1usize..=3,
                1usize..=3,
                1usize..=2,
                0usize..=2,
                0usize..=2,
                0usize..=2,
            );
            (
                prop::collection::vec(axis, rank),
                1usize..=2, // groups
                1usize..=2, // input channels per group
                1usize..=2, // output channels per group
                1usize..=2, // batch
                0u8..6,     // 0-3: conv in mode zeros/circular/reflect/replicate; 4-5: transpose
                0u8..4,     // padding: 0-1 explicit, 2 same, 3 valid
                any::<bool>(),
                any::<u64>(),
            )
        })
        .prop_map(
            |(axes, groups, a, b, n, kind, pad_style, bias, seed): (
                Vec<Axis>,
                _,
                _,
                _,
                _,
                _,
                _,
                _,
                _,
            )| {
                let rank = axes.len();
                let cap = if rank == 3 { 4 } else { 6 };
                let s_ext: Vec<usize> = axes.iter().map(|t| t.0.min(cap)).collect();
                let k: Vec<usize> = axes.iter().map(|t| t.1).collect();
                let stride: Vec<usize> = axes.iter().map(|t| t.2).collect();
                let dilation: Vec<usize> = axes.iter().map(|t| t.3).collect();
                let transpose = kind >= 4;
                let padding_mode = match kind {
                    1 => PadMode::Circular,
                    2 => PadMode::Reflect,
                    3 => PadMode::Replicate,
                    _ => PadMode::Zeros,
                };
                let padding = match pad_style {
                    2 if !transpose => Padding::Same,
                    3 => Padding::Valid,
                    _ => Padding::Explicit(axes.iter().map(|t| (t.4, t.5)).collect()),
                };
                let output_padding: Vec<usize> = if transpose {
                    axes.iter().map(|t| t.6 % t.2.max(t.3)).collect()
                } else {
                    vec![0; rank]
                };
                let x_shape = [vec![n, groups * a], s_ext].concat();
                let w_shape = if transpose {
                    [vec![groups * a, b], k].concat()
                } else {
                    [vec![groups * b, a], k].concat()
                };
                Layer {
                    spec: ConvSpec {
                        kind: if transpose {
                            ConvKind::ConvTranspose
                        } else {
                            ConvKind::Conv
                        },
                        stride,
                        padding,
                        dilation,
                        groups,
                        padding_mode,
                        output_padding,
                    },
                    x_shape,
                    w_shape,
                    bias,
                    seed,
                }
            },
        )
        .prop_filter("spec must be valid for the shapes", |l| {
            l.spec.geometry(&l.x_shape, &l.w_shape).is_ok()
        })
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        max_global_rejects: 10_000,
        ..ProptestConfig::default()
    }
}

/// `max|a − b| / max(max|b|, 1)`: relative to the reference, or absolute when the reference is
/// (near) zero — which happens, e.g. a transpose whose taps all fall into the padding — since
/// the inputs are O(1) random numbers.
fn rel(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.shape(), b.shape(), "shapes differ");
    a.sub(b).unwrap().max_abs() / b.max_abs().max(1.0)
}

struct Data {
    x: Tensor,
    w: Tensor,
    b: Option<Tensor>,
    dy: Tensor,
}

fn data(l: &Layer) -> Data {
    let g = l.spec.geometry(&l.x_shape, &l.w_shape).unwrap();
    Data {
        x: Tensor::randn(&l.x_shape, l.seed),
        w: Tensor::randn(&l.w_shape, l.seed ^ 1),
        b: l.bias.then(|| Tensor::randn(&g.b_shape(), l.seed ^ 2)),
        dy: Tensor::randn(&g.y_shape(), l.seed ^ 3),
    }
}

/// `A v` or `Aᵀ v` for the dense matrix `A`, as a plain vector.
fn matvec(m: &DMatrix<f64>, v: &[f64], transpose: bool) -> Vec<f64> {
    let v = DVector::from_column_slice(v);
    let r = if transpose { m.transpose() * v } else { m * v };
    r.as_slice().to_vec()
}

fn max_rel_vec(a: &[f64], b: &[f64]) -> f64 {
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1.0);
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

/// The frameworks' output extents, written independently of `ConvSpec::geometry`.
fn framework_output(l: &Layer) -> Vec<usize> {
    let d = l.x_shape.len() - 2;
    (0..d)
        .map(|a| {
            let s = l.x_shape[2 + a];
            let k = l.w_shape[2 + a];
            let (st, dl) = (l.spec.stride[a], l.spec.dilation[a]);
            let eff = dl * (k - 1) + 1;
            match (&l.spec.kind, &l.spec.padding) {
                (ConvKind::Conv, Padding::Same) => s.div_ceil(st),
                (ConvKind::Conv, Padding::Valid) => (s - eff) / st + 1,
                (ConvKind::Conv, Padding::Explicit(p)) => (s + p[a].0 + p[a].1 - eff) / st + 1,
                (ConvKind::ConvTranspose, pad) => {
                    let (lo, hi) = match pad {
                        Padding::Explicit(p) => p[a],
                        _ => (0, 0),
                    };
                    (s - 1) * st + dl * (k - 1) + l.spec.output_padding[a] + 1 - lo - hi
                }
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn chain_equals_direct(l in layer()) {
        let d = data(&l);
        let yc = conv::forward(&l.spec, &d.x, &d.w, d.b.as_ref(), Algorithm::Chain).unwrap();
        let yd = conv::forward(&l.spec, &d.x, &d.w, d.b.as_ref(), Algorithm::Direct).unwrap();
        prop_assert!(rel(&yc, &yd) < 1e-12, "y: {:e}", rel(&yc, &yd));
        let gc = conv::backward(&l.spec, &d.x, &d.w, &d.dy, l.bias, Algorithm::Chain).unwrap();
        let gd = conv::backward(&l.spec, &d.x, &d.w, &d.dy, l.bias, Algorithm::Direct).unwrap();
        prop_assert!(rel(&gc.dx, &gd.dx) < 1e-12, "dx: {:e}", rel(&gc.dx, &gd.dx));
        prop_assert!(rel(&gc.dw, &gd.dw) < 1e-12, "dw: {:e}", rel(&gc.dw, &gd.dw));
        prop_assert_eq!(gc.db.is_some(), l.bias);
        if let (Some(a), Some(b)) = (&gc.db, &gd.db) {
            prop_assert!(rel(a, b) < 1e-12, "db: {:e}", rel(a, b));
        }
    }

    #[test]
    fn output_shapes_follow_the_framework_formulas(l in layer()) {
        let g = l.spec.geometry(&l.x_shape, &l.w_shape).unwrap();
        let groups = l.spec.groups;
        let c_out = match l.spec.kind {
            ConvKind::Conv => l.w_shape[0],
            ConvKind::ConvTranspose => l.w_shape[1] * groups,
        };
        let want = [vec![l.x_shape[0], c_out], framework_output(&l)].concat();
        prop_assert_eq!(g.y_shape(), want.clone());
        let d = data(&l);
        for algo in [Algorithm::Chain, Algorithm::Direct] {
            let y = conv::forward(&l.spec, &d.x, &d.w, None, algo).unwrap();
            prop_assert_eq!(y.shape(), &want[..]);
        }
    }

    #[test]
    fn dot_test_as_a_map_of_x_and_of_w(l in layer()) {
        let d = data(&l);
        let g = l.spec.geometry(&l.x_shape, &l.w_shape).unwrap();
        let a = chain::input_operator(&g, &d.w).unwrap();
        let lhs = a.apply(&d.x).unwrap().dot(&d.dy).unwrap();
        let rhs = d.x.dot(&a.adjoint().apply(&d.dy).unwrap()).unwrap();
        let scale = dot_scale(&a.apply(&d.x).unwrap(), &d.dy, &d.x, &a.adjoint().apply(&d.dy).unwrap(), &d.w);
        prop_assert!((lhs - rhs).abs() <= scale, "x: {lhs} vs {rhs}");
        let wop = chain::weight_operator(&g, &d.x).unwrap();
        let lhs = wop.apply(&d.w).unwrap().dot(&d.dy).unwrap();
        let rhs = d.w.dot(&wop.adjoint().apply(&d.dy).unwrap()).unwrap();
        let scale = dot_scale(&wop.apply(&d.w).unwrap(), &d.dy, &d.w, &wop.adjoint().apply(&d.dy).unwrap(), &d.x);
        prop_assert!((lhs - rhs).abs() <= scale, "w: {lhs} vs {rhs}");
    }

    #[test]
    fn finite_differences_of_a_scalar_loss(l in layer()) {
        // L = Σ c ⊙ sin(y(x, w, b)); ∂L/∂y = c ⊙ cos(y).
        let d = data(&l);
        let c = d.dy.clone();
        let loss = |x: &Tensor, w: &Tensor, b: Option<&Tensor>| -> f64 {
            let y = conv::forward(&l.spec, x, w, b, Algorithm::Chain).unwrap();
            y.map(f64::sin).dot(&c).unwrap()
        };
        let y = conv::forward(&l.spec, &d.x, &d.w, d.b.as_ref(), Algorithm::Chain).unwrap();
        let dl_dy = y.map(f64::cos).zip_with(&c, |a, b| a * b).unwrap();
        let grads = conv::backward(&l.spec, &d.x, &d.w, &dl_dy, l.bias, Algorithm::Chain).unwrap();
        let h = 1e-5;
        let fd_check = |name: &str, grad: &Tensor, v: &Tensor, shifted: &dyn Fn(f64) -> f64| -> Result<(), TestCaseError> {
            let fd = (shifted(h) - shifted(-h)) / (2.0 * h);
            let an = grad.dot(v).unwrap();
            let scale = grad.norm() * v.norm();
            // Truncation O(h²) relative to the gradient, plus rounding of the loss over 2h.
            let allowed = 1e-6 * scale + 1e-9 * (1.0 + shifted(0.0).abs());
            prop_assert!((fd - an).abs() <= allowed, "{}: fd {} vs adjoint {}", name, fd, an);
            Ok(())
        };
        let vx = Tensor::randn(d.x.shape(), l.seed ^ 10);
        fd_check("x", &grads.dx, &vx, &|t| {
            let mut x = d.x.clone();
            x.axpy(t, &vx).unwrap();
            loss(&x, &d.w, d.b.as_ref())
        })?;
        let vw = Tensor::randn(d.w.shape(), l.seed ^ 11);
        fd_check("w", &grads.dw, &vw, &|t| {
            let mut w = d.w.clone();
            w.axpy(t, &vw).unwrap();
            loss(&d.x, &w, d.b.as_ref())
        })?;
        if let (Some(b0), Some(db)) = (&d.b, &grads.db) {
            let vb = Tensor::randn(b0.shape(), l.seed ^ 12);
            fd_check("b", db, &vb, &|t| {
                let mut b = b0.clone();
                b.axpy(t, &vb).unwrap();
                loss(&d.x, &d.w, Some(&b))
            })?;
        }
    }

    #[test]
    fn conv_transpose_is_the_adjoint_of_conv(l in layer()) {
        prop_assume!(l.spec.kind == ConvKind::ConvTranspose);
        let d = data(&l);
        let g = l.spec.geometry(&l.x_shape, &l.w_shape).unwrap();
        let conv_spec = ConvSpec { kind: ConvKind::Conv, output_padding: vec![], ..l.spec.clone() };
        let z = Tensor::randn(&g.y_shape(), l.seed ^ 20);
        // conv maps the transpose's output space back to its input space (C_out → C_in).
        let cz = conv::forward(&conv_spec, &z, &d.w, None, Algorithm::Direct).unwrap();
        let t = conv::forward(&l.spec, &d.x, &d.w, None, Algorithm::Direct).unwrap();
        // With output_padding ≥ stride the conv output is longer; the transpose reads only
        // the first S entries of each axis.
        let cz = Tensor::from_fn(d.x.shape(), |i| cz.get(i));
        let lhs = t.dot(&z).unwrap();
        let rhs = d.x.dot(&cz).unwrap();
        prop_assert!((lhs - rhs).abs() <= 1e-12 * (t.norm() * z.norm()).max(1e-300), "{lhs} vs {rhs}");
    }
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn chain_equals_direct_equals_dense_matrix(l in layer()) {
        let g = l.spec.geometry(&l.x_shape, &l.w_shape).unwrap();
        let ny: usize = g.y_shape().iter().product();
        prop_assume!(d_len(&l.x_shape) * ny <= 20_000 && d_len(&l.w_shape) * ny <= 20_000);
        let d = data(&l);
        let direct_y = conv::forward(&l.spec, &d.x, &d.w, None, Algorithm::Direct).unwrap();
        let direct = conv::backward(&l.spec, &d.x, &d.w, &d.dy, false, Algorithm::Direct).unwrap();

        // As a map of x (the dense matrix built by the foundation's `check::dense_matrix`,
        // one application of the chain per unit vector).
        let a = chain::input_operator(&g, &d.w).unwrap();
        let m = dense_matrix(&*a).unwrap();
        prop_assert!(max_rel_vec(&matvec(&m, d.x.data(), false), direct_y.data()) < 1e-12);
        prop_assert!(max_rel_vec(&matvec(&m, d.dy.data(), true), direct.dx.data()) < 1e-12);
        let mt = dense_matrix(&*a.adjoint()).unwrap();
        prop_assert_eq!(mt.shape(), (m.ncols(), m.nrows()));
        let gap = (&mt - m.transpose()).abs().max();
        prop_assert!(gap < 1e-12 * m.abs().max().max(1.0), "dense(A*) is not dense(A)ᵀ: {:e}", gap);

        // As a map of w.
        let wop = chain::weight_operator(&g, &d.x).unwrap();
        let m = dense_matrix(&*wop).unwrap();
        prop_assert!(max_rel_vec(&matvec(&m, d.w.data(), false), direct_y.data()) < 1e-12);
        prop_assert!(max_rel_vec(&matvec(&m, d.dy.data(), true), direct.dw.data()) < 1e-12);
    }
}

/// Allowed rounding in a dot test `⟨A u, v⟩ = ⟨u, A* v⟩`: relative to the two products, plus
/// a floor `‖u‖·‖v‖·Σ|k|` (a bound on the operator's size from its kernel `k`) for operators
/// that are numerically zero.
fn dot_scale(au: &Tensor, v: &Tensor, u: &Tensor, a_star_v: &Tensor, kernel: &Tensor) -> f64 {
    let l1: f64 = kernel.data().iter().map(|k| k.abs()).sum();
    1e-13 * (au.norm() * v.norm()).max(u.norm() * a_star_v.norm())
        + 1e-15 * u.norm() * v.norm() * l1
}

fn d_len(shape: &[usize]) -> usize {
    shape.iter().product()
}
