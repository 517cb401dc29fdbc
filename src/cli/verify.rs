//! `fftconv verify PATH... [--json]`: judge validation cases (`docs/CASES.md`).
//!
//! Each PATH is a case folder, a `case.toml`, or a folder of case folders (one level, sorted).
//! Exit status 0 when every case passes, 1 when some expected tensor disagrees, 2 when some case
//! could not be judged (the others are still reported). Never writes a file.

use fftconv::case::{judge_path_with, CaseReport, JudgeOptions};
use fftconv::check::Profile;
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
    /// Judge every tensor with this tolerance profile (f64, f32, tf32, bf16, f16) instead of
    /// the case's own tolerance.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
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
        if let Some((got, want)) = &t.wrong_shape {
            println!(
                "{}  {:<2}  FAIL shape {got:?}, expected {want:?}",
                label.display(),
                t.name.as_str(),
            );
            continue;
        }
        let verdict = if c.pass {
            "PASS".to_string()
        } else {
            format!(
                "FAIL worst at {:?} (got {:.6e}, ref {:.6e})",
                c.worst_index, c.got_at_worst, c.ref_at_worst
            )
        };
        // Relative to a reference that is zero or at rounding level, an error would read 1e0 or
        // 1e15: say so and give the absolute error only.
        let rel = if c.absolute_only {
            format!(
                "reference at rounding level (max|ref| {}): absolute error only",
                e(c.ref_scale)
            )
        } else {
            format!("max rel err {}", e(c.max_rel_err))
        };
        println!(
            "{}  {:<2}  max abs err {}  {rel}  tol {} ({})  {}",
            label.display(),
            t.name.as_str(),
            e(c.max_abs_err),
            e(c.tol),
            t.tolerance_source,
            verdict
        );
    }
}

/// A float for JSON: `null` where it is not a number (NaN, infinity).
fn num(v: f64) -> serde_json::Value {
    if v.is_finite() {
        json!(v)
    } else {
        serde_json::Value::Null
    }
}

fn json_line(label: &Path, report: &CaseReport) -> String {
    let mut tensors = serde_json::Map::new();
    for t in &report.tensors {
        let c = &t.comparison;
        let mut entry = json!({
            "pass": c.pass,
            "max_abs_err": num(c.max_abs_err),
            "max_rel_err": if c.absolute_only { serde_json::Value::Null } else { num(c.max_rel_err) },
            "tol": c.tol,
            "tolerance": t.tolerance_source.to_string(),
            "worst_index": c.worst_index,
            "got": num(c.got_at_worst),
            "ref": num(c.ref_at_worst),
            "absolute_only": c.absolute_only,
        });
        if let Some((got, want)) = &t.wrong_shape {
            entry["shape"] = json!(got);
            entry["expected_shape"] = json!(want);
        }
        tensors.insert(t.name.as_str().to_string(), entry);
    }
    json!({
        "case": label.display().to_string(),
        "pass": report.pass(),
        "layer": report.layer.to_json(),
        "dsl": report.layer.dsl(),
        "tensors": tensors,
    })
    .to_string()
}

/// Run `verify`.
///
/// # Errors
/// None of its own: cases that cannot be judged are reported and give exit status 2.
pub fn run(args: Args) -> Result<ExitCode> {
    let options = JudgeOptions {
        profile: args.profile.as_deref().map(Profile::parse).transpose()?,
    };
    let mut any_fail = false;
    let mut any_error = false;
    for target in targets(&args.paths) {
        let (label, result) = match target {
            Target::Case(p) => {
                let r = judge_path_with(&p, options);
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
