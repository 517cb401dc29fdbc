//! `fftconv notes`: the notes' claims all execute and hold; a false claim and an ID without a
//! check make the run fail.

use fftconv::notes::{declared_ids, run_dir, run_note};
use std::path::Path;
use std::process::Command;

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The project's notes when they are present (after the notes branch is merged), else the
/// fixture note.
fn notes_dir() -> std::path::PathBuf {
    let d = manifest().join("derivations");
    if d.is_dir() {
        d
    } else {
        manifest().join("tests/data/notes")
    }
}

#[test]
fn every_claim_of_the_notes_holds() {
    let dir = notes_dir();
    let report = run_dir(&dir).unwrap();
    let failures: Vec<String> = report
        .claims
        .iter()
        .filter(|c| !c.ok)
        .map(|c| format!("{} {} {}: {}", c.location, c.id, c.text, c.detail))
        .collect();
    assert!(
        failures.is_empty(),
        "failed claims in {}:\n{}",
        dir.display(),
        failures.join("\n")
    );
    let minimum = if dir.ends_with("derivations") { 40 } else { 7 };
    assert!(
        report.claims.len() >= minimum,
        "only {} claims in {}",
        report.claims.len(),
        dir.display()
    );
    assert!(report.text().ends_with(&format!(
        "{} claims checked, 0 failed\n",
        report.claims.len()
    )));
}

#[test]
fn the_cli_ends_with_the_count_line_and_exits_by_the_result() {
    let exe = env!("CARGO_BIN_EXE_fftconv");
    let out = Command::new(exe)
        .arg("notes")
        .arg(manifest().join("tests/data/notes"))
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_eq!(
        stdout.lines().last(),
        Some("7 claims checked, 0 failed"),
        "{stdout}"
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("01-false.md"),
        "### PAD-1 — a false claim\n\n```check\nid: PAD-1\nadjoint(zero_pad[1:2]) == crop[2:1] on [1, 1, 4]\ncrop[1:2] @ zero_pad[1:2] == id on [1, 1, 4]\n```\n",
    )
    .unwrap();
    let out = Command::new(exe)
        .arg("notes")
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(
        stdout.lines().last(),
        Some("2 claims checked, 1 failed"),
        "{stdout}"
    );
    assert!(stdout.contains("FAIL 01-false.md:5 PAD-1"), "{stdout}");
}

#[test]
fn a_false_claim_fails_for_each_kind_of_claim() {
    let note = "```check\nid: X-1\nlet w: [2, 2, 6]\n\
        adjoint(circ(w)) == circ(w) on [1, 2, 6]\n\
        adjoint(subsample[2]) == zero_pad[0:1] @ zero_insert[2] on [1, 1, 3]\n\
        flip[1] @ flip[1] == flip[1] on [1, 1, 3]\n\
        2 * id == id on [3]\n\
        dot crop[1:1] on [1, 4]\n\
        check conv1d(x: [1, 1, 5], w: [1, 1, 3], stride=2)\n```\n";
    let (results, covered) = run_note(note, "false.md");
    assert_eq!(covered, vec!["X-1".to_string()]);
    let oks: Vec<bool> = results.iter().map(|r| r.ok).collect();
    assert_eq!(
        oks,
        vec![false, false, false, false, true, true],
        "{results:#?}"
    );
}

#[test]
fn a_parse_error_fails_the_claim_and_names_the_column() {
    let (results, _) = run_note("```check\nid: X-1\ndot crop[1:1 on [1, 4]\n```\n", "bad.md");
    assert_eq!(results.len(), 1);
    assert!(!results[0].ok);
    assert!(
        results[0].detail.starts_with("bad.md:3:14: expected"),
        "{}",
        results[0].detail
    );
}

#[test]
fn a_block_without_an_id_fails() {
    let (results, _) = run_note("```check\ndot crop[1:1] on [1, 4]\n```\n", "noid.md");
    assert!(
        !results[0].ok && results[0].detail.contains("id: ID"),
        "{results:?}"
    );
}

#[test]
fn an_id_without_a_check_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("02-ids.md"),
        "### PAD-1 — has a check\n\n```check\nid: PAD-1\ndot zero_pad[1:1] on [1, 3]\n```\n\n### PAD-9 — has none\n\nAnd a label **MODE-7** in the text.\n",
    )
    .unwrap();
    let report = run_dir(dir.path()).unwrap();
    let missing: Vec<&str> = report
        .claims
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(missing, vec!["PAD-9", "MODE-7"], "{}", report.text());
    assert!(
        report.text().ends_with("3 claims checked, 2 failed\n"),
        "{}",
        report.text()
    );
}

#[test]
fn declared_ids_are_headings_and_bold_labels_outside_code() {
    let ids = declared_ids("# Title\n### PAD-1 — x\n**CIRC-2** and **not an id**\n```\n### FAKE-1\n```\n## SWAP-10: y\n");
    let names: Vec<&str> = ids.iter().map(|(i, _)| i.as_str()).collect();
    assert_eq!(names, vec!["PAD-1", "CIRC-2", "SWAP-10"]);
}
