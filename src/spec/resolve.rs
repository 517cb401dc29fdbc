//! [`ConvSpec::geometry`] in named steps: the tensor shapes, the per-axis fields, the channels
//! and groups, the padding, and the output extents of a conv or a conv_transpose. Each step
//! refuses what it checks with the field named ([`Error::Field`] for a spec field, the tensor
//! for a shape), in the order a user would fix them.

use super::{ConvKind, ConvSpec, Geometry, Padding};
use crate::error::{Error, Result};
use crate::op::PadMode;

/// A spec field of one value per spatial axis: empty = `default` everywhere, one value = that
/// value everywhere, else one per axis.
fn per_axis(name: &str, v: &[usize], d: usize, default: usize) -> Result<Vec<usize>> {
    match v.len() {
        0 => Ok(vec![default; d]),
        1 if d > 1 => Ok(vec![v[0]; d]),
        n if n == d => Ok(v.to_vec()),
        n => Err(Error::field(
            name,
            format!("{v:?}"),
            format!("has {n} entries; give one per spatial axis ({d})"),
        )),
    }
}

/// `x: (N, C, *S)` and `w` of the same rank, 1 to 3 spatial axes, no empty axis; the number of
/// spatial axes.
fn spatial_rank(x_shape: &[usize], w_shape: &[usize]) -> Result<usize> {
    if x_shape.len() < 3 || x_shape.len() > 5 {
        return Err(Error::invalid(
            "x",
            format!("shape {x_shape:?} must be (N, C, *spatial) with 1 to 3 spatial axes"),
        ));
    }
    if w_shape.len() != x_shape.len() {
        return Err(Error::invalid(
            "w",
            format!(
                "shape {w_shape:?} must have {} axes like x {x_shape:?}",
                x_shape.len()
            ),
        ));
    }
    if x_shape.iter().chain(w_shape).any(|&e| e == 0) {
        return Err(Error::invalid(
            "shapes",
            format!("x {x_shape:?} and w {w_shape:?} must have no empty axis"),
        ));
    }
    crate::tensor::checked_numel(x_shape)?;
    crate::tensor::checked_numel(w_shape)?;
    Ok(x_shape.len() - 2)
}

/// Dilated kernel extents `d(K-1)+1`.
fn dilated_extents(kernel: &[usize], dilation: &[usize]) -> Result<Vec<usize>> {
    kernel
        .iter()
        .zip(dilation)
        .map(|(&k, &dl)| dl.checked_mul(k - 1).and_then(|v| v.checked_add(1)))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            Error::field(
                "dilation",
                format!("{dilation:?}"),
                "dilated kernel extent overflows",
            )
        })
}

impl ConvSpec {
    /// Resolve against an input shape `(N, C_in, *S)` and a weight shape.
    ///
    /// # Errors
    /// [`Error::Field`] naming the spec field that is wrong (a zero stride or dilation, groups
    /// that do not divide the channels, reflect padding not smaller than the input, an output
    /// padding too large, a padding mode other than zeros for `conv_transpose`), or
    /// [`Error::Invalid`] / [`Error::Shape`] naming the tensor: ranks that differ, a spatial
    /// rank outside 1..=3, an empty output.
    pub fn geometry(&self, x_shape: &[usize], w_shape: &[usize]) -> Result<Geometry> {
        let d = spatial_rank(x_shape, w_shape)?;
        let (stride, dilation) = self.stride_and_dilation(d)?;
        let c_out = self.output_channels(x_shape[1], w_shape)?;
        let input = x_shape[2..].to_vec();
        let kernel = w_shape[2..].to_vec();
        let kd = dilated_extents(&kernel, &dilation)?;
        let pads = self.resolved_pads(d, &input, &stride, &kd)?;
        let output_padding = per_axis("output_padding", &self.output_padding, d, 0)?;
        let output = match self.kind {
            ConvKind::Conv => self.conv_output(&input, &pads, &kd, &stride, &output_padding)?,
            ConvKind::ConvTranspose => {
                self.transpose_output(&input, &pads, &kd, &stride, &dilation, &output_padding)?
            }
        };
        let g = Geometry {
            kind: self.kind,
            n: x_shape[0],
            c_in: x_shape[1],
            c_out,
            groups: self.groups,
            input,
            kernel,
            output,
            stride,
            dilation,
            pads,
            padding_mode: self.padding_mode,
            output_padding,
        };
        crate::tensor::checked_numel(&g.y_shape())?;
        Ok(g)
    }

