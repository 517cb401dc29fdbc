//! Combinators: identity, composition, sum, scaling (note `derivations/05-composition.md`,
//! identities COMP-1 … COMP-3).

use super::primitive::{keep, Primitive, Rule, Site, Syntax};
use super::{LinearOp, Op, Symbol};
use crate::error::{Error, Result};
use crate::tensor::{Scalar, Tensor};
use std::sync::Arc;

/// The identity on tensors of one shape. Self-adjoint.
#[derive(Clone, Debug)]
pub struct Identity {
    shape: Vec<usize>,
}

impl Identity {
    /// The identity on `shape`.
    pub fn new(shape: &[usize]) -> Self {
        Identity {
            shape: shape.to_vec(),
        }
    }
}

impl<T: Scalar> LinearOp<T> for Identity {
    fn domain(&self) -> &[usize] {
        &self.shape
    }
    fn codomain(&self) -> &[usize] {
        &self.shape
    }
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        x.clone()
    }
    fn adjoint(&self) -> Op<T> {
        Arc::new(self.clone())
    }
    fn symbol(&self) -> Symbol {
        Symbol::new("id", vec![])
    }
}

/// The chain `$A_0 \circ A_1 \circ \dots \circ A_{n-1}$`: `$A_{n-1}$` is applied first.
///
/// Adjoint: `$(A_0 \cdots A_{n-1})^* = A_{n-1}^* \cdots A_0^*$` — the chain of adjoints in
/// reverse order (COMP-1), which is backpropagation.
///
/// ```
/// use fftconv::{op::{self, Crop, LinearOp, ZeroPad}, Tensor};
/// use std::sync::Arc;
/// let pad: op::Op = Arc::new(ZeroPad::new(&[3], &[(1, 1)]).unwrap());
/// let crop: op::Op = Arc::new(Crop::new(&[5], &[(1, 1)]).unwrap());
/// let id = op::compose(crop, pad).unwrap();
/// let x = Tensor::new(vec![3], vec![1.0, 2.0, 3.0]).unwrap();
/// assert_eq!(id.apply(&x).unwrap(), x);
/// ```
///
/// # Errors
/// `new` fails when adjacent shapes do not meet or the list is empty.
#[derive(Clone, Debug)]
pub struct Compose<T: Scalar> {
    ops: Vec<Op<T>>,
}

impl<T: Scalar> Compose<T> {
    /// The chain `ops[0] ∘ … ∘ ops[n-1]`.
    pub fn new(ops: Vec<Op<T>>) -> Result<Self> {
        if ops.is_empty() {
            return Err(Error::invalid("compose", "needs at least one operator"));
        }
        for w in ops.windows(2) {
            if w[0].domain() != w[1].codomain() {
                return Err(Error::shape(
                    format!("compose {} ∘ {}", w[0].symbol(), w[1].symbol()),
                    w[0].domain(),
                    w[1].codomain(),
                ));
            }
        }
        Ok(Compose { ops })
    }
    /// The operators, outermost first.
    pub fn ops(&self) -> &[Op<T>] {
        &self.ops
    }
}

impl<T: Scalar> LinearOp<T> for Compose<T> {
    fn domain(&self) -> &[usize] {
        self.ops[self.ops.len() - 1].domain()
    }
    fn codomain(&self) -> &[usize] {
        self.ops[0].codomain()
    }
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        let mut it = self.ops.iter().rev();
        let first = it.next().expect("compose is never empty");
        let mut y = first.forward(x);
        for op in it {
            y = op.forward(&y);
        }
        y
    }
    fn adjoint(&self) -> Op<T> {
        Arc::new(Compose {
            ops: self.ops.iter().rev().map(|a| a.adjoint()).collect(),
        })
    }
    fn symbol(&self) -> Symbol {
        Symbol {
            name: "compose".into(),
            params: vec![],
            args: self.ops.iter().map(|a| a.symbol()).collect(),
        }
    }
}

