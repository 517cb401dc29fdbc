//! `fftconv verify` and `fftconv export` run as a binary: exit codes 0/1/2, one-line messages
//! on stderr that name the file or key, JSON Lines, the export → verify round trip, and that
//! `verify` writes nothing.

use fftconv::npy;
use fftconv::Tensor;
mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Output;

/// Names of the tensors on FAIL lines of the human output.
fn failed_tensors(o: &Output) -> Vec<String> {
    stdout(o)
        .lines()
        .filter(|l| l.contains("FAIL"))
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
        .collect()
}

/// Exit 2 with exactly one line on stderr containing `needle`.
fn assert_refused(o: &Output, needle: &str, what: &str) {
    assert_eq!(code(o), 2, "{what}: exit code; stderr: {}", stderr(o));
    let err = stderr(o);
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{what}: stderr is not one line: {err}"
    );
    assert!(
        err.contains(needle),
        "{what}: stderr `{err}` does not name `{needle}`"
    );
}

#[test]
fn good_case_exits_0_bad_case_exits_1_naming_the_tensor() {
    let good = verify(&cases_dir().join("case001-conv-2d"));
    assert_eq!(code(&good), 0, "{}", stderr(&good));
    assert_eq!(
        stdout(&good).lines().count(),
        3,
        "one line per tensor: {}",
        stdout(&good)
    );
    assert!(stdout(&good).lines().all(|l| l.contains("PASS")));
    let bad = verify(&cases_dir().join("case001-conv-2d-bad"));
    assert_eq!(code(&bad), 1, "{}", stderr(&bad));
    let fails: Vec<String> = stdout(&bad)
        .lines()
        .filter(|l| l.contains("FAIL"))
        .map(String::from)
        .collect();
    assert_eq!(fails.len(), 1, "{}", stdout(&bad));
    assert!(
        fails[0].contains(" dw "),
        "the failure names dw: {}",
        fails[0]
    );
    assert!(
        fails[0].contains("worst at ["),
        "the failure gives the worst index: {}",
        fails[0]
    );
    assert!(
        fails[0].contains("f64 profile"),
        "says which tolerance: {}",
        fails[0]
    );
}

#[test]
fn a_folder_of_cases_is_judged_case_by_case_in_order() {
    let o = verify(&cases_dir());
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let out = stdout(&o);
    let fails: Vec<&str> = out.lines().filter(|l| l.contains("FAIL")).collect();
    assert_eq!(fails.len(), 6, "{out}");
    assert!(fails.iter().all(|l| l.contains("-bad ")), "{out}");
    let firsts: Vec<&str> = out
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    let mut sorted = firsts.clone();
    sorted.sort();
    assert_eq!(firsts, sorted, "cases in sorted order");
}

