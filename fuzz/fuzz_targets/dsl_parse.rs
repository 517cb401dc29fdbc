//! Fuzz the DSL: any UTF-8 text through the statement parser, the expression parser and the
//! whole symbolic `derive` pipeline (shape checking, adjoint rules, simplification, printing)
//! must give a result or a one-line error, never a panic. The memory limit is lowered so that
//! a text declaring large tensors is refused instead of filling the fuzzer's memory.
#![no_main]
use fftconv::derive::{derive_report, Options};
use fftconv::expr::claim::parse_statement;
use fftconv::expr::parse::parse_expr;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    fftconv::limits::set_max_memory(16 << 20);
    for line in text.split([';', '\n']) {
        if let Err(e) = parse_statement(line, "fuzz") {
            assert!(!e.to_string().contains('\n'), "not one line: {e}");
        }
    }
    if let Err(e) = parse_expr(text, "fuzz") {
        assert!(!e.to_string().contains('\n'), "not one line: {e}");
    }
    if let Err(e) = derive_report(text, &Options::default()) {
        assert!(!e.to_string().contains('\n'), "not one line: {e}");
    }
});
