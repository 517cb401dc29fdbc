//! The DSL's text side: column-precise parse and shape errors, Unicode = ASCII spellings, and
//! print → parse round trips (property test).

use fftconv::expr::claim::parse_statement;
use fftconv::expr::parse::parse_expr;
use fftconv::expr::print::{ascii, unicode};
use fftconv::expr::shape::check;
use fftconv::expr::{Env, Expr, Kind, Operand, Prim, Term, VOCABULARY};
use fftconv::op::primitive::{Params, Primitive, Syntax};
use fftconv::Error;
use proptest::prelude::*;
use proptest::strategy::Union;

fn column_of(err: Error) -> (usize, String) {
    match err {
        Error::Parse {
            column, message, ..
        } => (column, message),
        other => panic!("expected a parse error, got {other}"),
    }
}

#[test]
fn parse_errors_point_at_the_column_and_say_what_was_expected() {
    let cases: &[(&str, usize, &str)] = &[
        ("crop[1:2 @ id", 10, "`]`"),
        ("crop[1:2] @", 12, "an operator"),
        ("zero_padd[1:1]", 1, "unknown operator"),
        ("circ(w", 7, "`)`"),
        ("flip[x]", 6, "number of trailing axes"),
        ("2.5 crop[1:1]", 5, "`*`"),
        ("crop[1:1] $ id", 11, "unexpected character"),
        ("circ(w, grops=2)", 9, "`groups=`"),
    ];
    for &(src, col, expected) in cases {
        let (c, msg) = column_of(parse_expr(src, "t").unwrap_err());
        assert_eq!(c, col, "column for {src:?}: {msg}");
        assert!(
            msg.contains(expected),
            "message for {src:?} should mention {expected}: {msg}"
        );
    }
}

#[test]
fn statement_errors_point_at_the_column() {
    let (c, msg) = column_of(parse_statement("dot zero_pad[1:1] on [2, x]", "n").unwrap_err());
    assert_eq!(c, 26, "{msg}");
    let (c, msg) = column_of(parse_statement("zero_pad[1:1] == crop[1:1]", "n").unwrap_err());
    assert_eq!(c, 27, "{msg}");
    assert!(msg.contains("on [shape]"), "{msg}");
    let (c, msg) = column_of(
        parse_statement(
            "check conv2d(x: [2, 3, 8, 8], w: [4, 3, 3, 3], strid=2)",
            "n",
        )
        .unwrap_err(),
    );
    assert_eq!(c, 48, "{msg}");
    let (c, msg) = column_of(
        parse_statement("check conv2d(x: [2, 3, 8, 8], w: [4, 5, 3, 3])", "n").unwrap_err(),
    );
    assert_eq!(c, 7, "{msg}");
}

#[test]
fn shapes_that_do_not_compose_name_the_column() {
    let env = Env::new();
    let e = parse_expr("crop[1:1] @ zero_pad[1:1] @ crop[3:3]", "t").unwrap();
    let (c, msg) = column_of(check(&e, Some(&[1, 1, 5]), None, &env, "t").unwrap_err());
    assert_eq!(c, 29, "{msg}");
    assert!(msg.contains("removes 6 entries"), "{msg}");
    let mut env = Env::new();
    env.declare("w", &[4, 3, 8]).unwrap();
    let e = parse_expr("crop[1:1] @ circ(w) @ zero_pad[1:1]", "t").unwrap();
    let (c, msg) = column_of(check(&e, Some(&[2, 3, 5]), None, &env, "t").unwrap_err());
    assert_eq!(c, 13, "{msg}");
    assert!(msg.contains("period"), "{msg}");
}

#[test]
fn unicode_and_ascii_spellings_are_the_same_expression() {
    let pairs = [
        (
            "crop[1:1] ∘ circ(w)ᵀ ∘ zero_pad[1:1]",
            "crop[1:1] @ circ(w)' @ zero_pad[1:1]",
        ),
        ("2·flip[1] + id", "2 * flip[1] + id"),
        ("adjoint(zero_pad[1:2])", "zero_pad[1:2]'"),
        ("pad_zeros[1:1]", "zero_pad[1:1]"),
        ("zero_pad[2]", "zero_pad[2:2]"),
    ];
    for (u, a) in pairs {
        assert_eq!(
            parse_expr(u, "u").unwrap(),
            parse_expr(a, "a").unwrap(),
            "{u} vs {a}"
        );
    }
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("w".to_string()),
        Just("h2".to_string()),
        Just("x_p".to_string())
    ]
}

fn pads() -> impl Strategy<Value = Vec<(usize, usize)>> {
    prop::collection::vec((0usize..4, 0usize..4), 1..3)
}

fn list() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..4, 1..3)
}

fn operand() -> BoxedStrategy<Operand> {
    (name(), prop::option::of(1usize..4))
        .prop_map(|(n, g)| Operand {
            tensor: Term::Name(n),
            groups: g,
        })
        .boxed()
}

/// A primitive of the registry with random parameters of its syntax (so a new descriptor is
/// generated here without a line of this test changing).
fn with_params(desc: &'static Primitive) -> BoxedStrategy<Prim> {
    match desc.syntax {
        Syntax::Bare => Just(Prim::new(desc, Params::None)).boxed(),
        Syntax::Pads => pads()
            .prop_map(move |p| Prim::new(desc, Params::Pads(p)))
            .boxed(),
        Syntax::Count { .. } => (1usize..4)
            .prop_map(move |k| Prim::new(desc, Params::Count(k)))
            .boxed(),
        Syntax::List { .. } => list()
            .prop_map(move |v| Prim::new(desc, Params::List(v)))
            .boxed(),
        Syntax::OptionalShape => prop::option::of(prop::collection::vec(1usize..5, 2..4))
            .prop_map(move |s| Prim::new(desc, Params::Shape(s)))
            .boxed(),
        Syntax::Operand => operand()
            .prop_map(move |o| Prim::with_operand(desc, o))
            .boxed(),
    }
}

fn leaf() -> impl Strategy<Value = Expr> {
    let mut every: Vec<BoxedStrategy<Prim>> = VOCABULARY.iter().map(|&d| with_params(d)).collect();
    every.push(
        (pads(), name())
            .prop_map(|(p, n)| {
                Prim::with_operand(
                    &fftconv::op::CIRC,
                    Operand {
                        tensor: Term::Apply(
                            Box::new(Expr::prim(Prim::new(
                                &fftconv::op::ZERO_PAD,
                                Params::Pads(p),
                            ))),
                            Box::new(Term::Name(n)),
                        ),
                        groups: None,
                    },
                )
            })
            .boxed(),
    );
    Union::new(every).prop_map(Expr::prim)
}

fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| Expr::new(Kind::Compose(v))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| Expr::new(Kind::Sum(v))),
            (
                prop_oneof![Just(2.5), Just(-1.0), Just(0.125), Just(3.0)],
                inner.clone()
            )
                .prop_map(|(a, e)| Expr::new(Kind::Scale(a, Box::new(e)))),
            inner.prop_map(|e| e.adjoint()),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn print_then_parse_gives_the_same_expression(e in expr()) {
        let a = ascii(&e);
        let back = parse_expr(&a, "ascii").map_err(|err| TestCaseError::fail(format!("{a}: {err}")))?;
        prop_assert_eq!(&back, &e, "ascii {}", a);
        let u = unicode(&e);
        let back = parse_expr(&u, "unicode").map_err(|err| TestCaseError::fail(format!("{u}: {err}")))?;
        prop_assert_eq!(&back, &e, "unicode {}", u);
    }
}
