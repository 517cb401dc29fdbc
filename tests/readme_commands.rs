//! Every `fftconv` command in the README's `sh` blocks runs as written: each line that calls
//! the binary (`cargo run --release -- …` or `target/release/fftconv …`) is run with the built
//! binary, paths under `/tmp/` moved into a fresh folder, and must end with the exit status its
//! comment states (`# exit 1: …`), else 0. The two commands that open the README are covered
//! elsewhere: `demo` by `tests/cli_check.rs`, `cargo test` by being this suite.

mod common;
use common::*;

/// The command lines of the README's `sh` blocks, continuation lines joined.
fn sh_commands(readme: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_sh = false;
    let mut pending = String::new();
    for line in readme.lines() {
        if line.starts_with("```") {
            in_sh = line.trim() == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        if let Some(part) = line.strip_suffix('\\') {
            pending += part;
            continue;
        }
        pending += line;
        out.push(std::mem::take(&mut pending).trim().to_string());
    }
    out
}

/// Split a command line into words, honouring single quotes.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut cur, mut quoted, mut any) = (String::new(), false, false);
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

#[test]
fn every_readme_command_runs_as_written() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_fftconv");
    let mut ran = 0;
    for line in sh_commands(&readme) {
        let (command, comment) = match line.split_once(" # ") {
            Some((c, note)) => (c.trim().to_string(), note.to_string()),
            None => (line.clone(), String::new()),
        };
        let rest = if let Some(r) = command.strip_prefix("cargo run --release -- ") {
            r.to_string()
        } else if let Some(r) = command.strip_prefix("target/release/fftconv ") {
            r.to_string()
        } else {
            continue;
        };
        if rest.starts_with("demo") {
            continue;
        }
        let rest = rest
            .replace("/tmp/", &format!("{}/", tmp.path().display()))
            .replace("target/release/fftconv", bin);
        let args = words(&rest);
        let o = std::process::Command::new(bin)
            .args(&args)
            .current_dir(root)
            .output()
            .unwrap();
        let want = if comment.starts_with("exit 1") { 1 } else { 0 };
        assert_eq!(
            code(&o),
            want,
            "README command `{line}`: stdout {} stderr {}",
            stdout(&o),
            stderr(&o)
        );
        ran += 1;
    }
    assert!(ran >= 6, "only {ran} README commands found");
}
