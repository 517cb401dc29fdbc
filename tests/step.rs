//! A training step (`conv::Step`, what `nn::Conv` and `fftconv bench` run) gives the loop
//! witness's forward pass and gradients, whether its spectra are kept (FFT both ways), the
//! directions resolve apart (`Auto`), or a clone recomputes them; and the trainer's conv layer
//! reports the witness's gradients.
use fftconv::conv::{self, Algorithm, ConvSpec, Padding, Step};
use fftconv::nn::{Conv, Layer};
use fftconv::Tensor;

fn rel(a: &Tensor, b: &Tensor) -> f64 {
    a.sub(b).unwrap().max_abs() / b.max_abs().max(1e-300)
}

#[test]
fn step_matches_the_witness_on_every_algorithm() {
    let specs = [
        (
            ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1]),
            [2, 3, 14, 11],
            [4, 3, 5, 5],
        ),
        (
            ConvSpec {
                padding: Padding::Same,
                groups: 4,
                ..Default::default()
            },
            [2, 4, 16, 16],
            [4, 1, 7, 7],
        ),
        (
            ConvSpec::conv(&[2, 2], Padding::Same, &[1, 1]),
            [1, 3, 17, 15],
            [5, 3, 7, 7],
        ),
    ];
    for (i, (spec, xs, ws)) in specs.iter().enumerate() {
        let seed = 10 * i as u64;
        let x = Tensor::randn(xs, seed);
        let w = Tensor::randn(ws, seed + 1);
        let b = Tensor::randn(&[ws[0]], seed + 2);
        let y_ref = conv::forward(spec, &x, &w, Some(&b), Algorithm::Direct).unwrap();
        let dy = Tensor::randn(y_ref.shape(), seed + 3);
        let g_ref = conv::backward(spec, &x, &w, &dy, true, Algorithm::Direct).unwrap();
        for algo in [
            Algorithm::Fft,
            Algorithm::Auto,
            Algorithm::DirectSimd,
            Algorithm::Im2col,
        ] {
            let mut step = Step::new(spec, algo);
            let at = format!("{algo:?} {spec:?}");
            assert!(
                step.backward(&x, &w, &dy, true).is_err(),
                "{at}: backward before forward"
            );
            let y = step.forward(&x, &w, Some(&b)).unwrap();
            assert!(rel(&y, &y_ref) < 1e-11, "{at}: y");
            for s in [&step, &step.clone()] {
                let g = s.backward(&x, &w, &dy, true).unwrap();
                assert!(rel(&g.dx, &g_ref.dx) < 1e-11, "{at}: dx");
                assert!(rel(&g.dw, &g_ref.dw) < 1e-11, "{at}: dw");
                assert!(
                    rel(&g.db.unwrap(), g_ref.db.as_ref().unwrap()) < 1e-11,
                    "{at}: db"
                );
            }
            let (f, _) = step.algorithms().unwrap();
            assert_ne!(f, Algorithm::Auto, "{at}: resolved");
        }
    }
}

#[test]
fn trainer_conv_layer_gradients_equal_the_witness() {
    let mut layer = Conv::same_2d(3, 4, 5, 7).unwrap();
    let x = Tensor::randn(&[2, 3, 12, 12], 1);
    let dy = Tensor::randn(&[2, 4, 12, 12], 2);
    let (w, b) = (layer.weight.clone(), layer.bias.clone());
    let y_ref = conv::forward(&layer.spec, &x, &w, Some(&b), Algorithm::Direct).unwrap();
    let g_ref = conv::backward(&layer.spec, &x, &w, &dy, true, Algorithm::Direct).unwrap();
    for algo in [Algorithm::Fft, Algorithm::Auto] {
        layer.set_algorithm(algo);
        let y = layer.forward(&x).unwrap();
        assert!(rel(&y, &y_ref) < 1e-11, "{algo:?}: y");
        let dx = layer.backward(&dy).unwrap();
        assert!(rel(&dx, &g_ref.dx) < 1e-11, "{algo:?}: dx");
        let params = layer.params();
        assert!(rel(params[0].grad, &g_ref.dw) < 1e-11, "{algo:?}: dw");
        assert!(
            rel(params[1].grad, g_ref.db.as_ref().unwrap()) < 1e-11,
            "{algo:?}: db"
        );
    }
}
