//! The linear-operator algebra: one trait, one file per primitive, forward and adjoint side by
//! side.
//!
//! An operator `$A$` maps tensors of its *domain* shape to tensors of its *codomain* shape. Its
//! adjoint `$A^*$` is the operator with `$\langle A x, y\rangle = \langle x, A^* y\rangle$` for all
//! `$x, y$` (real inner product, `derivations/01-notation.md`). Every primitive below returns its
//! adjoint as another concrete operator, so `A.adjoint().adjoint()` is `A` again and the
//! adjoint of a chain is the chain of adjoints reversed ([`Compose`]).
//!
//! Shapes: operators that act on "spatial" axes (pads, crops, flips, strides, convolutions)
//! act on the **trailing** axes of their tensors; leading axes (batch, channel) are carried
//! along.
//!
//! Each primitive's doc states its forward rule, its adjoint and the ID of the identity that
//! proves it: `derivations/02-pad-and-crop.md` (PAD), `03-circular-convolution.md` (CIRC,
//! FLIP), `05-composition.md` (COMP: chains, sums, scalings), `08-weight-gradient.md` (SWAP),
//! `09-stride.md` (STRIDE), `10-dilation.md` (DIL), `11-channels-and-groups.md` (CHAN),
//! `12-padding-modes.md` (MODE), `13-conv-transpose.md` (TRANS), `14-bias.md` (BIAS).

mod bias;
mod channel_mix;
mod circular_conv;
mod circular_conv_weight;
mod combinators;
mod crop;
mod dilate;
mod flip;
mod group_transpose;
mod index;
mod pad;
pub mod primitive;
mod shape_rules;
mod subsample;
mod zero_insert;
mod zero_pad;

pub use bias::{BiasBroadcast, BiasSum};
pub use channel_mix::ChannelMix;
pub use circular_conv::CircularConv;
pub use circular_conv_weight::CircularConvWeight;
pub use combinators::{Compose, Identity, Scale, Sum};
pub use crop::Crop;
pub use dilate::Dilate;
pub use flip::Flip;
pub use group_transpose::GroupTranspose;
pub use pad::{Pad, PadFold, PadMode};
pub use subsample::Subsample;
pub use zero_insert::ZeroInsert;
pub use zero_pad::ZeroPad;

pub use bias::{BROADCAST, SUM_NC};
pub use channel_mix::{MIX, MIX_T};
pub use circular_conv::{CIRC, CORR};
pub use circular_conv_weight::{CIRC_SIGNAL, CORR_SIGNAL};
pub use combinators::ID;
pub use crop::CROP;
pub use dilate::{DILATE, DILATE_ADJOINT};
pub use flip::FLIP;
pub use group_transpose::GROUP_TRANSPOSE;
pub use pad::{
    pad_primitive, FOLD_CIRCULAR, FOLD_REFLECT, FOLD_REPLICATE, PAD_CIRCULAR, PAD_REFLECT,
    PAD_REPLICATE,
};
pub use primitive::{Params, Primitive, Rule};
pub use subsample::SUBSAMPLE;
pub use zero_insert::ZERO_INSERT;
pub use zero_pad::ZERO_PAD;

/// The DSL's vocabulary, one [`Primitive`] per row: DSL name ↔ `src/op` operator ↔ adjoint ↔
/// note. The op names and the DSL names map 1:1 (each operator's `symbol()` is its DSL name).
/// The parser, shape inference, the adjoint rewrite, the printer and the lowering read this
/// list; `tests/vocabulary.rs` checks every entry end to end (parse, print, shapes, lowering,
/// dot test, dense transpose, adjoint rule, a row of `check`'s suite) and that this table
/// lists exactly the registry.
///
/// | DSL | `src/op` | adjoint | note |
/// |---|---|---|---|
/// | `zero_pad[lo:hi, …]` | `ZeroPad` | `crop` | PAD-1 |
/// | `crop[lo:hi, …]` | `Crop` | `zero_pad` | PAD-1 |
/// | `pad_circular[lo:hi, …]` | `Pad` | `fold_circular` | MODE-1 |
/// | `pad_reflect[lo:hi, …]` | `Pad` | `fold_reflect` | MODE-1 |
/// | `pad_replicate[lo:hi, …]` | `Pad` | `fold_replicate` | MODE-1 |
/// | `fold_circular[lo:hi, …]` | `Pad*` | `pad_circular` | MODE-1 |
/// | `fold_reflect[lo:hi, …]` | `Pad*` | `pad_reflect` | MODE-1 |
/// | `fold_replicate[lo:hi, …]` | `Pad*` | `pad_replicate` | MODE-1 |
/// | `flip[k]` | `Flip` | `flip` | FLIP-1 |
/// | `subsample[s, …]` | `Subsample` | `zero_insert` | STRIDE-1 |
/// | `zero_insert[s, …]` | `ZeroInsert` | `subsample` | STRIDE-1 |
/// | `dilate[d, …]` | `Dilate` | `dilate_adjoint` | DIL-1 |
/// | `dilate_adjoint[d, …]` | `Dilate*` | `dilate` | DIL-1 |
/// | `circ(h[, groups=g])` | `CircularConv` | `corr` | CIRC-2 |
/// | `corr(h[, groups=g])` | `CircularConv*` | `circ` | CIRC-2 |
/// | `circ_signal(x[, groups=g])` | `CircularConvWeight` | `corr_signal` | SWAP-2 |
/// | `corr_signal(x[, groups=g])` | `CircularConvWeight*` | `circ_signal` | SWAP-2 |
/// | `mix(A[, groups=g])` | `ChannelMix` | `mix_t` | CHAN-1 |
/// | `mix_t(A[, groups=g])` | `ChannelMix*` | `mix` | CHAN-1 |
/// | `group_transpose[g]` | `GroupTranspose` | `group_transpose` | TRANS-2 |
/// | `broadcast[N, C, …]` | `BiasBroadcast` | `sum_nc` | BIAS-1 |
/// | `sum_nc[N, C, …]` | `BiasBroadcast*` | `broadcast` | BIAS-1 |
/// | `id` | `Identity` | `id` | COMP-4 |
///
/// With `groups=g` ≠ 1 the adjoints of `circ`, `corr`, `circ_signal`, `corr_signal` cite
/// CHAN-2 (the same rule per group).
pub static PRIMITIVES: &[&Primitive] = &[
    &ZERO_PAD,
    &CROP,
    &PAD_CIRCULAR,
    &PAD_REFLECT,
    &PAD_REPLICATE,
    &FOLD_CIRCULAR,
    &FOLD_REFLECT,
    &FOLD_REPLICATE,
    &FLIP,
    &SUBSAMPLE,
    &ZERO_INSERT,
    &DILATE,
    &DILATE_ADJOINT,
    &CIRC,
    &CORR,
    &CIRC_SIGNAL,
    &CORR_SIGNAL,
    &MIX,
    &MIX_T,
    &GROUP_TRANSPOSE,
    &BROADCAST,
    &SUM_NC,
    &ID,
];

