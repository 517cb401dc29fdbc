//! Times the FFT layer (forward + ∂x + ∂w, f32) under several tilings next to the tiling the
//! cost model picks, to calibrate `conv::fast::tiling`. Usage:
//! `cargo run --release --example tiling_sweep [layer]` with layer one of
//! 2d-k3 2d-k7 2d-k11 2d-k15 2d-stem-s2 2d-dw31 1d-k65 3d-k5 (default: all).
use fftconv::conv::fast::FftConv;
use fftconv::conv::{ConvSpec, Padding};
use fftconv::Tensor;
use std::time::Instant;

/// The fastest of 15 runs (the least disturbed by other work on a shared machine).
fn best_ms(mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..15)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[0]
}

fn time(spec: &ConvSpec, xs: &[usize], ws: &[usize], blocks: Option<&[usize]>) -> (String, f64) {
    let x = Tensor::<f32>::randn(xs, 1);
    let w = Tensor::<f32>::randn(ws, 2);
    let make = || match blocks {
        Some(b) => FftConv::with_blocks(spec, xs, ws, b).unwrap(),
        None => FftConv::new(spec, xs, ws).unwrap(),
    };
    let t = *make().tiling();
    let label = format!("{:?}x{}", t.period(), t.tiles());
    let ms = best_ms(|| {
        let mut l = make();
        let y = l.forward(&x, &w, None).unwrap();
        l.backward(&y, false).unwrap();
    });
    (label, ms)
}

/// A layer: name, spec, x shape, w shape, and the tile blocks to try.
type Sweep = (
    &'static str,
    ConvSpec,
    Vec<usize>,
    Vec<usize>,
    Vec<Vec<usize>>,
);

fn main() {
    let only = std::env::args().nth(1);
    let same = |d: usize| ConvSpec::conv(&vec![1; d], Padding::Same, &vec![1; d]);
    let layers: Vec<Sweep> = vec![
        (
            "2d-k3",
            same(2),
            vec![8, 16, 64, 64],
            vec![16, 16, 3, 3],
            vec![
                vec![64, 64],
                vec![32, 64],
                vec![16, 64],
                vec![32, 32],
                vec![16, 16],
                vec![8, 8],
            ],
        ),
        (
            "2d-k7",
            same(2),
            vec![8, 16, 64, 64],
            vec![16, 16, 7, 7],
            vec![
                vec![64, 64],
                vec![32, 64],
                vec![22, 64],
                vec![32, 32],
                vec![16, 64],
                vec![16, 16],
            ],
        ),
        (
            "2d-k11",
            same(2),
            vec![8, 16, 64, 64],
            vec![16, 16, 11, 11],
            vec![vec![64, 64], vec![32, 64], vec![32, 32], vec![22, 64]],
        ),
        (
            "2d-k15",
            same(2),
            vec![8, 16, 64, 64],
            vec![16, 16, 15, 15],
            vec![vec![64, 64], vec![32, 64], vec![32, 32]],
        ),
        (
            "2d-dw31",
            ConvSpec {
                groups: 32,
                ..same(2)
            },
            vec![4, 32, 64, 64],
            vec![32, 1, 31, 31],
            vec![vec![64, 64], vec![32, 64], vec![32, 32]],
        ),
        (
            "1d-k65",
            same(1),
            vec![4, 16, 4096],
            vec![16, 16, 65],
            vec![
                vec![4096],
                vec![2048],
                vec![1024],
                vec![512],
                vec![448],
                vec![256],
                vec![128],
            ],
        ),
        (
            "3d-k5",
            same(3),
            vec![2, 4, 32, 32, 32],
            vec![4, 4, 5, 5, 5],
            vec![
                vec![32, 32, 32],
                vec![16, 32, 32],
                vec![16, 16, 32],
                vec![16, 16, 16],
            ],
        ),
    ];
    for (name, spec, xs, ws, sweeps) in layers {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let (label, ms) = time(&spec, &xs, &ws, None);
        println!("{name:8} model  {label:>22} {ms:8.2} ms");
        for b in &sweeps {
            let (label, ms) = time(&spec, &xs, &ws, Some(b));
            println!("{name:8} {:>6} {label:>22} {ms:8.2} ms", format!("{b:?}"));
        }
    }
}
