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

pub use env::Env;

use crate::op::PadMode;

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

/// The primitive operators (see `src/op`); each has one DSL name.
#[derive(Clone, Debug, PartialEq)]
pub enum Prim {
    /// `zero_pad[lo:hi, …]`.
    ZeroPad(Pads),
    /// `crop[lo:hi, …]`: the adjoint of `zero_pad` (PAD-1).
    Crop(Pads),
    /// `pad_circular/pad_reflect/pad_replicate[lo:hi, …]` (mode is never `Zeros`).
    Pad(PadMode, Pads),
    /// `fold_circular/fold_reflect/fold_replicate[lo:hi, …]`: the adjoint of `Pad` (MODE-1).
    Fold(PadMode, Pads),
    /// `flip[k]`: reverse the trailing `k` axes.
    Flip(usize),
    /// `subsample[s, …]`.
    Subsample(Vec<usize>),
    /// `zero_insert[s, …]`: the adjoint of `subsample` (STRIDE-1).
    ZeroInsert(Vec<usize>),
    /// `dilate[d, …]`.
    Dilate(Vec<usize>),
    /// `dilate_adjoint[d, …]` (DIL-1).
    DilateAdjoint(Vec<usize>),
    /// `circ(h)`: circular convolution with kernel `h: (O, C/g, *P)` on `(N, C, *P)`.
    Circ(Operand),
    /// `corr(h)`: its adjoint, circular correlation (CIRC-2).
    Corr(Operand),
    /// `circ_signal(x)`: the same convolution as a map of the kernel, `x: (N, C, *P)` fixed.
    CircSignal(Operand),
    /// `corr_signal(x)`: its adjoint (SWAP-2).
    CorrSignal(Operand),
    /// `mix(A)`: channel mixing with `A: (O, C/g)`.
    Mix(Operand),
    /// `mix_t(A)`: its adjoint, the block transpose (CHAN-1).
    MixT(Operand),
    /// `group_transpose[g]`: `(A, B/g, *K) → (B, A/g, *K)`; its own adjoint (TRANS-2).
    GroupTranspose(usize),
    /// `broadcast` or `broadcast[N, C, *S]`: bias `(C,)` → `(N, C, *S)`.
    Broadcast(Option<Vec<usize>>),
    /// `sum_nc` or `sum_nc[N, C, *S]`: `(N, C, *S)` → `(C,)`, the adjoint of `broadcast`
    /// (BIAS-1).
    SumNc(Option<Vec<usize>>),
    /// `id`.
    Id,
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

impl Prim {
    /// The DSL name of the primitive.
    pub fn name(&self) -> &'static str {
        match self {
            Prim::ZeroPad(_) => "zero_pad",
            Prim::Crop(_) => "crop",
            Prim::Pad(m, _) => match m {
                PadMode::Circular => "pad_circular",
                PadMode::Reflect => "pad_reflect",
                PadMode::Replicate => "pad_replicate",
                PadMode::Zeros => "zero_pad",
            },
            Prim::Fold(m, _) => match m {
                PadMode::Circular => "fold_circular",
                PadMode::Reflect => "fold_reflect",
                PadMode::Replicate => "fold_replicate",
                PadMode::Zeros => "crop",
            },
            Prim::Flip(_) => "flip",
            Prim::Subsample(_) => "subsample",
            Prim::ZeroInsert(_) => "zero_insert",
            Prim::Dilate(_) => "dilate",
            Prim::DilateAdjoint(_) => "dilate_adjoint",
            Prim::Circ(_) => "circ",
            Prim::Corr(_) => "corr",
            Prim::CircSignal(_) => "circ_signal",
            Prim::CorrSignal(_) => "corr_signal",
            Prim::Mix(_) => "mix",
            Prim::MixT(_) => "mix_t",
            Prim::GroupTranspose(_) => "group_transpose",
            Prim::Broadcast(_) => "broadcast",
            Prim::SumNc(_) => "sum_nc",
            Prim::Id => "id",
        }
    }
}

