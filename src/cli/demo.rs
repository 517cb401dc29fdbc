//! `fftconv demo`: the tour (grows with each part of the product). Each section is its own
//! function returning whether it passed, so later parts can add sections.

use fftconv::check::suite;
use fftconv::conv::{self, Algorithm, ConvSpec, Padding};
use fftconv::{Result, Tensor};
use std::process::ExitCode;

/// Arguments of `demo`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Run the demo: every section, exit 1 if any section's check fails.
pub fn run(_args: Args) -> Result<ExitCode> {
    let mut ok = true;
    ok &= section_derive()?;
    ok &= section_check_summary()?;
    ok &= section_conv_fft_vs_direct()?;
    ok &= section_verify_cases()?;
    ok &= section_kernel_recovery()?;
    ok &= section_hunt()?;
    println!(
        "{}",
        if ok {
            "Every section passed: the adjoint chains are the gradients, and training through them works."
        } else {
            "Some section FAILED: see above."
        }
    );
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn fmt_worst(w: &Option<(f64, String)>, threshold: f64) -> String {
    match w {
        Some((e, at)) => format!("worst {e:.1e} (≤ {threshold:.0e}) at {at}"),
        None => "n/a".into(),
    }
}

/// Section 1: the check suite in one screen — every primitive and combinator, checked four
/// ways over 1-D/2-D/3-D shapes in f64 and f32 (the full table: `fftconv check`).
pub fn section_check_summary() -> Result<bool> {
    println!("== Adjoints, checked four ways (`fftconv check` prints every row) ==");
    let rows = suite::run()?;
    for s in suite::summarise(&rows)? {
        let t = s.thresholds;
        println!(
            "{}: {} operators × {} shapes = {} rows, {} failed",
            s.dtype,
            s.operators,
            suite::SPATIAL_SHAPES.len(),
            s.rows,
            s.failed
        );
        println!(
            "  dot test  ⟨Ax,y⟩ vs ⟨x,A*y⟩   {}",
            fmt_worst(&s.worst_dot, t.dot)
        );
        println!(
            "  dense(A*) vs dense(A)ᵀ        {}",
            fmt_worst(&s.worst_dense, t.dense)
        );
        println!(
            "  finite differences of ⟨Ax,r⟩  {}",
            fmt_worst(&s.worst_fd, t.fd)
        );
        println!(
            "  FFT vs direct loops           {}",
            fmt_worst(&s.worst_direct, t.direct)
        );
    }
    println!();
    Ok(rows.iter().all(|r| r.pass))
}

/// Section 2: a strided, padded 2-D convolution layer, FFT operator chain vs direct loops.
pub fn section_conv_fft_vs_direct() -> Result<bool> {
    println!("== A conv layer through FFTs ==");
    let spec = ConvSpec::conv(&[2, 2], Padding::Explicit(vec![(1, 1), (1, 1)]), &[1, 1]);
    let x = Tensor::<f64>::randn(&[2, 3, 8, 8], 1);
    let w = Tensor::<f64>::randn(&[4, 3, 3, 3], 2);
    let y_fft = conv::forward(&spec, &x, &w, None, Algorithm::Chain)?;
    let y_direct = conv::forward(&spec, &x, &w, None, Algorithm::Direct)?;
    let err = y_fft.sub(&y_direct)?.max_abs() / y_direct.max_abs();
    println!("2-D conv, stride 2, padding 1: FFT chain vs direct loops, max rel error {err:.1e}");
    println!();
    Ok(err < 1e-12)
}

/// Section 3: the verifier on the bundled example cases (computed by XLA in f64); each `*-bad`
/// twin carries one planted error, which must be caught and named.
pub fn section_verify_cases() -> Result<bool> {
    println!("== Judging another implementation: `fftconv verify` on the bundled XLA cases ==");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cases");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("(bundled cases not found at {}; skipped)\n", dir.display());
        return Ok(true);
    };
    let mut names: Vec<_> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("case.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut ok = true;
    for name in names {
        let report = fftconv::case::judge_path(&dir.join(&name))?;
        let worst = report
            .tensors
            .iter()
            .map(|t| t.comparison.max_rel_err)
            .fold(0.0, f64::max);
        let failed: Vec<&str> = report.failed().iter().map(|t| t.as_str()).collect();
        let planted = name.ends_with("-bad");
        let right = planted != failed.is_empty() && (!planted || failed.len() == 1);
        ok &= right;
        println!(
            "  {name:32} {:5}  {}",
            if report.pass() { "PASS" } else { "FAIL" },
            if failed.is_empty() {
                format!("max rel err {worst:.1e}")
            } else {
                format!("planted error caught in {}", failed.join(", "))
            }
        );
    }
    println!();
    Ok(ok)
}

/// Section 4: training through FFT convolutions — a student recovers a teacher's kernels, and
/// the same run with direct convolution takes the same steps.
pub fn section_kernel_recovery() -> Result<bool> {
    println!(
        "== Training kernels through FFT convolutions (`fftconv train --task kernel-recovery`) =="
    );
    let summary = fftconv::nn::tasks::kernel_recovery_demo()?;
    for line in &summary.lines {
        println!("  {line}");
    }
    println!();
    Ok(summary.passed)
}

/// Section 0: derive the gradients of a strided, dilated, grouped 2-D layer as adjoints, rule
/// by rule, and check them numerically (`fftconv derive` prints every step).
pub fn section_derive() -> Result<bool> {
    let layer =
        "conv2d(x: [2,4,9,9], w: [6,2,3,3], stride=2, dilation=2, groups=2, padding=2, bias)";
    println!("== Gradients derived as adjoints (`fftconv derive '{layer}' --check`) ==");
    let opts = fftconv::derive::Options {
        check: true,
        ..Default::default()
    };
    let (text, pass) = fftconv::derive::derive_report(layer, &opts)?;
    let mut show = false;
    for line in text.lines() {
        if line.starts_with("forward")
            || line.starts_with("gradients")
            || line.starts_with("checks")
        {
            show = true;
        } else if line.is_empty() {
            show = false;
        }
        if show {
            println!("  {line}");
        }
    }
    println!();
    Ok(pass)
}

/// Last section: hunt a planted bug. The reference adapter (`fftconv adapter`) is fftconv
/// itself with one bug of the kind real libraries have: a wrong last entry with reflect
/// padding when an axis leaves a remainder after striding. The hunt finds it among hundreds of
/// layers and shrinks it to the smallest layer that still shows it.
pub fn section_hunt() -> Result<bool> {
    let plant = "reflect-remainder";
    println!(
        "== Hunting a planted bug (`fftconv hunt --exec 'fftconv adapter --plant {plant}'`) =="
    );
    let exe = std::env::current_exe()
        .map_err(|e| fftconv::Error::file("fftconv", format!("cannot find this program: {e}")))?;
    let mut options =
        fftconv::hunt::HuntOptions::new(&format!("'{}' adapter --plant {plant}", exe.display()));
    options.scope.ops = vec![fftconv::conv::ConvKind::Conv];
    options.scope.dims = vec![1, 2];
    options.cases = 300;
    options.timeout = std::time::Duration::from_secs(20);
    let report = fftconv::hunt::hunt(&options, &mut |_, _, _| {})?;
    for line in fftconv::hunt::report::table(&report).lines() {
        println!("  {line}");
    }
    println!();
    let found = report.findings.len() == 1
        && report.findings[0].kind == fftconv::hunt::probe::Kind::WrongValue
        && report.findings[0].layer.rank() == 1;
    if !found {
        println!("  FAILED: expected exactly one wrong-value finding, shrunk to one axis");
    }
    Ok(found)
}
