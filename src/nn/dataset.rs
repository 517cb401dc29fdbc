//! A labelled image set and minibatch extraction.

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Images `(N, C, H, W)` with one class label each.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// The images.
    pub images: Tensor,
    /// Class of each image, `< classes`.
    pub labels: Vec<usize>,
    /// Number of classes.
    pub classes: usize,
}

impl Dataset {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The images at `indices` stacked as a batch, with their labels.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an index out of range.
    pub fn batch(&self, indices: &[usize]) -> Result<(Tensor, Vec<usize>)> {
        let per: usize = self.images.shape()[1..].iter().product();
        let mut data = Vec::with_capacity(indices.len() * per);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            if i >= self.len() {
                return Err(Error::invalid(
                    "dataset batch",
                    format!("index {i} is beyond the {} images", self.len()),
                ));
            }
            data.extend_from_slice(&self.images.data()[i * per..(i + 1) * per]);
            labels.push(self.labels[i]);
        }
        let mut shape = self.images.shape().to_vec();
        shape[0] = indices.len();
        Ok((Tensor::new(shape, data)?, labels))
    }

    /// How many images each class has.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.classes];
        for &l in &self.labels {
            if l < c.len() {
                c[l] += 1;
            }
        }
        c
    }
}
