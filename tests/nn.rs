//! The nn layer: every layer's gradients against central finite differences, kernel recovery
//! through FFT-conv gradients, FFT vs direct training runs, the shapes generator and the MNIST
//! IDX loader.

use fftconv::conv::{ConvSpec, Padding};
use fftconv::nn::tasks::{self, ClassifierConfig, KernelRecoveryConfig};
use fftconv::nn::{
    idx, mse, shapes, softmax_cross_entropy, Algorithm, AvgPool, Conv, Dataset, Dense, Flatten,
    Layer, MaxPool, Relu,
};
use fftconv::Tensor;

/// Central differences of `f` at `x` along every coordinate.
fn numeric_grad(x: &Tensor, mut f: impl FnMut(&Tensor) -> f64) -> Tensor {
    let h = 1e-6;
    let mut g = Tensor::zeros(x.shape());
    for i in 0..x.len() {
        let mut xp = x.clone();
        xp.data_mut()[i] += h;
        let mut xm = x.clone();
        xm.data_mut()[i] -= h;
        g.data_mut()[i] = (f(&xp) - f(&xm)) / (2.0 * h);
    }
    g
}

fn assert_close(what: &str, analytic: &Tensor, numeric: &Tensor) {
    assert_eq!(analytic.shape(), numeric.shape(), "{what}: shapes differ");
    let scale = numeric.max_abs().max(1e-3);
    let err = analytic.sub(numeric).unwrap().max_abs() / scale;
    assert!(
        err < 1e-7,
        "{what}: analytic vs finite-difference gradient, max rel error {err:.2e}"
    );
}

/// Keep entries away from 0 so that ReLU and max-pool kinks are not crossed by the
/// finite-difference steps, and make ties impossible.
fn away_from_kinks(t: Tensor) -> Tensor {
    t.map(|v| if v.abs() < 0.05 { v + 0.1 } else { v })
}

/// Check `dx` and every parameter gradient of `layer` for `L = <layer(x), r>`.
fn check_layer(name: &str, layer: &mut dyn Layer, x: &Tensor) {
    let y = layer.forward(x).unwrap();
    let r = Tensor::randn(y.shape(), 99);
    let dx = layer.backward(&r).unwrap();
    let grads: Vec<Tensor> = layer.params().iter().map(|p| p.grad.clone()).collect();
    let num_dx = numeric_grad(x, |xv| layer.forward(xv).unwrap().dot(&r).unwrap());
    assert_close(&format!("{name} dx"), &dx, &num_dx);
    for (k, g) in grads.iter().enumerate() {
        let p0 = layer.params()[k].value.clone();
        let pname = layer.params()[k].name;
        let num = numeric_grad(&p0, |pv| {
            *layer.params()[k].value = pv.clone();
            layer.forward(x).unwrap().dot(&r).unwrap()
        });
        *layer.params()[k].value = p0;
        assert_close(&format!("{name} {pname}"), g, &num);
    }
}

#[test]
fn conv_layer_gradients_match_finite_differences_fft_and_direct() {
    for algo in [fftconv::nn::FFT, Algorithm::Direct] {
        let spec = ConvSpec::conv(&[2, 1], Padding::Explicit(vec![(1, 2), (2, 0)]), &[1, 1]);
        let mut conv = Conv::new(
            spec,
            Tensor::randn(&[3, 2, 3, 2], 1),
            Tensor::randn(&[3], 2),
        )
        .unwrap();
        conv.set_algorithm(algo);
        check_layer(
            &format!("conv ({algo:?})"),
            &mut conv,
            &Tensor::randn(&[2, 2, 5, 4], 3),
        );
        let mut same = Conv::same_2d(2, 2, 3, 4).unwrap();
        same.set_algorithm(algo);
        check_layer(
            &format!("same conv ({algo:?})"),
            &mut same,
            &Tensor::randn(&[1, 2, 4, 4], 5),
        );
    }
}

#[test]
fn relu_pool_flatten_dense_gradients_match_finite_differences() {
    let x = away_from_kinks(Tensor::randn(&[2, 3, 4, 5], 7));
    check_layer("relu", &mut Relu::default(), &x);
    check_layer("avg pool", &mut AvgPool::new(2), &x);
    check_layer("max pool", &mut MaxPool::new(2), &x);
    check_layer("flatten", &mut Flatten::default(), &x);
    check_layer(
        "dense",
        &mut Dense::new(6, 4, 8),
        &Tensor::randn(&[3, 6], 9),
    );
}

#[test]
fn loss_gradients_match_finite_differences() {
    let z = Tensor::randn(&[4, 5], 11);
    let labels = [0, 4, 2, 2];
    let (_, g, _) = softmax_cross_entropy(&z, &labels).unwrap();
    let num = numeric_grad(&z, |zv| softmax_cross_entropy(zv, &labels).unwrap().0);
    assert_close("softmax cross-entropy", &g, &num);
    let t = Tensor::randn(&[4, 5], 12);
    let (_, g, _) = (mse(&z, &t).unwrap().0, mse(&z, &t).unwrap().1, ());
    let num = numeric_grad(&z, |zv| mse(zv, &t).unwrap().0);
    assert_close("mse", &g, &num);
}

