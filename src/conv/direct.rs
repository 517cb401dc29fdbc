//! The direct witness: a convolution layer, its input, weight and bias gradients, by plain
//! loops over sliding windows — "all that multiplication". It shares no code with the FFT
//! path (not even the padding index rules), so agreement between the two is evidence.

use super::spec::{ConvKind, ConvSpec, Geometry};
use super::Grads;
use crate::error::Result;
use crate::op::PadMode;
use crate::tensor::{Scalar, Tensor};

/// Where padded position `p` (may be negative or past the end) reads in an axis of extent `n`.
fn source(mode: PadMode, p: i64, n: i64) -> Option<i64> {
    if (0..n).contains(&p) {
        return Some(p);
    }
    match mode {
        PadMode::Zeros => None,
        PadMode::Circular => Some(p.rem_euclid(n)),
        PadMode::Replicate => Some(if p < 0 { 0 } else { n - 1 }),
        PadMode::Reflect if n == 1 => Some(0),
        PadMode::Reflect => {
            let mut q = p;
            // Mirror about the first and last sample until inside (each bounce moves inwards).
            while !(0..n).contains(&q) {
                q = if q < 0 { -q } else { 2 * (n - 1) - q };
            }
            Some(q)
        }
    }
}

/// For every (output position, kernel tap) of a conv geometry, the flat spatial offset of the
/// input sample it reads, or `None` for a zero from padding.
fn taps(g: &Geometry) -> (usize, usize, Vec<Option<usize>>) {
    let d = g.rank();
    let out_n: usize = g.output.iter().product();
    let k_n: usize = g.kernel.iter().product();
    let mut table = Vec::with_capacity(out_n * k_n);
    let mut oi = vec![0usize; d];
    let mut ki = vec![0usize; d];
    for o_flat in 0..out_n {
        let mut r = o_flat;
        for a in (0..d).rev() {
            oi[a] = r % g.output[a];
            r /= g.output[a];
        }
        for k_flat in 0..k_n {
            let mut r = k_flat;
            for a in (0..d).rev() {
                ki[a] = r % g.kernel[a];
                r /= g.kernel[a];
            }
            let mut off = Some(0usize);
            for a in 0..d {
                let p = (g.stride[a] * oi[a] + g.dilation[a] * ki[a]) as i64 - g.pads[a].0 as i64;
                off = match (off, source(g.padding_mode, p, g.input[a] as i64)) {
                    (Some(o), Some(s)) => Some(o * g.input[a] + s as usize),
                    _ => None,
                };
            }
            table.push(off);
        }
    }
    (out_n, k_n, table)
}

/// Forward pass `y` by loops.
///
/// # Errors
/// Shape and spec errors of [`ConvSpec::geometry`], and shape mismatches of `b`.
pub fn forward<T: Scalar>(
    spec: &ConvSpec,
    x: &Tensor<T>,
    w: &Tensor<T>,
    b: Option<&Tensor<T>>,
) -> Result<Tensor<T>> {
    let g = spec.forward_geometry(x, w, b)?;
    Ok(match g.kind {
        ConvKind::Conv => conv_forward(&g, x, w, b),
        ConvKind::ConvTranspose => {
            let c = g.as_conv();
            let mut y = conv_input_grad(&c, &pad_tail(x, &c.output), w);
            add_bias(&mut y, b);
            y
        }
    })
}

/// Gradients `dx`, `dw` (and `db` when `with_bias`) for upstream `dy`, by loops.
///
/// # Errors
/// Shape and spec errors of [`ConvSpec::geometry`]; `dy` must have the output shape.
pub fn backward<T: Scalar>(
    spec: &ConvSpec,
    x: &Tensor<T>,
    w: &Tensor<T>,
    dy: &Tensor<T>,
    with_bias: bool,
) -> Result<Grads<T>> {
    let g = spec.backward_geometry(x, w, dy)?;
    let db = with_bias.then(|| bias_grad(dy));
    Ok(match g.kind {
        ConvKind::Conv => Grads {
            dx: conv_input_grad(&g, dy, w),
            dw: conv_weight_grad(&g, x, dy),
            db,
        },
        ConvKind::ConvTranspose => {
            // y = A*(x̃) with A the conv of `as_conv`; so dx = A(dy) (first S entries) and
            // dw = the conv weight gradient with input dy and output cotangent x̃.
            let c = g.as_conv();
            let xt = pad_tail(x, &c.output);
            let dx_full = conv_forward(&c, dy, w, None);
            Grads {
                dx: crop_tail(&dx_full, &g.input),
                dw: conv_weight_grad(&c, dy, &xt),
                db,
            }
        }
    })
}

