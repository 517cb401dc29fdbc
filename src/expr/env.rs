//! The named tensors an expression refers to (`let w: [4, 3, 3]`), filled with seeded random
//! normal data unless given.

use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::collections::BTreeMap;

/// Named tensors.
#[derive(Clone, Debug, Default)]
pub struct Env {
    tensors: BTreeMap<String, Tensor<f64>>,
}

/// A seed derived from a name (FNV-1a), so that `let w: [..]` gives the same data every run.
pub fn seed_of(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Env {
    /// No tensors.
    pub fn new() -> Self {
        Env::default()
    }

    /// Declare `name` with seeded standard normal entries of `shape`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] when the shape overflows; [`Error::Invalid`] for an empty axis.
    pub fn declare(&mut self, name: &str, shape: &[usize]) -> Result<()> {
        crate::tensor::checked_numel(shape)?;
        if shape.contains(&0) {
            return Err(Error::invalid(
                format!("tensor `{name}`"),
                format!("shape {shape:?} has an empty axis; give every axis at least 1"),
            ));
        }
        crate::limits::guard_shape(&format!("tensor `{name}`"), shape, 8)?;
        self.tensors
            .insert(name.to_string(), Tensor::randn(shape, seed_of(name)));
        Ok(())
    }

    /// Bind `name` to the given tensor.
    pub fn insert(&mut self, name: &str, t: Tensor<f64>) {
        self.tensors.insert(name.to_string(), t);
    }

    /// The tensor called `name`.
    ///
    /// # Errors
    /// [`Error::Invalid`] when it was not declared.
    pub fn get(&self, name: &str) -> Result<&Tensor<f64>> {
        self.tensors.get(name).ok_or_else(|| {
            Error::invalid(
                format!("tensor `{name}`"),
                format!("is not declared; add a line `let {name}: [shape]`"),
            )
        })
    }

    /// Is `name` declared?
    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }
}

/// The tensors every vocabulary example ([`Primitive::example`](crate::op::Primitive::example))
/// is typed with: `h: [2, 3, 6]`, `x: [1, 3, 6]`, `A: [2, 3]`, seeded by name.
pub fn example_env() -> Env {
    let mut env = Env::new();
    for (name, shape) in [("h", &[2, 3, 6][..]), ("x", &[1, 3, 6]), ("A", &[2, 3])] {
        env.insert(name, Tensor::randn(shape, seed_of(name)));
    }
    env
}