/// One word of the DSL's vocabulary: a primitive's DSL spelling, the `src/op` operator that
/// runs it (whose [`Symbol`](crate::op::Symbol) carries the same name), its adjoint's DSL
/// spelling and the note identity that proves the adjoint rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Word {
    /// DSL spelling, e.g. `zero_pad`.
    pub dsl: &'static str,
    /// The operator in `src/op` (an adjoint form: `Type*`).
    pub op: &'static str,
    /// The DSL spelling of its adjoint.
    pub adjoint: &'static str,
    /// The note identity of the adjoint rule (`CHAN-2` replaces it with `groups=g`).
    pub note: &'static str,
    /// An example, with the domain it is typed on (tensors `h: [2, 3, 6]`, `x: [1, 3, 6]`,
    /// `A: [2, 3]` declared).
    pub example: &'static str,
    /// The example's domain.
    pub domain: &'static [usize],
}

/// The DSL's vocabulary, one row per primitive: DSL name ↔ `src/op` operator ↔ adjoint ↔
/// note. The op names and the DSL names map 1:1 (each operator's `symbol()` is its DSL
/// name); `tests/vocabulary.rs` checks every row against the parser, the printer, the adjoint
/// rewrite and the lowering.
///
/// | DSL | `src/op` | adjoint | note |
/// |---|---|---|---|
/// | `zero_pad[lo:hi, …]` | `ZeroPad` | `crop` | PAD-1 |
/// | `crop[lo:hi, …]` | `Crop` | `zero_pad` | PAD-1 |
/// | `pad_circular/pad_reflect/pad_replicate[lo:hi, …]` | `Pad` | `fold_*` | MODE-1 |
/// | `fold_circular/fold_reflect/fold_replicate[lo:hi, …]` | `Pad*` | `pad_*` | MODE-1 |
/// | `flip[k]` | `Flip` | `flip` | FLIP-1 |
/// | `subsample[s, …]` | `Subsample` | `zero_insert` | STRIDE-1 |
/// | `zero_insert[s, …]` | `ZeroInsert` | `subsample` | STRIDE-1 |
/// | `dilate[d, …]` | `Dilate` | `dilate_adjoint` | DIL-1 |
/// | `dilate_adjoint[d, …]` | `Dilate*` | `dilate` | DIL-1 |
/// | `circ(h[, groups=g])` | `CircularConv` | `corr` | CIRC-2 (CHAN-2) |
/// | `corr(h[, groups=g])` | `CircularConv*` | `circ` | CIRC-2 (CHAN-2) |
/// | `circ_signal(x[, groups=g])` | `CircularConvWeight` | `corr_signal` | SWAP-2 (CHAN-2) |
/// | `corr_signal(x[, groups=g])` | `CircularConvWeight*` | `circ_signal` | SWAP-2 (CHAN-2) |
/// | `mix(A[, groups=g])` | `ChannelMix` | `mix_t` | CHAN-1 |
/// | `mix_t(A[, groups=g])` | `ChannelMix*` | `mix` | CHAN-1 |
/// | `group_transpose[g]` | `GroupTranspose` | `group_transpose` | TRANS-2 |
/// | `broadcast[N, C, …]` | `BiasBroadcast` | `sum_nc` | BIAS-1 |
/// | `sum_nc[N, C, …]` | `BiasBroadcast*` | `broadcast` | BIAS-1 |
/// | `id` | `Identity` | `id` | COMP-4 |
pub const VOCABULARY: &[Word] = &[
    word(
        "zero_pad",
        "ZeroPad",
        "crop",
        "PAD-1",
        "zero_pad[1:2]",
        &[1, 2, 4],
    ),
    word("crop", "Crop", "zero_pad", "PAD-1", "crop[1:2]", &[1, 2, 6]),
    word(
        "pad_circular",
        "Pad",
        "fold_circular",
        "MODE-1",
        "pad_circular[1:2]",
        &[1, 2, 4],
    ),
    word(
        "pad_reflect",
        "Pad",
        "fold_reflect",
        "MODE-1",
        "pad_reflect[1:2]",
        &[1, 2, 4],
    ),
    word(
        "pad_replicate",
        "Pad",
        "fold_replicate",
        "MODE-1",
        "pad_replicate[1:2]",
        &[1, 2, 4],
    ),
    word(
        "fold_circular",
        "Pad*",
        "pad_circular",
        "MODE-1",
        "fold_circular[1:2]",
        &[1, 2, 7],
    ),
    word(
        "fold_reflect",
        "Pad*",
        "pad_reflect",
        "MODE-1",
        "fold_reflect[1:2]",
        &[1, 2, 7],
    ),
    word(
        "fold_replicate",
        "Pad*",
        "pad_replicate",
        "MODE-1",
        "fold_replicate[1:2]",
        &[1, 2, 7],
    ),
    word("flip", "Flip", "flip", "FLIP-1", "flip[1]", &[1, 2, 4]),
    word(
        "subsample",
        "Subsample",
        "zero_insert",
        "STRIDE-1",
        "subsample[2]",
        &[1, 2, 5],
    ),
    word(
        "zero_insert",
        "ZeroInsert",
        "subsample",
        "STRIDE-1",
        "zero_insert[2]",
        &[1, 2, 3],
    ),
    word(
        "dilate",
        "Dilate",
        "dilate_adjoint",
        "DIL-1",
        "dilate[2]",
        &[2, 3, 3],
    ),
    word(
        "dilate_adjoint",
        "Dilate*",
        "dilate",
        "DIL-1",
        "dilate_adjoint[2]",
        &[2, 3, 5],
    ),
    word(
        "circ",
        "CircularConv",
        "corr",
        "CIRC-2",
        "circ(h)",
        &[1, 3, 6],
    ),
    word(
        "corr",
        "CircularConv*",
        "circ",
        "CIRC-2",
        "corr(h)",
        &[1, 2, 6],
    ),
    word(
        "circ_signal",
        "CircularConvWeight",
        "corr_signal",
        "SWAP-2",
        "circ_signal(x)",
        &[2, 3, 6],
    ),
    word(
        "corr_signal",
        "CircularConvWeight*",
        "circ_signal",
        "SWAP-2",
        "corr_signal(x)",
        &[1, 2, 6],
    ),
    word("mix", "ChannelMix", "mix_t", "CHAN-1", "mix(A)", &[1, 3, 4]),
    word(
        "mix_t",
        "ChannelMix*",
        "mix",
        "CHAN-1",
        "mix_t(A)",
        &[1, 2, 4],
    ),
    word(
        "group_transpose",
        "GroupTranspose",
        "group_transpose",
        "TRANS-2",
        "group_transpose[1]",
        &[2, 3, 3],
    ),
    word(
        "broadcast",
        "BiasBroadcast",
        "sum_nc",
        "BIAS-1",
        "broadcast[1, 2, 3]",
        &[2],
    ),
    word(
        "sum_nc",
        "BiasBroadcast*",
        "broadcast",
        "BIAS-1",
        "sum_nc",
        &[1, 2, 3],
    ),
    word("id", "Identity", "id", "COMP-4", "id", &[1, 2, 3]),
];

const fn word(
    dsl: &'static str,
    op: &'static str,
    adjoint: &'static str,
    note: &'static str,
    example: &'static str,
    domain: &'static [usize],
) -> Word {
    Word {
        dsl,
        op,
        adjoint,
        note,
        example,
        domain,
    }
}

/// Every primitive name the parser knows (tensor names may not use them): the
/// [`VOCABULARY`] and `adjoint`.
pub const PRIMITIVE_NAMES: &[&str] = &[
    "zero_pad",
    "crop",
    "pad_circular",
    "pad_reflect",
    "pad_replicate",
    "fold_circular",
    "fold_reflect",
    "fold_replicate",
    "flip",
    "subsample",
    "zero_insert",
    "dilate",
    "dilate_adjoint",
    "circ",
    "corr",
    "circ_signal",
    "corr_signal",
    "mix",
    "mix_t",
    "group_transpose",
    "broadcast",
    "sum_nc",
    "id",
    "adjoint",
];
