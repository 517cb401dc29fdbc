//! `fftconv bench`: time the layers of a layers file (the format of `benches/layers.toml`):
//! forward and forward + `∂x` + `∂w` on random normal inputs, warm-up then the median of
//! `--repeats` runs, with achieved GFLOP/s and the peak bytes allocated per layer; `--json`
//! writes `{"<layer>": {"fwd_ms": .., "fwd_bwd_ms": .., ...}}` like `shared/peers/*.py`.
//! `--gemm` measures the machine's f32 GEMM rate instead, `--peak` its f32 FMA peak.
//!
//! The forward + gradients timing runs [`conv::Step`], what the trainer (`nn::Conv`) runs: with
//! `auto`, each direction on the path the cost model picks for it, and on the FFT path the
//! spectra of `x` and `w` kept from the forward pass for the gradients.

use fftconv::conv::fast::{fft_conv, gemm, FftConv};
use fftconv::conv::{self, Algorithm, ConvSpec, Geometry, Padding, Step};
use fftconv::{Error, Result, Scalar, Tensor};
use rayon::prelude::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::Instant;

/// The system allocator, counting live bytes and their high-water mark while [`peak_bytes`]
/// runs. Outside it the counters stay untouched: the timed runs would otherwise pay two
/// atomic updates of shared cache lines per allocation, contended by every thread, which a
/// user's training step does not (session 17 found them in 2d-k7's profile).
struct CountingAlloc;

static COUNTING: AtomicBool = AtomicBool::new(false);
/// Bytes allocated minus bytes freed since counting began (negative when blocks allocated
/// before are freed).
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

