//! What a hunt hands back: distinct bugs as a table for people, as JSON Lines for programs,
//! and as case folders (CASES.md) whose `[expected]` is the implementation's own answer, so
//! that `fftconv verify DIR/…` replays each verdict (exit 1 for a wrong value or shape; exit 2
//! for kinds with no tensor to judge: missing, refused, crash, accepted-invalid).

use super::generate::Draft;
use super::probe::{Kind, Probe, Values};
use super::{Finding, HuntReport, Session};
use crate::error::{Error, Result};
use serde_json::{json, Value};
use std::path::Path;

/// The reproducer folder's name: `03-wrong-value-dx-conv2d`.
fn folder_name(i: usize, f: &Finding) -> String {
    let tensor = f.tensor.map(|t| t.as_str()).unwrap_or("case");
    let op = match f.layer.kind {
        crate::conv::ConvKind::Conv => "conv",
        crate::conv::ConvKind::ConvTranspose => "conv_transpose",
    };
    format!("{:02}-{}-{tensor}-{op}{}d", i + 1, f.kind, f.layer.rank())
}

/// Refuse a non-empty `out` unless `force`; create it.
///
/// # Errors
/// [`Error::File`] for a non-empty folder without `force`, a file in its place, or a folder
/// that cannot be created.
pub fn prepare_out(out: &Path, force: bool) -> Result<()> {
    if out.exists() {
        if !out.is_dir() {
            return Err(Error::file(
                out.display(),
                "exists and is not a folder; choose another output folder",
            ));
        }
        let non_empty = std::fs::read_dir(out)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true);
        if non_empty && !force {
            return Err(Error::file(
                out.display(),
                "is not empty; choose an empty or new output folder, or allow writing into it",
            ));
        }
    }
    std::fs::create_dir_all(out)
        .map_err(|e| Error::file(out.display(), format!("cannot create the folder: {e}")))
}

/// Write one case folder per finding into `out` and set each finding's `dir`.
pub(super) fn write_reproducers(
    s: &mut Session,
    findings: &mut [Finding],
    out: &Path,
) -> Result<()> {
    for (i, f) in findings.iter_mut().enumerate() {
        let dir = out.join(folder_name(i, f));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| {
                Error::file(
                    dir.display(),
                    format!("cannot replace the old reproducer: {e}"),
                )
            })?;
        }
        let Some(draft) = Draft::from_spec(&f.layer) else {
            continue;
        };
        let probe = Probe {
            draft,
            values: f.values,
        };
        let want = probe.want(&s.settings);
        let has_tensor = matches!(f.kind, Kind::WrongValue | Kind::WrongShape | Kind::Missing);
        let mut note = String::new();
        if has_tensor {
            // The implementation's answer, asked for again in a fresh adapter (after the
            // request that brings an order-dependent failure back).
            s.restart();
            if let (Some(l), Some(v)) = (&f.brought_back_by, f.brought_back_values) {
                if let Some(d) = Draft::from_spec(l) {
                    s.run(
                        &Probe {
                            draft: d,
                            values: v,
                        },
                        false,
                    )?;
                }
            }
            let again = probe.run(&mut s.adapter, &dir, &s.settings)?;
            s.requests += 1;
            if !again
                .iter()
                .any(|g| g.kind == f.kind && g.tensor == f.tensor)
            {
                note = "# NOTE: the adapter did not repeat this failure when the reproducer was written.\n".into();
            }
        } else {
            probe.write_request(&dir, &probe.inputs(&s.settings), s.settings.dtype)?;
        }
        let toml_path = dir.join("case.toml");
        let request = std::fs::read_to_string(&toml_path)
            .map_err(|e| Error::file(toml_path.display(), format!("cannot read back: {e}")))?;
        let mut text = format!(
            "# fftconv hunt: {} on {}: {}\n# minimal layer: {}\n# replay: fftconv verify {}\n{note}",
            f.kind,
            f.tensor.map(|t| t.as_str()).unwrap_or("the whole case"),
            f.message.replace('\n', " "),
            f.layer.dsl(),
            dir.display()
        );
        if let Some(l) = &f.brought_back_by {
            text += &format!("# order-dependent: send first: {}\n", l.dsl());
        }
        text += &request;
        // A wrong value or shape is judged again on every tensor the adapter wrote; a missing
        // one stays listed, so verify says it cannot be read.
        let listed: Vec<_> = match f.kind {
            Kind::WrongValue | Kind::WrongShape => want
                .iter()
                .copied()
                .filter(|t| dir.join(format!("{t}.npy")).exists())
                .collect(),
            Kind::Missing => want.clone(),
            _ => vec![crate::case::TensorName::Y],
        };
        text += "\n[expected]\n";
        for t in listed {
            text += &format!("{t} = \"{t}.npy\"\n");
        }
        text += &format!("\n[tolerance]\nprofile = \"{}\"\n", s.settings.profile);
        std::fs::write(&toml_path, text)
            .map_err(|e| Error::file(toml_path.display(), format!("cannot write: {e}")))?;
        f.dir = Some(dir);
    }
    Ok(())
}

/// One finding as the JSON object of `hunt --json`.
pub fn finding_json(f: &Finding) -> Value {
    json!({
        "kind": f.kind.as_str(),
        "tensor": f.tensor.map(|t| t.as_str()),
        "op": f.layer.kind.to_string(),
        "spec": f.layer.to_json(),
        "dsl": f.layer.dsl(),
        "cases": f.cases,
        "dir": f.dir.as_ref().map(|d| d.display().to_string()),
        "max_rel_err": f.max_rel_err.filter(|e| e.is_finite()),
        "order_dependent": f.order_dependent,
        "brought_back_by": f.brought_back_by.as_ref().map(|l| l.dsl()),
        "small_integer_inputs": f.values == Values::SmallIntegers,
        "message": f.message,
    })
}

/// The last line of `hunt --json`.
pub fn summary_json(r: &HuntReport) -> Value {
    json!({
        "summary": true,
        "cases": r.cases,
        "findings": r.findings.len(),
        "requests": r.requests,
        "adapter_starts": r.adapter_starts,
        "seconds": (r.seconds * 1000.0).round() / 1000.0,
    })
}

/// The human report: one block per distinct bug, then a summary line.
pub fn table(r: &HuntReport) -> String {
    let mut s = String::new();
    if r.findings.is_empty() {
        s += "no finding\n";
    } else {
        s += &format!(
            "{:<3} {:<16} {:<6} {:<14} {:>6} {:>9}  minimal layer\n",
            "#", "kind", "tensor", "op", "cases", "error"
        );
    }
    for (i, f) in r.findings.iter().enumerate() {
        let err = f
            .max_rel_err
            .map(|e| format!("{e:.1e}"))
            .unwrap_or_else(|| "-".into());
        s += &format!(
            "{:<3} {:<16} {:<6} {:<14} {:>6} {:>9}  {}\n",
            i + 1,
            f.kind.as_str(),
            f.tensor.map(|t| t.as_str()).unwrap_or("-"),
            f.layer.kind.to_string(),
            f.cases,
            err,
            f.layer.dsl()
        );
        s += &format!("    {}\n", f.message);
        if let Some(d) = &f.dir {
            s += &format!("    replay: fftconv verify {}\n", d.display());
        }
    }
    s += &format!(
        "{} cases, {} requests, {} distinct bug{}, {} adapter start{}, {:.1} s\n",
        r.cases,
        r.requests,
        r.findings.len(),
        if r.findings.len() == 1 { "" } else { "s" },
        r.adapter_starts,
        if r.adapter_starts == 1 { "" } else { "s" },
        r.seconds
    );
    s
}
