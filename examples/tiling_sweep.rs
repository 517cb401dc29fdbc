//! Times the FFT layer (forward + ∂x + ∂w, f32) under several tilings next to the tiling the
//! cost model picks, to calibrate `conv::fast::tiling`. Usage:
//! `cargo run --release --example tiling_sweep [layer [BLOCKS@PERIODS ...]]` with layer one of
//! 2d-k3 2d-k7 2d-k11 2d-k15 2d-stem-s2 2d-dw31 1d-k65 3d-k5 (default: all).
//!
//! Like `fftconv bench`, it keeps large blocks on glibc's heap ([`keep_large_blocks`]):
//! without that every layer call maps its megabyte tensors fresh and unmaps them again, and
//! the page faults and TLB shootdowns made every tiling time ~2.6× slower here than in the
//! bench (11.5 against 4.4 ms on 2d-k7), hiding the differences between tilings.
use fftconv::conv::fast::FftConv;
use fftconv::conv::{ConvSpec, Padding};
use fftconv::Tensor;
use std::time::Instant;

/// Raise glibc's mmap and trim thresholds, as the `fftconv` command does at start-up
/// (`src/cli/malloc.rs`), so that freed layer outputs are reused instead of unmapped.
fn keep_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn mallopt(
                param: std::os::raw::c_int,
                value: std::os::raw::c_int,
            ) -> std::os::raw::c_int;
        }
        // SAFETY: mallopt only sets allocator parameters; called before any thread starts.
        unsafe {
            mallopt(-3, 256 << 20); // M_MMAP_THRESHOLD
            mallopt(-1, 512 << 20); // M_TRIM_THRESHOLD
        }
    }
}

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
/// time, or when `SWEEP_CPU` is set by CPU time of all threads over the thread count
/// (steadier when other work shares the cores), the same statistic as `fftconv bench --stat
/// cpu` (summed over threads it read twice the bench's figure on two threads).
fn best_ms(mut f: impl FnMut()) -> f64 {
    let cpu = std::env::var_os("SWEEP_CPU").is_some();
    f();
    let mut t: Vec<f64> = (0..15)
        .map(|_| {
            let (s, c) = (Instant::now(), cpu_ms());
            f();
            if cpu {
                (cpu_ms() - c) / rayon::current_num_threads() as f64
            } else {
                s.elapsed().as_secs_f64() * 1e3
            }
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[0]
}

/// The tiling's label and its best time, or the error of planning or running it (a forced
/// tiling whose periods are shorter than its windows is refused by `FftConv::with_tiles`).
fn time(
    spec: &ConvSpec,
    xs: &[usize],
    ws: &[usize],
    blocks: Option<&[usize]>,
    periods: Option<&[usize]>,
) -> fftconv::Result<(String, f64)> {
    let x = Tensor::<f32>::randn(xs, 1);
    let w = Tensor::<f32>::randn(ws, 2);
    let make = || match (blocks, periods) {
        (Some(b), Some(p)) => FftConv::with_tiles(spec, xs, ws, b, p),
        (Some(b), None) => FftConv::with_blocks(spec, xs, ws, b),
        _ => FftConv::new(spec, xs, ws),
    };
    // One layer for every run, as a training step keeps its layer (`conv::Step`, what
    // `fftconv bench` times).
    let mut l = make()?;
    let t = *l.tiling();
    let label = format!("{:?}x{}", t.period(), t.tiles());
    let mut failed = None;
    let ms = best_ms(|| {
        let mut run = || -> fftconv::Result<()> {
            let y = l.forward(&x, &w, None)?;
            l.backward(&y, false)?;
            Ok(())
        };
        if let Err(e) = run() {
            failed = Some(e);
        }
    });
    match failed {
        Some(e) => Err(e),
        None => Ok((label, ms)),
    }
}

/// One line of the sweep: the tiling and its time, or why it did not run.
fn report(name: &str, what: &str, timed: fftconv::Result<(String, f64)>) {
    match timed {
        Ok((label, ms)) => println!("{name:8} {what:>6} {label:>22} {ms:8.2} ms"),
        Err(e) => println!("{name:8} {what:>6} skipped: {e}"),
    }
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
    keep_large_blocks();
    let only = std::env::args().nth(1);
    // Further arguments `BLOCKS@PERIODS`, e.g. `22,64@32,72`: tilings with chosen periods.
    let forced: Vec<(Vec<usize>, Vec<usize>)> = std::env::args()
        .skip(2)
        .filter_map(|a| {
            let list = |s: &str| {
                s.split(',')
                    .map(|v| v.parse().ok())
                    .collect::<Option<Vec<usize>>>()
            };
            let parsed = a
                .split_once('@')
                .and_then(|(b, p)| Some((list(b)?, list(p)?)));
            if parsed.is_none() {
                eprintln!("tiling {a:?} ignored: give BLOCKS@PERIODS, e.g. 22,64@32,72");
            }
            parsed
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
        report(name, "model", time(&spec, &xs, &ws, None, None));
        for (b, p) in &forced {
            let what = format!("{b:?}@{p:?}");
            report(name, &what, time(&spec, &xs, &ws, Some(b), Some(p)));
        }
        if !forced.is_empty() {
            continue;
        }
        for b in &sweeps {
            report(
                name,
                &format!("{b:?}"),
                time(&spec, &xs, &ws, Some(b), None),
            );
        }
    }
}