#[test]
fn softmax_cross_entropy_is_stable_and_counts_correct_predictions() {
    let z = Tensor::new(vec![2, 3], vec![1000.0, 0.0, -1000.0, 0.0, 0.0, 1.0]).unwrap();
    let (loss, g, correct) = softmax_cross_entropy(&z, &[0, 1]).unwrap();
    assert!(
        loss.is_finite() && g.first_non_finite().is_none(),
        "overflow in softmax: {loss}"
    );
    assert_eq!(correct, 1, "sample 0 is right, sample 1 is wrong");
    assert!(
        softmax_cross_entropy(&z, &[0, 3]).is_err(),
        "label 3 of 3 classes must be rejected"
    );
}

#[test]
fn kernel_recovery_reaches_the_targets_and_fft_matches_direct() {
    let r = tasks::kernel_recovery(&KernelRecoveryConfig::default(), &mut |_| {}).unwrap();
    let k = r.kernel.as_ref().unwrap();
    assert!(
        k.kernel_rel_err < 1e-6,
        "kernel_rel_err {:.2e} not below 1e-6",
        k.kernel_rel_err
    );
    assert!(
        k.fft_vs_direct_max_rel_diff < 1e-9,
        "FFT vs direct per-step losses differ by {:.2e}",
        k.fft_vs_direct_max_rel_diff
    );
    assert_eq!(r.step_losses.len(), k.direct_step_losses.len());
    assert!(
        k.fft_vs_direct_max_weight_diff < 1e-12,
        "weight trajectories drift by {:.2e}",
        k.fft_vs_direct_max_weight_diff
    );
    assert_eq!(k.learned.shape(), &[4, 3, 5, 5]);
}

#[test]
fn kernel_recovery_demo_passes() {
    let d = tasks::kernel_recovery_demo().unwrap();
    assert!(
        d.passed,
        "demo did not meet its targets:\n{}",
        d.lines.join("\n")
    );
    assert!(d.lines.len() >= 2);
}

fn tiny_shapes() -> (Dataset, Dataset) {
    (shapes::generate(60, 5), shapes::generate(20, 6))
}

#[test]
fn classifier_runs_agree_between_fft_and_direct_step_by_step() {
    let (train, test) = tiny_shapes();
    let mut cfg = ClassifierConfig {
        epochs: 1,
        batch: 20,
        ..Default::default()
    };
    let fft = tasks::classify("shapes", &train, &test, &cfg, &mut |_| {}).unwrap();
    cfg.algorithm = Algorithm::Direct;
    let direct = tasks::classify("shapes", &train, &test, &cfg, &mut |_| {}).unwrap();
    assert_eq!(fft.step_losses.len(), 3);
    for (i, (a, b)) in fft.step_losses.iter().zip(&direct.step_losses).enumerate() {
        assert!(
            (a - b).abs() <= 1e-9 * b.abs(),
            "step {i}: FFT loss {a} vs direct {b}"
        );
    }
    let json = fft.to_json();
    for key in ["task", "final_loss", "epochs", "seconds", "test_accuracy"] {
        assert!(
            json.get(key).is_some(),
            "classification summary lacks `{key}`: {json}"
        );
    }
}

#[test]
fn shapes_generator_is_deterministic_balanced_and_varied() {
    let a = shapes::generate(200, 3);
    assert_eq!(
        a,
        shapes::generate(200, 3),
        "same seed must give the same images"
    );
    assert_ne!(
        a.images,
        shapes::generate(200, 4).images,
        "another seed must give other images"
    );
    assert_eq!(a.class_counts(), vec![20; 10], "classes must be balanced");
    assert!(a.images.first_non_finite().is_none());
    // Prefix-stable: image i does not depend on how many images are drawn.
    let b = shapes::generate(30, 3);
    assert_eq!(&a.images.data()[..b.images.len()], b.images.data());
    // Class means differ pairwise (each class draws something else).
    let px = shapes::SIZE * shapes::SIZE;
    let mut means = vec![vec![0.0; px]; 10];
    for (i, &l) in a.labels.iter().enumerate() {
        let image = &a.images.data()[i * px..(i + 1) * px];
        for (m, v) in means[l].iter_mut().zip(image) {
            *m += v / 20.0;
        }
    }
    for c in 0..10 {
        for d in 0..c {
            let dist: f64 = means[c]
                .iter()
                .zip(&means[d])
                .map(|(u, v)| (u - v).powi(2))
                .sum();
            assert!(
                dist > 0.5,
                "classes {c} and {d} look alike (mean image distance² {dist:.3})"
            );
        }
    }
}

