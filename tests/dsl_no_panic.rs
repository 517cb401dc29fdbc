//! The DSL never panics: random token soups and mutated valid texts (≥ 10⁴ of each kind) through
//! the statement parser, the expression parser and the whole symbolic `derive` pipeline end in
//! a result or a one-line error. This file lowers the process-wide memory limit (its own test
//! binary, so no other test sees it) so that texts declaring large tensors are refused quickly.

use fftconv::derive::{derive_report, Options};
use fftconv::expr::claim::parse_statement;
use fftconv::expr::parse::parse_expr;
use fftconv::limits::Limits;
use proptest::prelude::*;

const VALID: [&str; 6] = [
    "conv2d(x: [2, 3, 6, 5], w: [4, 3, 3, 2], stride=2, padding=1, dilation=[1, 2])",
    "conv_transpose1d(x: [1, 2, 5], w: [2, 3, 3], stride=2, padding=1, output_padding=1)",
    "conv1d(x: [1, 4, 7], w: [2, 2, 3], groups=2, padding=same, mode=reflect)",
    "let w: [4, 3, 8]; crop[2:0] @ circ(w) @ zero_pad[0:2] on [2, 3, 6]",
    "adjoint(subsample[2] @ dilate[2]) + 2 * flip[1]' on [1, 1, 9]",
    "3 · (crop[1:1] ∘ zero_pad[1:1])ᵀ ∘ pad_reflect[1:2] on [1, 2, 5]",
];

const PIECES: [&str; 40] = [
    "conv1d",
    "conv2d",
    "conv_transpose2d",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    ";",
    "\n",
    "@",
    "∘",
    "+",
    "*",
    "·",
    "'",
    "ᵀ",
    "=",
    "x",
    "w",
    "let",
    "on",
    "crop",
    "zero_pad",
    "circ",
    "adjoint",
    "groups",
    "stride",
    "0",
    "1",
    "-1",
    "3",
    "18446744073709551616",
    "1e9",
    "é",
    " ",
    "#",
    "same",
    "sum_nc",
];

/// One-line errors, or success; never a panic (a panic fails the property by itself).
fn run_all(text: &str) -> Result<(), TestCaseError> {
    SMALL.scope(|| run_all_limited(text))
}

/// A small memory limit, for this thread only: absurd sizes are refused before they are tried.
const SMALL: Limits = Limits::new(8 << 20);

/// [`run_all`] under [`SMALL`].
fn run_all_limited(text: &str) -> Result<(), TestCaseError> {
    for line in text.split([';', '\n']) {
        if let Err(e) = parse_statement(line, "prop") {
            prop_assert!(!e.to_string().contains('\n'), "not one line: {e}");
        }
    }
    if let Err(e) = parse_expr(text, "prop") {
        prop_assert!(!e.to_string().contains('\n'), "not one line: {e}");
    }
    if let Err(e) = derive_report(text, &Options::default()) {
        prop_assert!(!e.to_string().contains('\n'), "not one line: {e}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    /// Valid texts with pieces inserted, replaced or deleted at random places.
    #[test]
    fn mutated_dsl_text_never_panics(
        which in 0..VALID.len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, prop::sample::select(PIECES.to_vec())), 1..5)
    ) {
        let mut text = VALID[which].to_string();
        for (at, kind, piece) in edits {
            let mut i = at.index(text.len() + 1);
            while !text.is_char_boundary(i) { i -= 1; }
            let mut j = (i + 1 + (kind as usize)).min(text.len());
            while !text.is_char_boundary(j) { j += 1; }
            match kind {
                0 => text.insert_str(i, piece),
                1 => text.replace_range(i..j, piece),
                _ => text.replace_range(i..j, ""),
            }
        }
        run_all(&text)?;
    }

    /// The valid texts with every number replaced by a random one (mostly small, some huge):
    /// exercises the shape arithmetic and the derivation itself, not only the parser.
    #[test]
    fn renumbered_dsl_text_never_panics(
        which in 0..VALID.len(),
        numbers in prop::collection::vec(prop_oneof![8 => 0u64..10, 1 => Just(u64::MAX), 1 => Just(1u64 << 40)], 32)
    ) {
        let mut text = String::new();
        let mut numbers = numbers.into_iter();
        let mut in_number = false;
        for c in VALID[which].chars() {
            if c.is_ascii_digit() {
                if !in_number {
                    text.push_str(&numbers.next().unwrap_or(1).to_string());
                }
                in_number = true;
            } else {
                in_number = false;
                text.push(c);
            }
        }
        run_all(&text)?;
    }

    /// Soups of DSL tokens and arbitrary characters.
    #[test]
    fn token_soup_never_panics(
        parts in prop::collection::vec(prop_oneof![prop::sample::select(PIECES.to_vec()).prop_map(String::from), any::<char>().prop_map(String::from)], 0..24)
    ) {
        run_all(&parts.concat())?;
    }
}

#[test]
fn the_valid_texts_derive() {
    for text in VALID {
        if let Err(e) = derive_report(text, &Options::default()) {
            panic!("`{text}` does not derive: {e}");
        }
    }
}

/// Regression (found by `renumbered_dsl_text_never_panics`): the shape checker multiplied
/// `(n - 1) * stride` unchecked when running a chain backwards, an overflow panic.
#[test]
fn huge_strides_in_a_backward_shape_inference_are_refused() {
    for text in [
        "adjoint(subsample[1099511627776] @ dilate[1]) + 1 * flip[1]' on [1, 1, 1099511627776]",
        "subsample[18446744073709551615] @ zero_insert[2] on [1, 1, 9]",
        // Was slow (minutes): an FFT length searched for near 3·2⁴⁰ before the memory guard.
        "conv_transpose1d(x: [9, 6, 1099511627776], w: [6, 2, 5], stride=3, padding=2, output_padding=2)",
        "crop[1:1] @ zero_pad[18446744073709551615:18446744073709551615] on [1, 1, 9]",
        "let w: [4, 3, 8]; crop[2:0] @ circ(w, groups=18446744073709551615) @ zero_pad[0:2] on [2, 3, 6]",
    ] {
        let result = SMALL.scope(|| derive_report(text, &Options::default()));
        if let Err(e) = result {
            assert!(!e.to_string().contains('\n'), "`{text}`: not one line: {e}");
        }
    }
}
