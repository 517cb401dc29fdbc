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
    ok &= section_check_summary()?;
    ok &= section_conv_fft_vs_direct()?;
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
