//! Statements of the DSL, one per line: declarations, claims (as written in the notes' ```check
//! blocks) and the inputs of `fftconv derive`.
//!
//! ```text
//! id: PAD-1                                   # the identity the following claims belong to
//! let w: [4, 3, 8]                            # a named tensor, seeded random normal data
//! adjoint(zero_pad[1:2]) == crop[1:2] on [2, 3, 5]
//! dot pad_reflect[2:1] on [1, 2, 6]
//! check conv2d(x: [2, 3, 8, 8], w: [4, 3, 3, 3], stride=2, padding=1)
//! grad conv1d(x: [1, 2, 9], w: [3, 2, 3], dilation=2) wrt w
//! ```

use super::layer::Layer;
use super::parse::Parser;
use super::Expr;
use crate::error::{Error, Result};

/// A layer variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Var {
    /// The input `x`.
    X,
    /// The weights `w`.
    W,
    /// The bias `b`.
    B,
}

impl Var {
    /// `x`, `w` or `b`.
    pub fn name(self) -> &'static str {
        match self {
            Var::X => "x",
            Var::W => "w",
            Var::B => "b",
        }
    }
    /// Parse `x`, `w` or `b`.
    ///
    /// # Errors
    /// [`Error::Field`] for anything else.
    pub fn parse(s: &str) -> Result<Var> {
        match s {
            "x" => Ok(Var::X),
            "w" => Ok(Var::W),
            "b" => Ok(Var::B),
            _ => Err(Error::field(
                "layer variable",
                s,
                format!("`{s}` is not a layer variable; use x, w or b"),
            )),
        }
    }
}

/// One statement.
#[derive(Clone, Debug, PartialEq)]
pub enum Statement {
    /// `id: ID`.
    Id(String),
    /// `let NAME: [shape]`.
    Let {
        /// Tensor name.
        name: String,
        /// Its shape.
        shape: Vec<usize>,
    },
    /// `A == B on SHAPE`.
    Equal {
        /// Left side.
        lhs: Expr,
        /// Right side.
        rhs: Expr,
        /// Domain.
        on: Vec<usize>,
    },
    /// `dot A on SHAPE`.
    Dot {
        /// The operator.
        expr: Expr,
        /// Domain.
        on: Vec<usize>,
    },
    /// `check LAYER`.
    Check(Layer),
    /// `grad LAYER wrt x|w|b`.
    Grad(Layer, Var),
    /// A bare layer (input of `derive`).
    Layer(Layer),
    /// `A on SHAPE` (input of `derive`).
    On(Expr, Vec<usize>),
}

fn starts_layer(p: &Parser) -> bool {
    matches!(&p.peek().tok, super::lex::Tok::Ident(n) if Layer::macro_name(n).is_some())
}

/// Parse one line; `Ok(None)` for a blank or comment line.
///
/// ```
/// use fftconv::expr::claim::{parse_statement, Statement};
/// let s = parse_statement("dot zero_pad[1:1] on [2, 4]", "note.md:3").unwrap().unwrap();
/// assert!(matches!(s, Statement::Dot { .. }));
/// let err = parse_statement("dot zero_pad[1:1 on [2, 4]", "note.md:3").unwrap_err();
/// assert!(err.to_string().starts_with("note.md:3:18:"), "{err}");
/// ```
///
/// # Errors
/// [`Error::Parse`] with the column and what was expected.
pub fn parse_statement(line: &str, source_name: &str) -> Result<Option<Statement>> {
    let trimmed = line.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    if let Some(rest) = trimmed.strip_prefix("id:") {
        let id = rest.split('#').next().unwrap_or("").trim();
        if id.is_empty() {
            return Err(Error::Parse {
                source_name: source_name.to_string(),
                column: line.len() - trimmed.len() + 4,
                message: "expected an identity after `id:`, e.g. `id: PAD-1`".into(),
            });
        }
        return Ok(Some(Statement::Id(id.to_string())));
    }
    let mut p = Parser::new(line, source_name)?;
    let st = if p.at_ident("let") {
        p.next_token();
        let (name, col) = p.ident("a tensor name after `let`")?;
        if super::primitive_names().contains(&name.as_str()) {
            return Err(p.error_at(
                col,
                format!("`{name}` is an operator name; choose another tensor name"),
            ));
        }
        p.sym(":", "after the tensor name (write `let w: [4, 3, 5]`)")?;
        Statement::Let {
            name,
            shape: p.shape()?,
        }
    } else if p.at_ident("dot") {
        p.next_token();
        let expr = p.sum()?;
        on(&mut p)?;
        Statement::Dot {
            expr,
            on: p.shape()?,
        }
    } else if p.at_ident("check") {
        p.next_token();
        Statement::Check(p.layer()?)
    } else if p.at_ident("grad") {
        p.next_token();
        let layer = p.layer()?;
        if !p.at_ident("wrt") {
            return Err(p.expected("`wrt x`, `wrt w` or `wrt b` after the layer"));
        }
        p.next_token();
        let (v, col) = p.ident("x, w or b")?;
        let var = Var::parse(&v)
            .map_err(|_| p.error_at(col, format!("expected x, w or b, found `{v}`")))?;
        Statement::Grad(layer, var)
    } else if starts_layer(&p) {
        Statement::Layer(p.layer()?)
    } else {
        let lhs = p.sum()?;
        if p.at_sym("==") {
            p.next_token();
            let rhs = p.sum()?;
            on(&mut p)?;
            Statement::Equal {
                lhs,
                rhs,
                on: p.shape()?,
            }
        } else {
            if !p.at_ident("on") {
                return Err(p.expected("`==`, `on [shape]`, `@` or `+`"));
            }
            on(&mut p)?;
            Statement::On(lhs, p.shape()?)
        }
    };
    p.end().map_err(|_| p.expected("the end of the line"))?;
    Ok(Some(st))
}

fn on(p: &mut Parser) -> Result<()> {
    if p.at_ident("on") {
        p.next_token();
        Ok(())
    } else {
        Err(p.expected("`on [shape]` (the domain the claim is checked on)"))
    }
}