/// Count `delta` bytes allocated (negative: freed), if counting.
fn count(delta: isize) {
    if COUNTING.load(Ordering::Relaxed) {
        let now = LIVE.fetch_add(delta, Ordering::Relaxed) + delta;
        if delta > 0 {
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
    }
}

/// A size as a signed count of bytes (a live allocation never exceeds `isize::MAX`).
fn signed(bytes: usize) -> isize {
    isize::try_from(bytes).unwrap_or(isize::MAX)
}

// SAFETY: forwards every call to `System` unchanged; only updates counters.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(signed(layout.size()));
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        count(-signed(layout.size()));
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(signed(layout.size()));
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(signed(new_size) - signed(layout.size()));
        }
        p
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Arguments of `fftconv bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Layers file (TOML, `[[layer]]` tables as in benches/layers.toml).
    #[arg(long, default_value = "benches/layers.toml")]
    layers: PathBuf,
    /// Element type.
    #[arg(long, default_value = "f32", value_parser = ["f32", "f64"])]
    dtype: String,
    /// Time only the layer of this name.
    #[arg(long)]
    only: Option<String>,
    /// Algorithm: auto (the default a user gets), fft (fused FFT layer), direct (im2col +
    /// GEMM, alias im2col), simd (tiled direct loops), winograd (F(4×4, 3×3) on stride-1 3×3 layers, F(3×3, 4×4) on stride-1 4×4 and stride-2 5×5 to 8×8 layers, simd elsewhere: the table names what ran), chain (the operator chain), loops (the loop witness).
    #[arg(long, default_value = "auto", value_parser = ["auto", "fft", "direct", "im2col", "simd", "winograd", "chain", "loops"])]
    algo: String,
    /// Timed runs per measurement (the median is reported; at least 5).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Write the timings as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Measure the f32 GEMM rate (one core and all cores) instead of the layers.
    #[arg(long)]
    gemm: bool,
    /// Measure the f32 FMA peak (one core and all cores; best of many short bursts) instead of
    /// the layers.
    #[arg(long)]
    peak: bool,
    /// Which statistic of the timed runs to report: the median (comparable with the peers) or
    /// the best run (the machine's speed when nothing else runs).
    /// `cpu` reports the median CPU time of all threads over the thread count (Linux
    /// schedstat): what the wall time would be on an otherwise idle machine.
    #[arg(long, default_value = "median", value_parser = ["median", "best", "cpu"])]
    stat: String,
}

#[derive(serde::Deserialize)]
struct LayersFile {
    layer: Vec<LayerEntry>,
}

#[derive(serde::Deserialize)]
struct LayerEntry {
    name: String,
    n: usize,
    c_in: usize,
    c_out: usize,
    #[serde(default)]
    groups: Option<usize>,
    spatial: Vec<usize>,
    kernel: Vec<usize>,
    #[serde(default)]
    stride: Option<Vec<usize>>,
    #[serde(default)]
    dilation: Option<Vec<usize>>,
    #[serde(default)]
    padding: Option<toml::Value>,
}

/// One benchmark layer: its spec and shapes.
struct BenchLayer {
    name: String,
    spec: ConvSpec,
    x_shape: Vec<usize>,
    w_shape: Vec<usize>,
}

fn parse_layers(path: &PathBuf) -> Result<Vec<BenchLayer>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::file(path.display(), e.to_string()))?;
    let file: LayersFile = toml::from_str(&text)
        .map_err(|e| Error::file(path.display(), format!("is not a layers file: {e}")))?;
    file.layer
        .into_iter()
        .map(|l| {
            let d = l.spatial.len();
            let bad = |msg: String| Error::file(path.display(), format!("layer {}: {msg}", l.name));
            if l.kernel.len() != d {
                return Err(bad(format!(
                    "kernel has {} axes, spatial {d}",
                    l.kernel.len()
                )));
            }
            // "same" = (k-1)//2 before and the rest after, as in shared/peers/layers.py.
            let pads = match &l.padding {
                None => same_pads(&l.kernel),
                Some(toml::Value::String(s)) if s == "same" => same_pads(&l.kernel),
                Some(toml::Value::String(s)) if s == "valid" => vec![(0, 0); d],
                Some(toml::Value::Array(a)) => a
                    .iter()
                    .map(|p| match p.as_array().map(|v| v.as_slice()) {
                        Some([lo, hi]) => match (lo.as_integer(), hi.as_integer()) {
                            (Some(lo), Some(hi)) if lo >= 0 && hi >= 0 => {
                                Ok((lo as usize, hi as usize))
                            }
                            _ => Err(bad("padding entries must be [lo, hi] ≥ 0".into())),
                        },
                        _ => Err(bad(
                            "padding must be \"same\", \"valid\" or [[lo, hi], ...]".into(),
                        )),
                    })
                    .collect::<Result<_>>()?,
                Some(_) => {
                    return Err(bad(
                        "padding must be \"same\", \"valid\" or [[lo, hi], ...]".into(),
                    ))
                }
            };
            let groups = l.groups.unwrap_or(1);
            let spec = ConvSpec {
                stride: l.stride.clone().unwrap_or_default(),
                dilation: l.dilation.clone().unwrap_or_default(),
                padding: Padding::Explicit(pads),
                groups,
                ..Default::default()
            };
            let x_shape = [vec![l.n, l.c_in], l.spatial.clone()].concat();
            let w_shape = [vec![l.c_out, l.c_in / groups.max(1)], l.kernel.clone()].concat();
            spec.geometry(&x_shape, &w_shape)
                .map_err(|e| bad(e.to_string()))?;
            Ok(BenchLayer {
                name: l.name,
                spec,
                x_shape,
                w_shape,
            })
        })
        .collect()
}

fn same_pads(kernel: &[usize]) -> Vec<(usize, usize)> {
    kernel
        .iter()
        .map(|&k| ((k - 1) / 2, k - 1 - (k - 1) / 2))
        .collect()
}

/// Median (or, with `BEST` set, the fastest) of the timed runs.
static BEST: AtomicBool = AtomicBool::new(false);
/// Time CPU seconds of all threads over the thread count instead of wall time.
static CPU: AtomicBool = AtomicBool::new(false);

/// Nanoseconds on a CPU of every thread of this process so far (`/proc/self/task/*/schedstat`;
/// 0 where that does not exist).
fn cpu_ns() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    dir.filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

fn median_ms(repeats: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?; // warm-up
    let mut ts = Vec::with_capacity(repeats);
    let cpu = CPU.load(Ordering::Relaxed);
    for _ in 0..repeats {
        let (t, c) = (Instant::now(), if cpu { cpu_ns() } else { 0 });
        f()?;
        ts.push(if cpu {
            (cpu_ns() - c) as f64 / 1e6 / rayon::current_num_threads() as f64
        } else {
            t.elapsed().as_secs_f64() * 1e3
        });
    }
    ts.sort_by(|a, b| a.total_cmp(b));
    if BEST.load(Ordering::Relaxed) {
        return Ok(ts[0]);
    }
    Ok(ts[ts.len() / 2])
}

/// Bytes allocated above the level at entry while `f` runs.
fn peak_bytes(f: impl FnOnce() -> Result<()>) -> Result<usize> {
    // Buffers pooled by earlier runs would hide allocations from this one.
    fftconv::conv::fast::pool::release();
    LIVE.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::SeqCst);
    let run = f();
    COUNTING.store(false, Ordering::SeqCst);
    run?;
    Ok(usize::try_from(PEAK.load(Ordering::Relaxed)).unwrap_or(0))
}

struct Row {
    fwd_ms: f64,
    fwd_bwd_ms: f64,
    /// The algorithms of the forward pass and of the gradients.
    algo: Algorithm,
    algo_bwd: Algorithm,
    peak: usize,
    tensors: usize,
    gflops_direct: f64,
    /// GFLOP/s on the FFT path's own count, when both directions run on it.
    gflops_fft: Option<f64>,
    /// GFLOP/s of the forward pass on its path's own count (`2·MACs` on the direct side).
    gflops_fwd: f64,
    /// FFT tiles: period per axis and tile count, e.g. `40x40*4`.
    plan: String,
}

/// One training step of the layer, as the trainer takes it.
fn fwd_bwd<T: Scalar>(step: &mut Step<T>, x: &Tensor<T>, w: &Tensor<T>) -> Result<()> {
    let y = step.forward(x, w, None)?;
    step.backward(x, w, &y, false)?;
    Ok(())
}

fn bench_layer<T: Scalar>(l: &BenchLayer, algo: Algorithm, repeats: usize) -> Result<Row> {
    let g: Geometry = l.spec.geometry(&l.x_shape, &l.w_shape)?;
    let (algo_fwd, algo_bwd) = (algo.resolve(&g), algo.resolve_backward(&g));
    let x = Tensor::<T>::randn(&l.x_shape, 0);
    let w = Tensor::<T>::randn(&l.w_shape, 1);
    let fwd_ms = median_ms(repeats, || {
        conv::forward(&l.spec, &x, &w, None, algo_fwd).map(|_| ())
    })?;
    let mut step = Step::new(&l.spec, algo);
    let fwd_bwd_ms = median_ms(repeats, || fwd_bwd(&mut step, &x, &w))?;
    let peak = peak_bytes(|| fwd_bwd(&mut Step::new(&l.spec, algo), &x, &w))?;
    let elem = std::mem::size_of::<T>();
    let numel = |s: &[usize]| s.iter().product::<usize>();
    // x, w, y, dx, dw, and (FFT) the spectra of x, w and dy.
    let mut tensors = elem * (2 * numel(&l.x_shape) + 2 * numel(&l.w_shape) + numel(&g.y_shape()));
    let mut plan = "-".to_string();
    let fft_both = algo_fwd == Algorithm::Fft && algo_bwd == Algorithm::Fft;
    if algo_fwd == Algorithm::Fft || algo_bwd == Algorithm::Fft {
        let layer = FftConv::<T>::new(&l.spec, &l.x_shape, &l.w_shape)?;
        tensors += layer.spectra_bytes();
        let t = layer.tiling();
        let period = t.period()[3 - g.rank()..]
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("x");
        plan = format!("{period}*{}", t.tiles());
    }
    let (fft_fwd, fft_all) = fft_conv::flops(&g);
    let fwd_count = if algo_fwd == Algorithm::Fft {
        fft_fwd
    } else {
        2.0 * g.macs()
    };
    Ok(Row {
        fwd_ms,
        fwd_bwd_ms,
        algo: algo_fwd,
        algo_bwd,
        peak,
        tensors,
        gflops_direct: 6.0 * g.macs() / (fwd_bwd_ms * 1e6),
        gflops_fft: fft_both.then(|| fft_all / (fwd_bwd_ms * 1e6)),
        gflops_fwd: fwd_count / (fwd_ms * 1e6),
        plan,
    })
}

fn gemm_rate(repeats: usize) -> Result<()> {
    let n = 1024;
    let a = Tensor::<f32>::randn(&[n, n], 1).into_data();
    let b = Tensor::<f32>::randn(&[n, n], 2).into_data();
    let mut c = vec![0.0f32; n * n];
    let flops = 2.0 * (n * n * n) as f64;
    let one = median_ms(repeats, || {
        gemm::gemm(
            gemm::Mat::row_major(&a, n, n),
            gemm::Mat::row_major(&b, n, n),
            gemm::MatMut::row_major(&mut c, n, n),
            0.0,
        );
        Ok(())
    })?;
    let threads = rayon::current_num_threads();
    let rows = n.div_ceil(threads);
    let all = median_ms(repeats, || {
        c.par_chunks_mut(rows * n)
            .zip(a.par_chunks(rows * n))
            .for_each(|(cc, aa)| {
                let r = aa.len() / n;
                gemm::gemm(
                    gemm::Mat::row_major(aa, r, n),
                    gemm::Mat::row_major(&b, n, n),
                    gemm::MatMut::row_major(cc, r, n),
                    0.0,
                );
            });
        Ok(())
    })?;
    println!(
        "f32 GEMM {n}x{n}x{n}: one core {:.1} GFLOP/s, {threads} threads {:.1} GFLOP/s",
        flops / (one * 1e6),
        flops / (all * 1e6)
    );
    Ok(())
}

/// Run the benchmark.
///
/// # Errors
/// An unreadable or malformed layers file; an unwritable JSON path.
pub fn run(args: Args) -> Result<ExitCode> {
    let repeats = args.repeats.max(5);
    BEST.store(args.stat == "best", Ordering::Relaxed);
    CPU.store(args.stat == "cpu", Ordering::Relaxed);
    if args.peak {
        super::peak::fma_peak()?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.gemm {
        gemm_rate(repeats)?;
        return Ok(ExitCode::SUCCESS);
    }
    let algo = match args.algo.as_str() {
        "fft" => Algorithm::Fft,
        "direct" | "im2col" => Algorithm::Im2col,
        "simd" => Algorithm::DirectSimd,
        "winograd" => Algorithm::Winograd,
        "chain" => Algorithm::Chain,
        "loops" => Algorithm::Direct,
        _ => Algorithm::Auto,
    };
    let layers = parse_layers(&args.layers)?;
    if let Some(only) = &args.only {
        if !layers.iter().any(|l| &l.name == only) {
            return Err(Error::invalid(
                "--only",
                format!("no layer named {only:?} in {}", args.layers.display()),
            ));
        }
    }
    println!(
        "{:15} {:4} {:21} {:>8} {:>10} {:>8} {:>8} {:>8} {:>8} {:>7}  fft tiles",
        "layer",
        "type",
        "algo fwd/bwd",
        "fwd ms",
        "fwd+bwd ms",
        "GF/s fwd",
        "GF/s dir",
        "GF/s fft",
        "peak MB",
        "peak/io",
    );
    let mut out = BTreeMap::new();
    for l in layers
        .iter()
        .filter(|l| args.only.as_ref().is_none_or(|o| &l.name == o))
    {
        let r = if args.dtype == "f64" {
            bench_layer::<f64>(l, algo, repeats)?
        } else {
            bench_layer::<f32>(l, algo, repeats)?
        };
        println!(
            "{:15} {:4} {:21} {:8.2} {:10.2} {:8.1} {:8.1} {:>8} {:8.1} {:7.1}  {}",
            l.name,
            args.dtype,
            format!("{:?}/{:?}", r.algo, r.algo_bwd).to_lowercase(),
            r.fwd_ms,
            r.fwd_bwd_ms,
            r.gflops_fwd,
            r.gflops_direct,
            r.gflops_fft.map_or("-".into(), |v| format!("{v:.1}")),
            r.peak as f64 / 1e6,
            r.peak as f64 / r.tensors as f64,
            r.plan,
        );
        out.insert(
            l.name.clone(),
            serde_json::json!({
                "fwd_ms": r.fwd_ms,
                "fwd_bwd_ms": r.fwd_bwd_ms,
                "algo": format!("{:?}", r.algo).to_lowercase(),
                "algo_bwd": format!("{:?}", r.algo_bwd).to_lowercase(),
                "gflops_fwd_path_count": r.gflops_fwd,
                "peak_bytes": r.peak,
                "io_and_spectra_bytes": r.tensors,
                "gflops_direct_count": r.gflops_direct,
                "gflops_fft_count": r.gflops_fft,
                "fft_tiles": r.plan,
            }),
        );
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&out).expect("JSON of numbers");
        std::fs::write(path, text).map_err(|e| Error::file(path.display(), e.to_string()))?;
    }
    Ok(ExitCode::SUCCESS)
}