fn conv_forward<T: Scalar>(
    g: &Geometry,
    x: &Tensor<T>,
    w: &Tensor<T>,
    b: Option<&Tensor<T>>,
) -> Tensor<T> {
    let (out_n, k_n, tab) = taps(g);
    let in_n: usize = g.input.iter().product();
    let cg = g.c_in / g.groups;
    let og = g.c_out / g.groups;
    let mut y = Tensor::zeros(&[vec![g.n, g.c_out], g.output.clone()].concat());
    let (xs, ws) = (x.data(), w.data());
    let ys = y.data_mut();
    for n in 0..g.n {
        for o in 0..g.c_out {
            let grp = o / og;
            for i in 0..out_n {
                let mut acc = b.map_or(T::zero(), |b| b.data()[o]);
                for c in 0..cg {
                    let xbase = (n * g.c_in + grp * cg + c) * in_n;
                    let wbase = (o * cg + c) * k_n;
                    for k in 0..k_n {
                        if let Some(s) = tab[i * k_n + k] {
                            acc = acc + ws[wbase + k] * xs[xbase + s];
                        }
                    }
                }
                ys[(n * g.c_out + o) * out_n + i] = acc;
            }
        }
    }
    y
}

/// `dx[src] += w · dy` over every window that read `src`.
fn conv_input_grad<T: Scalar>(g: &Geometry, dy: &Tensor<T>, w: &Tensor<T>) -> Tensor<T> {
    let (out_n, k_n, tab) = taps(g);
    let in_n: usize = g.input.iter().product();
    let cg = g.c_in / g.groups;
    let og = g.c_out / g.groups;
    let mut dx = Tensor::zeros(&[vec![g.n, g.c_in], g.input.clone()].concat());
    let (ds, ws) = (dy.data(), w.data());
    let xs = dx.data_mut();
    for n in 0..g.n {
        for o in 0..g.c_out {
            let grp = o / og;
            for i in 0..out_n {
                let v = ds[(n * g.c_out + o) * out_n + i];
                for c in 0..cg {
                    let xbase = (n * g.c_in + grp * cg + c) * in_n;
                    let wbase = (o * cg + c) * k_n;
                    for k in 0..k_n {
                        if let Some(s) = tab[i * k_n + k] {
                            xs[xbase + s] = xs[xbase + s] + ws[wbase + k] * v;
                        }
                    }
                }
            }
        }
    }
    dx
}

/// `dw[o,c,k] = Σ_{n,i} dy[n,o,i] · x[n, c, window(i,k)]`.
fn conv_weight_grad<T: Scalar>(g: &Geometry, x: &Tensor<T>, dy: &Tensor<T>) -> Tensor<T> {
    let (out_n, k_n, tab) = taps(g);
    let in_n: usize = g.input.iter().product();
    let cg = g.c_in / g.groups;
    let og = g.c_out / g.groups;
    let mut dw = Tensor::zeros(&[vec![g.c_out, cg], g.kernel.clone()].concat());
    let (xs, ds) = (x.data(), dy.data());
    let wsum = dw.data_mut();
    for n in 0..g.n {
        for o in 0..g.c_out {
            let grp = o / og;
            for i in 0..out_n {
                let v = ds[(n * g.c_out + o) * out_n + i];
                for c in 0..cg {
                    let xbase = (n * g.c_in + grp * cg + c) * in_n;
                    let wbase = (o * cg + c) * k_n;
                    for k in 0..k_n {
                        if let Some(s) = tab[i * k_n + k] {
                            wsum[wbase + k] = wsum[wbase + k] + v * xs[xbase + s];
                        }
                    }
                }
            }
        }
    }
    dw
}

fn bias_grad<T: Scalar>(dy: &Tensor<T>) -> Tensor<T> {
    let c = dy.shape()[1];
    let s: usize = dy.shape()[2..].iter().product();
    let mut db = vec![0.0f64; c];
    for (i, v) in dy.data().iter().enumerate() {
        db[(i / s) % c] += v.as_f64();
    }
    Tensor::new(vec![c], db.into_iter().map(T::of).collect()).expect("bias shape")
}

fn add_bias<T: Scalar>(y: &mut Tensor<T>, b: Option<&Tensor<T>>) {
    if let Some(b) = b {
        let c = y.shape()[1];
        let s: usize = y.shape()[2..].iter().product();
        for (i, v) in y.data_mut().iter_mut().enumerate() {
            *v = *v + b.data()[(i / s) % c];
        }
    }
}

/// Extend the spatial axes of `t` with zeros at the high end up to `extent`.
fn pad_tail<T: Scalar>(t: &Tensor<T>, extent: &[usize]) -> Tensor<T> {
    let shape = [t.shape()[..2].to_vec(), extent.to_vec()].concat();
    if shape == t.shape() {
        return t.clone();
    }
    Tensor::from_fn(&shape, |idx| {
        if idx[2..].iter().zip(&t.shape()[2..]).all(|(i, n)| i < n) {
            t.get(idx)
        } else {
            T::zero()
        }
    })
}

/// Keep the first `extent` entries of each spatial axis.
fn crop_tail<T: Scalar>(t: &Tensor<T>, extent: &[usize]) -> Tensor<T> {
    let shape = [t.shape()[..2].to_vec(), extent.to_vec()].concat();
    if shape == t.shape() {
        return t.clone();
    }
    Tensor::from_fn(&shape, |idx| t.get(idx))
}
