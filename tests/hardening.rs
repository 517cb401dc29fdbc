//! Issue 7, end to end through the binary: every malformed input is refused with exit 2 and one
//! line on stderr naming the culprit; odd-but-valid files are accepted; the memory guard
//! (`--max-memory`) refuses absurd sizes before allocating; values near the float limits are
//! judged right or refused, never passed silently.

use fftconv::npy;
use fftconv::Tensor;
mod common;
use common::*;
use std::path::Path;
use std::process::Output;

/// Exit 2 with exactly one line on stderr containing every needle.
fn assert_refused(o: &Output, needles: &[&str], what: &str) {
    let err = stderr(o);
    assert_eq!(code(o), 2, "{what}: exit code; stderr: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{what}: stderr is not one line: {err}"
    );
    for needle in needles {
        assert!(
            err.contains(needle),
            "{what}: stderr `{err}` does not name `{needle}`"
        );
    }
}

fn edit_toml(dir: &Path, from: &str, to: &str) {
    let p = dir.join("case.toml");
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains(from), "example case changed: no `{from}`");
    std::fs::write(&p, text.replace(from, to)).unwrap();
}

/// A `.npy` file written byte by byte: header dict text, then `data`.
fn raw_npy(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut header = dict.as_bytes().to_vec();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(&header);
    bytes.extend(data);
    bytes
}

fn shape_text(shape: &[usize]) -> String {
    shape.iter().map(|s| format!("{s}, ")).collect()
}

// ---------------------------------------------------------------------------------------------
// .npy files

#[test]
fn malformed_npy_inputs_exit_2_naming_the_file() {
    let (_tmp, dir) = copy_case("case005-conv-1d");
    let good = std::fs::read(dir.join("x.npy")).unwrap();
    let (x, _) = npy::read(&dir.join("x.npy")).unwrap();
    let shape = shape_text(x.shape());
    let f8 = |n: usize| vec![0u8; 8 * n];
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated data", good[..good.len() - 5].to_vec()),
        ("truncated header", good[..20].to_vec()),
        ("empty file", Vec::new()),
        ("bad magic", {
            let mut b = good.clone();
            b[1..6].copy_from_slice(b"NUMPI");
            b
        }),
        (
            "object dtype",
            raw_npy(
                &format!("{{'descr': '|O', 'fortran_order': False, 'shape': ({shape}), }}"),
                &f8(x.len()),
            ),
        ),
        (
            "unicode strings",
            raw_npy(
                &format!("{{'descr': '<U2', 'fortran_order': False, 'shape': ({shape}), }}"),
                &f8(x.len()),
            ),
        ),
        (
            "byte strings",
            raw_npy(
                &format!("{{'descr': '|S8', 'fortran_order': False, 'shape': ({shape}), }}"),
                &f8(x.len()),
            ),
        ),
        (
            "complex",
            raw_npy(
                &format!("{{'descr': '<c16', 'fortran_order': False, 'shape': ({shape}), }}"),
                &f8(2 * x.len()),
            ),
        ),
        (
            "integer",
            raw_npy(
                &format!("{{'descr': '<i8', 'fortran_order': False, 'shape': ({shape}), }}"),
                &f8(x.len()),
            ),
        ),
        (
            "header lies (claims more)",
            raw_npy(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 1, 600000000000), }",
                &f8(x.len()),
            ),
        ),
        (
            "header lies (size overflows)",
            raw_npy(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }",
                &f8(x.len()),
            ),
        ),
        (
            "header lies (claims fewer)",
            raw_npy(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 1, 2), }",
                &f8(x.len()),
            ),
        ),
        (
            "0-d array",
            raw_npy(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
                &f8(1),
            ),
        ),
        (
            "empty dimension",
            raw_npy(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 0, 6), }",
                &[],
            ),
        ),
        (
            "garbage header",
            raw_npy("{'descr': <f8 fortran_order', 'shape': ((, }", &f8(x.len())),
        ),
    ];
    for (what, bytes) in cases {
        std::fs::write(dir.join("x.npy"), &bytes).unwrap();
        assert_refused(&verify(&dir), &["x.npy"], what);
    }
}

