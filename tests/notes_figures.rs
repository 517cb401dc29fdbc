//! The committed figures of `derivations/figures/` are what `fftconv figure` computes today,
//! byte for byte; every figure is shown by a note and every figure link of a note resolves.

use fftconv::notes::figure::{all, write_all};
use std::path::{Path, PathBuf};

fn figures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("derivations/figures")
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fftconv-figures-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn committed_figures_are_regenerated_identically() {
    let out = temp_dir("regen");
    let written = write_all(&out).expect("figures are written");
    assert!(!written.is_empty(), "no figure written");
    for path in &written {
        let name = path.file_name().expect("a file name");
        let fresh = std::fs::read(path).expect("the regenerated figure is readable");
        let committed_path = figures_dir().join(name);
        let committed = std::fs::read(&committed_path).unwrap_or_else(|e| {
            panic!(
                "{} is missing ({e}); run `fftconv figure` and commit it",
                committed_path.display()
            )
        });
        assert!(
            fresh == committed,
            "{} is stale: it differs from what the library draws today; regenerate it with `fftconv figure` (writes derivations/figures/) and commit it",
            committed_path.display()
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn drawing_twice_gives_the_same_bytes() {
    assert_eq!(all().expect("first"), all().expect("second"));
}

#[test]
fn an_out_path_that_is_a_file_is_refused_and_left_alone() {
    let dir = temp_dir("file");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("not-a-dir.svg");
    std::fs::write(&file, "keep me").expect("write");
    let err = write_all(&file).expect_err("a file is not a figures directory");
    assert!(err.to_string().contains("not a directory"), "{err}");
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "keep me");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_figure_is_shown_by_a_note_and_every_figure_link_resolves() {
    let notes = Path::new(env!("CARGO_MANIFEST_DIR")).join("derivations");
    let mut texts = Vec::new();
    for entry in std::fs::read_dir(&notes).expect("derivations/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            texts.push((path.clone(), std::fs::read_to_string(&path).expect("note")));
        }
    }
    for f in all().expect("figures") {
        let link = format!("](figures/{})", f.name);
        assert!(
            texts.iter().any(|(_, t)| t
                .lines()
                .any(|l| l.find("![").is_some_and(|i| l[i..].contains(&link)))),
            "no note embeds figures/{} (add `![…](figures/{})` where it belongs)",
            f.name,
            f.name
        );
    }
    for (path, text) in &texts {
        for (i, _) in text.match_indices("](figures/") {
            let rest = &text[i + 2..];
            let end = rest.find(')').expect("a closed link");
            let target = notes.join(&rest[..end]);
            assert!(
                target.is_file(),
                "{} links {} which does not exist",
                path.display(),
                &rest[..end]
            );
        }
    }
}
