//! Index maps along trailing axes: the machinery shared by every operator that moves entries
//! around (pads, crops, flips, strides, dilation). A map sends each *output* index of an axis to
//! a *source* index or to nothing (a zero). Forward = gather; adjoint = scatter-add with the
//! same maps — which is why the adjoint of a copy-based operator is a sum over the copies.

use crate::tensor::{Scalar, Tensor};

/// Per trailing axis, `map[i] = Some(j)` when output index `i` reads source index `j`.
pub(crate) type AxisMaps = Vec<Vec<Option<usize>>>;

/// Shape with the trailing axes replaced by the map lengths.
pub(crate) fn mapped_shape(shape: &[usize], maps: &AxisMaps) -> Vec<usize> {
    let lead = shape.len() - maps.len();
    let mut s = shape[..lead].to_vec();
    s.extend(maps.iter().map(|m| m.len()));
    s
}

/// For each element of the "wide" side (length of the maps), the flat source offset in the
/// "narrow" side, or `None`. Computed over the trailing axes only.
fn trailing_offsets(src_trailing: &[usize], maps: &AxisMaps) -> Vec<Option<usize>> {
    let mut offs: Vec<Option<usize>> = vec![Some(0)];
    let mut stride_after = 1usize;
    // Build from the last axis backwards: offs over axes a.. as flat list in row-major order.
    let mut per_axis: Vec<Vec<Option<usize>>> = Vec::with_capacity(maps.len());
    for (a, m) in maps.iter().enumerate().rev() {
        per_axis.push(m.iter().map(|o| o.map(|j| j * stride_after)).collect());
        stride_after *= src_trailing[a];
    }
    per_axis.reverse();
    for axis in per_axis {
        let mut next = Vec::with_capacity(offs.len() * axis.len());
        for o in &offs {
            for a in &axis {
                next.push(match (o, a) {
                    (Some(x), Some(y)) => Some(x + y),
                    _ => None,
                });
            }
        }
        offs = next;
    }
    offs
}

/// `y[i] = x[map(i)]` (zero where unmapped); `y` has the mapped shape.
pub(crate) fn gather<T: Scalar>(x: &Tensor<T>, maps: &AxisMaps) -> Tensor<T> {
    let lead = x.ndim() - maps.len();
    let src_block: usize = x.shape()[lead..].iter().product();
    let out_shape = mapped_shape(x.shape(), maps);
    let offs = trailing_offsets(&x.shape()[lead..], maps);
    let mut y = Tensor::zeros(&out_shape);
    let xs = x.data();
    if offs.is_empty() {
        return y;
    }
    for (b, out) in y.data_mut().chunks_mut(offs.len()).enumerate() {
        let base = b * src_block;
        for (v, o) in out.iter_mut().zip(&offs) {
            if let Some(o) = o {
                *v = xs[base + o];
            }
        }
    }
    y
}

/// The adjoint of [`gather`]: `x[map(i)] += y[i]`; `x` has shape `src_shape`.
pub(crate) fn scatter_add<T: Scalar>(
    y: &Tensor<T>,
    src_shape: &[usize],
    maps: &AxisMaps,
) -> Tensor<T> {
    let lead = src_shape.len() - maps.len();
    let src_block: usize = src_shape[lead..].iter().product();
    let offs = trailing_offsets(&src_shape[lead..], maps);
    let mut x = Tensor::zeros(src_shape);
    if offs.is_empty() {
        return x;
    }
    let xs = x.data_mut();
    for (b, inp) in y.data().chunks(offs.len()).enumerate() {
        let base = b * src_block;
        for (v, o) in inp.iter().zip(&offs) {
            if let Some(o) = o {
                xs[base + o] = xs[base + o] + *v;
            }
        }
    }
    x
}

/// Format a per-axis list like `[1, 2]`.
pub(crate) fn fmt_list<D: std::fmt::Debug>(v: &[D]) -> String {
    format!("{v:?}")
}
