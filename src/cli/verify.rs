//! `fftconv verify PATH... [--json]`: judge validation cases (`docs/CASES.md`).
//!
//! Each PATH is a case folder, a `case.toml`, or a folder of case folders (one level, sorted).
//! Exit status 0 when every case passes, 1 when some expected tensor disagrees, 2 when some case
//! could not be judged (the others are still reported). Never writes a file.

use fftconv::case::{judge_path, CaseReport};
use fftconv::{Error, Result};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `verify`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Case folders, case.toml files, or folders of case folders.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Print JSON Lines (one object per case) instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// A case to judge, or a PATH that names no case.
enum Target {
    Case(PathBuf),
    Bad(PathBuf, Error),
}

/// Expand the PATHs into cases: a file is a `case.toml`; a folder with `case.toml` is a case;
/// any other folder holds cases, one per sub-folder (hidden ones skipped), in sorted order.
fn targets(paths: &[PathBuf]) -> Vec<Target> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_file() {
            out.push(Target::Case(p.clone()));
        } else if p.is_dir() {
            if p.join("case.toml").exists() {
                out.push(Target::Case(p.clone()));
                continue;
            }
            let mut subs: Vec<PathBuf> = match std::fs::read_dir(p) {
                Ok(rd) => rd
                    .filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|s| s.is_dir())
                    .filter(|s| {
                        !s.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                    })
                    .collect(),
                Err(e) => {
                    out.push(Target::Bad(
                        p.clone(),
                        Error::file(p.display(), format!("cannot list the folder: {e}")),
                    ));
                    continue;
                }
            };
            subs.sort();
            if subs.is_empty() {
                out.push(Target::Bad(
                    p.clone(),
                    Error::file(
                        p.display(),
                        "holds no case.toml and no case folders; give a case folder, a case.toml or a folder of case folders",
                    ),
                ));
            }
            out.extend(subs.into_iter().map(Target::Case));
        } else {
            out.push(Target::Bad(
                p.clone(),
                Error::file(
                    p.display(),
                    "does not exist; give a case folder or a case.toml",
                ),
            ));
        }
    }
    out
}

fn e(v: f64) -> String {
    format!("{v:.2e}")
}

fn print_human(label: &Path, report: &CaseReport) {
    for t in &report.tensors {
        let c = &t.comparison;
        let verdict = if c.pass {
            "PASS".to_string()
        } else {
            format!("FAIL worst at {:?}", c.worst_index)
        };
        println!(
            "{}  {:<2}  max abs err {}  max rel err {}  tol {} ({})  {}",
            label.display(),
            t.name.as_str(),
            e(c.max_abs_err),
            e(c.max_rel_err),
            e(c.tol),
            t.tolerance_source,
            verdict
        );
    }
}

fn json_line(label: &Path, report: &CaseReport) -> String {
    let mut tensors = serde_json::Map::new();
    for t in &report.tensors {
        let c = &t.comparison;
        tensors.insert(
            t.name.as_str().to_string(),
            json!({
                "pass": c.pass,
                "max_abs_err": c.max_abs_err,
                "max_rel_err": c.max_rel_err,
                "tol": c.tol,
                "worst_index": c.worst_index,
            }),
        );
    }
    json!({"case": label.display().to_string(), "pass": report.pass(), "tensors": tensors})
        .to_string()
}

/// Run `verify`.
///
/// # Errors
/// None of its own: cases that cannot be judged are reported and give exit status 2.
pub fn run(args: Args) -> Result<ExitCode> {
    let mut any_fail = false;
    let mut any_error = false;
    for target in targets(&args.paths) {
        let (label, result) = match target {
            Target::Case(p) => {
                let r = judge_path(&p);
                (p, r)
            }
            Target::Bad(p, err) => (p, Err(err)),
        };
        match result {
            Ok(report) => {
                any_fail |= !report.pass();
                if args.json {
                    println!("{}", json_line(&label, &report));
                } else {
                    print_human(&label, &report);
                }
            }
            Err(err) => {
                any_error = true;
                let msg = super::with_flag_hints(&err).replace('\n', " ");
                eprintln!("fftconv: {msg}");
                if args.json {
                    println!(
                        "{}",
                        json!({"case": label.display().to_string(), "error": msg})
                    );
                }
            }
        }
    }
    Ok(ExitCode::from(if any_error {
        2
    } else if any_fail {
        1
    } else {
        0
    }))
}
