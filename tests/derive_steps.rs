//! Every printed derivation step is a program (issue 13, item 2): for every step of every
//! gradient derivation — of the layers in the reviewed snapshots and of ≥ 300 seeded random
//! layers (stride, dilation, groups, every padding mode, asymmetric pads, transposes with output
//! padding, 1-3 axes) — the step printed in ASCII (and in Unicode) re-parses to the same
//! expression, type-checks **on its own domain shape alone** (the shape of `dy`; no codomain
//! is given, so no extent can hide in it) to the shape of the variable, and its operator equals
//! the previous step's (dense matrices when small, random probes when large). The first
//! "step" is `A*` itself, lowered as the library's adjoint of the view, so the chain of equalities
//! runs from the library adjoint of the forward chain to the printed gradient.
//!
//! A rewrite table with a planted wrong rule makes the same check fail.

use fftconv::derive::{numeric, LayerDerivation};
use fftconv::expr::adjoint::{self, prim_adjoint, Step};
use fftconv::expr::claim::{parse_statement, Statement, Var};
use fftconv::expr::layer::Layer;
use fftconv::expr::lower::lower;
use fftconv::expr::parse::parse_expr;
use fftconv::expr::print::{ascii, unicode};
use fftconv::expr::rules::Rule;
use fftconv::expr::shape::check;
use fftconv::expr::{Expr, Prim};
use fftconv::op::{Op, Params};

/// The layers of `tests/derive_snapshots.rs` (keep in step with it).
pub const SNAPSHOT_LAYERS: &[&str] = &[
    "conv1d(x: [2, 3, 16], w: [4, 3, 5], padding=1, bias)",
    "conv2d(x: [2, 3, 8, 8], w: [4, 3, 3, 3], stride=2, padding=1)",
    "conv1d(x: [1, 2, 12], w: [3, 2, 3], dilation=2, padding=2)",
    "conv2d(x: [1, 4, 6, 6], w: [6, 2, 3, 3], groups=2, stride=2, dilation=2, padding=2)",
    "conv1d(x: [1, 2, 9], w: [2, 2, 3], padding=[[2, 1]], mode=reflect)",
    "conv_transpose2d(x: [1, 4, 3, 3], w: [4, 2, 3, 3], stride=2, padding=1, output_padding=1, groups=2, bias)",
    "conv2d(x: [1, 3, 7, 7], w: [3, 1, 3, 3], groups=3, padding=1)",
    "conv1d(x: [2, 2, 7], w: [3, 2, 3], padding=[[2, 1]], mode=circular)",
    "conv1d(x: [1, 2, 8], w: [2, 2, 4], padding=[[1, 2]], mode=replicate, stride=3)",
    "conv2d(x: [1, 2, 7, 6], w: [3, 2, 3, 2], padding=[[2, 0], [0, 3]], stride=[2, 1])",
    "conv1d(x: [1, 2, 10], w: [2, 2, 3], padding=same, stride=2)",
    "conv3d(x: [1, 2, 5, 4, 5], w: [2, 1, 2, 3, 2], stride=2, padding=1, groups=2)",
    "conv_transpose1d(x: [2, 3, 5], w: [3, 2, 3], stride=3, padding=[[2, 1]], output_padding=2, bias)",
];

/// What a derivation check found.
#[derive(Default, Debug)]
pub struct Tally {
    /// Steps checked (including the `A*` start of each derivation).
    pub steps: usize,
    /// Of which compared densely.
    pub dense: usize,
    /// Problems: re-parse, type or matrix failures.
    pub failures: Vec<String>,
}

fn layer(src: &str) -> Layer {
    match parse_statement(src, "layer").unwrap() {
        Some(Statement::Layer(l)) => l,
        other => panic!("{src} did not parse as a layer: {other:?}"),
    }
}

/// Operator distances at or below this are equal.
const TOL: f64 = 1e-12;

