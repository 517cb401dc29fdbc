//! `fftconv bench` as a user runs it: its peak-memory column counts a training step's
//! allocations (the counting allocator is on only during that run, so a regression that
//! left it off would report 0 MB).

use std::process::Command;

const LAYER: &str = r#"
[[layer]]
name = "tiny-k5"
n = 2
c_in = 4
c_out = 3
spatial = [20, 18]
kernel = [5, 5]
padding = "same"
"#;

fn peak_of(algo: &str) -> (f64, f64) {
    let tmp = tempfile::tempdir().unwrap();
    let layers = tmp.path().join("layers.toml");
    let json = tmp.path().join("out.json");
    std::fs::write(&layers, LAYER).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fftconv"))
        .args(["bench", "--algo", algo, "--layers"])
        .arg(&layers)
        .arg("--json")
        .arg(&json)
        .output()
        .expect("the binary runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let row = &v["tiny-k5"];
    (
        row["peak_bytes"].as_f64().unwrap(),
        row["io_and_spectra_bytes"].as_f64().unwrap(),
    )
}

#[test]
fn bench_peak_memory_counts_at_least_the_step_outputs() {
    // A step allocates y, ∂x and ∂w (f32): a lower bound any counting allocator must reach.
    let outputs = 4.0 * (2.0 * 3.0 * 20.0 * 18.0 + 2.0 * 4.0 * 20.0 * 18.0 + 3.0 * 4.0 * 25.0);
    for algo in ["fft", "simd", "direct"] {
        let (peak, io) = peak_of(algo);
        assert!(
            peak >= outputs,
            "{algo}: peak {peak} B < outputs {outputs} B"
        );
        assert!(
            peak <= 16.0 * io,
            "{algo}: peak {peak} B is over 16× the tensors and spectra ({io} B)"
        );
    }
}
