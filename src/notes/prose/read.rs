//! Reading a note: its sections, the inline math and code spans of a line, the pieces of a
//! span between relations, the numbers that must be tied, and where the worked examples are.
//! The checks themselves (what a piece must agree with) are in the parent module.

use super::super::calc::Span;

/// Section index of each line (0-based lines): the number of headings above, outside fences.
pub fn sections(text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut sec = 0;
    let mut fence = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("```") {
            fence = !fence;
        } else if !fence && t.starts_with('#') {
            sec += 1;
        }
        out.push(sec);
    }
    out
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Link {
    Eq,
    Break,
}

/// Split a math span at top-level relations: pieces with their byte offsets, and the links.
pub(super) fn split(span: &str) -> (Vec<(usize, &str)>, Vec<Link>) {
    const BREAKS: [&str; 15] = [
        "\\leftarrow",
        "\\mapsto",
        "\\to",
        "\\le",
        "\\ge",
        "\\ne",
        "\\quad",
        "\\qquad",
        "\\Rightarrow",
        "\\text",
        "\\;",
        "<",
        ">",
        ";",
        "\\iff",
    ];
    let b = span.as_bytes();
    let mut pieces = Vec::new();
    let mut links = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'{' {
            depth += 1;
        } else if c == b'}' {
            depth -= 1;
        }
        if depth == 0 {
            let rest = &span[i..];
            let mut hit: Option<(usize, Link)> = None;
            if c == b'=' && b.get(i + 1) != Some(&b'=') && (i == 0 || b[i - 1] != b'=') {
                hit = Some((1, Link::Eq));
            } else if rest.starts_with("\\approx") {
                hit = Some((7, Link::Eq));
            } else if rest.starts_with('≈') {
                hit = Some(('≈'.len_utf8(), Link::Eq));
            } else if let Some(bk) = BREAKS.iter().find(|bk| {
                rest.starts_with(**bk)
                    && !rest[bk.len()..].chars().next().is_some_and(|n| {
                        bk.starts_with('\\') && bk.len() > 2 && n.is_ascii_alphabetic()
                    })
            }) {
                let mut len = bk.len();
                if *bk == "\\text" {
                    // Skip the braced text.
                    if let Some(close) = span[i + len..].find('}') {
                        len += close + 1;
                    }
                }
                hit = Some((len, Link::Break));
            }
            if let Some((len, link)) = hit {
                pieces.push((start, &span[start..i]));
                links.push(link);
                i += len;
                start = i;
                continue;
            }
        }
        i += span[i..].chars().next().map_or(1, char::len_utf8);
    }
    pieces.push((start, &span[start..]));
    (pieces, links)
}

/// Number tokens of a span that must be tied: not in sub/superscripts, not after `note`.
pub(super) fn countable_numbers(span: &str) -> Vec<Span> {
    let b = span.as_bytes();
    let mut out = Vec::new();
    let mut script_depth: Vec<i32> = Vec::new();
    let mut depth = 0i32;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'{' {
            depth += 1;
            if i > 0 && (b[i - 1] == b'_' || b[i - 1] == b'^') {
                script_depth.push(depth);
            }
        } else if c == b'}' {
            if script_depth.last() == Some(&depth) {
                script_depth.pop();
            }
            depth -= 1;
        }
        if c.is_ascii_digit() {
            let start = i;
            while i < b.len()
                && (b[i].is_ascii_digit()
                    || (b[i] == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)))
            {
                i += 1;
            }
            let prev = if start > 0 { b[start - 1] } else { b' ' };
            let in_script = !script_depth.is_empty() || prev == b'_' || prev == b'^';
            let in_word = prev.is_ascii_alphabetic()
                || prev == b'-' && start >= 2 && b[start - 2].is_ascii_uppercase();
            if !in_script && !in_word {
                out.push((start, i));
            }
            continue;
        }
        i += 1;
    }
    out
}

/// Inline spans of a line: their byte offsets and texts.
pub(super) type Spans = Vec<(usize, String)>;

pub(super) fn inline_spans(line: &str) -> (Spans, Spans) {
    let mut math = Vec::new();
    let mut code = Vec::new();
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'`' {
            if let Some(e) = line[i + 1..].find('`') {
                code.push((i + 1, line[i + 1..i + 1 + e].to_string()));
                i += e + 2;
                continue;
            }
            break;
        }
        if b[i] == b'$' {
            let dd = b.get(i + 1) == Some(&b'$');
            let open = if dd { 2 } else { 1 };
            let close = if dd { "$$" } else { "$" };
            if let Some(e) = line[i + open..].find(close) {
                math.push((i + open, line[i + open..i + open + e].to_string()));
                i += open + e + open;
                continue;
            }
            break;
        }
        i += 1;
    }
    (math, code)
}

/// Top-level `( … )` groups of a piece (byte ranges, parentheses included).
pub(super) fn paren_groups(p: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in p.char_indices() {
        match c {
            '(' => {
                if depth == 0 {
                    start = i;
                }
                depth += 1;
            }
            ')' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    out.push((start, i + 1));
                }
            }
            _ => {}
        }
    }
    out
}

fn is_worked_start(t: &str) -> bool {
    let t = t.trim_start_matches(['*', '_', '-', ' ']);
    t.starts_with("Worked example") || t.starts_with("<summary>")
}

/// Where a note's worked examples are, line by line: the checker ([`check`]) and the mutation
/// sampler ([`worked_numbers`]) read the notes with this one state machine.
#[derive(Default)]
pub(super) struct WorkedTracker {
    fence: bool,
    worked: bool,
    after_blank: bool,
    in_details: bool,
}

impl WorkedTracker {
    /// Feed one line (leading space trimmed): `None` for a line that holds no prose (a fence,
    /// code, a blank line), else whether it belongs to a worked example.
    pub(super) fn line(&mut self, t: &str) -> Option<bool> {
        if t.starts_with("```") {
            self.fence = !self.fence;
            self.worked = false;
            return None;
        }
        if self.fence {
            return None;
        }
        if t.starts_with('#') {
            self.worked = false;
        }
        if t.is_empty() {
            self.after_blank = true;
            return None;
        }
        if self.after_blank {
            // A new paragraph: a worked example goes on in run-in labelled paragraphs
            // (`*Forward.*`) and lists.
            let cont = (t.starts_with('*') && !t.starts_with("**")) || t.starts_with("- ");
            self.worked = self.worked && cont;
            self.after_blank = false;
        }
        if t.starts_with("<details") {
            self.in_details = true;
        }
        if t.starts_with("</details>") {
            self.in_details = false;
        }
        if is_worked_start(t) || self.in_details {
            self.worked = true;
        }
        Some(self.worked)
    }
}
