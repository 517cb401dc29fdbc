//! `fftconv bench --peak`: the machine's f32 FMA peak, the denominator of every "% of peak".
//!
//! The peak is the best rate of the widest FMA the CPU runs: a core with two 512-bit FMA pipes
//! (Intel Xeon since Skylake-SP) does twice the work per cycle in AVX-512 as in AVX2, while one
//! that splits 512-bit FMAs into two 256-bit halves (AMD Zen 4) runs both at the same rate.
//! Probing only AVX2 would halve the first machine's peak and double every share against it.

use fftconv::{Error, Result};
use rayon::prelude::*;
use std::time::Instant;

/// Independent FMA chains per thread: enough to cover the FMA latency (4–5 cycles) on two pipes.
#[cfg(target_arch = "x86_64")]
const CHAINS: usize = 12;

/// `CHAINS` independent FMA chains of 8 lanes over `iters` rounds; returns their sum so that
/// the work is not optimised away.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn burst_avx2(iters: usize) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm256_set1_ps(1.0); CHAINS];
    let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
    for _ in 0..iters {
        for v in acc.iter_mut() {
            *v = _mm256_fmadd_ps(*v, a, b);
        }
    }
    let mut lanes = [0.0f32; 8];
    let sum = acc
        .iter()
        .fold(_mm256_setzero_ps(), |s, &v| _mm256_add_ps(s, v));
    // SAFETY: `lanes` holds 8 floats; unaligned store.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
    lanes.iter().sum()
}

/// The same with 16-lane AVX-512 FMAs.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn burst_avx512(iters: usize) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm512_set1_ps(1.0); CHAINS];
    let (a, b) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
    for _ in 0..iters {
        for v in acc.iter_mut() {
            *v = _mm512_fmadd_ps(*v, a, b);
        }
    }
    let sum = acc
        .iter()
        .fold(_mm512_setzero_ps(), |s, &v| _mm512_add_ps(s, v));
    _mm512_reduce_add_ps(sum)
}

/// The best of 200 bursts' rates in GFLOP/s: `(one thread, every rayon thread at once)`.
fn rates(flops_per_burst: f64, burst: &(dyn Fn() + Sync)) -> (f64, f64) {
    let best = |f: &dyn Fn() -> f64| (0..200).map(|_| f()).fold(f64::MAX, f64::min);
    let one = best(&|| {
        let t = Instant::now();
        burst();
        t.elapsed().as_secs_f64()
    });
    let threads = rayon::current_num_threads();
    let all = best(&|| {
        let t = Instant::now();
        (0..threads).into_par_iter().for_each(|_| burst());
        t.elapsed().as_secs_f64()
    });
    (
        flops_per_burst / one / 1e9,
        threads as f64 * flops_per_burst / all / 1e9,
    )
}

/// Print the FMA rate of each vector width the CPU has, then the peak: the best of them.
/// `benches/table.py` reads the last line's "GFLOP/s on all cores".
///
/// # Errors
/// A CPU without AVX2/FMA (the probe has nothing to time).
pub fn fma_peak() -> Result<()> {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        let iters = 200_000;
        let threads = rayon::current_num_threads();
        let show = |name: &str, (one, all): (f64, f64)| {
            println!("f32 FMA rate ({name}): one core {one:.1} GFLOP/s, {all:.1} GFLOP/s on {threads} threads");
        };
        // SAFETY: AVX2 and FMA detected above.
        let avx2 = || {
            std::hint::black_box(unsafe { burst_avx2(iters) });
        };
        let mut best = (
            "AVX2, 8 lanes",
            rates((iters * CHAINS * 8 * 2) as f64, &avx2),
        );
        show(best.0, best.1);
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F detected just above.
            let avx512 = || {
                std::hint::black_box(unsafe { burst_avx512(iters) });
            };
            let wide = (
                "AVX-512, 16 lanes",
                rates((iters * CHAINS * 16 * 2) as f64, &avx512),
            );
            show(wide.0, wide.1);
            if wide.1 .1 > best.1 .1 {
                best = wide;
            }
        }
        let (name, (one, all)) = best;
        println!(
            "f32 FMA peak ({name}): one core {one:.1} GFLOP/s, {all:.1} GFLOP/s on all cores ({threads} threads)"
        );
        return Ok(());
    }
    Err(Error::invalid(
        "--peak",
        "measures AVX2/FMA throughput; this CPU has neither (use --gemm)",
    ))
}
