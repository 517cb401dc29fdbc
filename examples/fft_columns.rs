//! Microseconds per forward + inverse pruned transform, the column stages transposed for
//! rustfft against run vertically in place (and, on 3-D periods, mixed: axis 1 transposed,
//! axis 0 vertical), on the periods of the FFT layers: the measurement
//! behind `Columns::chosen` (`conv::fast::pruned_fft`).
//! `cargo run --release --example fft_columns [f64]`; `... fft_columns cols` times only the
//! vertical column stages of the 2-D periods (best of 31, to the ns: the 1–3 µs they take
//! are below the full table's 0.1 µs resolution and noise); `... fft_columns pruned` times the
//! vertical plans of the layers' periods with the few nonzero lines of a kernel (forward) and
//! the few rows its gradient reads (inverse) against all lines (best of 31, ns), the case the
//! pruned first and last column passes serve.
use fftconv::conv::fast::pruned_fft::{Columns, PrunedRfft};
use fftconv::tensor::Scalar;
use num_complex::Complex;
use std::time::Instant;

/// Forward into a spectrum buffer and back, as the layers call them, `reps` times; the
/// fastest of 7 timings, per transform pair, in µs.
fn time<T: Scalar>(period: [usize; 3], nonzero: [usize; 2], columns: Columns) -> (f64, Columns) {
    time_best::<T>(period, nonzero, columns, 7)
}

fn time_best<T: Scalar>(
    period: [usize; 3],
    nonzero: [usize; 2],
    columns: Columns,
    runs: usize,
) -> (f64, Columns) {
    let plan = PrunedRfft::<T>::plan_columns(period, columns);
    let mut s = plan.scratch();
    for (i, v) in s.real_mut().iter_mut().enumerate() {
        *v = T::of((i % 13) as f64 - 6.0);
    }
    let mut spectrum = vec![Complex::new(T::zero(), T::zero()); plan.bins()];
    let reps = (1 << 22) / plan.real_len() + 1;
    let best = (0..runs)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..reps {
                plan.forward_into(&mut s, nonzero, &mut spectrum);
                std::hint::black_box(plan.inverse_from(&mut s, &mut spectrum, nonzero));
            }
            start.elapsed().as_secs_f64() * 1e6 / reps as f64
        })
        .fold(f64::INFINITY, f64::min);
    (best, plan.columns())
}

fn run<T: Scalar>(name: &str) {
    println!("{name}: period  nonzero  transposed µs  vertical µs  ratio");
    for (period, nonzero) in [
        ([1, 64, 64], [1, 34]),
        ([1, 96, 96], [1, 66]),
        ([16, 36, 36], [12, 32]),
        ([1, 32, 80], [1, 22]),
        ([1, 48, 80], [1, 34]),
        ([1, 48, 48], [1, 34]),
        ([1, 36, 36], [1, 26]),
        ([1, 36, 72], [1, 30]),
        ([1, 40, 72], [1, 34]),
        ([1, 72, 72], [1, 40]),
        ([1, 80, 80], [1, 48]),
    ] {
        let (old, _) = time::<T>(period, nonzero, Columns::Transposed);
        let (new, mode) = time::<T>(period, nonzero, Columns::Vertical);
        println!(
            "{period:?} {nonzero:?}  {old:.1}  {new:.1} ({mode:?})  {:.2}",
            old / new
        );
        let (mixed, mode) = time::<T>(period, nonzero, Columns::Mixed);
        println!("  mixed ({mode:?}) {mixed:.1}  {:.2}", old / mixed);
        // No rows (the row stages skip them): the column stages alone.
        let cols_only = [nonzero[0], 0];
        let (old, _) = time::<T>(period, cols_only, Columns::Transposed);
        let (new, _) = time::<T>(period, cols_only, Columns::Vertical);
        println!(
            "  columns only {cols_only:?}  {old:.1}  {new:.1}  {:.2}",
            old / new
        );
    }
}

/// The vertical column stages alone (no rows) of the 2-D periods, in ns.
fn columns_only() {
    print!("f32 vertical columns only, ns:");
    for period in [
        [1, 64, 64],
        [1, 32, 80],
        [1, 40, 72],
        [1, 72, 72],
        [1, 80, 80],
    ] {
        let (ns, _) = time_best::<f32>(period, [1, 0], Columns::Vertical, 31);
        print!("  {}x{} {:.0}", period[1], period[2], ns * 1e3);
    }
    println!();
}

/// Forward + inverse of the vertical plans with `nonzero` lines in and the same rows out:
/// a kernel's 7 of 40 (2d-k7's weight and its gradient), a gradient's 34, all of them.
fn pruned() {
    print!("f32 vertical forward+inverse, nonzero lines = rows read, ns:");
    for (period, nonzero) in [
        ([1, 40, 72], [1, 7]),
        ([1, 40, 72], [1, 34]),
        ([1, 40, 72], [1, 40]),
        ([1, 64, 64], [1, 11]),
        ([1, 64, 64], [1, 64]),
        ([1, 48, 80], [1, 15]),
        ([16, 36, 36], [5, 5]),
        ([16, 36, 36], [16, 36]),
    ] {
        let (ns, _) = time_best::<f32>(period, nonzero, Columns::Vertical, 31);
        print!(
            "  {}x{}x{} {}x{} {:.0}",
            period[0],
            period[1],
            period[2],
            nonzero[0],
            nonzero[1],
            ns * 1e3
        );
    }
    println!();
}

fn main() {
    if std::env::args().any(|a| a == "pruned") {
        pruned();
    } else if std::env::args().any(|a| a == "cols") {
        columns_only();
    } else if std::env::args().any(|a| a == "f64") {
        run::<f64>("f64");
    } else {
        run::<f32>("f32");
    }
}
