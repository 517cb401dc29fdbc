//! `fftconv derive` on the command line: checks pass on a strided, dilated, grouped 2-D layer;
//! bad input exits 2 with a message that names the column.

use std::process::Command;

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fftconv"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn strided_dilated_grouped_2d_layer_derives_and_passes_its_checks() {
    let (code, out, err) = run(&[
        "derive",
        "conv2d(x: [2, 4, 9, 9], w: [6, 2, 3, 3], stride=2, dilation=2, groups=2, padding=2, bias)",
        "--check",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    for needle in [
        "[COMP-1",
        // A grouped layer: the conv and swap adjoints cite the grouped rule (CHAN-2).
        "[CHAN-2 grouped circular convolution* = grouped correlation",
        "[CHAN-2 grouped weight view* = grouped correlation with the signal",
        "[STRIDE-1",
        "[DIL-1",
        "[BIAS-1",
        "corr(h, groups=2)",
    ] {
        assert!(out.contains(needle), "missing {needle} in\n{out}");
    }
    let checks: Vec<&str> = out
        .lines()
        .filter(|l| l.trim_start().starts_with('∂') && l.contains("dot "))
        .collect();
    assert_eq!(checks.len(), 3, "{out}");
    assert!(checks.iter().all(|l| l.ends_with(": pass")), "{out}");
}

#[test]
fn latex_and_wrt_select_the_output() {
    let (code, out, _) = run(&[
        "derive",
        "conv1d(x: [1, 1, 6], w: [1, 1, 3])",
        "--wrt",
        "w",
        "--latex",
    ]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("\\operatorname{corr\\_signal}(x_{p})"),
        "{out}"
    );
    assert!(!out.contains("∂L/∂x ="), "{out}");
}

#[test]
fn bad_input_exits_2_naming_the_column() {
    let (code, _, err) = run(&[
        "derive",
        "conv2d(x: [2, 3, 8, 8], w: [4, 3, 3, 3], strde=2)",
    ]);
    assert_eq!(code, Some(2));
    assert!(
        err.starts_with("fftconv: expression:42: unknown layer argument `strde`"),
        "{err}"
    );
    let (code, _, err) = run(&["derive", "conv1d(x: [1, 1, 6], w: [1, 1, 3])", "--wrt", "b"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no bias"), "{err}");
    // The library's texts name no flag; the CLI says which flag it was.
    assert!(
        err.starts_with("fftconv: --wrt b: the layer has no bias"),
        "{err}"
    );
}
