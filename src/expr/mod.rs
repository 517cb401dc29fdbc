//! The operator DSL: expressions over named tensors, a parser with column-precise errors,
//! shape inference, the adjoint as a named rewrite, simplification, printing (ASCII, Unicode,
//! LaTeX) and lowering to executable [`op::Op`](crate::op::Op)s.
//!
//! An expression is a tree of primitives (`zero_pad[1:2]`, `circ(w)`, …) joined by composition
//! `A ∘ B` (ASCII `A @ B`, `B` applied first), sums, scalings and adjoints (`adjoint(A)`, `A'`,
//! `Aᵀ`). Shapes are not part of the expression: an expression is checked *on* a domain shape
//! ([`shape::check`]), which fixes every intermediate shape.
//!
//! The conv layer is a macro ([`layer`]) that expands into the primitive chain (which
//! `conv::chain` lowers and runs); its gradients are derived by [`adjoint::derive`],
//! rule by rule, each step citing the note (`derivations/*.md`) that proves it.
//!
//! ```
//! use fftconv::expr::{parse, print, Env};
//! let e = parse::parse_expr("adjoint(crop[1:2] @ zero_pad[1:2])", "example").unwrap();
//! let (rewritten, trace) = fftconv::expr::adjoint::push_adjoints(&e);
//! assert_eq!(print::ascii(&rewritten), "crop[1:2] @ zero_pad[1:2]");
//! assert_eq!(trace[0].rule.note, "COMP-1");
//! let _ = Env::new();
//! ```
//!
//! The rules are the notes' identities: adjoints of the primitives in
//! `derivations/02-pad-and-crop.md` and `03-circular-convolution.md`, of chains in
//! `05-composition.md`, and of the layer in `07-input-gradient.md` to `14-bias.md`;
//! `derivations/01-notation.md` fixes the symbols the printers use.

pub mod adjoint;
pub mod claim;
pub mod env;
pub mod layer;
pub mod lex;
pub mod lower;
pub mod parse;
pub mod print;
pub mod rules;
pub mod shape;
pub mod simplify;

pub use env::{example_env, Env};

use crate::op::{Params, Primitive};

/// A node of an operator expression, with the 1-based column where it was written (0 when
/// built by a rewrite). Equality ignores the column.
#[derive(Clone, Debug)]
pub struct Expr {
    /// What the node is.
    pub kind: Kind,
    /// 1-based source column (0 when synthesised).
    pub col: usize,
}

impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}

/// The node kinds.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// A primitive operator.
    Prim(Prim),
    /// `f[0] ∘ f[1] ∘ … ∘ f[n-1]`: the last is applied first.
    Compose(Vec<Expr>),
    /// `t[0] + t[1] + …`.
    Sum(Vec<Expr>),
    /// `α · A`.
    Scale(f64, Box<Expr>),
    /// `A*` (written `adjoint(A)`, `A'` or `Aᵀ`).
    Adjoint(Box<Expr>),
}

/// Lo/hi amounts per trailing axis.
pub type Pads = Vec<(usize, usize)>;

/// A primitive operator: a registered [`Primitive`] (see [`VOCABULARY`]) with its parameters
/// and, for `circ(h)`, `mix(A)`, …, its tensor argument. Everything the DSL does with a
/// primitive (parse, print, shapes, adjoint, lowering) it asks the descriptor.
#[derive(Clone)]
pub struct Prim {
    /// What the primitive is.
    pub desc: &'static Primitive,
    /// Its parameters ([`Params::None`] for a tensor-argument primitive).
    pub params: Params,
    /// Its tensor argument, for [`Syntax::Operand`](crate::op::primitive::Syntax::Operand)
    /// primitives.
    pub operand: Option<Operand>,
}

impl PartialEq for Prim {
    fn eq(&self, other: &Self) -> bool {
        self.desc.dsl == other.desc.dsl
            && self.params == other.params
            && self.operand == other.operand
    }
}

