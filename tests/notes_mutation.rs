//! The notes' promise, tested: change one number of a worked example (in the prose or in a
//! `val`/`value` claim) or flip one sign, and `fftconv notes` fails. A seeded sample of such
//! single changes across all notes, each run in-process on a copy of its note; every one must
//! be caught.

use fftconv::notes::{prose::worked_numbers, run_note};
use std::path::Path;

/// A 64-bit LCG: a fixed, reproducible sample.
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// A site: note index, byte range of a number, and whether to flip its sign instead.
type Site = (usize, usize, usize);

/// Numbers in `val`/`value` lines of check blocks (not in layer strings: a changed shape can
/// be another valid layer).
fn claim_numbers(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let t = line.trim_start();
        // Inequalities (`value e < 1e-4`) bound a measurement: a changed bound may still hold.
        // `# generic` marks test data any value serves (`val a = 0.3` in `U(a, b, c)`).
        if !(t.starts_with("val ") || t.starts_with("value "))
            || t.contains(" < ")
            || t.contains(" > ")
            || t.contains("# generic")
        {
            continue;
        }
        // A `val` name is a label (`\|x\|^2`), not a number of the note.
        let skip_to = if t.starts_with("val ") {
            line.find(" = ").unwrap_or(0)
        } else {
            0
        };
        let b = line.as_bytes();
        let mut in_str = false;
        let mut i = skip_to;
        while i < b.len() {
            if b[i] == b'"' {
                in_str = !in_str;
            }
            // Seeds and sizes of generic test data (`rand(4, 2)`): any value serves.
            if line[i..].starts_with("rand(") {
                i += line[i..].find(')').unwrap_or(0) + 1;
                continue;
            }
            let word_before = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
            if !in_str && b[i].is_ascii_digit() && !word_before {
                let s = i;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                    i += 1;
                }
                out.push((start + s, start + i));
                continue;
            }
            i += 1;
        }
    }
    out
}

fn mutate_number(s: &str) -> String {
    if let Some(d) = s.rfind(|c: char| c.is_ascii_digit()) {
        let c = s.as_bytes()[d] - b'0';
        let n = if c == 9 { 8 } else { c + 1 };
        format!("{}{}{}", &s[..d], n, &s[d + 1..])
    } else {
        s.to_string()
    }
}

#[test]
fn one_changed_number_or_sign_fails_the_notes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("derivations");
    if !dir.is_dir() {
        return;
    }
    let mut notes: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    notes.sort();
    let mut prose_sites: Vec<Site> = Vec::new();
    let mut claim_sites: Vec<Site> = Vec::new();
    for (k, (_, text)) in notes.iter().enumerate() {
        prose_sites.extend(worked_numbers(text).into_iter().map(|(a, b)| (k, a, b)));
        claim_sites.extend(claim_numbers(text).into_iter().map(|(a, b)| (k, a, b)));
    }
    // The unchanged notes pass (else every mutation would count as caught).
    for (name, text) in &notes {
        let (res, _) = run_note(text, name);
        assert!(res.iter().all(|r| r.ok), "{name} fails unchanged");
    }
    // Sites of the notes on the fast path (17–21) and of the exercises (`<details>`), sampled
    // on their own as well, so that every note and the exercises are covered.
    let late = |k: usize| notes[k].0.as_str() >= "17";
    let in_details = |k: usize, a: usize| {
        let text = &notes[k].1;
        let open = text[..a].rfind("<details>");
        let close = text[..a].rfind("</details>");
        matches!((open, close), (Some(o), c) if c.is_none_or(|c| c < o))
    };
    let pick = |sites: &[Site], keep: &dyn Fn(&Site) -> bool| -> Vec<Site> {
        sites.iter().copied().filter(|s| keep(s)).collect()
    };
    let late_prose = pick(&prose_sites, &|s| late(s.0));
    let late_claims = pick(&claim_sites, &|s| late(s.0));
    let exercise_prose = pick(&prose_sites, &|s| in_details(s.0, s.1));
    let exercise_claims = pick(&claim_sites, &|s| in_details(s.0, s.1));
    let mut rng = Lcg(0x5EED_0014);
    let mut missed = Vec::new();
    let mut total = 0;
    // Across all notes: 60 numbers of the prose, 30 of the claims, 30 sign flips of prose
    // numbers; then notes 17–21: 30, 15, 15; then the exercises: 20, 10, 10.
    for (sites, n, flip) in [
        (&prose_sites, 60, false),
        (&claim_sites, 30, false),
        (&prose_sites, 30, true),
        (&late_prose, 30, false),
        (&late_claims, 15, false),
        (&late_prose, 15, true),
        (&exercise_prose, 20, false),
        (&exercise_claims, 10, false),
        (&exercise_prose, 10, true),
    ] {
        assert!(!sites.is_empty(), "a sample group has no sites");
        for _ in 0..n {
            let (k, a, b) = sites[rng.below(sites.len())];
            let (name, text) = &notes[k];
            let num = &text[a..b];
            if flip && num.parse::<f64>() == Ok(0.0) {
                // −0 is 0: not a change.
                continue;
            }
            let (lo, new) = if flip {
                if text[..a].ends_with('-') {
                    (a - 1, num.to_string())
                } else {
                    (a, format!("-{num}"))
                }
            } else {
                (a, mutate_number(num))
            };
            let mutated = format!("{}{}{}", &text[..lo], new, &text[b..]);
            total += 1;
            let (res, _) = run_note(&mutated, name);
            if res.iter().all(|r| r.ok) {
                let line = text[..a].matches('\n').count() + 1;
                missed.push(format!("{name}:{line}: `{}` → `{new}`", &text[lo..b]));
            }
        }
    }
    let caught = total - missed.len();
    println!(
        "mutations caught: {caught}/{total} ({:.0} %), sample from {} prose and {} claim numbers",
        100.0 * caught as f64 / total as f64,
        prose_sites.len(),
        claim_sites.len()
    );
    assert!(total >= 50);
    assert!(missed.is_empty(), "not caught:\n{}", missed.join("\n"));
}
