//! `fftconv check --json` and `fftconv demo` as a user runs them: exit status and output format.

use std::process::Command;

#[test]
fn check_json_prints_one_parsable_row_per_line_and_exits_0() {
    let out = Command::new(env!("CARGO_BIN_EXE_fftconv"))
        .args(["check", "--json"])
        .output()
        .expect("the binary runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("line {l:?}: {e}")))
        .collect();
    assert!(rows.len() >= 2 * 29 * 9, "only {} rows", rows.len());
    assert!(rows.iter().all(|r| r["pass"] == true));
    assert!(rows.iter().any(|r| r["dtype"] == "f32"));
}

#[test]
fn demo_prints_the_check_summary_and_exits_0() {
    let out = Command::new(env!("CARGO_BIN_EXE_fftconv"))
        .arg("demo")
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("f64: 29 operators") && text.contains("0 failed"),
        "{text}"
    );
}
