//! Helpers shared by the tests that run the `fftconv` binary.
#![allow(dead_code)] // each test file uses a subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The bundled example cases (a copy of the shared XLA cases).
pub fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cases")
}

/// Run the binary with `args`.
pub fn fftconv(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fftconv"))
        .args(args)
        .output()
        .expect("run fftconv")
}

/// `fftconv verify PATH`.
pub fn verify(path: &Path) -> Output {
    fftconv(&["verify", path.to_str().unwrap()])
}

/// The exit code (a signal means a crash, which no input may cause).
pub fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code (killed by a signal?)")
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A copy of an example case in a fresh temporary folder.
pub fn copy_case(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dst = tmp.path().join(name);
    std::fs::create_dir(&dst).unwrap();
    for e in std::fs::read_dir(cases_dir().join(name)).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dst.join(p.file_name().unwrap())).unwrap();
    }
    (tmp, dst)
}

/// max |a - b| / max |b|: the relative error the fast-path tests bound.
pub fn rel<T: fftconv::tensor::Scalar>(
    a: &fftconv::tensor::Tensor<T>,
    b: &fftconv::tensor::Tensor<T>,
) -> f64 {
    a.sub(b).unwrap().max_abs() / b.max_abs().max(1e-300)
}

/// Every `.rs` file under `dir`, recursively (for the tests that read the sources).
pub fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}
