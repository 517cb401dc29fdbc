//! Maths in doc comments is written where Markdown cannot eat it: inline formulas in code spans
//! (`` `$A^*$` ``) and display formulas in ```` ```math ```` blocks, which the KaTeX header
//! (`docs/katex-header.html`) renders. A bare `$…$` would lose its `*`, `_` and `\,` to
//! Markdown (`$A^*$` turns into emphasis), so this test refuses one.
//!
//! `.ci/check-docs` checks the other half on the generated HTML: the header is included and
//! sample formulas arrive intact.

use std::path::Path;

/// Files still written with bare `$…$` (remove an entry when its maths is converted).
const NOT_YET: &[&str] = &[];

mod common;
use common::rust_files;

/// The text of a doc-comment line (`///` or `//!`), if it is one.
fn doc_text(line: &str) -> Option<&str> {
    let t = line.trim_start();
    t.strip_prefix("///")
        .or_else(|| t.strip_prefix("//!"))
        .filter(|_| !t.starts_with("////"))
}

/// `$` signs outside code spans in one paragraph of doc text (fenced blocks already removed).
fn bare_dollars(text: &str) -> usize {
    let (mut count, mut i) = (0, 0);
    let b = text.as_bytes();
    while i < b.len() {
        if b[i] == b'`' {
            let run = b[i..].iter().take_while(|&&c| c == b'`').count();
            let ticks = &text[i..i + run];
            match text[i + run..].find(ticks) {
                Some(k) => i += run + k + run,
                None => return count,
            }
            continue;
        }
        if b[i] == b'$' {
            count += 1;
        }
        i += 1;
    }
    count
}

/// Every doc-comment block of `src` as prose, fenced blocks left out.
fn prose_blocks(src: &str) -> Vec<(usize, String)> {
    let (mut blocks, mut cur, mut start, mut fence) = (Vec::new(), String::new(), 0, false);
    for (n, line) in src.lines().enumerate() {
        match doc_text(line) {
            Some(t) => {
                if cur.is_empty() {
                    start = n + 1;
                }
                if t.trim_start().starts_with("```") {
                    fence = !fence;
                    cur.push('\n');
                } else if !fence {
                    cur.push_str(t);
                    cur.push('\n');
                }
            }
            None if !cur.is_empty() => blocks.push((start, std::mem::take(&mut cur))),
            None => {}
        }
    }
    if !cur.is_empty() {
        blocks.push((start, cur));
    }
    blocks
}

#[test]
fn doc_maths_is_in_code_spans_or_math_blocks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    let mut bad = Vec::new();
    for f in &files {
        let rel = f
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if NOT_YET.iter().any(|p| rel.starts_with(p)) {
            continue;
        }
        let src = std::fs::read_to_string(f).unwrap();
        for (line, block) in prose_blocks(&src) {
            if bare_dollars(&block) > 0 {
                bad.push(format!("{rel}:{line}"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "bare $…$ maths in doc comments (write `$…$` in a code span, or a ```math block): {bad:?}"
    );
}

#[test]
fn the_checker_sees_bare_maths_and_spares_code_spans() {
    let src = "/// bare $A^*$ here\nfn a() {}\n/// fine `$A^*$` and ``$x$``\n/// ```math\n/// e = $\n/// ```\nfn b() {}\n";
    let blocks = prose_blocks(src);
    assert_eq!(blocks.len(), 2);
    assert_eq!(bare_dollars(&blocks[0].1), 2);
    assert_eq!(bare_dollars(&blocks[1].1), 0);
}

#[test]
fn the_katex_header_is_wired_for_cargo_doc() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = std::fs::read_to_string(root.join(".cargo/config.toml")).unwrap();
    assert!(config.contains(r#"rustdocflags = ["--html-in-header", "docs/katex-header.html"]"#));
    let header = std::fs::read_to_string(root.join("docs/katex-header.html")).unwrap();
    for needle in [
        "katex.min.js",
        "katex.min.css",
        "language-math",
        "katex.render",
    ] {
        assert!(
            header.contains(needle),
            "docs/katex-header.html lacks {needle}"
        );
    }
}
