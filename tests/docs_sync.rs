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

/// Each layer's module page points to the notes that prove its identities, and every note it
/// names exists (a renamed note would leave the API docs pointing nowhere).
#[test]
fn module_pages_cite_existing_notes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let notes: Vec<String> = std::fs::read_dir(root.join("derivations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for module in [
        "op", "spec", "expr", "conv", "check", "case", "hunt", "derive", "nn",
    ] {
        let path = root.join("src").join(module).join("mod.rs");
        let text = std::fs::read_to_string(&path).unwrap();
        let header: String = text
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .collect::<Vec<_>>()
            .join("\n");
        let cited = cited_notes(&header);
        assert!(
            cited.iter().any(|n| n.ends_with(".md")),
            "src/{module}/mod.rs: the module page cites no note (derivations/NN-name.md)"
        );
        for note in cited {
            assert!(
                notes.contains(&note),
                "src/{module}/mod.rs cites {note}, which is not in derivations/"
            );
        }
    }
}

/// Note file names (`NN-name.md`) mentioned in a text, with or without `derivations/`.
fn cited_notes(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    for (i, _) in text.match_indices(".md") {
        let mut start = i;
        while start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'-') {
            start -= 1;
        }
        let name = &text[start..i + 3];
        let numbered = name.len() > 6 && name.as_bytes()[..2].iter().all(u8::is_ascii_digit);
        if numbered && name.as_bytes()[2] == b'-' {
            found.push(name.to_string());
        }
    }
    found
}

/// `docs/DSL.md`'s operator table is the user's view of the registry: every registered
/// primitive is in it under its DSL name with its adjoint rule, and it names no operator the
/// parser does not know (a new descriptor without a docs row fails here).
#[test]
fn dsl_reference_lists_exactly_the_registered_primitives() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("docs/DSL.md")).unwrap();
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("| operator |"))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .collect();
    assert!(!table.is_empty(), "docs/DSL.md: no `| operator |` table");
    let documented: Vec<String> = table
        .iter()
        .flat_map(|row| {
            let cells: Vec<&str> = row.split('|').collect();
            let named = format!(
                "{} {}",
                cells.get(1).unwrap_or(&""),
                cells.get(3).unwrap_or(&"")
            );
            named
                .split('`')
                .skip(1)
                .step_by(2)
                .flat_map(|code| code.split('/').map(str::to_string).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        })
        .map(|code| {
            code.split(['[', '(', ' '])
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .filter(|name| name.starts_with(|c: char| c.is_ascii_alphabetic()))
        .collect();
    for p in fftconv::op::PRIMITIVES {
        let row = table.iter().find(|row| {
            row.contains(&format!("`{}", p.dsl)) || row.contains(&format!("/{}", p.dsl))
        });
        let Some(row) = row else {
            panic!("docs/DSL.md's operator table has no row for `{}`", p.dsl)
        };
        assert!(
            row.contains(p.rule.note) || p.grouped_rule.is_some_and(|g| row.contains(g.note)),
            "docs/DSL.md: the row of `{}` does not cite its rule {}: {row}",
            p.dsl,
            p.rule.note
        );
    }
    let known: Vec<&str> = fftconv::op::PRIMITIVES
        .iter()
        .flat_map(|p| std::iter::once(p.dsl).chain(p.aliases.iter().copied()))
        .collect();
    for name in &documented {
        assert!(
            known.contains(&name.as_str()),
            "docs/DSL.md documents `{name}`, which the parser does not know"
        );
    }
}
