//! Printing expressions in ASCII (re-parses to the same expression), Unicode (`∘`, `ᵀ`, `·`;
//! also re-parses) and LaTeX.

use super::{Expr, Kind, Operand, Prim, Term};
use crate::op::Params;

/// Output style.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// `A @ B`, `adjoint(A)`, `2 * A`.
    Ascii,
    /// `A ∘ B`, `Aᵀ`, `2·A`.
    Unicode,
    /// `A \circ B`, `A^{*}`, `2 \cdot A`.
    Latex,
}

/// ASCII form; `parse_expr(&ascii(e)) == e`.
///
/// ```
/// use fftconv::expr::{parse::parse_expr, print};
/// let e = parse_expr("crop[1:1] ∘ circ(w)ᵀ ∘ zero_pad[1:1]", "e").unwrap();
/// assert_eq!(print::ascii(&e), "crop[1:1] @ adjoint(circ(w)) @ zero_pad[1:1]");
/// assert_eq!(print::unicode(&e), "crop[1:1] ∘ circ(w)ᵀ ∘ zero_pad[1:1]");
/// ```
pub fn ascii(e: &Expr) -> String {
    render(e, Style::Ascii)
}

/// Unicode form.
pub fn unicode(e: &Expr) -> String {
    render(e, Style::Unicode)
}

/// LaTeX form (math mode).
pub fn latex(e: &Expr) -> String {
    render(e, Style::Latex)
}

/// The expression in a style.
pub fn render(e: &Expr, style: Style) -> String {
    go(e, style, 0)
}

/// A tensor term in a style.
pub fn term(t: &Term, style: Style) -> String {
    match t {
        Term::Name(n) => {
            if style == Style::Latex {
                latex_name(n)
            } else {
                n.clone()
            }
        }
        Term::Apply(op, inner) => {
            let o = go(op, style, 0);
            let i = term(inner, style);
            match style {
                Style::Latex => format!("{o}\\,({i})"),
                _ => format!("{o} ({i})"),
            }
        }
    }
}

fn latex_name(n: &str) -> String {
    match n.split_once('_') {
        Some((a, b)) => format!("{a}_{{{}}}", b.replace('_', "\\_")),
        None => n.to_string(),
    }
}

fn prec(e: &Expr) -> u8 {
    match e.kind {
        Kind::Sum(_) => 0,
        Kind::Scale(..) => 1,
        Kind::Compose(_) => 2,
        Kind::Prim(_) | Kind::Adjoint(_) => 3,
    }
}

fn number(a: f64) -> String {
    format!("{a}")
}

fn go(e: &Expr, style: Style, ctx: u8) -> String {
    let s = match &e.kind {
        Kind::Prim(p) => prim(p, style),
        Kind::Sum(t) => t
            .iter()
            .map(|x| go(x, style, 1))
            .collect::<Vec<_>>()
            .join(" + "),
        Kind::Scale(a, x) => {
            let inner = go(x, style, 1);
            match style {
                Style::Ascii => format!("{} * {inner}", number(*a)),
                Style::Unicode => format!("{}·{inner}", number(*a)),
                Style::Latex => format!("{} \\cdot {inner}", number(*a)),
            }
        }
        Kind::Compose(f) => {
            let sep = match style {
                Style::Ascii => " @ ",
                Style::Unicode => " ∘ ",
                Style::Latex => " \\circ ",
            };
            f.iter()
                .map(|x| go(x, style, 3))
                .collect::<Vec<_>>()
                .join(sep)
        }
        Kind::Adjoint(x) => match style {
            Style::Ascii => format!("adjoint({})", go(x, style, 0)),
            Style::Unicode => format!("{}ᵀ", go(x, style, 3)),
            Style::Latex => format!("{}^{{*}}", go(x, style, 3)),
        },
    };
    if prec(e) < ctx {
        match style {
            Style::Latex => format!("\\left({s}\\right)"),
            _ => format!("({s})"),
        }
    } else {
        s
    }
}

fn pads(p: &[(usize, usize)]) -> String {
    p.iter()
        .map(|(l, h)| format!("{l}:{h}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn list(v: &[usize]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn operand(o: &Operand, style: Style) -> String {
    let t = term(&o.tensor, style);
    match o.groups {
        Some(g) if style == Style::Latex => format!("{t};\\,g={g}"),
        Some(g) => format!("{t}, groups={g}"),
        None => t,
    }
}

fn prim(p: &Prim, style: Style) -> String {
    let name = p.name();
    let params = match &p.params {
        Params::None | Params::Shape(None) => None,
        Params::Pads(x) => Some(pads(x)),
        Params::Count(k) => Some(k.to_string()),
        Params::List(v) | Params::Shape(Some(v)) => Some(list(v)),
    };
    let arg = p.operand.as_ref().map(|o| operand(o, style));
    match style {
        Style::Latex => {
            let mut s = format!("\\operatorname{{{}}}", name.replace('_', "\\_"));
            if let Some(p) = params {
                s += &format!("_{{[{p}]}}");
            }
            if let Some(a) = arg {
                s += &format!("({a})");
            }
            s
        }
        _ => {
            let mut s = name.to_string();
            if let Some(p) = params {
                s += &format!("[{p}]");
            }
            if let Some(a) = arg {
                s += &format!("({a})");
            }
            s
        }
    }
}
