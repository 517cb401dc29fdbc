//! The parser: operator expressions, shapes, layer macros and claim statements. Every error is
//! an [`Error::Parse`] with the 1-based column and what was expected there.
//!
//! Grammar (ASCII; `∘` = `@`, `·` = `*`, `ᵀ` = `'`):
//!
//! ```text
//! sum     := term ('+' term)*
//! term    := NUMBER '*' term | comp          # scaling applies to the whole chain after it
//! comp    := postfix ('@' postfix)*          # A @ B: B is applied first
//! postfix := atom "'"*                       # A' = adjoint(A)
//! atom    := '(' sum ')' | 'adjoint' '(' sum ')' | primitive
//! primitive := NAME | NAME[PADS] | NAME[N] | NAME[N, ..] | NAME[SHAPE..] | NAME(T)
//!              (NAME and its form from the vocabulary, crate::op::PRIMITIVES)
//! PADS    := LO:HI (',' LO:HI)*   (a single number n means n:n)
//! T       := tensor (',' 'groups' '=' G)?
//! tensor  := NAME | sum '(' tensor ')'       # an operator applied to a tensor
//! SHAPE   := '[' N (',' N)* ']'
//! ```

use super::layer::Layer;
use super::lex::{lex, Tok, Token};
use super::{primitive_names, Expr, Kind, Operand, Prim, Term};
use crate::error::{Error, Result};
use crate::op::primitive::{self, Params, Syntax};

/// A parser over one line (or one expression) of DSL text.
pub struct Parser {
    toks: Vec<Token>,
    pos: usize,
    source_name: String,
}

/// Parse a whole operator expression.
///
/// ```
/// use fftconv::expr::parse::parse_expr;
/// let e = parse_expr("crop[1:1] ∘ circ(w) ∘ zero_pad[1:1]", "expr").unwrap();
/// assert_eq!(e, parse_expr("crop[1:1] @ circ(w) @ zero_pad[1:1]", "expr").unwrap());
/// ```
///
/// # Errors
/// [`Error::Parse`] with the column and what was expected.
pub fn parse_expr(src: &str, source_name: &str) -> Result<Expr> {
    let mut p = Parser::new(src, source_name)?;
    let e = p.sum()?;
    p.end()?;
    Ok(e)
}

impl Parser {
    /// Tokenize `src`.
    ///
    /// # Errors
    /// [`Error::Parse`] for a character that starts no token.
    pub fn new(src: &str, source_name: &str) -> Result<Self> {
        Ok(Parser {
            toks: lex(src, source_name)?,
            pos: 0,
            source_name: source_name.to_string(),
        })
    }

    /// The current token.
    pub fn peek(&self) -> &Token {
        &self.toks[self.pos]
    }
    fn peek_at(&self, k: usize) -> &Tok {
        &self.toks[(self.pos + k).min(self.toks.len() - 1)].tok
    }
    fn bump(&mut self) -> Token {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    /// An error at column `col`.
    pub fn error_at(&self, col: usize, message: impl Into<String>) -> Error {
        Error::Parse {
            source_name: self.source_name.clone(),
            column: col,
            message: message.into(),
        }
    }

    /// "expected X, found Y" at the current token.
    pub fn expected(&self, what: &str) -> Error {
        let t = self.peek();
        self.error_at(
            t.col,
            format!("expected {what}, found {}", t.tok.describe()),
        )
    }

    /// Is the current token the symbol `s`?
    pub fn at_sym(&self, s: &str) -> bool {
        matches!(&self.peek().tok, Tok::Sym(x) if *x == s)
    }
    /// Is the current token the identifier `s`?
    pub fn at_ident(&self, s: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(x) if x == s)
    }

    /// Consume the symbol `s` or fail saying what was expected.
    ///
    /// # Errors
    /// [`Error::Parse`] when the symbol is not there.
    pub fn sym(&mut self, s: &str, context: &str) -> Result<usize> {
        if self.at_sym(s) {
            Ok(self.bump().col)
        } else {
            Err(self.expected(&format!("`{s}` {context}")))
        }
    }

    /// Consume an identifier.
    ///
    /// # Errors
    /// [`Error::Parse`] when the token is not an identifier.
    pub fn ident(&mut self, what: &str) -> Result<(String, usize)> {
        match self.peek().tok.clone() {
            Tok::Ident(s) => {
                let col = self.bump().col;
                Ok((s, col))
            }
            _ => Err(self.expected(what)),
        }
    }