    /// Stride and dilation per axis, each at least 1.
    fn stride_and_dilation(&self, d: usize) -> Result<(Vec<usize>, Vec<usize>)> {
        let stride = per_axis("stride", &self.stride, d, 1)?;
        let dilation = per_axis("dilation", &self.dilation, d, 1)?;
        for (a, (&s, &dl)) in stride.iter().zip(&dilation).enumerate() {
            if s == 0 {
                return Err(Error::field(
                    format!("stride[{a}]"),
                    s,
                    "must be at least 1",
                ));
            }
            if dl == 0 {
                return Err(Error::field(
                    format!("dilation[{a}]"),
                    dl,
                    "must be at least 1",
                ));
            }
        }
        Ok((stride, dilation))
    }

    /// `C_out`, with the groups dividing the channels and the weight shape fitting them:
    /// `w: (C_out, C_in/groups, *K)` for a conv, `(C_in, C_out/groups, *K)` for a transpose.
    fn output_channels(&self, c_in: usize, w_shape: &[usize]) -> Result<usize> {
        let g = self.groups;
        if g == 0 {
            return Err(Error::field("groups", g, "must be at least 1"));
        }
        match self.kind {
            ConvKind::Conv => {
                if !c_in.is_multiple_of(g) || !w_shape[0].is_multiple_of(g) {
                    return Err(Error::field(
                        "groups",
                        g,
                        format!(
                            "groups={g} must divide C_in={c_in} and C_out={}",
                            w_shape[0]
                        ),
                    ));
                }
                if w_shape[1] != c_in / g {
                    return Err(Error::invalid(
                        "w",
                        format!(
                            "shape {w_shape:?}: axis 1 must be C_in/groups = {}",
                            c_in / g
                        ),
                    ));
                }
                Ok(w_shape[0])
            }
            ConvKind::ConvTranspose => {
                if !c_in.is_multiple_of(g) {
                    return Err(Error::field(
                        "groups",
                        g,
                        format!("groups={g} must divide C_in={c_in}"),
                    ));
                }
                if w_shape[0] != c_in {
                    return Err(Error::invalid(
                        "w",
                        format!("shape {w_shape:?}: conv_transpose weights are (C_in, C_out/groups, *K); axis 0 must be C_in = {c_in}"),
                    ));
                }
                w_shape[1]
                    .checked_mul(g)
                    .ok_or_else(|| Error::invalid("w", "C_out overflows"))
            }
        }
    }

    /// `[lo, hi]` per axis: as written, none (`valid`), or PyTorch's `same` (the extra entry at
    /// the end), which a transpose does not define.
    fn resolved_pads(
        &self,
        d: usize,
        input: &[usize],
        stride: &[usize],
        kd: &[usize],
    ) -> Result<Vec<(usize, usize)>> {
        match &self.padding {
            Padding::Explicit(p) => {
                if p.len() != d {
                    return Err(Error::field(
                        "padding",
                        format!("{p:?}"),
                        format!(
                            "has {} [lo, hi] pairs; give one per spatial axis ({d})",
                            p.len()
                        ),
                    ));
                }
                Ok(p.clone())
            }
            Padding::Valid => Ok(vec![(0, 0); d]),
            Padding::Same => {
                if self.kind == ConvKind::ConvTranspose {
                    return Err(Error::field(
                        "padding",
                        "same",
                        "`same` is not defined for conv_transpose; give [lo, hi] per axis",
                    ));
                }
                Ok((0..d)
                    .map(|a| {
                        let out = input[a].div_ceil(stride[a]);
                        let need = ((out - 1) * stride[a]).saturating_add(kd[a]);
                        let total = need.saturating_sub(input[a]);
                        (total / 2, total - total / 2)
                    })
                    .collect())
            }
        }
    }

