//! The text of a derivation: shapes, pads and rewrite steps as `derive` prints them, and the
//! table of shapes after each operator of a final chain, labelled with the layer's named
//! extents (`S`, `S_p`, `K_d`, `P`, …; notes 06, 09, 13).

use crate::conv::Geometry;
use crate::error::Result;
use crate::expr::adjoint::Step;
use crate::expr::print::{render, Style};
use crate::expr::shape::boundaries;
use crate::expr::{Env, Expr, Kind};
use crate::spec::{ConvKind, Period};
use std::fmt::Write;

pub(super) fn shape_text(s: &[usize]) -> String {
    format!(
        "[{}]",
        s.iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

pub(super) fn pads_text(p: &[(usize, usize)]) -> String {
    format!(
        "[{}]",
        p.iter()
            .map(|(a, b)| format!("{a}:{b}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

pub(super) fn steps_text(out: &mut String, steps: &[Step], style: Style) {
    for (i, s) in steps.iter().enumerate() {
        let _ = writeln!(out, "  {:>2}. [{} {}]", i + 1, s.rule.note, s.rule.name);
        let _ = writeln!(out, "      = {}", render(&s.after, style));
    }
}

/// The named extents of a layer (notes 06, 09, 13), for labelling the shapes of its chains.
/// Signal-side names (tensors shaped like `x` or `y`) first, then kernel-side ones (shaped like
/// `w`); the flag says which side.
pub(super) fn extent_names(g: &Geometry) -> Vec<(bool, &'static str, Vec<usize>)> {
    let per = Period::of(g);
    let mut v = vec![
        (true, "K", g.kernel.clone()),
        (true, "K_d", per.kd.clone()),
        (true, "P", per.p.clone()),
        (false, "S", g.input.clone()),
    ];
    match g.kind {
        ConvKind::Conv => {
            v.push((false, "S_p", per.inner.clone()));
            v.push((false, "P", per.p.clone()));
            v.push((false, "O", g.output.clone()));
            if g.stride.iter().any(|&s| s != 1) {
                let strided = (0..g.rank())
                    .map(|a| (g.output[a] - 1) * g.stride[a] + 1)
                    .collect();
                v.push((false, "(O-1)s+1", strided));
            }
        }
        ConvKind::ConvTranspose => {
            v.push((false, "L_u", per.inner.clone()));
            v.push((false, "P", per.p.clone()));
            v.push((false, "S_out", g.output.clone()));
        }
    }
    v
}

/// The `extents` lines: `S_p`, `K_d`, `P` (and for a transpose `L_u` and where
/// `output_padding` enters), per axis.
pub(super) fn extents_text(out: &mut String, g: &Geometry) {
    let per = Period::of(g);
    let t = shape_text;
    match g.kind {
        ConvKind::Conv => {
            let _ = writeln!(
                out,
                "extents   S_p = S + lo + hi = {}, K_d = d(K-1)+1 = {}, period P = fast length ≥ S_p = {}",
                t(&per.inner),
                t(&per.kd),
                t(&per.p)
            );
            if g.stride.iter().any(|&s| s != 1) {
                let tail = if per.tail.iter().any(|&r| r > 0) {
                    format!(
                        "; the crop also drops the (S_p - K_d) mod s = {} entries the stride never reads",
                        t(&per.tail)
                    )
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "          stride: O = (S_p - K_d) div s + 1 = {}, subsample reads (O-1)s+1 entries{tail}",
                    t(&g.output),
                );
            }
        }
        ConvKind::ConvTranspose => {
            let full: Vec<usize> = (0..g.rank())
                .map(|a| per.inner[a] + per.kd[a] - 1 + g.output_padding[a])
                .collect();
            let _ = writeln!(
                out,
                "extents   L_u = (S-1)s+1 = {}, K_d = d(K-1)+1 = {}, output_padding = {}",
                t(&per.inner),
                t(&per.kd),
                t(&g.output_padding)
            );
            let lo_out: Vec<usize> = (0..g.rank()).map(|a| g.pads[a].0 + g.output[a]).collect();
            let _ = writeln!(
                out,
                "          S_out = L_u + K_d - 1 + output_padding - lo - hi = {}",
                t(&g.output)
            );
            let _ = writeln!(
                out,
                "          period P = fast length ≥ max(L_u + K_d - 1 + output_padding = {}, lo + S_out = {}) = {}",
                t(&full),
                t(&lo_out),
                t(&per.p)
            );
        }
    }
}

/// The shape after each operator of `e` (applied right to left, from `input` of shape `dom`),
/// labelled with the layer's named extents: kernel-side names (`K`, `K_d`, `P`) while the
/// tensor is shaped like the weights (`kernel_side`, switched by `circ_signal`/`corr_signal`),
/// signal-side names otherwise.
#[allow(clippy::too_many_arguments)]
pub(super) fn shapes_table(
    out: &mut String,
    title: &str,
    input: &str,
    e: &Expr,
    dom: &[usize],
    cod: &[usize],
    env: &Env,
    names: &[(bool, &'static str, Vec<usize>)],
    mut kernel_side: bool,
    style: Style,
) -> Result<()> {
    let f = e.factors();
    let s = boundaries(&f, dom, cod, env, "shapes")?;
    let label = |shape: &[usize], kernel: bool| -> String {
        let rank = names.first().map_or(0, |n| n.2.len());
        if shape.len() != rank + 2 {
            return String::new();
        }
        let sp = &shape[2..];
        names
            .iter()
            .filter(|(k, _, v)| *k == kernel && v.as_slice() == sp)
            .map(|(_, n, _)| *n)
            .collect::<Vec<_>>()
            .join(" = ")
    };
    let mut rows: Vec<(String, &Vec<usize>, String)> = vec![(
        input.to_string(),
        &s[f.len()],
        label(&s[f.len()], kernel_side),
    )];
    for i in (0..f.len()).rev() {
        if matches!(&f[i].kind, Kind::Prim(p) if ["circ_signal", "corr_signal"].contains(&p.name()))
        {
            kernel_side = !kernel_side;
        }
        rows.push((render(&f[i], style), &s[i], label(&s[i], kernel_side)));
    }
    let width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let swidth = rows
        .iter()
        .map(|r| shape_text(r.1).len())
        .max()
        .unwrap_or(0);
    let _ = writeln!(out, "  {title}");
    for (op, shape, l) in rows {
        let pad = width - op.chars().count();
        let line = format!(
            "    {op}{}  {:<swidth$}  {l}",
            " ".repeat(pad),
            shape_text(shape)
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
    Ok(())
}
