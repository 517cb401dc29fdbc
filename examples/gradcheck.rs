//! Gradcheck a user function of a tensor: the squared-error loss of a 2-D convolution layer,
//! `L(w) = ½‖conv(x; w) − t‖²`, whose gradient fftconv computes as an adjoint
//! (`conv::backward` with `dy = conv(x; w) − t`).
//!
//! Run with `cargo run --example gradcheck`.

use fftconv::check::gradcheck::{gradcheck, GradCheckOptions};
use fftconv::conv::{self, Algorithm, ConvSpec, Padding};
use fftconv::Tensor;

fn main() -> fftconv::Result<()> {
    // Stride 2, padding 1, dilation 1; x: (N=2, C=3, 9, 8), w: (O=4, C=3, 3, 3).
    let spec = ConvSpec::conv(&[2, 2], Padding::Explicit(vec![(1, 1), (1, 1)]), &[1, 1]);
    let x = Tensor::<f64>::randn(&[2, 3, 9, 8], 1);
    let w = Tensor::<f64>::randn(&[4, 3, 3, 3], 2);
    let y = conv::forward(&spec, &x, &w, None, Algorithm::Chain)?;
    let target = Tensor::<f64>::randn(y.shape(), 3);

    // The loss as a function of the weights, and of the input.
    let loss = |x: &Tensor, w: &Tensor| -> f64 {
        let y = conv::forward(&spec, x, w, None, Algorithm::Chain).expect("shapes fit");
        0.5 * y.sub(&target).expect("same shape").norm().powi(2)
    };
    let grads = conv::backward(&spec, &x, &w, &y.sub(&target)?, false, Algorithm::Chain)?;

    let opts = GradCheckOptions::default();
    // w has 108 elements: every coordinate is checked.
    let report_w = gradcheck(&|w: &Tensor| loss(&x, w), &w, &grads.dw, &opts)?;
    println!("dL/dw (every coordinate):   {report_w}");
    // x has 432 elements (> full_limit = 256): 16 random directions.
    let report_x = gradcheck(&|x: &Tensor| loss(x, &w), &x, &grads.dx, &opts)?;
    println!("dL/dx (random directions):  {report_x}");

    // A wrong gradient is caught: half the true one.
    let half = conv::backward(
        &spec,
        &x,
        &w,
        &y.sub(&target)?.map(|v| v * 0.5),
        false,
        Algorithm::Chain,
    )?;
    let report_bad = gradcheck(&|w: &Tensor| loss(&x, w), &w, &half.dw, &opts)?;
    println!("dL/dw, halved on purpose:  {report_bad}");

    assert!(report_w.pass && report_x.pass && !report_bad.pass);
    Ok(())
}
