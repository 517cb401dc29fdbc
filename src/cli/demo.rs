//! `fftconv demo`: the tour (grows with each part of the product).

use fftconv::conv::{self, Algorithm, ConvSpec, Padding};
use fftconv::{Result, Tensor};
use std::process::ExitCode;

/// Arguments of `demo`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Run the demo.
pub fn run(_args: Args) -> Result<ExitCode> {
    let spec = ConvSpec::conv(&[2, 2], Padding::Explicit(vec![(1, 1), (1, 1)]), &[1, 1]);
    let x = Tensor::<f64>::randn(&[2, 3, 8, 8], 1);
    let w = Tensor::<f64>::randn(&[4, 3, 3, 3], 2);
    let y_fft = conv::forward(&spec, &x, &w, None, Algorithm::Chain)?;
    let y_direct = conv::forward(&spec, &x, &w, None, Algorithm::Direct)?;
    let err = y_fft.sub(&y_direct)?.max_abs() / y_direct.max_abs();
    println!("2-D conv, stride 2, padding 1: FFT chain vs direct loops, max rel error {err:.1e}");
    Ok(if err < 1e-12 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
