//! Measure the FFT path's rounding error against size, in f32 and f64 (the table in
//! `derivations/16-fft-error.md`): `cargo run --release --example fft_error`.
use fftconv::conv::error_model::measure;

fn main() -> fftconv::Result<()> {
    println!("| size | kernel | dtype | max rel err | ‖ŷ−y‖₂ / (ε log₂P ‖x‖₂ ‖w‖₁) |");
    println!("|---:|---:|---|---:|---:|");
    for &size in &[64usize, 256, 1024, 4096, 16384, 65536] {
        for kernel in [9usize, 65] {
            for s in [
                measure::<f64>(size, kernel, 1)?,
                measure::<f32>(size, kernel, 1)?,
            ] {
                println!(
                    "| {} | {} | {} | {:.1e} | {:.3} |",
                    s.size, s.kernel, s.dtype, s.max_rel_err, s.bound_ratio
                );
            }
        }
    }
    Ok(())
}
