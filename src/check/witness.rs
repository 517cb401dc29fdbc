//! The direct witness: circular convolution and correlation by plain loops over indices,
//! sharing no code with the FFT path (no FFT, no spectra, not even the operator's shape
//! validation). Slow — O(P²) per channel pair — and meant for small checks.
//!
//! Semantics are those of [`CircularConv`](crate::op::CircularConv) (notation
//! `derivations/01-notation.md`, identities CIRC-1, CIRC-2, SWAP-2): for `x: (N, C, *P)`,
//! kernel `h: (O, C/g, *P)`, output `y: (N, O, *P)`, group `$\gamma(o) = \lfloor o/(O/g)\rfloor$`:
//!
//! * convolution `$y_{n,o,i} = \sum_{c<C/g}\sum_j h_{o,c,j}\, x_{n,\gamma(o)C/g+c,\,(i-j) \bmod P}$`
//! * correlation (its adjoint in `x`)
//!   `$x_{n,\gamma C/g+c,\,k} = \sum_{o\in\gamma}\sum_j h_{o,c,j}\, y_{n,o,\,(k+j) \bmod P}$`
//! * weight correlation (its adjoint in `h`)
//!   `$h_{o,c,j} = \sum_n\sum_i y_{n,o,i}\, x_{n,\gamma(o)C/g+c,\,(i-j) \bmod P}$`

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Channel bookkeeping shared by the three loops.
struct Layout {
    batch: usize,
    in_ch: usize,
    out_ch: usize,
    per_group_in: usize,
    per_group_out: usize,
    period: Vec<usize>,
    /// Number of positions in one period.
    len: usize,
    /// Multi-indices of every position of the period.
    coords: Vec<Vec<usize>>,
}

impl Layout {
    fn new(
        context: &str,
        batch: usize,
        in_ch: usize,
        out_ch: usize,
        groups: usize,
        period: &[usize],
    ) -> Result<Layout> {
        if groups == 0 || !in_ch.is_multiple_of(groups) || !out_ch.is_multiple_of(groups) {
            return Err(Error::invalid(
                format!("{context} groups"),
                format!("groups={groups} must divide both channel counts {in_ch} and {out_ch}"),
            ));
        }
        if period.is_empty() || period.contains(&0) {
            return Err(Error::invalid(
                context,
                format!("needs a non-empty period, got {period:?}"),
            ));
        }
        let len = crate::tensor::checked_numel(period)?;
        let mut coords = Vec::with_capacity(len);
        for flat in 0..len {
            let mut rest = flat;
            let mut c = vec![0usize; period.len()];
            for a in (0..period.len()).rev() {
                c[a] = rest % period[a];
                rest /= period[a];
            }
            coords.push(c);
        }
        Ok(Layout {
            batch,
            in_ch,
            out_ch,
            per_group_in: in_ch / groups,
            per_group_out: out_ch / groups,
            period: period.to_vec(),
            len,
            coords,
        })
    }

    /// Flat position of `(a ± b) mod P`, axis by axis.
    fn shifted(&self, a: usize, b: usize, subtract: bool) -> usize {
        let (ca, cb) = (&self.coords[a], &self.coords[b]);
        let mut flat = 0usize;
        for ax in 0..self.period.len() {
            let p = self.period[ax];
            let v = if subtract {
                (ca[ax] + p - cb[ax]) % p
            } else {
                (ca[ax] + cb[ax]) % p
            };
            flat = flat * p + v;
        }
        flat
    }

    fn x_shape(&self) -> Vec<usize> {
        let mut s = vec![self.batch, self.in_ch];
        s.extend(&self.period);
        s
    }
    fn y_shape(&self) -> Vec<usize> {
        let mut s = vec![self.batch, self.out_ch];
        s.extend(&self.period);
        s
    }
    fn h_shape(&self) -> Vec<usize> {
        let mut s = vec![self.out_ch, self.per_group_in];
        s.extend(&self.period);
        s
    }
    /// Input channel of the convolution for output channel `o` and in-group channel `c`.
    fn input_channel(&self, o: usize, c: usize) -> usize {
        (o / self.per_group_out) * self.per_group_in + c
    }
}

fn rank_check(context: &str, name: &str, t: &Tensor<f64>) -> Result<()> {
    if t.ndim() < 3 {
        return Err(Error::invalid(
            context,
            format!(
                "`{name}` needs shape (·, ·, *P) with at least one period axis, got {:?}",
                t.shape()
            ),
        ));
    }
    Ok(())
}

/// Circular convolution of `x: (N, C, *P)` with `kernel: (O, C/groups, *P)` by loops.
///
/// ```
/// use fftconv::check::witness::circular_conv;
/// use fftconv::Tensor;
/// let h = Tensor::new(vec![1, 1, 3], vec![0.0, 1.0, 0.0]).unwrap(); // shift by one
/// let x = Tensor::new(vec![1, 1, 3], vec![1.0, 2.0, 3.0]).unwrap();
/// assert_eq!(circular_conv(&x, &h, 1).unwrap().data(), &[3.0, 1.0, 2.0]);
/// ```
///
/// # Errors
/// [`Error::Invalid`]/[`Error::Shape`] when the shapes or `groups` do not fit.
pub fn circular_conv(x: &Tensor<f64>, kernel: &Tensor<f64>, groups: usize) -> Result<Tensor<f64>> {
    rank_check("witness circular_conv", "x", x)?;
    rank_check("witness circular_conv", "kernel", kernel)?;
    let (xs, hs) = (x.shape(), kernel.shape());
    let lay = Layout::new(
        "witness circular_conv",
        xs[0],
        xs[1],
        hs[0],
        groups,
        &xs[2..],
    )?;
    kernel.expect_shape(&lay.h_shape(), "witness circular_conv: kernel")?;
    let mut y = Tensor::zeros(&lay.y_shape());
    let (xd, hd) = (x.data(), kernel.data());
    let p = lay.len;
    for n in 0..lay.batch {
        for o in 0..lay.out_ch {
            for c in 0..lay.per_group_in {
                let ci = lay.input_channel(o, c);
                let h = &hd[(o * lay.per_group_in + c) * p..][..p];
                let xc = &xd[(n * lay.in_ch + ci) * p..][..p];
                for i in 0..p {
                    let mut acc = 0.0;
                    for (j, hv) in h.iter().enumerate() {
                        acc += hv * xc[lay.shifted(i, j, true)];
                    }
                    y.data_mut()[(n * lay.out_ch + o) * p + i] += acc;
                }
            }
        }
    }
    Ok(y)
}