#[test]
fn json_lines_follow_cases_md() {
    let o = fftconv(&[
        "verify",
        "--json",
        cases_dir().join("case004-conv-2d-bad").to_str().unwrap(),
        cases_dir()
            .join("case004-conv-2d")
            .join("case.toml")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["pass"], false);
    assert!(lines[0]["case"]
        .as_str()
        .unwrap()
        .ends_with("case004-conv-2d-bad"));
    let dx = &lines[0]["tensors"]["dx"];
    assert_eq!(dx["pass"], false);
    assert!(dx["max_abs_err"].as_f64().unwrap() > dx["tol"].as_f64().unwrap());
    assert!(dx["max_rel_err"].as_f64().is_some());
    assert_eq!(dx["worst_index"].as_array().unwrap().len(), 4);
    assert_eq!(lines[0]["tensors"]["y"]["pass"], true);
    assert_eq!(lines[1]["pass"], true);
}

#[test]
fn json_reports_a_case_that_cannot_be_judged() {
    let (_tmp, dir) = copy_case("case005-conv-1d");
    std::fs::remove_file(dir.join("w.npy")).unwrap();
    let o = fftconv(&[
        "verify",
        "--json",
        dir.to_str().unwrap(),
        cases_dir().join("case005-conv-1d").to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 2);
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "the other case is still reported");
    assert!(lines[0]["error"].as_str().unwrap().contains("w.npy"));
    assert_eq!(lines[1]["pass"], true);
}

#[test]
fn missing_file_exits_2_naming_it() {
    let (_tmp, dir) = copy_case("case005-conv-1d");
    std::fs::remove_file(dir.join("dy.npy")).unwrap();
    assert_refused(&verify(&dir), "dy.npy", "missing dy.npy");
    assert_refused(
        &verify(&dir.join("nowhere")),
        "nowhere",
        "missing case folder",
    );
    let (_tmp2, dir2) = copy_case("case005-conv-1d");
    std::fs::remove_file(dir2.join("case.toml")).unwrap();
    std::fs::remove_file(dir2.join("x.npy")).unwrap();
    std::fs::remove_file(dir2.join("w.npy")).unwrap();
    let o = verify(&dir2);
    assert_eq!(code(&o), 2, "folder without case.toml");
}

#[test]
fn malformed_case_toml_exits_2_naming_the_key() {
    let edits: [(&str, &str, &str); 5] = [
        ("stride = [3]", "stride = [3", "case.toml"),
        ("groups = 1", "groups = 1\ncolour = \"red\"", "colour"),
        ("dilation = [2]", "dilation = [0]", "dilation[0]"),
        ("groups = 1", "groups = \"1\"", "groups"),
        (
            "padding = [[2, 3]]",
            "padding = [[2, 3], [0, 0]]",
            "padding",
        ),
    ];
    for (from, to, needle) in edits {
        let (_tmp, dir) = copy_case("case005-conv-1d");
        let p = dir.join("case.toml");
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(from), "example case changed: no `{from}`");
        std::fs::write(&p, text.replace(from, to)).unwrap();
        let o = verify(&dir);
        assert_refused(&o, needle, &format!("edit `{to}`"));
        assert!(
            stderr(&o).contains("case.toml"),
            "names the file: {}",
            stderr(&o)
        );
    }
}

