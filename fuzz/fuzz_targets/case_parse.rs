//! Fuzz the `case.toml` loader: any UTF-8 text must give a case or a one-line error naming the
//! file, never a panic; a parsed case's spec must give a geometry or an error (no panic in the
//! shape arithmetic either).
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|text: &str| {
    match fftconv::case::Case::parse(text, Path::new("dir")) {
        Ok(case) => {
            let _ = case.spec.geometry(&[1, 2, 5, 4], &[2, 2, 3, 2]);
            let _ = case.spec.geometry(&[1, 2, 5], &[2, 1, 3]);
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "not one line: {msg}");
            assert!(msg.contains("case.toml"), "file not named: {msg}");
        }
    }
});