use crate::error::{Error, Result};
use crate::tensor::{Scalar, Tensor};
use std::fmt;
use std::sync::Arc;

/// A shared, type-erased linear operator.
pub type Op<T = f64> = Arc<dyn LinearOp<T>>;

/// The symbolic form of an operator: a name, its parameters and its operands (for
/// combinators). Printed as `name[k=v, …](operand, …)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Symbol {
    /// Operator name, e.g. `zero_pad`.
    pub name: String,
    /// Parameters as (key, value) text.
    pub params: Vec<(String, String)>,
    /// Operands of a combinator (empty for primitives).
    pub args: Vec<Symbol>,
}

impl Symbol {
    /// A primitive's symbol.
    pub fn new(name: &str, params: Vec<(&str, String)>) -> Self {
        Symbol {
            name: name.to_string(),
            params: params
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            args: Vec::new(),
        }
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)?;
        if !self.params.is_empty() {
            let p: Vec<String> = self
                .params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            write!(f, "[{}]", p.join(", "))?;
        }
        if !self.args.is_empty() {
            let a: Vec<String> = self.args.iter().map(|s| s.to_string()).collect();
            write!(f, "({})", a.join(", "))?;
        }
        Ok(())
    }
}

/// A linear map between tensors of fixed shapes, with its adjoint.
///
/// Implementors provide [`forward`](LinearOp::forward), which may assume its input has the
/// domain shape; users call [`apply`](LinearOp::apply), which checks it.
pub trait LinearOp<T: Scalar>: Send + Sync + fmt::Debug {
    /// Shape of the input.
    fn domain(&self) -> &[usize];
    /// Shape of the output.
    fn codomain(&self) -> &[usize];
    /// `A x` for `x` of the domain shape (unchecked; call [`apply`](LinearOp::apply)).
    fn forward(&self, x: &Tensor<T>) -> Tensor<T>;
    /// The adjoint operator `A*`.
    fn adjoint(&self) -> Op<T>;
    /// The symbolic form (name and parameters).
    fn symbol(&self) -> Symbol;

    /// `A x`, checking the shape of `x`.
    ///
    /// # Errors
    /// [`Error::Shape`] when `x` does not have the domain shape.
    fn apply(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        if x.shape() != self.domain() {
            return Err(Error::shape(
                format!("operator {}", self.symbol()),
                self.domain(),
                x.shape(),
            ));
        }
        Ok(self.forward(x))
    }
}

/// `a ∘ b` (apply `b` first), checking that the shapes meet.
///
/// # Errors
/// [`Error::Shape`] when `b`'s codomain is not `a`'s domain.
pub fn compose<T: Scalar>(a: Op<T>, b: Op<T>) -> Result<Op<T>> {
    Ok(Arc::new(Compose::new(vec![a, b])?))
}

/// The chain `ops[0] ∘ ops[1] ∘ … ∘ ops[n-1]` (the last is applied first).
///
/// # Errors
/// [`Error::Shape`] when adjacent shapes do not meet, or the list is empty.
pub fn chain<T: Scalar>(ops: Vec<Op<T>>) -> Result<Op<T>> {
    Ok(Arc::new(Compose::new(ops)?))
}

/// Validate that an operator parameter list has one entry per trailing axis of `shape`.
pub(crate) fn check_rank(context: &str, shape: &[usize], per_axis: usize) -> Result<()> {
    if per_axis == 0 || per_axis > shape.len() {
        return Err(Error::invalid(
            context,
            format!(
                "needs one parameter per spatial axis (1..={} for shape {shape:?}), got {per_axis}",
                shape.len()
            ),
        ));
    }
    crate::tensor::checked_numel(shape)?;
    Ok(())
}