    /// Require the end of the input.
    ///
    /// # Errors
    /// [`Error::Parse`] at the first token left over.
    pub fn end(&mut self) -> Result<()> {
        if self.peek().tok == Tok::End {
            Ok(())
        } else {
            Err(self.expected("the end of the expression (or `@`, `+`, `'`)"))
        }
    }

    /// Is the input used up?
    pub fn at_end(&self) -> bool {
        self.peek().tok == Tok::End
    }

    /// A non-negative integer.
    ///
    /// # Errors
    /// [`Error::Parse`] when the token is not a non-negative integer.
    pub fn usize(&mut self, what: &str) -> Result<usize> {
        match self.peek().tok {
            Tok::Num(v) if v >= 0.0 && v.fract() == 0.0 && v < 1e15 => {
                self.bump();
                Ok(v as usize)
            }
            _ => Err(self.expected(what)),
        }
    }

    /// A real number, optionally negative.
    ///
    /// # Errors
    /// [`Error::Parse`] when there is no number.
    pub fn number(&mut self) -> Result<f64> {
        let neg = if self.at_sym("-") {
            self.bump();
            true
        } else {
            false
        };
        match self.peek().tok {
            Tok::Num(v) => {
                self.bump();
                Ok(if neg { -v } else { v })
            }
            _ => Err(self.expected("a number")),
        }
    }

    /// `[n, n, …]`.
    ///
    /// # Errors
    /// [`Error::Parse`] on anything else.
    pub fn shape(&mut self) -> Result<Vec<usize>> {
        self.sym("[", "to open a shape like [2, 3, 8]")?;
        let mut v = vec![self.usize("an extent (a non-negative integer)")?];
        while self.at_sym(",") {
            self.bump();
            v.push(self.usize("an extent (a non-negative integer)")?);
        }
        self.sym("]", "to close the shape")?;
        Ok(v)
    }

    fn usize_list(&mut self, what: &str) -> Result<Vec<usize>> {
        self.sym("[", &format!("to open the {what} list"))?;
        let mut v = vec![self.usize(what)?];
        while self.at_sym(",") {
            self.bump();
            v.push(self.usize(what)?);
        }
        self.sym("]", &format!("to close the {what} list"))?;
        Ok(v)
    }

    fn pads(&mut self) -> Result<Vec<(usize, usize)>> {
        self.sym("[", "to open the padding list, e.g. [1:2, 0:1]")?;
        let mut v = Vec::new();
        loop {
            let lo = self.usize("a padding amount `lo:hi`")?;
            let hi = if self.at_sym(":") {
                self.bump();
                self.usize("the high padding amount after `:`")?
            } else {
                lo
            };
            v.push((lo, hi));
            if self.at_sym(",") {
                self.bump();
            } else {
                break;
            }
        }
        self.sym("]", "or `,` to continue the padding list")?;
        Ok(v)
    }

    /// `sum := term ('+' term)*`.
    ///
    /// # Errors
    /// [`Error::Parse`].
    pub fn sum(&mut self) -> Result<Expr> {
        let col = self.peek().col;
        let mut terms = vec![self.term()?];
        while self.at_sym("+") {
            self.bump();
            terms.push(self.term()?);
        }
        Ok(if terms.len() == 1 {
            terms.pop().expect("one term")
        } else {
            Expr {
                kind: Kind::Sum(terms),
                col,
            }
        })
    }

    fn term(&mut self) -> Result<Expr> {
        let col = self.peek().col;
        let starts_number = matches!(self.peek().tok, Tok::Num(_))
            || (self.at_sym("-") && matches!(self.peek_at(1), Tok::Num(_)));
        if starts_number {
            let a = self.number()?;
            self.sym("*", "after the scale factor (write `2.5 * A`)")?;
            let inner = self.term()?;
            return Ok(Expr {
                kind: Kind::Scale(a, Box::new(inner)),
                col,
            });
        }
        self.comp()
    }

    fn comp(&mut self) -> Result<Expr> {
        let col = self.peek().col;
        let mut f = vec![self.postfix()?];
        while self.at_sym("@") {
            self.bump();
            f.push(self.postfix()?);
        }
        Ok(if f.len() == 1 {
            f.pop().expect("one factor")
        } else {
            Expr {
                kind: Kind::Compose(f),
                col,
            }
        })
    }

    fn postfix(&mut self) -> Result<Expr> {
        let mut e = self.atom()?;
        while self.at_sym("'") {
            self.bump();
            e = e.adjoint();
        }
        Ok(e)
    }

