//! `fftconv hunt` against the reference adapter (`fftconv adapter`): every planted bug is found
//! and shrunk to exactly the smallest layer that shows it; the correct adapter gives no
//! finding; crashing, hanging and garbage-printing adapters are survived; each distinct bug is
//! written as a case folder that `fftconv verify` replays.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Output;

/// The reference adapter with `plants`, as a `--exec` command.
fn adapter(plants: &[&str]) -> String {
    let mut cmd = format!("'{}' adapter", env!("CARGO_BIN_EXE_fftconv"));
    for p in plants {
        cmd += &format!(" --plant {p}");
    }
    cmd
}

/// `fftconv hunt --json --exec CMD ARGS…`: the findings and the summary line.
fn hunt(exec: &str, args: &[&str]) -> (Output, Vec<Value>, Value) {
    let mut all = vec!["hunt", "--json", "--exec", exec];
    all.extend_from_slice(args);
    let o = fftconv(&all);
    let lines: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let (summary, findings) = match lines.split_last() {
        Some((s, f)) => (s.clone(), f.to_vec()),
        None => (Value::Null, Vec::new()),
    };
    (o, findings, summary)
}

/// `(kind, tensor, minimal layer)` of each finding.
fn found(findings: &[Value]) -> BTreeSet<(String, String, String)> {
    findings
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["tensor"].as_str().unwrap_or("-").to_string(),
                f["dsl"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `(kind, tensor, minimal layer)` as the test tables write it.
type Expected = (&'static str, &'static str, &'static str);

fn set(items: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    items
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

#[test]
fn every_planted_bug_is_found_and_shrunk_to_its_smallest_layer() {
    #[rustfmt::skip]
    let table: Vec<(&str, Vec<&str>, Vec<Expected>)> = vec![
        ("db-first-sample", vec!["--ops", "conv"],
         vec![("wrong-value", "db", "conv1d(x: [2, 1, 1], w: [1, 1, 1], bias)")]),
        ("reflect-remainder", vec!["--ops", "conv"],
         vec![("wrong-value", "y", "conv1d(x: [1, 1, 2], w: [1, 1, 1], stride=2, mode=reflect)")]),
        ("dw-depthwise", vec!["--ops", "conv", "--dtype", "f32"],
         vec![("wrong-value", "dw", "conv1d(x: [1, 2, 1], w: [2, 1, 1], groups=2)")]),
        ("refuse-dilated-groups", vec!["--ops", "conv"],
         vec![("refused", "-", "conv1d(x: [1, 2, 1], w: [2, 1, 1], dilation=2, groups=2)")]),
        ("crash-three-channels", vec!["--ops", "conv"],
         vec![("crash", "-", "conv1d(x: [1, 3, 1], w: [1, 3, 1])")]),
        ("garbage-output-padding", vec!["--ops", "conv_transpose"],
         vec![("crash", "-", "conv_transpose1d(x: [1, 1, 1], w: [1, 1, 1], stride=2, output_padding=1)")]),
        ("hang-dilation3", vec!["--ops", "conv", "--dims", "1", "--timeout", "0.2", "--cases", "120"],
         vec![("crash", "-", "conv1d(x: [1, 1, 1], w: [1, 1, 1], dilation=3)")]),
        ("missing-dw-1x1", vec!["--ops", "conv"],
         vec![("missing", "dw", "conv1d(x: [1, 1, 1], w: [1, 1, 1])")]),
        // Output padding needs stride or dilation ≥ 2: two smallest layers, neither below the
        // other. Where padding eats all but the output padding, the adapter's own shape rule
        // leaves nothing and it refuses the layer: a second, real symptom of the same bug.
        ("shape-ignores-output-padding", vec!["--ops", "conv_transpose"],
         vec![("wrong-shape", "y", "conv_transpose1d(x: [1, 1, 1], w: [1, 1, 1], stride=2, output_padding=1)"),
              ("wrong-shape", "y", "conv_transpose1d(x: [1, 1, 1], w: [1, 1, 1], dilation=2, output_padding=1)"),
              ("refused", "-", "conv_transpose1d(x: [1, 1, 1], w: [1, 1, 1], stride=2, padding=[[0, 1]], output_padding=1)")]),
        ("accept-reflect-low", vec!["--ops", "conv", "--invalid"],
         vec![("accepted-invalid", "-", "conv1d(x: [1, 1, 1], w: [1, 1, 1], padding=[[1, 0]], mode=reflect)")]),
    ];
    for (plant, args, want) in table {
        let mut args = args;
        if !args.contains(&"--cases") {
            args.extend(["--cases", "400"]);
        }
        let (o, findings, summary) = hunt(&adapter(&[plant]), &args);
        assert_eq!(code(&o), 1, "{plant}: exit code; stderr {}", stderr(&o));
        assert_eq!(found(&findings), set(&want), "{plant}: {findings:#?}");
        for f in &findings {
            assert!(f["cases"].as_u64().unwrap() >= 1, "{plant}: {f}");
            assert_eq!(f["order_dependent"], false, "{plant}: {f}");
        }
        assert_eq!(summary["summary"], true);
        assert_eq!(summary["findings"].as_u64().unwrap() as usize, want.len());
    }
}

#[test]
fn a_result_that_depends_on_an_earlier_request_is_reported_as_order_dependent() {
    let (o, findings, _) = hunt(&adapter(&["stale-bias"]), &["--cases", "600"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let f = &findings[0];
    assert_eq!(f["kind"], "wrong-value");
    assert_eq!(f["tensor"], "y");
    assert_eq!(f["order_dependent"], true);
    // The failing layer has no bias; the request that brings the failure back has one.
    assert_eq!(f["spec"]["bias"], false);
    let culprit = f["brought_back_by"].as_str().expect("the earlier request");
    assert!(culprit.ends_with(", bias)"), "{culprit}");
    assert!(f["cases"].as_u64().unwrap() >= 2);
}

#[test]
fn the_correct_adapter_gives_no_finding_in_2000_cases_per_dtype() {
    for (dtype, extra) in [("f64", None), ("f32", Some("--invalid"))] {
        let mut args = vec!["--cases", "2000", "--dtype", dtype];
        args.extend(extra);
        let (o, findings, summary) = hunt(&adapter(&[]), &args);
        assert_eq!(code(&o), 0, "{dtype}: {findings:#?} {}", stderr(&o));
        assert_eq!(summary["cases"], 2000);
        assert_eq!(summary["findings"], 0);
        // One adapter process for the whole hunt: nothing crashed.
        assert_eq!(summary["adapter_starts"], 1, "{dtype}");
    }
}

#[test]
fn crashes_hangs_and_garbage_are_survived_and_the_other_bugs_still_found() {
    let plants = [
        "crash-three-channels",
        "hang-dilation3",
        "db-first-sample",
        "refuse-dilated-groups",
    ];
    let args = [
        "--ops",
        "conv",
        "--dims",
        "1",
        "--timeout",
        "0.2",
        "--cases",
        "150",
    ];
    let (o, findings, summary) = hunt(&adapter(&plants), &args);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let got = found(&findings);
    for want in [
        ("crash", "-", "conv1d(x: [1, 3, 1], w: [1, 3, 1])"),
        (
            "crash",
            "-",
            "conv1d(x: [1, 1, 1], w: [1, 1, 1], dilation=3)",
        ),
        (
            "wrong-value",
            "db",
            "conv1d(x: [2, 1, 1], w: [1, 1, 1], bias)",
        ),
    ] {
        assert!(
            got.contains(&set(&[want]).into_iter().next().unwrap()),
            "{want:?} in {got:#?}"
        );
    }
    assert!(summary["adapter_starts"].as_u64().unwrap() > 1);
    assert_eq!(summary["cases"], 150);
}

#[test]
fn an_adapter_that_cannot_run_exits_2_with_one_line() {
    for (exec, needle) in [
        ("/nonexistent/adapter --flag", "first request"),
        ("read line; echo 'this is not json'", "not JSON"),
        ("exit 3", "exited"),
    ] {
        let o = fftconv(&["hunt", "--exec", exec, "--cases", "5", "--timeout", "5"]);
        assert_eq!(code(&o), 2, "{exec}: {}", stderr(&o));
        let err = stderr(&o);
        assert_eq!(err.trim_end().lines().count(), 1, "{exec}: {err}");
        assert!(err.contains(needle), "{exec}: {err}");
    }
    for (args, needle) in [
        (vec!["--ops", "deconv"], "--ops"),
        (vec!["--dims", "4"], "--dims"),
        (vec!["--timeout", "0"], "--timeout"),
        (vec!["--profile", "fp8"], "fp8"),
        (vec!["--want", "dz"], "--want"),
    ] {
        let exec = adapter(&[]);
        let mut all = vec!["hunt", "--exec", exec.as_str()];
        all.extend(args);
        let o = fftconv(&all);
        assert_eq!(code(&o), 2, "{needle}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{}", stderr(&o));
    }
}

#[test]
fn each_distinct_bug_is_a_case_folder_that_verify_replays() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bugs");
    let plants = ["db-first-sample", "missing-dw-1x1", "refuse-dilated-groups"];
    let out_s = out.to_str().unwrap();
    let (o, findings, _) = hunt(
        &adapter(&plants),
        &[
            "--ops", "conv", "--dims", "1,2", "--cases", "300", "--out", out_s,
        ],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let kinds: BTreeSet<&str> = findings
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["missing", "refused", "wrong-value"].into_iter().collect()
    );
    for f in &findings {
        let dir = f["dir"].as_str().expect("a reproducer folder");
        let v = verify(std::path::Path::new(dir));
        // A wrong value is judged again (exit 1); kinds with no tensor to judge exit 2.
        let want = if f["kind"] == "wrong-value" { 1 } else { 2 };
        assert_eq!(code(&v), want, "{dir}: {}{}", stdout(&v), stderr(&v));
        if want == 1 {
            assert!(stdout(&v).contains(&format!(" {} ", f["tensor"].as_str().unwrap())));
        }
        let toml = std::fs::read_to_string(std::path::Path::new(dir).join("case.toml")).unwrap();
        assert!(toml.contains(f["dsl"].as_str().unwrap()), "{toml}");
    }
    // A non-empty --out is refused without --force, and nothing in it is touched.
    let before = std::fs::read_dir(&out).unwrap().count();
    let o = fftconv(&[
        "hunt",
        "--exec",
        &adapter(&plants),
        "--cases",
        "5",
        "--out",
        out_s,
    ]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), before);
}

#[test]
fn the_human_report_names_each_bug_once_with_its_layer() {
    let o = fftconv(&[
        "hunt",
        "--exec",
        &adapter(&["dw-depthwise"]),
        "--ops",
        "conv",
        "--cases",
        "300",
    ]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert_eq!(
        out.matches("conv1d(x: [1, 2, 1], w: [2, 1, 1], groups=2)")
            .count(),
        1,
        "{out}"
    );
    assert!(out.contains("wrong-value"), "{out}");
    assert!(out.lines().last().unwrap().contains("300 cases"), "{out}");
    let clean = fftconv(&["hunt", "--exec", &adapter(&[]), "--cases", "50"]);
    assert_eq!(code(&clean), 0);
    assert!(stdout(&clean).starts_with("no finding"));
}

#[test]
fn refused_hunt_options_are_typed_fields_the_cli_names_as_flags() {
    use fftconv::hunt::{hunt as run_hunt, HuntOptions};
    let mut options = HuntOptions::new("true");
    options.cases = 0;
    match run_hunt(&options, &mut |_, _, _| {}) {
        Err(fftconv::Error::Field { name, value, .. }) => {
            assert_eq!((name.as_str(), value.as_str()), ("cases", "0"));
        }
        other => panic!("cases = 0 gave {other:?}"),
    }
    let mut options = HuntOptions::new("true");
    options.scope.dims = vec![4];
    let e = run_hunt(&options, &mut |_, _, _| {}).unwrap_err();
    assert!(
        matches!(&e, fftconv::Error::Field { name, .. } if name == "dims"),
        "{e:?}"
    );
    assert!(
        !e.to_string().contains("--"),
        "library text names a flag: {e}"
    );
    let o = fftconv(&["adapter", "--plant", "no-such-bug"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).starts_with("fftconv: --plant: `no-such-bug`"),
        "{}",
        stderr(&o)
    );
}