#[test]
fn shapes_that_do_not_fit_exit_2_naming_the_file() {
    // The bias has the wrong length.
    let (_tmp, dir) = copy_case("case005-conv-1d");
    npy::write(&dir.join("b.npy"), &Tensor::<f64>::zeros(&[7])).unwrap();
    assert_refused(&verify(&dir), "b.npy", "wrong bias shape");
    // An expected tensor of the wrong shape is the implementation's mistake: a FAIL verdict
    // (exit 1) that names both shapes, while the case's other tensors are still judged.
    let (_tmp, dir) = copy_case("case001-conv-2d");
    let (dw, _) = npy::read(&dir.join("dw.npy")).unwrap();
    let mut shape = dw.shape().to_vec();
    shape[0] += 1;
    npy::write(&dir.join("dw.npy"), &Tensor::<f64>::zeros(&shape)).unwrap();
    let o = verify(&dir);
    assert_eq!(code(&o), 1, "wrong dw shape: {}", stderr(&o));
    assert_eq!(failed_tensors(&o), vec!["dw"]);
    let out = stdout(&o);
    assert!(
        out.contains(&format!("shape {shape:?}, expected {:?}", dw.shape())),
        "{out}"
    );
    assert_eq!(
        out.matches("PASS").count(),
        2,
        "y and dx still judged: {out}"
    );
    let j = fftconv(&["verify", "--json", dir.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(stdout(&j).trim()).unwrap();
    assert_eq!(v["tensors"]["dw"]["pass"], false);
    assert_eq!(v["tensors"]["dw"]["shape"], serde_json::json!(shape));
    assert_eq!(v["tensors"]["y"]["pass"], true);
    // Weights whose channels do not match x.
    let (_tmp, dir) = copy_case("case001-conv-2d");
    let (w, _) = npy::read(&dir.join("w.npy")).unwrap();
    let mut shape = w.shape().to_vec();
    shape[1] += 1;
    npy::write(&dir.join("w.npy"), &Tensor::<f64>::zeros(&shape)).unwrap();
    assert_refused(&verify(&dir), "case.toml", "wrong w channels");
    // A 2-D x for a 1-D case.
    let (_tmp, dir) = copy_case("case005-conv-1d");
    npy::write(&dir.join("x.npy"), &Tensor::<f64>::zeros(&[2, 1, 6, 6])).unwrap();
    assert_refused(&verify(&dir), "x.npy", "rank of x");
}

#[test]
fn non_finite_input_exits_2_naming_tensor_and_index() {
    let (_tmp, dir) = copy_case("case005-conv-1d");
    let (mut x, _) = npy::read(&dir.join("x.npy")).unwrap();
    let idx = vec![1, 0, 2];
    x.set(&idx, f64::NAN);
    npy::write(&dir.join("x.npy"), &x).unwrap();
    let o = verify(&dir);
    assert_refused(&o, "x.npy", "NaN in x");
    assert!(
        stderr(&o).contains("[1, 0, 2]"),
        "names the index: {}",
        stderr(&o)
    );
    let (_tmp, dir) = copy_case("case005-conv-1d");
    let (mut dy, _) = npy::read(&dir.join("dy.npy")).unwrap();
    dy.data_mut()[0] = f64::INFINITY;
    npy::write(&dir.join("dy.npy"), &dy).unwrap();
    assert_refused(&verify(&dir), "dy", "inf in dy");
}

#[test]
fn nan_in_an_expected_tensor_fails_it() {
    let (_tmp, dir) = copy_case("case000-conv_transpose-2d");
    let (mut dx, _) = npy::read(&dir.join("dx.npy")).unwrap();
    let last = dx.len() - 1;
    dx.data_mut()[last] = f64::NAN;
    npy::write(&dir.join("dx.npy"), &dx).unwrap();
    let o = verify(&dir);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let fails: Vec<String> = stdout(&o)
        .lines()
        .filter(|l| l.contains("FAIL"))
        .map(String::from)
        .collect();
    assert_eq!(fails.len(), 1, "{}", stdout(&o));
    assert!(fails[0].contains(" dx "), "{}", fails[0]);
}

#[test]
fn a_gradient_without_dy_cannot_be_judged() {
    let (_tmp, dir) = copy_case("case005-conv-1d");
    let p = dir.join("case.toml");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, text.replace("dy = \"dy.npy\"\n", "")).unwrap();
    assert_refused(&verify(&dir), "expected.dx", "dx without dy");
}

#[test]
fn tolerance_table_is_used_and_said() {
    let (_tmp, dir) = copy_case("case001-conv-2d-bad");
    let p = dir.join("case.toml");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(
        &p,
        format!("{text}\n[tolerance]\nrtol = 0.01\natol = 0.0\n"),
    )
    .unwrap();
    let o = verify(&dir);
    assert_eq!(code(&o), 0, "a 1e-3 error passes rtol 1e-2: {}", stdout(&o));
    assert!(
        stdout(&o).lines().all(|l| l.contains("(case.toml)")),
        "{}",
        stdout(&o)
    );
}

#[test]
fn fortran_order_and_f32_files_are_read() {
    // Rewrite x as a Fortran-order .npy by hand: same values, column-major data.
    let (_tmp, dir) = copy_case("case001-conv-2d");
    let (x, _) = npy::read(&dir.join("x.npy")).unwrap();
    let shape = x.shape().to_vec();
    let header = format!(
        "{{'descr': '<f8', 'fortran_order': True, 'shape': ({}), }}",
        shape.iter().map(|s| format!("{s}, ")).collect::<String>()
    );
    let mut header = header.into_bytes();
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(&header);
    let n = x.len();
    for f in 0..n {
        // Fortran flat index f → multi-index with the first axis fastest.
        let mut r = f;
        let idx: Vec<usize> = shape
            .iter()
            .map(|&e| {
                let i = r % e;
                r /= e;
                i
            })
            .collect();
        bytes.extend(x.get(&idx).to_le_bytes());
    }
    std::fs::write(dir.join("x.npy"), bytes).unwrap();
    let o = verify(&dir);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    // f32 expected tensors: judged with the f32 profile, and the planted error still caught.
    let (_tmp, dir) = copy_case("case004-conv-2d-bad");
    for name in ["y", "dx", "dw"] {
        let p = dir.join(format!("{name}.npy"));
        let (t, _) = npy::read(&p).unwrap();
        npy::write(&p, &t.cast::<f32>()).unwrap();
    }
    let o = verify(&dir);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    assert!(stdout(&o).contains("f32 profile"));
    let fails = failed_tensors(&o);
    assert_eq!(fails, vec!["dx"]);
}

fn listing(dir: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let m = std::fs::metadata(&p).unwrap();
            (p, m.len(), m.modified().unwrap())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn verify_writes_nothing() {
    let (_tmp, dir) = copy_case("case003-conv-3d-bad");
    let before = listing(&dir);
    let o = fftconv(&["verify", "--json", dir.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    assert_eq!(listing(&dir), before);
}

#[test]
fn export_then_verify_passes_and_a_perturbed_tensor_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("golden");
    let args = [
        "export",
        "--out",
        out.to_str().unwrap(),
        "--op",
        "conv",
        "--x",
        "2,3,8,7",
        "--w",
        "4,3,3,2",
        "--stride",
        "2,1",
        "--padding",
        "1:2,0:1",
        "--dilation",
        "1,2",
        "--mode",
        "reflect",
        "--bias",
        "--seed",
        "11",
    ];
    let o = fftconv(&args);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = verify(&out);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 4);
    // Refuses to overwrite, leaving the files as they were.
    let before = listing(&out);
    let again = fftconv(&args);
    assert_refused(&again, "already exists", "export over an existing case");
    assert_eq!(listing(&out), before);
    // --force overwrites (same seed: same case).
    let mut forced = args.to_vec();
    forced.push("--force");
    assert_eq!(code(&fftconv(&forced)), 0);
    assert_eq!(code(&verify(&out)), 0);
    let leftovers: Vec<_> = listing(&out)
        .into_iter()
        .filter(|(p, _, _)| p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    // Perturb one element of dw.
    let (mut dw, _) = npy::read(&out.join("dw.npy")).unwrap();
    dw.data_mut()[3] += 1e-6 * dw.max_abs();
    npy::write(&out.join("dw.npy"), &dw).unwrap();
    let o = verify(&out);
    assert_eq!(code(&o), 1);
    let fails = failed_tensors(&o);
    assert_eq!(fails, vec!["dw"], "{}", stdout(&o));
}

#[test]
fn export_f32_transpose_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("t");
    let o = fftconv(&[
        "export",
        "--out",
        out.to_str().unwrap(),
        "--op",
        "conv_transpose",
        "--x",
        "2,4,5,3",
        "--w",
        "4,3,3,2",
        "--stride",
        "3,2",
        "--padding",
        "1",
        "--output-padding",
        "2,1",
        "--groups",
        "2",
        "--dtype",
        "f32",
        "--seed",
        "5",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (y, dt) = npy::read(&out.join("y.npy")).unwrap();
    assert_eq!(dt, npy::NpyDtype::F32);
    // C_out = 3 * groups; extent (S-1)s - lo - hi + d(K-1) + op + 1.
    assert_eq!(
        y.shape(),
        &[
            2,
            6,
            (5 - 1) * 3 - 2 + 2 + 2 + 1,
            (3 - 1) * 2 - 2 + 1 + 1 + 1
        ]
    );
    let o = verify(&out);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(stdout(&o).contains("f32 profile"));
}

#[test]
fn export_refuses_bad_arguments_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x");
    let o = fftconv(&[
        "export",
        "--out",
        out.to_str().unwrap(),
        "--x",
        "1,3,8",
        "--w",
        "2,2,3",
        "--groups",
        "2",
    ]);
    assert_refused(&o, "groups", "groups that do not divide");
    assert!(!out.exists(), "nothing written");
    let o = fftconv(&[
        "export",
        "--out",
        out.to_str().unwrap(),
        "--x",
        "1,3,8",
        "--w",
        "2,3,3",
        "--stride",
        "1,2",
    ]);
    assert_refused(&o, "--stride", "stride of the wrong length");
}

#[test]
fn json_repeats_the_layer_and_gives_got_and_ref_at_the_worst_index() {
    let (_tmp, dir) = copy_case("case001-conv-2d-bad");
    let o = fftconv(&["verify", "--json", dir.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let layer = &v["layer"];
    assert_eq!(layer["op"], "conv");
    assert_eq!(layer["groups"], 3);
    assert_eq!(layer["padding"], serde_json::json!([[0, 0], [0, 2]]));
    assert_eq!(layer["padding_mode"], "replicate");
    let (x, _) = npy::read(&dir.join("x.npy")).unwrap();
    assert_eq!(layer["x"], serde_json::json!(x.shape()));
    assert!(v["dsl"].as_str().unwrap().starts_with("conv2d(x: "));
    // The failing tensor's worst entry: got and ref are the stored value and the reference.
    let (name, t) = v["tensors"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, t)| t["pass"] == false)
        .expect("one failing tensor");
    let idx: Vec<usize> = t["worst_index"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_u64().unwrap() as usize)
        .collect();
    let (got, _) = npy::read(&dir.join(format!("{name}.npy"))).unwrap();
    assert_eq!(t["got"].as_f64().unwrap(), got.get(&idx));
    let abs = (t["got"].as_f64().unwrap() - t["ref"].as_f64().unwrap()).abs();
    assert!((abs - t["max_abs_err"].as_f64().unwrap()).abs() <= 1e-12 * abs.max(1.0));
}

#[test]
fn a_zero_reference_is_judged_by_absolute_error_and_says_so() {
    // dy = 0 makes every gradient's reference exactly zero: a relative error would be
    // meaningless (1e0 or 1e15), so verify reports the absolute error and says why.
    let (_tmp, dir) = copy_case("case001-conv-2d");
    let (dy, _) = npy::read(&dir.join("dy.npy")).unwrap();
    npy::write(&dir.join("dy.npy"), &Tensor::<f64>::zeros(dy.shape())).unwrap();
    let (dx, _) = npy::read(&dir.join("dx.npy")).unwrap();
    npy::write(&dir.join("dx.npy"), &Tensor::<f64>::zeros(dx.shape())).unwrap();
    let (dw, _) = npy::read(&dir.join("dw.npy")).unwrap();
    npy::write(&dir.join("dw.npy"), &dw.map(|_| 1e-20)).unwrap();
    let o = verify(&dir);
    let out = stdout(&o);
    let dw_line = out.lines().find(|l| l.contains(" dw ")).unwrap();
    assert!(dw_line.contains("absolute error only"), "{dw_line}");
    assert!(!dw_line.contains("max rel err"), "{dw_line}");
    assert!(dw_line.contains("PASS"), "1e-20 is within atol: {dw_line}");
    let j = fftconv(&["verify", "--json", dir.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(stdout(&j).trim()).unwrap();
    assert_eq!(v["tensors"]["dw"]["absolute_only"], true);
    assert!(v["tensors"]["dw"]["max_rel_err"].is_null());
    assert_eq!(v["tensors"]["y"]["absolute_only"], false);
}

#[test]
fn a_named_profile_from_the_file_or_the_command_line_is_used_and_said() {
    let (_tmp, dir) = copy_case("case001-conv-2d");
    let toml = std::fs::read_to_string(dir.join("case.toml")).unwrap();
    std::fs::write(
        dir.join("case.toml"),
        format!("{toml}\n[tolerance]\nprofile = \"bf16\"\n"),
    )
    .unwrap();
    // A 1e-3 relative perturbation: wrong for f64, within bf16's rounding.
    let (y, _) = npy::read(&dir.join("y.npy")).unwrap();
    let scale = y.max_abs();
    let mut bumped = y.clone();
    bumped.data_mut()[0] += 1e-3 * scale;
    npy::write(&dir.join("y.npy"), &bumped).unwrap();
    let o = verify(&dir);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(stdout(&o).contains("(bf16 profile)"), "{}", stdout(&o));
    let o = fftconv(&["verify", "--profile", "f64", dir.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    assert!(stdout(&o).contains("(f64 profile)"), "{}", stdout(&o));
    let o = fftconv(&["verify", "--profile", "fp8", dir.to_str().unwrap()]);
    assert_refused(&o, "fp8", "unknown profile");
    std::fs::write(
        dir.join("case.toml"),
        format!("{toml}\n[tolerance]\nprofile = \"bf16\"\nrtol = 1e-3\n"),
    )
    .unwrap();
    assert_refused(&verify(&dir), "tolerance", "profile and rtol together");
}

#[test]
fn export_inputs_only_and_a_batch_of_specs() {
    let tmp = tempfile::tempdir().unwrap();
    let one = tmp.path().join("inputs-only");
    let o = fftconv(&[
        "export",
        "--out",
        one.to_str().unwrap(),
        "--x",
        "1,2,7",
        "--w",
        "3,2,3",
        "--bias",
        "--no-expected",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut names: Vec<String> = std::fs::read_dir(&one)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["b.npy", "case.toml", "dy.npy", "w.npy", "x.npy"]);
    let toml = std::fs::read_to_string(one.join("case.toml")).unwrap();
    assert!(!toml.contains("[expected]"), "{toml}");
    // The hunt's request reader takes such a folder.
    assert!(fftconv::case::Case::load_request(&one.join("case.toml")).is_ok());

    let specs = tmp.path().join("specs.jsonl");
    std::fs::write(
        &specs,
        concat!(
            "{\"op\": \"conv\", \"x\": [1, 3, 8, 8], \"w\": [4, 3, 3, 3], \"stride\": [2, 2], \"padding\": [[1, 1], [1, 1]], \"bias\": true}\n",
            "# a comment line\n",
            "{\"op\": \"conv_transpose\", \"x\": [2, 2, 5], \"w\": [2, 3, 3], \"stride\": 2, \"output_padding\": [1]}\n",
        ),
    )
    .unwrap();
    let batch = tmp.path().join("batch");
    let o = fftconv(&[
        "export",
        "--out",
        batch.to_str().unwrap(),
        "--specs",
        specs.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    for case in ["case-0001", "case-0002"] {
        let v = verify(&batch.join(case));
        assert_eq!(code(&v), 0, "{case}: {}", stderr(&v));
    }
    let toml = std::fs::read_to_string(batch.join("case-0002/case.toml")).unwrap();
    assert!(toml.contains("op = \"conv_transpose\"") && toml.contains("output_padding = [1]"));
    // A bad line names the file and the line; nothing is written.
    std::fs::write(
        &specs,
        "{\"op\": \"conv\", \"x\": [1, 1, 4], \"w\": [1, 1, 9]}\n",
    )
    .unwrap();
    let bad = tmp.path().join("bad");
    let o = fftconv(&[
        "export",
        "--out",
        bad.to_str().unwrap(),
        "--specs",
        specs.to_str().unwrap(),
    ]);
    assert_refused(&o, "specs.jsonl:1", "a layer whose output is empty");
    assert!(!bad.exists());
}

#[test]
fn circular_padding_wider_than_the_input_is_refused_naming_the_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("c");
    let o = fftconv(&[
        "export",
        "--out",
        out.to_str().unwrap(),
        "--x",
        "1,1,3",
        "--w",
        "1,1,2",
        "--padding",
        "4:0",
        "--mode",
        "circular",
    ]);
    assert_refused(
        &o,
        "may not exceed the input extent 3",
        "circular padding 4 > 3",
    );
    let o = fftconv(&[
        "export",
        "--out",
        out.to_str().unwrap(),
        "--x",
        "1,1,3",
        "--w",
        "1,1,2",
        "--padding",
        "3:0",
        "--mode",
        "circular",
    ]);
    assert_eq!(
        code(&o),
        0,
        "padding equal to the extent wraps once: {}",
        stderr(&o)
    );
}
