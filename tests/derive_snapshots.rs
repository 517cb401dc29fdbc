//! Reviewed snapshots (in `snapshots/`): `derive` output for a set of layers, and the dense
//! matrices of a few tiny operators (rounded to 3 decimals). Every layer here is also in
//! `tests/derive_steps.rs`'s `SNAPSHOT_LAYERS`, which checks each printed step as a program.

use fftconv::derive::{derive, numeric, Options};
use fftconv::expr::lower::lower_on;
use fftconv::expr::parse::parse_expr;
use fftconv::expr::Env;
use fftconv::Tensor;

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("../snapshots");
    s.set_prepend_module_to_snapshot(false);
    s
}

fn derived(layer: &str) -> String {
    derive(layer, &Options::default()).unwrap()
}

#[test]
fn derive_conv1d() {
    settings().bind(|| {
        insta::assert_snapshot!(
            "derive_conv1d",
            derived("conv1d(x: [2, 3, 16], w: [4, 3, 5], padding=1, bias)")
        )
    });
}

#[test]
fn derive_conv2d_stride2() {
    settings().bind(|| {
        insta::assert_snapshot!(
            "derive_conv2d_stride2",
            derived("conv2d(x: [2, 3, 8, 8], w: [4, 3, 3, 3], stride=2, padding=1)")
        )
    });
}

#[test]
fn derive_conv1d_dilation2() {
    settings().bind(|| {
        insta::assert_snapshot!(
            "derive_conv1d_dilation2",
            derived("conv1d(x: [1, 2, 12], w: [3, 2, 3], dilation=2, padding=2)")
        )
    });
}

#[test]
fn derive_conv2d_groups() {
    settings().bind(|| insta::assert_snapshot!("derive_conv2d_groups", derived("conv2d(x: [1, 4, 6, 6], w: [6, 2, 3, 3], groups=2, stride=2, dilation=2, padding=2)")));
}

#[test]
fn derive_conv1d_reflect() {
    settings().bind(|| {
        insta::assert_snapshot!(
            "derive_conv1d_reflect",
            derived("conv1d(x: [1, 2, 9], w: [2, 2, 3], padding=[[2, 1]], mode=reflect)")
        )
    });
}

#[test]
fn derive_conv_transpose2d() {
    settings().bind(|| insta::assert_snapshot!("derive_conv_transpose2d", derived("conv_transpose2d(x: [1, 4, 3, 3], w: [4, 2, 3, 3], stride=2, padding=1, output_padding=1, groups=2, bias)")));
}

#[test]
fn derive_depthwise() {
    settings().bind(|| {
        insta::assert_snapshot!(
            "derive_conv2d_depthwise",
            derived("conv2d(x: [1, 3, 7, 7], w: [3, 1, 3, 3], groups=3, padding=1)")
        )
    });
}

#[test]
fn derive_conv1d_circular() {
    settings().bind(|| {
        insta::assert_snapshot!(
            "derive_conv1d_circular",
            derived("conv1d(x: [2, 2, 7], w: [3, 2, 3], padding=[[2, 1]], mode=circular)")
        )
    });
}

#[test]
fn derive_conv1d_replicate_stride3() {
    settings().bind(|| {
        insta::assert_snapshot!(
            "derive_conv1d_replicate_stride3",
            derived(
                "conv1d(x: [1, 2, 8], w: [2, 2, 4], padding=[[1, 2]], mode=replicate, stride=3)"
            )
        )
    });
}

#[test]
fn derive_conv2d_asymmetric() {
    settings().bind(|| {
        insta::assert_snapshot!(
            "derive_conv2d_asymmetric",
            derived(
                "conv2d(x: [1, 2, 7, 6], w: [3, 2, 3, 2], padding=[[2, 0], [0, 3]], stride=[2, 1])"
            )
        )
    });
}

#[test]
fn derive_conv1d_same() {
    settings().bind(|| {
        insta::assert_snapshot!(
            "derive_conv1d_same_stride2",
            derived("conv1d(x: [1, 2, 10], w: [2, 2, 3], padding=same, stride=2)")
        )
    });
}

#[test]
fn derive_conv3d() {
    settings().bind(|| {
        insta::assert_snapshot!(
            "derive_conv3d",
            derived(
                "conv3d(x: [1, 2, 5, 4, 5], w: [2, 1, 2, 3, 2], stride=2, padding=1, groups=2)"
            )
        )
    });
}

#[test]
fn derive_conv_transpose1d_output_padding() {
    settings().bind(|| {
        insta::assert_snapshot!(
            "derive_conv_transpose1d_output_padding",
            derived("conv_transpose1d(x: [2, 3, 5], w: [3, 2, 3], stride=3, padding=[[2, 1]], output_padding=2, bias)")
        )
    });
}

fn matrix(src: &str, on: &[usize], env: &Env) -> String {
    let e = parse_expr(src, "snapshot").unwrap();
    let op = lower_on::<f64>(&e, on, env, "snapshot").unwrap();
    let m = numeric::dense(op.as_ref()).unwrap().unwrap();
    let mut s = format!("{src} on {on:?}: {}x{}\n", m.nrows(), m.ncols());
    for i in 0..m.nrows() {
        let row: Vec<String> = (0..m.ncols())
            .map(|j| {
                let v = (m[(i, j)] * 1000.0).round() / 1000.0;
                format!(
                    "{:>6}",
                    if v == 0.0 {
                        "0".to_string()
                    } else {
                        format!("{v}")
                    }
                )
            })
            .collect();
        s += &row.join(" ");
        s.push('\n');
    }
    s
}

#[test]
fn dense_matrices_of_tiny_operators() {
    let mut env = Env::new();
    env.insert(
        "h",
        Tensor::new(vec![1, 1, 5], vec![1.0, 2.0, 0.0, 0.0, -1.0]).unwrap(),
    );
    let mut out = String::new();
    for (src, on) in [
        ("zero_pad[1:2]", vec![3]),
        ("crop[1:2]", vec![6]),
        ("pad_reflect[2:1]", vec![4]),
        ("fold_reflect[2:1]", vec![7]),
        ("pad_circular[1:1]", vec![3]),
        ("pad_replicate[1:2]", vec![3]),
        ("subsample[2]", vec![5]),
        ("zero_insert[2]", vec![3]),
        ("dilate[2]", vec![3]),
        ("flip[1]", vec![4]),
        ("circ(h)", vec![1, 1, 5]),
        ("corr(h)", vec![1, 1, 5]),
        ("sum_nc", vec![2, 2, 2]),
    ] {
        out += &matrix(src, &on, &env);
        out.push('\n');
    }
    settings().bind(|| insta::assert_snapshot!("dense_tiny_operators", out));
}