#[test]
fn big_endian_fortran_and_f32_inputs_are_accepted_end_to_end() {
    let (_tmp, dir) = copy_case("case001-conv-2d");
    let (x, _) = npy::read(&dir.join("x.npy")).unwrap();
    let (w, _) = npy::read(&dir.join("w.npy")).unwrap();
    // x big-endian f64, C order.
    let be: Vec<u8> = x.data().iter().flat_map(|v| v.to_be_bytes()).collect();
    std::fs::write(
        dir.join("x.npy"),
        raw_npy(
            &format!(
                "{{'descr': '>f8', 'fortran_order': False, 'shape': ({}), }}",
                shape_text(x.shape())
            ),
            &be,
        ),
    )
    .unwrap();
    // w big-endian f64 in Fortran order (first axis fastest).
    let shape = w.shape().to_vec();
    let mut data = Vec::new();
    for f in 0..w.len() {
        let mut r = f;
        let idx: Vec<usize> = shape
            .iter()
            .map(|&e| {
                let i = r % e;
                r /= e;
                i
            })
            .collect();
        data.extend(w.get(&idx).to_be_bytes());
    }
    std::fs::write(
        dir.join("w.npy"),
        raw_npy(
            &format!(
                "{{'descr': '>f8', 'fortran_order': True, 'shape': ({}), }}",
                shape_text(&shape)
            ),
            &data,
        ),
    )
    .unwrap();
    let o = verify(&dir);
    assert_eq!(
        code(&o),
        0,
        "big-endian/Fortran: {}{}",
        stdout(&o),
        stderr(&o)
    );

    // f32 inputs (big-endian) with an f64 reference computed from them: the expected tensors
    // were computed from the f64 inputs, so judge against a re-export instead: an f32 export
    // round trip must pass.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("f32");
    let o = fftconv(&[
        "export",
        "--out",
        out.to_str().unwrap(),
        "--x",
        "1,2,9",
        "--w",
        "2,2,3",
        "--dtype",
        "f32",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (x, _) = npy::read(&out.join("x.npy")).unwrap();
    let be: Vec<u8> = x
        .data()
        .iter()
        .flat_map(|&v| (v as f32).to_be_bytes())
        .collect();
    std::fs::write(
        out.join("x.npy"),
        raw_npy(
            &format!(
                "{{'descr': '>f4', 'fortran_order': False, 'shape': ({}), }}",
                shape_text(x.shape())
            ),
            &be,
        ),
    )
    .unwrap();
    let o = verify(&out);
    assert_eq!(code(&o), 0, "big-endian f32: {}{}", stdout(&o), stderr(&o));
}

// ---------------------------------------------------------------------------------------------
// case.toml

#[test]
fn malformed_case_toml_gaps_exit_2_naming_the_key() {
    let edits: &[(&str, &str, &[&str], &str)] = &[
        ("x = \"x.npy\"\n", "", &["`x`"], "missing input x"),
        ("op = \"conv\"\n", "", &["op"], "missing op"),
        ("stride = [3]", "stride = [0]", &["stride"], "zero stride"),
        (
            "stride = [3]",
            "stride = [-1]",
            &["stride"],
            "negative stride",
        ),
        (
            "dilation = [2]",
            "dilation = [-2]",
            &["dilation"],
            "negative dilation",
        ),
        (
            "padding = [[2, 3]]",
            "padding = [[2, 3, 4]]",
            &["padding"],
            "padding pair of three",
        ),
        (
            "padding = [[2, 3]]",
            "padding = []",
            &["padding"],
            "empty padding list",
        ),
        (
            "padding = [[2, 3]]",
            "padding = [[-2, 3]]",
            &["padding"],
            "negative padding",
        ),
        (
            "groups = 1",
            "groups = 2",
            &["groups"],
            "groups not dividing",
        ),
        ("groups = 1", "groups = 0", &["groups"], "zero groups"),
        (
            "stride = [3]",
            "stride = [3.5]",
            &["stride"],
            "float stride",
        ),
        (
            "padding_mode = \"replicate\"",
            "padding_mode = \"mirror\"",
            &["padding_mode"],
            "unknown padding mode",
        ),
        ("op = \"conv\"", "op = \"deconv\"", &["op"], "unknown op"),
        (
            "[expected]",
            "[expected]\nz = \"y.npy\"",
            &["z"],
            "unknown expected tensor",
        ),
        (
            "stride = [3]",
            "stride = [99999999999999999999]",
            &["case.toml"],
            "integer out of range",
        ),
    ];
    for (from, to, needles, what) in edits {
        let (_tmp, dir) = copy_case("case005-conv-1d");
        edit_toml(&dir, from, to);
        let o = verify(&dir);
        assert_refused(&o, needles, what);
        assert!(
            stderr(&o).contains("case.toml"),
            "{what}: names the file: {}",
            stderr(&o)
        );
    }
}

#[test]
fn unknown_key_lists_the_valid_ones() {
    let (_tmp, dir) = copy_case("case005-conv-1d");
    edit_toml(&dir, "groups = 1", "groups = 1\nstrides = [1]");
    let o = verify(&dir);
    assert_refused(&o, &["strides", "case.toml"], "unknown key");
    for valid in ["stride", "padding", "dilation", "groups", "padding_mode"] {
        assert!(
            stderr(&o).contains(valid),
            "unknown key message does not list `{valid}`: {}",
            stderr(&o)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The memory guard

/// Zero-filled expected `y` of `shape`, all gradients dropped from the case.
fn forward_only(dir: &Path, y_shape: &[usize]) {
    let p = dir.join("case.toml");
    let text: String = std::fs::read_to_string(&p)
        .unwrap()
        .lines()
        .filter(|l| {
            !["dy =", "dx =", "dw =", "db ="]
                .iter()
                .any(|k| l.starts_with(k))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&p, text).unwrap();
    npy::write(&dir.join("y.npy"), &Tensor::<f64>::zeros(y_shape)).unwrap();
}

#[test]
fn absurd_padding_or_dilation_is_refused_before_allocating() {
    // Padding 10⁹ with stride 10⁹: the output is tiny, but the FFT chain would pad x to 10⁹.
    let (_tmp, dir) = copy_case("case005-conv-1d");
    edit_toml(&dir, "padding = [[2, 3]]", "padding = [[1000000000, 0]]");
    edit_toml(&dir, "stride = [3]", "stride = [1000000000]");
    edit_toml(
        &dir,
        "padding_mode = \"replicate\"",
        "padding_mode = \"zeros\"",
    );
    forward_only(&dir, &[2, 1, 2]);
    let o = verify(&dir);
    assert_refused(&o, &["case.toml", "--max-memory"], "padding 1e9");
    // Dilation 2·10⁹: the dilated kernel alone spans 4·10⁹ samples.
    let (_tmp, dir) = copy_case("case005-conv-1d");
    edit_toml(&dir, "padding = [[2, 3]]", "padding = [[4000000000, 0]]");
    edit_toml(&dir, "stride = [3]", "stride = [4000000000]");
    edit_toml(&dir, "dilation = [2]", "dilation = [2000000000]");
    edit_toml(
        &dir,
        "padding_mode = \"replicate\"",
        "padding_mode = \"zeros\"",
    );
    forward_only(&dir, &[2, 1, 1]);
    assert_refused(
        &verify(&dir),
        &["case.toml", "--max-memory"],
        "dilation 2e9",
    );
    // Padding so large the extents overflow usize.
    let (_tmp, dir) = copy_case("case005-conv-1d");
    edit_toml(
        &dir,
        "padding = [[2, 3]]",
        "padding = [[9223372036854775807, 9223372036854775807]]",
    );
    edit_toml(
        &dir,
        "padding_mode = \"replicate\"",
        "padding_mode = \"zeros\"",
    );
    assert_refused(&verify(&dir), &["case.toml", "padding"], "padding overflow");
}

#[test]
fn max_memory_option_is_global_and_checked() {
    let good = cases_dir().join("case005-conv-1d");
    let good = good.to_str().unwrap();
    let o = fftconv(&["--max-memory", "100", "verify", good]);
    assert_refused(&o, &["--max-memory", "100 bytes"], "tiny limit");
    let o = fftconv(&["verify", "--max-memory", "64M", good]);
    assert_eq!(code(&o), 0, "after the subcommand too: {}", stderr(&o));
    let o = fftconv(&["verify", good, "--max-memory", "lots"]);
    assert_refused(&o, &["--max-memory", "lots"], "not a size");
    let o = fftconv(&["--max-memory", "99999999999T", "verify", good]);
    assert_refused(&o, &["--max-memory"], "size overflows u64");
}

#[test]
fn export_refuses_absurd_shapes_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("big");
    let out_s = out.to_str().unwrap();
    let runs: &[(&[&str], &[&str], &str)] = &[
        (
            &[
                "--x",
                "1,1,100000000",
                "--w",
                "1,1,3",
                "--max-memory",
                "64M",
            ],
            &["x", "--max-memory"],
            "x over the limit",
        ),
        (
            &["--x", "4294967296,4294967296,4294967296", "--w", "1,1,3"],
            &["x"],
            "x shape overflows",
        ),
        (
            &["--x", "1,1,8", "--w", "1,1,3", "--padding", "1000000000"],
            &["--max-memory"],
            "padding 1e9",
        ),
        (
            &[
                "--x",
                "1,1,8",
                "--w",
                "1,1,3",
                "--op",
                "conv_transpose",
                "--dilation",
                "1000000000",
            ],
            &["--max-memory"],
            "transpose dilation 1e9",
        ),
        (
            &["--x", "1,1,8", "--w", "1,1,3", "--stride", "0"],
            &["stride"],
            "zero stride",
        ),
        (
            &["--x", "1,1,8", "--w", "1,1,3", "--stride=-1"],
            &["--stride"],
            "negative stride",
        ),
    ];
    for (extra, needles, what) in runs {
        let mut args = vec!["export", "--out", out_s];
        args.extend_from_slice(extra);
        assert_refused(&fftconv(&args), needles, what);
        assert!(!out.exists(), "{what}: nothing written");
    }
}

#[test]
fn export_refuses_to_overwrite_without_force_and_leaves_no_temporaries() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("case");
    let out_s = out.to_str().unwrap();
    let args = ["export", "--out", out_s, "--x", "1,2,9", "--w", "3,2,3"];
    assert_eq!(code(&fftconv(&args)), 0);
    let before = std::fs::read(out.join("y.npy")).unwrap();
    let o = fftconv(&[&args[..], &["--seed", "5"]].concat());
    assert_refused(&o, &["already exists", "--force"], "overwrite");
    assert_eq!(
        std::fs::read(out.join("y.npy")).unwrap(),
        before,
        "untouched"
    );
    let o = fftconv(&[&args[..], &["--seed", "5", "--force"]].concat());
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_ne!(
        std::fs::read(out.join("y.npy")).unwrap(),
        before,
        "--force rewrote"
    );
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "temporary files left behind: {names:?}"
    );
    assert_eq!(code(&verify(&out)), 0);
}

#[test]
fn mnist_loader_refuses_lying_headers_and_oversized_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Images claim 60000 × 28 × 28 but hold 10 bytes.
    let mut images = vec![0, 0, 8, 3];
    for d in [60000u32, 28, 28] {
        images.extend(d.to_be_bytes());
    }
    images.extend([0u8; 10]);
    let mut labels = vec![0, 0, 8, 1];
    labels.extend(60000u32.to_be_bytes());
    labels.extend(vec![0u8; 60000]);
    for (name, bytes) in [
        ("train-images-idx3-ubyte", &images),
        ("train-labels-idx1-ubyte", &labels),
        ("t10k-images-idx3-ubyte", &images),
        ("t10k-labels-idx1-ubyte", &labels),
    ] {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let d = dir.to_str().unwrap();
    let o = fftconv(&["train", "--mnist", d, "--epochs", "1"]);
    assert_refused(&o, &["train-images-idx3-ubyte"], "lying IDX header");
    // A well-formed but (for the limit) too large label file.
    let o = fftconv(&["--max-memory", "20", "train", "--mnist", d, "--epochs", "1"]);
    assert_refused(
        &o,
        &["--max-memory", "train-images-idx3-ubyte"],
        "IDX file over the limit",
    );
}

// ---------------------------------------------------------------------------------------------
// Numbers near the float limits

/// Scale a case's inputs and expected tensors by `s` consistently: y, b and dw scale with x;
/// dx and db do not.
fn scale_case(dir: &Path, s: f64) {
    for name in ["x", "b", "y", "dw"] {
        let p = dir.join(format!("{name}.npy"));
        let (t, _) = npy::read(&p).unwrap();
        npy::write(&p, &t.scale(s)).unwrap();
    }
}

#[test]
fn huge_and_tiny_values_are_judged_without_overflow() {
    for s in [1e300, 1e-300, 1e-310] {
        let (_tmp, dir) = copy_case("case005-conv-1d");
        scale_case(&dir, s);
        let o = verify(&dir);
        assert_eq!(code(&o), 0, "scaled by {s:e}: {}{}", stdout(&o), stderr(&o));
        // And a planted 1% error is still caught at that scale. The default profiles have an
        // absolute floor (atol = 1e-12, docs/CASES.md), under which tiny tensors cannot fail; a case
        // of tiny magnitudes must state its own tolerance.
        if s < 1e-12 {
            let p = dir.join("case.toml");
            let text = std::fs::read_to_string(&p).unwrap();
            std::fs::write(
                &p,
                format!("{text}\n[tolerance]\nrtol = 1e-10\natol = 0.0\n"),
            )
            .unwrap();
        }
        let p = dir.join("y.npy");
        let (mut y, _) = npy::read(&p).unwrap();
        y.data_mut()[0] *= 1.01;
        y.data_mut()[0] += s;
        npy::write(&p, &y).unwrap();
        let o = verify(&dir);
        assert_eq!(code(&o), 1, "planted error at scale {s:e}: {}", stdout(&o));
        assert!(
            stdout(&o)
                .lines()
                .any(|l| l.contains(" y ") && l.contains("FAIL")),
            "{}",
            stdout(&o)
        );
    }
}

#[test]
fn a_reference_that_overflows_is_refused_not_passed() {
    // Inputs near f64::MAX: the convolution sums overflow to infinity in the reference.
    let (_tmp, dir) = copy_case("case005-conv-1d");
    let (x, _) = npy::read(&dir.join("x.npy")).unwrap();
    npy::write(&dir.join("x.npy"), &x.map(|_| f64::MAX / 2.0)).unwrap();
    let (w, _) = npy::read(&dir.join("w.npy")).unwrap();
    npy::write(&dir.join("w.npy"), &w.map(|_| 4.0)).unwrap();
    // Expected y claims infinity too: still no pass.
    let (y, _) = npy::read(&dir.join("y.npy")).unwrap();
    npy::write(&dir.join("y.npy"), &y.map(|_| f64::INFINITY)).unwrap();
    let o = verify(&dir);
    assert_ne!(code(&o), 0, "overflowing reference passed: {}", stdout(&o));
    assert_refused(&o, &["case.toml", "overflow"], "overflowing reference");
}

// ---------------------------------------------------------------------------------------------
// Command-line arguments

#[test]
fn bad_command_lines_exit_2_with_one_line_naming_the_argument() {
    let runs: &[(&[&str], &str)] = &[
        (&["frobnicate"], "frobnicate"),
        (&["verify"], "<PATH>"),
        (&["export", "--x", "1,1,4"], "--out"),
        (
            &[
                "export", "--out", "o", "--x", "1,1,4", "--w", "1,1,2", "--groups", "abc",
            ],
            "--groups",
        ),
        (&["export", "--seed", "-1"], "-1"),
        (&["train", "--epochs", "many"], "--epochs"),
        (&["verify", "--colour", "x"], "--colour"),
    ];
    for (args, needle) in runs {
        assert_refused(&fftconv(args), &[needle], &format!("{args:?}"));
    }
    let o = fftconv(&["--help"]);
    assert_eq!(code(&o), 0, "--help is not an error");
}

// ---------------------------------------------------------------------------------------------
// DSL text (`fftconv derive`)

#[test]
fn bad_dsl_text_exits_2_with_one_line_naming_the_column() {
    let runs: &[(&str, &[&str], &str)] = &[
        ("%%% garbage", &["expression:1"], "garbage"),
        (
            "((crop[1:1] @ zero_pad[1:1] on [1, 1, 4]",
            &["expression:", "`)`"],
            "unbalanced",
        ),
        (
            "crop[1:1]] on [1, 1, 4]",
            &["expression:"],
            "unbalanced bracket",
        ),
        (
            "frobnicate[1] on [1, 1, 4]",
            &["frobnicate", "zero_pad"],
            "unknown operator",
        ),
        (
            "crop[3:3] on [1, 1, 4]",
            &["crop[3:3]", "[1, 1, 4]"],
            "crop larger than the axis",
        ),
        (
            "let w: [2, 3, 3]; circ(w) on [1, 5, 8]",
            &["expression"],
            "kernel channels do not compose",
        ),
        (
            "conv2d(x: [2, 3, 8, 8], w: [4, 2, 3, 3])",
            &["expression"],
            "layer shapes do not compose",
        ),
        (
            "conv1d(x: [1, 1, 8], w: [1, 1, 3], stride=0)",
            &["stride"],
            "zero stride",
        ),
        (
            "conv1d(x: [1, 1, 8], w: [1, 1, 3], stride=-1)",
            &["expression:"],
            "negative stride",
        ),
        (
            "conv1d(x: [1, 1, 100000000000], w: [1, 1, 3])",
            &["x", "--max-memory"],
            "x over the memory limit",
        ),
        (
            "conv1d(x: [1, 1, 8], w: [1, 1, 3], padding=1000000000)",
            &["--max-memory"],
            "padding 1e9",
        ),
        (
            "subsample[1099511627776] @ zero_insert[1099511627776] on [1, 1, 1099511627776]",
            &["expression"],
            "overflowing shape inference",
        ),
        ("", &["nothing to derive"], "empty"),
    ];
    for (text, needles, what) in runs {
        assert_refused(&fftconv(&["derive", text]), needles, what);
    }
    // With --check, a huge operator is refused before it is applied.
    let o = fftconv(&[
        "derive",
        "--check",
        "crop[0:99999999999] @ zero_pad[0:99999999999] on [2, 3, 8]",
    ]);
    assert_refused(&o, &["--max-memory"], "huge intermediate with --check");
}