/// Check one derivation: the view's adjoint, then every step.
fn check_steps(
    src: &str,
    ld: &LayerDerivation,
    var: Var,
    view: &Expr,
    steps: &[Step],
    t: &mut Tally,
) {
    let y = ld.geometry().y_shape();
    let (_, dom) = ld.view(var);
    let first = view.clone().adjoint();
    let seq = std::iter::once(("A*".to_string(), first))
        .chain(
            steps
                .iter()
                .enumerate()
                .map(|(i, s)| (format!("step {} [{}]", i + 1, s.rule.note), s.after.clone())),
        )
        .collect::<Vec<_>>();
    let mut prev: Option<Op<f64>> = None;
    for (what, e) in seq {
        t.steps += 1;
        let fail = |t: &mut Tally, msg: String| {
            t.failures
                .push(format!("{src} ∂{}: {what}: {msg}", var.name()));
        };
        let text = ascii(&e);
        let parsed = match parse_expr(&text, "step") {
            Ok(p) => p,
            Err(err) => {
                fail(t, format!("`{text}` does not re-parse: {err}"));
                continue;
            }
        };
        if parsed != e {
            fail(t, format!("`{text}` re-parses to another expression"));
        }
        match parse_expr(&unicode(&e), "step") {
            Ok(u) if u == e => {}
            _ => fail(t, format!("`{}` (Unicode) does not re-parse", unicode(&e))),
        }
        let typed = match check(&parsed, Some(&y), None, &ld.env, "step") {
            Ok(ty) => ty,
            Err(err) => {
                fail(t, format!("`{text}` is ill-typed on {y:?}: {err}"));
                prev = None;
                continue;
            }
        };
        if typed.codomain != dom {
            fail(
                t,
                format!(
                    "`{text}` maps {y:?} to {:?}, not to {dom:?}",
                    typed.codomain
                ),
            );
            prev = None;
            continue;
        }
        let op: Op<f64> = match lower(&typed.expr, &typed.domain, &typed.codomain, &ld.env, "step")
        {
            Ok(op) => op,
            Err(err) => {
                fail(t, format!("`{text}` does not lower: {err}"));
                prev = None;
                continue;
            }
        };
        if let Some(p) = &prev {
            let n: usize = dom.iter().product::<usize>() * y.iter().product::<usize>();
            if n <= numeric::MAX_DENSE {
                t.dense += 1;
            }
            match numeric::operator_distance(op.as_ref(), p.as_ref(), 11) {
                Ok(d) if d <= TOL => {}
                Ok(d) => fail(
                    t,
                    format!("`{text}` differs from the previous step by {d:e}"),
                ),
                Err(err) => fail(t, format!("`{text}`: {err}")),
            }
        }
        prev = Some(op);
    }
}

/// Check every derivation of the layer `src` with the rewrite table `table`.
fn check_layer(src: &str, table: &adjoint::PrimAdjoint, t: &mut Tally) {
    let l = layer(src);
    let ld = LayerDerivation::new(&l, 17).unwrap();
    let mut vars = vec![Var::X, Var::W];
    if l.bias {
        vars.push(Var::B);
    }
    for var in vars {
        let (view, _) = ld.view(var);
        let (_, steps) = adjoint::derive_with(&view, table);
        check_steps(src, &ld, var, &view, &steps, t);
    }
}

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
}

