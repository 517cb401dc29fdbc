//! Losses: softmax cross-entropy (classification) and mean-squared error (regression). Each
//! returns the loss and its gradient with respect to the prediction.

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Mean softmax cross-entropy of `logits (N, K)` against class `labels`, its gradient
/// `(softmax(logits) − onehot(labels)) / N`, and the number of correct arg-max predictions.
///
/// `L = −(1/N) Σ_n log softmax(z_n)[y_n]`, computed with the max subtracted (no overflow).
///
/// ```
/// use fftconv::nn::softmax_cross_entropy;
/// use fftconv::Tensor;
/// let z = Tensor::new(vec![1, 2], vec![0.0, 0.0]).unwrap();
/// let (loss, _, _) = softmax_cross_entropy(&z, &[1]).unwrap();
/// assert!((loss - 2f64.ln()).abs() < 1e-15);
/// ```
///
/// # Errors
/// [`Error::Invalid`] when `logits` is not `(N, K)` with `N = labels.len()` or a label is
/// `≥ K`.
pub fn softmax_cross_entropy(logits: &Tensor, labels: &[usize]) -> Result<(f64, Tensor, usize)> {
    let s = logits.shape();
    if s.len() != 2 || s[0] != labels.len() || s[0] == 0 {
        return Err(Error::invalid(
            "softmax cross-entropy",
            format!(
                "logits {s:?} must be (N, K) with N = {} labels",
                labels.len()
            ),
        ));
    }
    let (n, k) = (s[0], s[1]);
    let z = logits.data();
    let mut grad = vec![0.0; n * k];
    let mut loss = 0.0;
    let mut correct = 0;
    for i in 0..n {
        let y = labels[i];
        if y >= k {
            return Err(Error::invalid(
                "softmax cross-entropy",
                format!("label {y} of sample {i} is not below the {k} classes"),
            ));
        }
        let row = &z[i * k..(i + 1) * k];
        let (arg, m) =
            row.iter().enumerate().fold(
                (0, f64::NEG_INFINITY),
                |b, (j, &v)| if v > b.1 { (j, v) } else { b },
            );
        if arg == y {
            correct += 1;
        }
        let sum: f64 = row.iter().map(|&v| (v - m).exp()).sum();
        loss += sum.ln() + m - row[y];
        for j in 0..k {
            let p = (row[j] - m).exp() / sum;
            grad[i * k + j] = (p - if j == y { 1.0 } else { 0.0 }) / n as f64;
        }
    }
    Ok((loss / n as f64, Tensor::new(vec![n, k], grad)?, correct))
}

/// Mean-squared error `L = (1/M) Σ (y − t)²` over all `M` entries and its gradient
/// `2 (y − t) / M`.
///
/// ```
/// use fftconv::nn::mse;
/// use fftconv::Tensor;
/// let y = Tensor::new(vec![2], vec![1.0, 3.0]).unwrap();
/// let (loss, g) = mse(&y, &Tensor::zeros(&[2])).unwrap();
/// assert_eq!((loss, g.data().to_vec()), (5.0, vec![1.0, 3.0]));
/// ```
///
/// # Errors
/// [`Error::Shape`] when the shapes differ.
pub fn mse(prediction: &Tensor, target: &Tensor) -> Result<(f64, Tensor)> {
    target.expect_shape(prediction.shape(), "mse target")?;
    let r = prediction.sub(target)?;
    let m = r.len().max(1) as f64;
    let loss = r.data().iter().map(|v| v * v).sum::<f64>() / m;
    Ok((loss, r.scale(2.0 / m)))
}