    /// A conv's output extents `(S + lo + hi - K_d)/s + 1`, with the padding the mode allows
    /// and no output padding.
    fn conv_output(
        &self,
        input: &[usize],
        pads: &[(usize, usize)],
        kd: &[usize],
        stride: &[usize],
        output_padding: &[usize],
    ) -> Result<Vec<usize>> {
        if output_padding.iter().any(|&o| o != 0) {
            return Err(Error::field(
                "output_padding",
                format!("{output_padding:?}"),
                "applies to conv_transpose only; remove it",
            ));
        }
        let mut output = Vec::with_capacity(input.len());
        for (a, &(lo, hi)) in pads.iter().enumerate() {
            let pad = || format!("[{lo}, {hi}]");
            if self.padding_mode == PadMode::Reflect && (lo >= input[a] || hi >= input[a]) {
                return Err(Error::field(
                    format!("padding[{a}]"),
                    pad(),
                    format!(
                        "reflect padding [{lo}, {hi}] must be smaller than the input extent {}",
                        input[a]
                    ),
                ));
            }
            // PyTorch's rule: circular padding may wrap around at most once.
            if self.padding_mode == PadMode::Circular && (lo > input[a] || hi > input[a]) {
                return Err(Error::field(
                    format!("padding[{a}]"),
                    pad(),
                    format!("circular padding [{lo}, {hi}] may not exceed the input extent {} (it would wrap around more than once; PyTorch refuses it too)", input[a]),
                ));
            }
            let sp = input[a]
                .checked_add(lo)
                .and_then(|v| v.checked_add(hi))
                .ok_or_else(|| {
                    Error::field(format!("padding[{a}]"), pad(), "padded extent overflows")
                })?;
            if sp < kd[a] {
                return Err(Error::invalid(
                    format!("axis {a}"),
                    format!(
                        "padded input extent {sp} is smaller than the dilated kernel extent {}: the output would be empty; pad more or use a smaller kernel",
                        kd[a]
                    ),
                ));
            }
            output.push((sp - kd[a]) / stride[a] + 1);
        }
        Ok(output)
    }

    /// A transpose's output extents `(S-1)s + K_d + output_padding - lo - hi` (zeros mode only,
    /// output padding below the stride or the dilation).
    fn transpose_output(
        &self,
        input: &[usize],
        pads: &[(usize, usize)],
        kd: &[usize],
        stride: &[usize],
        dilation: &[usize],
        output_padding: &[usize],
    ) -> Result<Vec<usize>> {
        if self.padding_mode != PadMode::Zeros {
            return Err(Error::field(
                "padding_mode",
                self.padding_mode,
                format!(
                    "conv_transpose supports zeros only, got {}",
                    self.padding_mode
                ),
            ));
        }
        let mut output = Vec::with_capacity(input.len());
        for (a, &(lo, hi)) in pads.iter().enumerate() {
            if output_padding[a] >= stride[a].max(dilation[a]) {
                return Err(Error::field(
                    format!("output_padding[{a}]"),
                    output_padding[a],
                    format!(
                        "{} must be smaller than stride ({}) or dilation ({})",
                        output_padding[a], stride[a], dilation[a]
                    ),
                ));
            }
            let full = (input[a] - 1)
                .checked_mul(stride[a])
                .and_then(|v| v.checked_add(kd[a]))
                .and_then(|v| v.checked_add(output_padding[a]))
                .ok_or_else(|| Error::invalid(format!("axis {a}"), "output extent overflows"))?;
            let o = full
                .checked_sub(lo.saturating_add(hi))
                .filter(|&o| o > 0)
                .ok_or_else(|| {
                    Error::field(
                        format!("padding[{a}]"),
                        format!("[{lo}, {hi}]"),
                        format!("[{lo}, {hi}] removes the whole output extent {full}; pad less"),
                    )
                })?;
            output.push(o);
        }
        Ok(output)
    }
}
