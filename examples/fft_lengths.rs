//! Nanoseconds per point of rustfft/realfft 1-D transforms (f32) by length: the measurement
//! behind the radix weights of the tiling cost model (`conv::fast::tiling`; README,
//! Performance). `cargo run --release --example fft_lengths [LEN ...]`
use realfft::RealFftPlanner;
use rustfft::{num_complex::Complex32, FftPlanner};
use std::time::Instant;

/// The fastest of 5 timings of `f`, per point, over `points` points.
fn best_ns_per_point(points: usize, mut f: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e9 / points as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let given: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let lengths = if given.is_empty() {
        vec![
            24, 27, 28, 32, 35, 36, 40, 48, 56, 64, 70, 72, 75, 80, 81, 84, 96, 128,
        ]
    } else {
        given
    };
    let (mut real, mut complex) = (RealFftPlanner::<f32>::new(), FftPlanner::<f32>::new());
    println!("length  real ns/point  complex ns/point");
    for n in lengths.into_iter().filter(|&n| n >= 2) {
        let lines = 64;
        let calls = (1 << 21) / (n * lines) + 1;
        let r2c = real.plan_fft_forward(n);
        let mut input = vec![1.0f32; n * lines];
        let mut output = vec![Complex32::default(); (n / 2 + 1) * lines];
        let mut scratch = r2c.make_scratch_vec();
        let r = best_ns_per_point(calls * lines * n, || {
            for _ in 0..calls {
                for (i, o) in input.chunks_mut(n).zip(output.chunks_mut(n / 2 + 1)) {
                    // Lengths and buffers come from the same plan: cannot fail.
                    let _ = r2c.process_with_scratch(i, o, &mut scratch);
                }
            }
        });
        let fft = complex.plan_fft_forward(n);
        let mut buf = vec![Complex32::new(1.0, 0.0); n * lines];
        let mut scratch = vec![Complex32::default(); fft.get_inplace_scratch_len()];
        let c = best_ns_per_point(calls * lines * n, || {
            for _ in 0..calls {
                fft.process_with_scratch(&mut buf, &mut scratch);
            }
        });
        println!("{n:6}  {r:13.3}  {c:16.3}");
    }
}
