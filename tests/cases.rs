//! Every example case in `tests/data/cases` (computed by XLA in f64) is judged right: the good
//! ones pass and agree with the reference within 1e-12 relative; each `*-bad` case fails on
//! exactly the tensor named in `manifest.json`.

use fftconv::case::{judge_path, Case, TensorName};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cases")
}

fn manifest() -> BTreeMap<String, Option<String>> {
    let text = std::fs::read_to_string(cases_dir().join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn manifest_lists_every_case_folder() {
    let mut folders: Vec<String> = std::fs::read_dir(cases_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    let listed: Vec<String> = manifest().keys().cloned().collect();
    assert_eq!(
        folders, listed,
        "tests/data/cases and its manifest.json disagree"
    );
}

#[test]
fn good_cases_pass_and_agree_with_xla_to_1e12() {
    let mut judged = 0;
    for (name, bad) in manifest() {
        if bad.is_some() {
            continue;
        }
        let report = judge_path(&cases_dir().join(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!report.tensors.is_empty(), "{name}: nothing judged");
        for t in &report.tensors {
            assert!(
                t.comparison.pass,
                "{name}/{}: fails: {:?}",
                t.name, t.comparison
            );
            assert!(
                t.comparison.max_rel_err <= 1e-12,
                "{name}/{}: f64 relative error {:e} above 1e-12",
                t.name,
                t.comparison.max_rel_err
            );
        }
        judged += 1;
    }
    assert!(judged >= 6, "only {judged} good cases");
}

#[test]
fn bad_cases_fail_on_exactly_the_planted_tensor() {
    let mut judged = 0;
    for (name, bad) in manifest() {
        let Some(bad) = bad else { continue };
        let report = judge_path(&cases_dir().join(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let failed: Vec<&str> = report.failed().iter().map(|t| t.as_str()).collect();
        assert_eq!(failed, vec![bad.as_str()], "{name}: wrong tensors blamed");
        assert!(!report.pass(), "{name}: passes");
        judged += 1;
    }
    assert!(judged >= 6, "only {judged} bad cases");
}

#[test]
fn case_toml_parses_into_the_spec() {
    let dir = cases_dir().join("case003-conv-3d");
    let case = Case::load(&dir.join("case.toml")).unwrap();
    assert_eq!(case.spatial_rank, 3);
    assert_eq!(case.spec.stride, vec![3, 3, 1]);
    assert_eq!(case.spec.dilation, vec![2, 1, 1]);
    assert_eq!(
        case.spec.padding,
        fftconv::conv::Padding::Explicit(vec![(1, 2), (1, 0), (1, 1)])
    );
    assert_eq!(case.inputs.x, dir.join("x.npy"));
    let names: Vec<TensorName> = case.expected.iter().map(|e| e.0).collect();
    assert_eq!(names, TensorName::ALL.to_vec());
}

#[test]
fn malformed_case_toml_names_the_key() {
    let base = "op = \"conv\"\nstride = [1]\npadding = [[0, 0]]\ndilation = [1]\ngroups = 1\n[inputs]\nx = \"x.npy\"\nw = \"w.npy\"\ndy = \"dy.npy\"\n[expected]\ny = \"y.npy\"\n";
    let dir = Path::new("c");
    assert!(Case::parse(base, dir).is_ok());
    let err = |text: &str| Case::parse(text, dir).unwrap_err().to_string();
    let cases = [
        (base.replace("stride", "strides"), "expected one of"),
        (base.replace("groups = 1", "groups = \"one\""), "groups"),
        (base.replace("groups = 1", "groups = 0"), "groups"),
        (base.replace("stride = [1]", "stride = [-2]"), "stride[0]"),
        (
            base.replace("dilation = [1]", "dilation = [1, 1]"),
            "dilation",
        ),
        (base.replace("[[0, 0]]", "[[0, 0], [1, 1]]"), "padding"),
        (base.replace("[[0, 0]]", "[[0, -1]]"), "padding[0][1]"),
        (base.replace("\"conv\"", "\"deconv\""), "op"),
        (base.replace("x = \"x.npy\"\n", ""), "x"),
        (
            base.replace("dy = \"dy.npy\"\n", "")
                .replace("y = \"y.npy\"", "dx = \"dx.npy\""),
            "expected.dx",
        ),
        (
            base.replace("y = \"y.npy\"", "db = \"db.npy\""),
            "expected.db",
        ),
        (
            format!("{base}[tolerance]\nrtol = \"big\"\n"),
            "tolerance.rtol",
        ),
        (base.replace("[expected]\ny = \"y.npy\"\n", ""), "expected"),
        (
            base.replace("groups = 1", "groups = 1\noutput_padding = [1]"),
            "output_padding",
        ),
        ("op = [".to_string(), "line 1"),
    ];
    for (text, needle) in cases {
        let msg = err(&text);
        assert!(
            msg.contains(needle),
            "message `{msg}` does not name `{needle}`"
        );
        assert!(
            msg.contains("case.toml"),
            "message `{msg}` does not name the file"
        );
        assert!(!msg.contains('\n'), "message `{msg}` is not one line");
    }
}

mod no_panic {
    use fftconv::case::Case;
    use proptest::prelude::*;
    use std::path::Path;

    const VALID: &str = "op = \"conv_transpose\"\nstride = [2, 1]\npadding = [[1, 0], [0, 0]]\ndilation = [1, 2]\ngroups = 2\npadding_mode = \"zeros\"\noutput_padding = [1, 0]\n[inputs]\nx = \"x.npy\"\nw = \"w.npy\"\nb = \"b.npy\"\ndy = \"dy.npy\"\n[expected]\ny = \"y.npy\"\ndx = \"dx.npy\"\n[tolerance]\nrtol = 1e-6\n";

    proptest! {
        #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

        /// Mutated case.toml text (bytes replaced, deleted or inserted, including multi-byte
        /// characters) is parsed or refused with a one-line message naming the file; never a panic.
        #[test]
        fn mutated_case_toml_is_refused_cleanly(
            edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, prop::sample::select(vec!["", "-", "0", "\"", "[", "]", "=", "\n", "é", "∞", "x", "1e999", "nan"])), 1..6)
        ) {
            let mut text = VALID.to_string();
            for (at, kind, piece) in edits {
                let mut i = at.index(text.len() + 1);
                while !text.is_char_boundary(i) { i -= 1; }
                match kind {
                    0 => text.insert_str(i, piece),
                    1 => { let mut j = (i + 1).min(text.len()); while !text.is_char_boundary(j) { j += 1; } text.replace_range(i..j, piece) }
                    _ => { let mut j = (i + 3).min(text.len()); while !text.is_char_boundary(j) { j += 1; } text.replace_range(i..j, "") }
                }
            }
            match Case::parse(&text, Path::new("dir")) {
                Ok(case) => prop_assert!(!case.expected.is_empty()),
                Err(e) => {
                    let msg = e.to_string();
                    prop_assert!(!msg.contains('\n'), "not one line: {msg}");
                    prop_assert!(msg.contains("case.toml"), "file not named: {msg}");
                }
            }
        }
    }

    #[test]
    fn the_unmutated_text_parses() {
        let case = Case::parse(VALID, Path::new("dir")).unwrap();
        assert_eq!(case.spec.groups, 2);
        assert_eq!(case.tolerance.unwrap().rtol, 1e-6);
    }
}