/// Circular correlation of `y: (N, O, *P)` with `kernel: (O, C/groups, *P)` by loops: the
/// adjoint of [`circular_conv`] in `x`, giving `(N, C, *P)`.
///
/// ```
/// use fftconv::check::witness::circular_correlation;
/// use fftconv::Tensor;
/// let h = Tensor::new(vec![1, 1, 3], vec![0.0, 1.0, 0.0]).unwrap(); // shift back by one
/// let y = Tensor::new(vec![1, 1, 3], vec![3.0, 1.0, 2.0]).unwrap();
/// assert_eq!(circular_correlation(&y, &h, 1).unwrap().data(), &[1.0, 2.0, 3.0]);
/// ```
///
/// # Errors
/// [`Error::Invalid`]/[`Error::Shape`] when the shapes or `groups` do not fit.
pub fn circular_correlation(
    y: &Tensor<f64>,
    kernel: &Tensor<f64>,
    groups: usize,
) -> Result<Tensor<f64>> {
    rank_check("witness circular_correlation", "y", y)?;
    rank_check("witness circular_correlation", "kernel", kernel)?;
    let (ys, hs) = (y.shape(), kernel.shape());
    let lay = Layout::new(
        "witness circular_correlation",
        ys[0],
        hs[1] * groups,
        hs[0],
        groups,
        &ys[2..],
    )?;
    kernel.expect_shape(&lay.h_shape(), "witness circular_correlation: kernel")?;
    y.expect_shape(&lay.y_shape(), "witness circular_correlation: y")?;
    let mut x = Tensor::zeros(&lay.x_shape());
    let (yd, hd) = (y.data(), kernel.data());
    let p = lay.len;
    for n in 0..lay.batch {
        for o in 0..lay.out_ch {
            for c in 0..lay.per_group_in {
                let ci = lay.input_channel(o, c);
                let h = &hd[(o * lay.per_group_in + c) * p..][..p];
                let yo = &yd[(n * lay.out_ch + o) * p..][..p];
                for k in 0..p {
                    let mut acc = 0.0;
                    for (j, hv) in h.iter().enumerate() {
                        acc += hv * yo[lay.shifted(k, j, false)];
                    }
                    x.data_mut()[(n * lay.in_ch + ci) * p + k] += acc;
                }
            }
        }
    }
    Ok(x)
}

/// The weight correlation `$h_{o,c,j} = \sum_n\sum_i y_{n,o,i}\, x_{n,\gamma(o)C/g+c,(i-j)\bmod P}$`
/// of `y: (N, O, *P)` with the signal `x: (N, C, *P)` by loops: the adjoint of
/// [`circular_conv`] in the kernel (the weight gradient), giving `(O, C/groups, *P)`.
///
/// ```
/// use fftconv::check::witness::circular_weight_correlation;
/// use fftconv::Tensor;
/// let x = Tensor::new(vec![1, 1, 2], vec![1.0, 2.0]).unwrap();
/// let y = Tensor::new(vec![1, 1, 2], vec![1.0, 0.0]).unwrap();
/// // h_j = Σ_i y_i x_{i-j}: h_0 = x_0 = 1, h_1 = x_{-1} = x_1 = 2.
/// assert_eq!(circular_weight_correlation(&x, &y, 1).unwrap().data(), &[1.0, 2.0]);
/// ```
///
/// # Errors
/// [`Error::Invalid`]/[`Error::Shape`] when the shapes or `groups` do not fit.
pub fn circular_weight_correlation(
    x: &Tensor<f64>,
    y: &Tensor<f64>,
    groups: usize,
) -> Result<Tensor<f64>> {
    rank_check("witness circular_weight_correlation", "x", x)?;
    rank_check("witness circular_weight_correlation", "y", y)?;
    let (xs, ys) = (x.shape(), y.shape());
    let lay = Layout::new(
        "witness circular_weight_correlation",
        xs[0],
        xs[1],
        ys[1],
        groups,
        &xs[2..],
    )?;
    y.expect_shape(&lay.y_shape(), "witness circular_weight_correlation: y")?;
    let mut h = Tensor::zeros(&lay.h_shape());
    let (xd, yd) = (x.data(), y.data());
    let p = lay.len;
    for n in 0..lay.batch {
        for o in 0..lay.out_ch {
            for c in 0..lay.per_group_in {
                let ci = lay.input_channel(o, c);
                let xc = &xd[(n * lay.in_ch + ci) * p..][..p];
                let yo = &yd[(n * lay.out_ch + o) * p..][..p];
                for j in 0..p {
                    let mut acc = 0.0;
                    for (i, yv) in yo.iter().enumerate() {
                        acc += yv * xc[lay.shifted(i, j, true)];
                    }
                    h.data_mut()[(o * lay.per_group_in + c) * p + j] += acc;
                }
            }
        }
    }
    Ok(h)
}
