//! One vocabulary, one descriptor per primitive: every entry of the registry
//! (`op::PRIMITIVES`, re-exported as `expr::VOCABULARY`) is wired everywhere — it parses under
//! its name and aliases, prints and re-parses in ASCII and Unicode, type-checks on its example
//! domain, lowers to the operator of the same name, passes the dot test and the dense transpose
//! check, its adjoint rewrite equals the library adjoint, its note exists in `derivations/`, it
//! has a row in `check`'s suite, and the table in `src/op/mod.rs` lists exactly the registry. A
//! new descriptor is checked by all of this without a line here changing.

use fftconv::check::dense::{adjoint_transpose_error, dense_matrix};
use fftconv::check::dot::dot_test;
use fftconv::check::suite;
use fftconv::expr::adjoint::{derive, prim_adjoint};
use fftconv::expr::lower::lower;
use fftconv::expr::parse::parse_expr;
use fftconv::expr::print::{ascii, latex, unicode};
use fftconv::expr::shape::check;
use fftconv::expr::{example_env, primitive_names, Env, Expr, Kind, VOCABULARY};
use fftconv::op::primitive::find;
use fftconv::op::Op;
use std::path::Path;

fn lowered<T: fftconv::Scalar>(e: &Expr, domain: &[usize], env: &Env) -> Op<T> {
    let t = check(e, Some(domain), None, env, "vocabulary").unwrap();
    lower(&t.expr, &t.domain, &t.codomain, env, "vocabulary").unwrap()
}

#[test]
fn every_primitive_parses_prints_adjoints_and_lowers_under_its_own_name() {
    let env = example_env();
    for w in VOCABULARY {
        let e = parse_expr(w.example, "vocabulary").unwrap();
        assert_eq!(ascii(&e), w.example, "{}: printing", w.dsl);
        assert_eq!(
            parse_expr(&unicode(&e), "vocabulary").unwrap(),
            e,
            "{}: Unicode re-parses",
            w.dsl
        );
        let tex_name = format!("\\operatorname{{{}}}", w.dsl.replace('_', "\\_"));
        assert!(latex(&e).starts_with(&tex_name), "{}: LaTeX", w.dsl);
        let Kind::Prim(p) = &e.kind else {
            panic!("{} is not a primitive", w.example)
        };
        assert_eq!(p.name(), w.dsl);
        let (q, rule) = prim_adjoint(p);
        assert_eq!(q.name(), w.adjoint.dsl, "{}: adjoint", w.dsl);
        assert_eq!(rule, w.rule, "{}: rule", w.dsl);
        assert_eq!(
            w.adjoint.adjoint.dsl, w.dsl,
            "{}: the adjoint's adjoint is the primitive again",
            w.dsl
        );
        assert_eq!(
            w.adjoint.rule.note, w.rule.note,
            "{}: both directions cite one note",
            w.dsl
        );
        let op: Op<f64> = lowered(&e, w.domain, &env);
        assert_eq!(op.symbol().name, w.dsl, "{}: the operator's name", w.dsl);
        assert_eq!(
            op.adjoint().symbol().name,
            w.adjoint.dsl,
            "{}: the operator's adjoint's name",
            w.dsl
        );
        for alias in w.aliases {
            let a = parse_expr(&w.example.replacen(w.dsl, alias, 1), "vocabulary").unwrap();
            assert_eq!(a, e, "{}: alias {alias}", w.dsl);
        }
    }
}

