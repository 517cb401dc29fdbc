//! The layer order of DESIGN.md, checked on the source: a module uses only the modules below it,
//! `tensor ← op ← spec ← expr ← conv ← check / case / hunt / nn ← cli`. The support modules
//! sit at the bottom (`error`, `limits`; `fft` and `npy` beside `tensor`), `derive` (the
//! derivation driver: expressions checked numerically) beside `case` and `nn` above `check`,
//! and `notes` (which runs the derivations) just below the CLI.
//!
//! Every `crate::NAME` in the code (comments and doc links left out) is a use of module `NAME`.

use std::path::Path;

/// Each module's level; a module may use only modules of a lower level (or itself).
const LEVELS: &[(&str, u8)] = &[
    ("error", 0),
    ("limits", 1),
    ("tensor", 2),
    ("fft", 3),
    ("npy", 3),
    ("op", 4),
    ("spec", 5),
    ("expr", 6),
    ("conv", 7),
    ("check", 8),
    ("case", 9),
    ("derive", 9),
    ("nn", 9),
    ("hunt", 10),
    ("notes", 11),
    ("cli", 12),
    ("main", 13),
];

/// Items of the crate root and the module they come from.
const ROOT_ITEMS: &[(&str, &str)] = &[
    ("Error", "error"),
    ("Result", "error"),
    ("Scalar", "tensor"),
    ("Tensor", "tensor"),
    // `op`'s macro, exported at the crate root.
    ("lowering", "op"),
];

fn level(module: &str) -> Option<u8> {
    LEVELS.iter().find(|(m, _)| *m == module).map(|&(_, l)| l)
}

mod common;
use common::rust_files;

/// The modules a piece of source uses through `crate::NAME` or `crate::{A, B, …}`, comments
/// left out.
fn uses(src: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for line in src.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            if let Some(group) = after.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                out.extend(inner.split(',').map(|s| ident(s.trim())));
            } else {
                out.push(ident(after));
            }
            rest = after;
        }
    }
    out.retain(|m| !m.is_empty() && m != "self");
    out
}

/// `(module, used module)` pairs that go up the order.
fn violations(module: &str, used: &[String]) -> Vec<String> {
    let own = level(module).unwrap_or_else(|| panic!("module `{module}` has no level"));
    used.iter()
        .map(|u| {
            ROOT_ITEMS
                .iter()
                .find(|(item, _)| item == u)
                .map_or(u.as_str(), |&(_, m)| m)
        })
        .filter(|&u| u != module)
        .filter(|&u| level(u).is_none_or(|l| l >= own))
        .map(|u| format!("{module} uses {u}"))
        .collect()
}

#[test]
fn no_module_uses_one_above_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    let mut bad = Vec::new();
    for f in &files {
        let rel = f
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel == "lib.rs" {
            continue;
        }
        let module = rel.split('/').next().unwrap().trim_end_matches(".rs");
        let src = std::fs::read_to_string(f).unwrap();
        for v in violations(module, &uses(&src)) {
            bad.push(format!("{rel}: {v}"));
        }
    }
    bad.sort();
    bad.dedup();
    assert!(bad.is_empty(), "imports against DESIGN's order: {bad:#?}");
}

#[test]
fn the_checker_sees_an_upward_use_and_spares_comments() {
    let src = "use crate::op::Op;\nuse crate::{tensor::Tensor, conv};\n// crate::cli\n/// [`crate::cli`]\n";
    assert_eq!(uses(src), ["op", "tensor", "conv"]);
    assert_eq!(violations("expr", &uses(src)), ["expr uses conv"]);
    assert!(violations("check", &uses(src)).is_empty());
}

#[test]
fn conv_chain_builds_no_operator_of_its_own() {
    // The chain is the lowering of the DSL's layer expansion: it names no primitive operator.
    let src =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/conv/chain.rs"))
            .unwrap();
    let code: String = src
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    for op in [
        "ZeroPad",
        "Crop",
        "Pad::",
        "Flip",
        "Subsample",
        "ZeroInsert",
        "Dilate",
        "CircularConv",
        "ChannelMix",
        "GroupTranspose",
        "BiasBroadcast",
        "Identity",
        "Compose",
        "op::chain",
    ] {
        assert!(!code.contains(op), "src/conv/chain.rs constructs {op}");
    }
    assert!(code.contains("expand(") && code.contains("lower_on"));
}
