//! Times the FFT layer (forward + ∂x + ∂w, f32) under several tilings next to the tiling the
//! cost model picks, to calibrate `conv::fast::tiling`. Usage:
//! `cargo run --release --example tiling_sweep [layer [BLOCKS@PERIODS ...]]` with layer one of
//! 2d-k3 2d-k7 2d-k11 2d-k15 2d-stem-s2 2d-dw31 1d-k65 3d-k5 (default: all).
use fftconv::conv::fast::FftConv;
use fftconv::conv::{ConvSpec, Padding};
use fftconv::Tensor;
use std::time::Instant;

/// CPU time of all threads of this process so far, in ms (Linux `schedstat`; 0 elsewhere).
fn cpu_ms() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .sum::<f64>()
        / 1e6
}

/// The fastest of 15 runs (the least disturbed by other work on a shared machine), by wall
/// time, or by CPU time of all threads when `SWEEP_CPU` is set (steadier when other work
/// shares the cores; run with `RAYON_NUM_THREADS=1`).
fn best_ms(mut f: impl FnMut()) -> f64 {
    let cpu = std::env::var_os("SWEEP_CPU").is_some();
    f();
    let mut t: Vec<f64> = (0..15)
        .map(|_| {
            let (s, c) = (Instant::now(), cpu_ms());
            f();
            if cpu {
                cpu_ms() - c
            } else {
                s.elapsed().as_secs_f64() * 1e3
            }
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[0]
}

fn time(
    spec: &ConvSpec,
    xs: &[usize],
    ws: &[usize],
    blocks: Option<&[usize]>,
    periods: Option<&[usize]>,
) -> (String, f64) {
    let x = Tensor::<f32>::randn(xs, 1);
    let w = Tensor::<f32>::randn(ws, 2);
    let make = || match (blocks, periods) {
        (Some(b), Some(p)) => FftConv::with_tiles(spec, xs, ws, b, p).unwrap(),
        (Some(b), None) => FftConv::with_blocks(spec, xs, ws, b).unwrap(),
        _ => FftConv::new(spec, xs, ws).unwrap(),
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
    // Further arguments `BLOCKS@PERIODS`, e.g. `22,64@32,72`: tilings with chosen periods.
    let forced: Vec<(Vec<usize>, Vec<usize>)> = std::env::args()
        .skip(2)
        .filter_map(|a| {
            let (b, p) = a.split_once('@')?;
            let list = |s: &str| {
                s.split(',')
                    .map(|v| v.parse().ok())
                    .collect::<Option<Vec<usize>>>()
            };
            Some((list(b)?, list(p)?))
        })
        .collect();
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
        let (label, ms) = time(&spec, &xs, &ws, None, None);
        println!("{name:8} model  {label:>22} {ms:8.2} ms");
        for (b, p) in &forced {
            let (label, ms) = time(&spec, &xs, &ws, Some(b), Some(p));
            println!("{name:8} {:>6} {label:>22} {ms:8.2} ms", format!("{b:?}"));
        }
        if !forced.is_empty() {
            continue;
        }
        for b in &sweeps {
            let (label, ms) = time(&spec, &xs, &ws, Some(b), None);
            println!("{name:8} {:>6} {label:>22} {ms:8.2} ms", format!("{b:?}"));
        }
    }
}
