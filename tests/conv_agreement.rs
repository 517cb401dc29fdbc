//! The FFT operator chain and the direct witness agree on forward and all gradients.
use fftconv::conv::{self, Algorithm, ConvKind, ConvSpec, Padding};
use fftconv::op::PadMode;
use fftconv::Tensor;

fn rel(a: &Tensor, b: &Tensor) -> f64 {
    a.sub(b).unwrap().max_abs() / b.max_abs().max(1e-300)
}

fn agree(spec: &ConvSpec, x_shape: &[usize], w_shape: &[usize]) {
    let x = Tensor::<f64>::randn(x_shape, 1);
    let w = Tensor::<f64>::randn(w_shape, 2);
    let g = spec.geometry(x_shape, w_shape).unwrap();
    let b = Tensor::<f64>::randn(&g.b_shape(), 3);
    let dy = Tensor::<f64>::randn(&g.y_shape(), 4);
    let yc = conv::forward(spec, &x, &w, Some(&b), Algorithm::Chain).unwrap();
    let yd = conv::forward(spec, &x, &w, Some(&b), Algorithm::Direct).unwrap();
    assert!(
        rel(&yc, &yd) < 1e-12,
        "{spec:?} {x_shape:?}: y differs by {}",
        rel(&yc, &yd)
    );
    let gc = conv::backward(spec, &x, &w, &dy, true, Algorithm::Chain).unwrap();
    let gd = conv::backward(spec, &x, &w, &dy, true, Algorithm::Direct).unwrap();
    assert!(
        rel(&gc.dx, &gd.dx) < 1e-12,
        "{spec:?}: dx differs by {}",
        rel(&gc.dx, &gd.dx)
    );
    assert!(
        rel(&gc.dw, &gd.dw) < 1e-12,
        "{spec:?}: dw differs by {}",
        rel(&gc.dw, &gd.dw)
    );
    assert!(rel(gc.db.as_ref().unwrap(), gd.db.as_ref().unwrap()) < 1e-12);
}

#[test]
fn chain_matches_direct_on_assorted_layers() {
    agree(
        &ConvSpec::conv(&[1], Padding::Valid, &[1]),
        &[2, 3, 11],
        &[4, 3, 3],
    );
    agree(
        &ConvSpec::conv(&[2, 1], Padding::Explicit(vec![(1, 2), (0, 1)]), &[1, 2]),
        &[2, 3, 9, 8],
        &[4, 3, 3, 2],
    );
    agree(
        &ConvSpec::conv(&[2], Padding::Same, &[1]),
        &[1, 2, 10],
        &[2, 2, 4],
    );
    for mode in [PadMode::Circular, PadMode::Reflect, PadMode::Replicate] {
        let s = ConvSpec {
            padding: Padding::Explicit(vec![(2, 1), (1, 2)]),
            padding_mode: mode,
            stride: vec![2],
            ..Default::default()
        };
        agree(&s, &[1, 2, 7, 6], &[2, 2, 3, 3]);
    }
    let grouped = ConvSpec {
        groups: 2,
        padding: Padding::Explicit(vec![(1, 1)]),
        dilation: vec![2],
        ..Default::default()
    };
    agree(&grouped, &[2, 4, 13], &[6, 2, 3]);
    agree(
        &ConvSpec::conv(
            &[1, 2, 1],
            Padding::Explicit(vec![(1, 0), (0, 0), (1, 1)]),
            &[1],
        ),
        &[1, 2, 5, 6, 4],
        &[2, 2, 2, 3, 2],
    );
    for (stride, op, dil, pads) in [
        (2, 1, 1, (1, 0)),
        (3, 2, 1, (0, 2)),
        (1, 1, 2, (1, 1)),
        (2, 2, 3, (0, 0)),
    ] {
        let t = ConvSpec {
            kind: ConvKind::ConvTranspose,
            stride: vec![stride],
            output_padding: vec![op],
            dilation: vec![dil],
            padding: Padding::Explicit(vec![pads]),
            groups: 2,
            ..Default::default()
        };
        agree(&t, &[2, 4, 6], &[4, 3, 3]);
    }
}
