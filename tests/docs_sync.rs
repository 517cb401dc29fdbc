//! The formats users write against (`docs/CASES.md`, `docs/HUNT.md`) are copies of the shared
//! specification in `../shared/`; this test keeps them equal. Where `../shared` is absent (a
//! checkout of the crate alone) there is nothing to compare against and the test says so.

use std::path::Path;

/// Compare `docs/NAME` with `../shared/NAME`; skipped (passing) when `../shared` is absent.
fn check(name: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared_dir = root.join("../shared");
    if !shared_dir.is_dir() {
        eprintln!(
            "docs_sync: skipped, {} is absent (nothing to compare docs/{name} with)",
            shared_dir.display()
        );
        return;
    }
    let shared = shared_dir.join(name);
    let ours = root.join("docs").join(name);
    let want =
        std::fs::read_to_string(&shared).unwrap_or_else(|e| panic!("{}: {e}", shared.display()));
    let got = std::fs::read_to_string(&ours).unwrap_or_else(|e| panic!("{}: {e}", ours.display()));
    assert!(
        want == got,
        "docs/{name} differs from {}; copy it: cp {} {}",
        shared.display(),
        shared.display(),
        ours.display()
    );
}

#[test]
fn cases_md_equals_shared() {
    check("CASES.md");
}

#[test]
fn hunt_md_equals_shared() {
    check("HUNT.md");
}