impl std::fmt::Debug for Prim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prim")
            .field("name", &self.desc.dsl)
            .field("params", &self.params)
            .field("operand", &self.operand)
            .finish()
    }
}

impl Prim {
    /// `desc` with parameters.
    pub fn new(desc: &'static Primitive, params: Params) -> Self {
        Prim {
            desc,
            params,
            operand: None,
        }
    }
    /// `desc` applied with a tensor argument.
    pub fn with_operand(desc: &'static Primitive, operand: Operand) -> Self {
        Prim {
            desc,
            params: Params::None,
            operand: Some(operand),
        }
    }
    /// `id`.
    pub fn id() -> Self {
        Prim::new(&crate::op::ID, Params::None)
    }
    /// The DSL name of the primitive.
    pub fn name(&self) -> &'static str {
        self.desc.dsl
    }
    /// The `[lo:hi, …]` parameters, if it has them.
    pub fn pads(&self) -> Option<&[(usize, usize)]> {
        match &self.params {
            Params::Pads(p) => Some(p),
            _ => None,
        }
    }
    /// The written `groups=` of its tensor argument.
    pub fn groups(&self) -> Option<usize> {
        self.operand.as_ref().and_then(|o| o.groups)
    }
}

/// The tensor argument of `circ`, `corr`, `mix`, …, with an optional `groups=g`.
#[derive(Clone, Debug, PartialEq)]
pub struct Operand {
    /// The tensor.
    pub tensor: Term,
    /// Channel groups; `None` = inferred from the shapes where possible, else 1.
    pub groups: Option<usize>,
}

/// A tensor: a declared name, or an operator applied to a tensor, `E (t)`.
#[derive(Clone, Debug, PartialEq)]
pub enum Term {
    /// A tensor declared with `let NAME: [shape]` (or a layer's `x`/`w`).
    Name(String),
    /// `E (t)`: the operator `E` applied to the tensor `t`.
    Apply(Box<Expr>, Box<Term>),
}

impl Expr {
    /// A node without a source column.
    pub fn new(kind: Kind) -> Self {
        Expr { kind, col: 0 }
    }
    /// A primitive node.
    pub fn prim(p: Prim) -> Self {
        Expr::new(Kind::Prim(p))
    }
    /// The composition of `factors` (outermost first); a single factor is returned as is.
    pub fn compose(factors: Vec<Expr>) -> Self {
        let mut flat = Vec::new();
        for f in factors {
            match f.kind {
                Kind::Compose(inner) => flat.extend(inner),
                _ => flat.push(f),
            }
        }
        if flat.len() == 1 {
            flat.pop().expect("one factor")
        } else {
            Expr::new(Kind::Compose(flat))
        }
    }
    /// `A*`.
    pub fn adjoint(self) -> Self {
        let col = self.col;
        Expr {
            kind: Kind::Adjoint(Box::new(self)),
            col,
        }
    }
    /// The composition factors (a non-composition is one factor).
    pub fn factors(&self) -> Vec<Expr> {
        match &self.kind {
            Kind::Compose(f) => f.clone(),
            _ => vec![self.clone()],
        }
    }
}

impl Operand {
    /// A named tensor with inferred groups.
    pub fn named(name: &str) -> Self {
        Operand {
            tensor: Term::Name(name.to_string()),
            groups: None,
        }
    }
}

/// The DSL's vocabulary, one descriptor per primitive (the table is at
/// [`crate::op::PRIMITIVES`]): DSL name ↔ `src/op` operator ↔ adjoint ↔ note.
pub use crate::op::PRIMITIVES as VOCABULARY;

/// Every primitive name the parser knows (tensor names may not use them): the
/// [`VOCABULARY`] and `adjoint`.
pub fn primitive_names() -> Vec<&'static str> {
    VOCABULARY
        .iter()
        .map(|p| p.dsl)
        .chain(std::iter::once("adjoint"))
        .collect()
}