/// The sum `$A_0 + A_1 + \dots$` of operators with the same shapes.
///
/// Adjoint: `$(A + B)^* = A^* + B^*$` (COMP-2).
///
/// # Errors
/// `new` fails when the shapes differ or the list is empty.
#[derive(Clone, Debug)]
pub struct Sum<T: Scalar> {
    ops: Vec<Op<T>>,
}

impl<T: Scalar> Sum<T> {
    /// The sum of `ops`.
    pub fn new(ops: Vec<Op<T>>) -> Result<Self> {
        let first = ops
            .first()
            .ok_or_else(|| Error::invalid("sum", "needs at least one operator"))?;
        for o in &ops[1..] {
            if o.domain() != first.domain() || o.codomain() != first.codomain() {
                return Err(Error::shape(
                    format!("sum with {}", o.symbol()),
                    first.domain(),
                    o.domain(),
                ));
            }
        }
        Ok(Sum { ops })
    }
}

impl<T: Scalar> LinearOp<T> for Sum<T> {
    fn domain(&self) -> &[usize] {
        self.ops[0].domain()
    }
    fn codomain(&self) -> &[usize] {
        self.ops[0].codomain()
    }
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        let mut y = self.ops[0].forward(x);
        for o in &self.ops[1..] {
            let z = o.forward(x);
            for (a, b) in y.data_mut().iter_mut().zip(z.data()) {
                *a = *a + *b;
            }
        }
        y
    }
    fn adjoint(&self) -> Op<T> {
        Arc::new(Sum {
            ops: self.ops.iter().map(|a| a.adjoint()).collect(),
        })
    }
    fn symbol(&self) -> Symbol {
        Symbol {
            name: "sum".into(),
            params: vec![],
            args: self.ops.iter().map(|a| a.symbol()).collect(),
        }
    }
}

/// `$\alpha A$`. Adjoint: `$\alpha A^*$` (real `$\alpha$`, COMP-3).
#[derive(Clone, Debug)]
pub struct Scale<T: Scalar> {
    alpha: f64,
    op: Op<T>,
}

impl<T: Scalar> Scale<T> {
    /// `alpha · op`.
    ///
    /// # Errors
    /// [`Error::Invalid`] when `alpha` is not finite.
    pub fn new(alpha: f64, op: Op<T>) -> Result<Self> {
        if !alpha.is_finite() {
            return Err(Error::invalid(
                "scale",
                format!("factor {alpha} must be finite"),
            ));
        }
        Ok(Scale { alpha, op })
    }
}

impl<T: Scalar> LinearOp<T> for Scale<T> {
    fn domain(&self) -> &[usize] {
        self.op.domain()
    }
    fn codomain(&self) -> &[usize] {
        self.op.codomain()
    }
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        self.op.forward(x).scale(T::of(self.alpha))
    }
    fn adjoint(&self) -> Op<T> {
        Arc::new(Scale {
            alpha: self.alpha,
            op: self.op.adjoint(),
        })
    }
    fn symbol(&self) -> Symbol {
        Symbol {
            name: "scale".into(),
            params: vec![("alpha".into(), format!("{}", self.alpha))],
            args: vec![self.op.symbol()],
        }
    }
}

/// The DSL's `id`, self-adjoint (COMP-4).
pub static ID: Primitive = Primitive {
    dsl: "id",
    aliases: &[],
    op: "Identity",
    syntax: Syntax::Bare,
    adjoint: &ID,
    rule: Rule {
        name: "identity is self-adjoint",
        note: "COMP-4",
        statement: "id' = id",
    },
    grouped_rule: None,
    example: "id",
    domain: &[1, 2, 3],
    forward: |_, d| Ok(Some(d.to_vec())),
    backward: |_, c| Ok(Some(c.to_vec())),
    resolve: keep,
    mismatch_hint: "",
    lower: crate::lowering!(lower_id),
};

fn lower_id<T: Scalar>(
    _: &Site,
    dom: &[usize],
    _: &[usize],
    _: Option<&Tensor<T>>,
) -> Result<Op<T>> {
    Ok(Arc::new(Identity::new(dom)))
}