fn list(v: &[usize]) -> String {
    format!(
        "[{}]",
        v.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A random layer macro (not necessarily a valid layer).
fn random_layer(r: &mut Rng) -> String {
    let d = r.range(1, 3);
    let transpose = r.range(0, 2) == 0;
    let small = if d == 3 { 2 } else { 3 };
    let g = [1, 1, 2, 3][r.range(0, 3)];
    let n = r.range(1, 2);
    let (cin, cout) = (g * r.range(1, 2), g * r.range(1, 2));
    let k: Vec<usize> = (0..d).map(|_| r.range(1, small)).collect();
    let stride: Vec<usize> = (0..d).map(|_| r.range(1, 3)).collect();
    let dil: Vec<usize> = (0..d).map(|_| r.range(1, 2)).collect();
    let pads: Vec<(usize, usize)> = (0..d).map(|_| (r.range(0, 2), r.range(0, 2))).collect();
    let s: Vec<usize> = (0..d)
        .map(|a| {
            let kd = dil[a] * (k[a] - 1) + 1;
            if transpose {
                r.range(1, small + 1)
            } else {
                kd.max(3) + r.range(0, if d == 3 { 2 } else { 5 })
            }
        })
        .collect();
    let x = [vec![n, cin], s].concat();
    let w = if transpose {
        [vec![cin, cout / g], k.clone()].concat()
    } else {
        [vec![cout, cin / g], k.clone()].concat()
    };
    let name = if transpose {
        format!("conv_transpose{d}d")
    } else {
        format!("conv{d}d")
    };
    let mut t = format!("{name}(x: {}, w: {}", list(&x), list(&w));
    t += &format!(", stride={}", list(&stride));
    t += &format!(", dilation={}", list(&dil));
    if g != 1 {
        t += &format!(", groups={g}");
    }
    let pad_text = || {
        let v: Vec<String> = pads.iter().map(|(l, h)| format!("[{l}, {h}]")).collect();
        format!(", padding=[{}]", v.join(", "))
    };
    if transpose {
        t += &pad_text();
        let op: Vec<usize> = (0..d)
            .map(|a| r.range(0, stride[a].max(dil[a]) - 1))
            .collect();
        t += &format!(", output_padding={}", list(&op));
    } else {
        match r.range(0, 5) {
            0 => t += ", padding=same",
            1 => t += ", padding=valid",
            _ => t += &pad_text(),
        }
        t += [
            ", mode=zeros",
            ", mode=circular",
            ", mode=reflect",
            ", mode=replicate",
        ][r.range(0, 3)];
    }
    if r.range(0, 2) == 0 {
        t += ", bias";
    }
    t + ")"
}

/// ≥ 300 valid random layers, seeded.
fn random_layers(count: usize) -> Vec<String> {
    let mut r = Rng(0x13_2026);
    let mut out = Vec::new();
    while out.len() < count {
        let src = random_layer(&mut r);
        if let Ok(Some(Statement::Layer(l))) = parse_statement(&src, "random") {
            if l.geometry().is_ok() {
                out.push(src);
            }
        }
    }
    out
}

#[test]
fn every_step_of_every_snapshot_derivation_is_a_typed_program_equal_to_the_last() {
    let mut t = Tally::default();
    for src in SNAPSHOT_LAYERS {
        check_layer(src, &prim_adjoint, &mut t);
    }
    assert!(t.failures.is_empty(), "{}", t.failures.join("\n"));
    assert!(t.steps > 100, "only {} steps", t.steps);
    eprintln!(
        "snapshot layers: {} layers, {} steps ({} dense), 0 failures",
        SNAPSHOT_LAYERS.len(),
        t.steps,
        t.dense
    );
}

#[test]
fn every_step_of_300_random_derivations_is_a_typed_program_equal_to_the_last() {
    let layers = random_layers(300);
    let mut kinds = [0usize; 6]; // transposes, 1/2/3 axes, groups, output paddings
    let mut t = Tally::default();
    for src in &layers {
        let l = layer(src);
        kinds[0] += src.starts_with("conv_transpose") as usize;
        kinds[l.dims] += 1;
        kinds[4] += (l.spec.groups != 1) as usize;
        kinds[5] += l.spec.output_padding.iter().any(|&v| v > 0) as usize;
        check_layer(src, &prim_adjoint, &mut t);
    }
    assert!(t.failures.is_empty(), "{}", t.failures.join("\n"));
    // The sample covers what it claims.
    assert!(kinds[0] >= 50 && kinds[1] >= 50 && kinds[2] >= 50 && kinds[3] >= 50);
    assert!(kinds[4] >= 50 && kinds[5] >= 10, "{kinds:?}");
    for mode in ["circular", "reflect", "replicate", "padding=same"] {
        assert!(
            layers.iter().filter(|l| l.contains(mode)).count() >= 10,
            "{mode}"
        );
    }
    eprintln!(
        "random layers: {} layers ({} transposes, {}/{}/{} with 1/2/3 axes, {} grouped), {} steps ({} dense), 0 failures",
        layers.len(),
        kinds[0],
        kinds[1],
        kinds[2],
        kinds[3],
        kinds[4],
        t.steps,
        t.dense
    );
}

/// A planted wrong rule: the adjoint of a circular convolution taken to be itself.
fn circ_self_adjoint(p: &Prim) -> (Prim, Rule) {
    match p.name() {
        "circ" => (p.clone(), p.desc.rule),
        _ => prim_adjoint(p),
    }
}

/// A planted wrong rule: PAD-1 with the two sides of the padding swapped (right for symmetric
/// pads only).
fn zero_pad_sides_swapped(p: &Prim) -> (Prim, Rule) {
    match (p.name(), p.pads()) {
        ("crop", Some(x)) => (
            Prim::new(
                &fftconv::op::ZERO_PAD,
                Params::Pads(x.iter().map(|&(l, h)| (h, l)).collect()),
            ),
            p.desc.rule,
        ),
        _ => prim_adjoint(p),
    }
}

#[test]
fn a_planted_wrong_rule_is_caught_by_the_step_check() {
    for (name, table, flagged_as) in [
        (
            "circ' = circ",
            &circ_self_adjoint as &adjoint::PrimAdjoint,
            "differs from the previous step",
        ),
        (
            "crop[a:b]' = zero_pad[b:a]",
            &zero_pad_sides_swapped,
            "differs from the previous step",
        ),
    ] {
        let mut t = Tally::default();
        for src in SNAPSHOT_LAYERS {
            check_layer(src, table, &mut t);
        }
        assert!(
            !t.failures.is_empty(),
            "the planted rule {name} went unnoticed over {} steps",
            t.steps
        );
        // Caught by the matrices, not only by the shapes.
        assert!(
            t.failures.iter().any(|f| f.contains(flagged_as)),
            "{name}: {}",
            t.failures.join("\n")
        );
        eprintln!(
            "planted {name}: {} of {} steps flagged, e.g. {}",
            t.failures.len(),
            t.steps,
            t.failures[0]
        );
    }
}

#[test]
fn the_old_stride_derivation_with_its_hidden_end_padding_is_ill_typed() {
    // What `derive` printed before issue 13 for conv2d(x: [2, 3, 8, 8], w: [4, 3, 3, 3],
    // stride=2, padding=1): the chain reaches [9, 9], the period is [10, 10].
    let l = layer(SNAPSHOT_LAYERS[1]);
    let ld = LayerDerivation::new(&l, 17).unwrap();
    let y = ld.geometry().y_shape();
    let old = parse_expr(
        "crop[1:1, 1:1] @ corr(h) @ zero_pad[2:0, 2:0] @ zero_insert[2, 2]",
        "old",
    )
    .unwrap();
    let err = check(&old, Some(&y), None, &ld.env, "old").unwrap_err();
    assert!(err.to_string().contains("period"), "{err}");
    let new = parse_expr(
        "crop[1:1, 1:1] @ corr(h) @ zero_pad[2:1, 2:1] @ zero_insert[2, 2]",
        "new",
    )
    .unwrap();
    let t = check(&new, Some(&y), None, &ld.env, "new").unwrap();
    assert_eq!(t.codomain, ld.geometry().x_shape());
    assert_eq!(ascii(&ld.gradient(Var::X).unwrap().result), ascii(&new));
}
