//! One vocabulary: every row of `expr::VOCABULARY` (DSL name ↔ `src/op` operator ↔ adjoint ↔
//! note) agrees with the parser, the printer, the adjoint rewrite and the lowering, and the
//! table covers exactly the names the parser knows.

use fftconv::expr::adjoint::prim_adjoint;
use fftconv::expr::lower::lower;
use fftconv::expr::parse::parse_expr;
use fftconv::expr::print::ascii;
use fftconv::expr::shape::check;
use fftconv::expr::{Env, Kind, PRIMITIVE_NAMES, VOCABULARY};
use fftconv::op::Op;

#[test]
fn every_word_parses_prints_adjoints_and_lowers_under_its_own_name() {
    let mut env = Env::new();
    env.declare("h", &[2, 3, 6]).unwrap();
    env.declare("x", &[1, 3, 6]).unwrap();
    env.declare("A", &[2, 3]).unwrap();
    for w in VOCABULARY {
        let e = parse_expr(w.example, "vocabulary").unwrap();
        assert_eq!(ascii(&e), w.example, "{}: printing", w.dsl);
        let Kind::Prim(p) = &e.kind else {
            panic!("{} is not a primitive", w.example)
        };
        assert_eq!(p.name(), w.dsl);
        let (q, rule) = prim_adjoint(p);
        assert_eq!(q.name(), w.adjoint, "{}: adjoint", w.dsl);
        assert_eq!(rule.note, w.note, "{}: note", w.dsl);
        let t = check(&e, Some(w.domain), None, &env, "vocabulary").unwrap();
        let op: Op<f64> = lower(&t.expr, &t.domain, &t.codomain, &env, "vocabulary").unwrap();
        assert_eq!(op.symbol().name, w.dsl, "{}: the operator's name", w.dsl);
        assert_eq!(
            op.adjoint().symbol().name,
            w.adjoint,
            "{}: the operator's adjoint's name",
            w.dsl
        );
    }
}

#[test]
fn the_vocabulary_is_exactly_the_parsers_names() {
    let mut words: Vec<&str> = VOCABULARY.iter().map(|w| w.dsl).collect();
    words.push("adjoint");
    let mut names = PRIMITIVE_NAMES.to_vec();
    words.sort_unstable();
    names.sort_unstable();
    assert_eq!(words, names);
}