    fn atom(&mut self) -> Result<Expr> {
        let t = self.peek().clone();
        match &t.tok {
            Tok::Sym("(") => {
                self.bump();
                let e = self.sum()?;
                self.sym(")", "to close the parenthesis")?;
                Ok(e)
            }
            Tok::Ident(name) => {
                let name = name.clone();
                self.bump();
                if name == "adjoint" {
                    self.sym("(", "after `adjoint`")?;
                    let e = self.sum()?;
                    self.sym(")", "to close `adjoint(`")?;
                    return Ok(Expr {
                        kind: Kind::Adjoint(Box::new(e)),
                        col: t.col,
                    });
                }
                let p = self.primitive(&name, t.col)?;
                Ok(Expr {
                    kind: Kind::Prim(p),
                    col: t.col,
                })
            }
            _ => Err(self.expected("an operator (e.g. `zero_pad[1:1]`, `circ(w)`, `id`) or `(`")),
        }
    }

    /// A primitive, its parameters written as its descriptor's [`Syntax`] says.
    fn primitive(&mut self, name: &str, col: usize) -> Result<Prim> {
        let Some(desc) = primitive::find(name) else {
            return Err(self.error_at(
                col,
                format!(
                    "unknown operator `{name}`; expected one of {}",
                    primitive_names().join(", ")
                ),
            ));
        };
        let name = desc.dsl;
        Ok(match desc.syntax {
            Syntax::Bare => Prim::new(desc, Params::None),
            Syntax::Pads => Prim::new(desc, Params::Pads(self.pads()?)),
            Syntax::List { what } => Prim::new(desc, Params::List(self.usize_list(what)?)),
            Syntax::Count { open, what } => {
                self.sym("[", open)?;
                let k = self.usize(what)?;
                self.sym("]", &format!("to close `{name}[`"))?;
                Prim::new(desc, Params::Count(k))
            }
            Syntax::OptionalShape => Prim::new(
                desc,
                Params::Shape(if self.at_sym("[") {
                    Some(self.shape()?)
                } else {
                    None
                }),
            ),
            Syntax::Operand => Prim::with_operand(desc, self.operand(name)?),
        })
    }

    fn operand(&mut self, name: &str) -> Result<Operand> {
        self.sym("(", &format!("after `{name}` (write {name}(w))"))?;
        let tensor = self.tensor()?;
        let groups = if self.at_sym(",") {
            self.bump();
            let (key, kcol) = self.ident("`groups=`")?;
            if key != "groups" {
                return Err(self.error_at(kcol, format!("expected `groups=`, found `{key}`")));
            }
            self.sym("=", "after `groups`")?;
            Some(self.usize("the number of groups")?)
        } else {
            None
        };
        self.sym(")", &format!("to close `{name}(` (or `, groups=g`)"))?;
        Ok(Operand { tensor, groups })
    }

    /// `tensor := NAME | sum '(' tensor ')'`.
    ///
    /// # Errors
    /// [`Error::Parse`].
    pub fn tensor(&mut self) -> Result<Term> {
        if let Tok::Ident(n) = &self.peek().tok {
            if !primitive_names().contains(&n.as_str())
                && !n.starts_with("pad_")
                && !n.starts_with("fold_")
            {
                let n = n.clone();
                self.bump();
                return Ok(Term::Name(n));
            }
        }
        if !(matches!(self.peek().tok, Tok::Ident(_) | Tok::Num(_))
            || self.at_sym("(")
            || self.at_sym("-"))
        {
            return Err(self.expected("a tensor name or an operator applied to one, `E (w)`"));
        }
        let op = self.sum()?;
        self.sym(
            "(",
            "and the tensor the operator is applied to, as in `flip[1] (w)`",
        )?;
        let inner = self.tensor()?;
        self.sym(")", "to close the applied tensor")?;
        Ok(Term::Apply(Box::new(op), Box::new(inner)))
    }

    /// A layer macro `conv2d(x: [...], w: [...], key=value, ...)`, the name already peeked.
    ///
    /// # Errors
    /// [`Error::Parse`] naming the column of a bad argument.
    pub fn layer(&mut self) -> Result<Layer> {
        Layer::parse(self)
    }

    /// Consume and return the current token.
    pub fn next_token(&mut self) -> Token {
        self.bump()
    }

    /// The source name used in errors.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// A number or a list `[a, b]` (per-axis value), for layer arguments.
    ///
    /// # Errors
    /// [`Error::Parse`].
    pub fn number_or_list(&mut self, what: &str) -> Result<Vec<usize>> {
        if self.at_sym("[") {
            self.usize_list(what)
        } else {
            Ok(vec![self.usize(what)?])
        }
    }
}
