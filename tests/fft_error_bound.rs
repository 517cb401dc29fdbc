//! The FFT path's rounding error stays within the bound of `derivations/16-fft-error.md`:
//! ‖ŷ − y‖₂ ≤ C ε log₂P ‖x‖₂ ‖w‖₁ with C < 1, and the relative error grows no faster than
//! log₂ P, in f64 and f32.
use fftconv::conv::error_model::measure;

#[test]
fn err_1_fft_error_follows_the_log_bound_in_f64_and_f32() {
    for &size in &[64usize, 1024, 16384] {
        for kernel in [9usize, 65] {
            let a = measure::<f64>(size, kernel, 3).unwrap();
            let b = measure::<f32>(size, kernel, 3).unwrap();
            assert!(
                a.bound_ratio < 1.0,
                "f64 S={size} K={kernel}: C = {}",
                a.bound_ratio
            );
            assert!(
                b.bound_ratio < 1.0,
                "f32 S={size} K={kernel}: C = {}",
                b.bound_ratio
            );
            let log_p = ((size + kernel) as f64).log2();
            assert!(
                a.max_rel_err < 4.0 * f64::EPSILON * log_p,
                "f64 S={size}: {}",
                a.max_rel_err
            );
            assert!(
                b.max_rel_err < 4.0 * f32::EPSILON as f64 * log_p,
                "f32 S={size}: {}",
                b.max_rel_err
            );
        }
    }
}