fn write_mnist(dir: &std::path::Path, n: usize, side: usize) -> (Vec<u8>, Vec<u8>) {
    let pixels: Vec<u8> = (0..n * side * side).map(|i| (i * 37 % 256) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    for prefix in ["train", "t10k"] {
        idx::write(
            &dir.join(format!("{prefix}-images-idx3-ubyte")),
            &[n, side, side],
            &pixels,
        )
        .unwrap();
        idx::write(
            &dir.join(format!("{prefix}-labels-idx1-ubyte")),
            &[n],
            &labels,
        )
        .unwrap();
    }
    (pixels, labels)
}

#[test]
fn idx_loader_reads_tiny_mnist_files() {
    let dir = tempfile::tempdir().unwrap();
    let (pixels, labels) = write_mnist(dir.path(), 12, 8);
    let (train, test) = idx::load_mnist(dir.path(), None).unwrap();
    assert_eq!(train.images.shape(), &[12, 1, 8, 8]);
    assert_eq!(test.len(), 12);
    assert_eq!(
        train.labels,
        labels.iter().map(|&l| l as usize).collect::<Vec<_>>()
    );
    for (i, (&p, &v)) in pixels.iter().zip(train.images.data()).enumerate() {
        assert!(
            (v - p as f64 / 255.0).abs() < 1e-15,
            "pixel {i}: {v} vs byte {p}"
        );
    }
    let (limited, _) = idx::load_mnist(dir.path(), Some(5)).unwrap();
    assert_eq!(limited.len(), 5);
}

#[test]
fn idx_loader_rejects_bad_files_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x");
    std::fs::write(&p, [0x1f, 0x8b, 0, 0]).unwrap();
    let e = idx::read(&p).unwrap_err().to_string();
    assert!(e.contains("gunzip"), "gzip file: {e}");
    std::fs::write(&p, [0, 0, 8, 1, 0, 0, 0, 5, 1, 2]).unwrap();
    let e = idx::read(&p).unwrap_err().to_string();
    assert!(e.contains("says 5"), "truncated file: {e}");
    std::fs::write(&p, [0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0]).unwrap();
    assert!(
        idx::read(&p).is_err(),
        "float IDX files are not supported and must be rejected"
    );
    let e = idx::load_mnist(dir.path(), None).unwrap_err().to_string();
    assert!(e.contains("train-images-idx3-ubyte"), "missing file: {e}");
}

fn run_cli(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fftconv"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn train_kernel_recovery_json_summary_and_plot() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("kr.svg");
    let (ok, stdout, stderr) = run_cli(&[
        "train",
        "--task",
        "kernel-recovery",
        "--json",
        "--plot",
        svg.to_str().unwrap(),
    ]);
    assert!(ok, "train failed: {stderr}");
    assert!(
        !stdout.contains('\r') && !stdout.contains('\x1b') && !stderr.contains('\x1b'),
        "piped output holds progress-bar control characters"
    );
    let last = stdout.lines().last().unwrap();
    let v: serde_json::Value = serde_json::from_str(last).expect("last line is JSON");
    for key in [
        "task",
        "final_loss",
        "epochs",
        "seconds",
        "kernel_rel_err",
        "fft_vs_direct_max_rel_diff",
    ] {
        assert!(v.get(key).is_some(), "summary lacks `{key}`: {last}");
    }
    assert_eq!(v["task"], "kernel-recovery");
    assert!(v["kernel_rel_err"].as_f64().unwrap() < 1e-6);
    assert!(v["fft_vs_direct_max_rel_diff"].as_f64().unwrap() < 1e-9);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.starts_with("<svg") && text.contains("kernel"),
        "plot is not an SVG with kernels"
    );
}

#[test]
fn train_mnist_from_tiny_idx_files_reports_test_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    write_mnist(dir.path(), 20, 8);
    let (ok, stdout, stderr) = run_cli(&[
        "train",
        "--mnist",
        dir.path().to_str().unwrap(),
        "--epochs",
        "1",
        "--json",
    ]);
    assert!(ok, "train --mnist failed: {stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(v["task"], "mnist");
    let acc = v["test_accuracy"]
        .as_f64()
        .expect("test_accuracy is a number");
    assert!((0.0..=1.0).contains(&acc));
}

#[test]
fn train_rejects_unknown_task_and_missing_mnist_dir() {
    let (ok, _, stderr) = run_cli(&["train", "--task", "cifar"]);
    assert!(!ok && stderr.contains("unknown task"), "{stderr}");
    let (ok, _, stderr) = run_cli(&["train", "--mnist", "/nonexistent/dir"]);
    assert!(!ok && stderr.contains("/nonexistent/dir"), "{stderr}");
}

/// A layer whose backward pass is wrong by a factor of 1.001: the checker must catch it.
struct SlightlyWrong;

impl Layer for SlightlyWrong {
    fn describe(&self) -> String {
        "3x".into()
    }
    fn forward(&mut self, x: &Tensor) -> fftconv::Result<Tensor> {
        Ok(x.scale(3.0))
    }
    fn backward(&mut self, dy: &Tensor) -> fftconv::Result<Tensor> {
        Ok(dy.scale(3.003))
    }
}

#[test]
fn the_gradient_checker_catches_a_wrong_gradient() {
    let caught = std::panic::catch_unwind(|| {
        check_layer("wrong", &mut SlightlyWrong, &Tensor::randn(&[2, 3], 1));
    });
    assert!(
        caught.is_err(),
        "a gradient off by 0.1% passed the finite-difference check"
    );
}