#[test]
fn every_primitive_is_a_linear_map_whose_rewritten_adjoint_is_its_adjoint() {
    let env = example_env();
    for w in VOCABULARY {
        let e = parse_expr(w.example, "vocabulary").unwrap();
        let op: Op<f64> = lowered(&e, w.domain, &env);
        let dot = dot_test(op.as_ref(), 4, 7).unwrap().max_err;
        assert!(dot <= 1e-13, "{}: dot test {dot:.1e}", w.dsl);
        let dense = adjoint_transpose_error(op.as_ref()).unwrap();
        assert!(dense <= 1e-12, "{}: dense transpose {dense:.1e}", w.dsl);
        let op32: Op<f32> = lowered(&e, w.domain, &env);
        let dot32 = dot_test(op32.as_ref(), 4, 7).unwrap().max_err;
        assert!(dot32 <= 1e-5, "{}: f32 dot test {dot32:.1e}", w.dsl);
        // The adjoint the rewrite derives from the resolved primitive, lowered on the
        // codomain, is the library adjoint.
        let resolved = check(&e, Some(w.domain), None, &env, "vocabulary").unwrap();
        let (rewritten, steps) = derive(&resolved.expr);
        assert!(
            steps.iter().any(|s| s.rule == w.rule),
            "{}: the derivation cites its rule",
            w.dsl
        );
        let adj: Op<f64> = lowered(&rewritten, op.codomain(), &env);
        let want = dense_matrix(op.adjoint().as_ref()).unwrap();
        let got = dense_matrix(adj.as_ref()).unwrap();
        assert!(
            (got - want).amax() <= 1e-12,
            "{}: rewritten adjoint differs from the library adjoint",
            w.dsl
        );
    }
}

#[test]
fn every_primitive_cites_a_note_that_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("derivations");
    let mut notes = String::new();
    for entry in std::fs::read_dir(&root).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "md") {
            notes += &std::fs::read_to_string(p).unwrap();
        }
    }
    for w in VOCABULARY {
        for rule in [Some(w.rule), w.grouped_rule].into_iter().flatten() {
            assert!(
                notes.contains(rule.note),
                "{}: note {} is in no derivations/*.md",
                w.dsl,
                rule.note
            );
        }
    }
}

#[test]
fn every_primitive_has_a_row_in_the_check_suite() {
    let mut covered = suite::covered_names().unwrap();
    for case in suite::registry_cases::<f64>(&covered).unwrap() {
        covered.push(case.op.symbol().name);
    }
    for w in VOCABULARY {
        assert!(
            covered.iter().any(|n| n == w.dsl),
            "{}: no row of check's suite runs this operator",
            w.dsl
        );
    }
}

#[test]
fn a_primitive_without_a_hand_written_case_gets_a_passing_row_from_its_descriptor() {
    // As if no hand-written case existed: every registered primitive gets its example's row.
    let cases = suite::registry_cases::<f32>(&[]).unwrap();
    assert_eq!(cases.len(), VOCABULARY.len());
    for (case, w) in cases.iter().zip(VOCABULARY) {
        assert_eq!(case.name, w.dsl);
        let row = suite::check_case(case, 5).unwrap();
        assert!(row.pass, "{row:?}");
        assert!(row.dot_err.is_some() && row.dense_err.is_some() && row.fd_err.is_some());
    }
}

#[test]
fn the_vocabulary_is_exactly_the_parsers_names() {
    for name in primitive_names() {
        if name != "adjoint" {
            assert_eq!(find(name).map(|p| p.dsl), Some(name));
        }
    }
    let err = parse_expr("reverse[1]", "vocabulary")
        .unwrap_err()
        .to_string();
    for w in VOCABULARY {
        assert!(
            err.contains(w.dsl),
            "the unknown-name error lists {}",
            w.dsl
        );
    }
    let mut names: Vec<&str> = VOCABULARY.iter().map(|w| w.dsl).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(
        names.len(),
        VOCABULARY.len(),
        "a DSL name is registered twice"
    );
}

#[test]
fn the_table_in_op_mod_lists_exactly_the_registry() {
    let src = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/op/mod.rs"))
        .unwrap();
    let rows: Vec<Vec<String>> = src
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("/// | `"))
        .map(|l| {
            l.split('|')
                .map(|c| c.trim().trim_matches('`').to_string())
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), VOCABULARY.len(), "one table row per primitive");
    for (row, w) in rows.iter().zip(VOCABULARY) {
        let name: String = row[0]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        assert_eq!(name, w.dsl);
        assert_eq!(row[1], w.op, "{}: operator", w.dsl);
        assert_eq!(row[2], w.adjoint.dsl, "{}: adjoint", w.dsl);
        assert_eq!(row[3], w.rule.note, "{}: note", w.dsl);
    }
}
