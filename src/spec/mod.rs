//! `ConvSpec`: what a convolution layer is (the frameworks' semantics, `docs/CASES.md` of the
//! exchange format), and `Geometry`: a spec resolved against concrete tensor shapes — plain
//! data, below `expr` (which expands a layer into operators) and `conv` (which runs it).
//! [`period`] holds the period and padding arithmetic of the FFT chain, once.
//!
//! The output-size formula and the period the circular chain needs are derived in
//! `derivations/06-conv-layer.md` (LAYER-2) and `04-linear-as-circular.md`; stride, dilation and
//! padding modes in `09-stride.md`, `10-dilation.md` and `12-padding-modes.md`.

pub mod period;
mod resolve;

pub use period::Period;

use crate::error::Result;
use crate::op::PadMode;
use crate::tensor::{Scalar, Tensor};
use std::fmt;

/// Convolution (cross-correlation, as in every framework) or its input-adjoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConvKind {
    /// `y[n,o,i] = b[o] + Σ_c Σ_k w[o,c,k] · xp[n, g·C_in/groups + c, s·i + d·k]`.
    Conv,
    /// PyTorch's `conv_transposeNd`: the adjoint of `Conv` with respect to its input.
    ConvTranspose,
}

impl fmt::Display for ConvKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConvKind::Conv => "conv",
            ConvKind::ConvTranspose => "conv_transpose",
        })
    }
}

/// How much padding, per spatial axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Padding {
    /// `[lo, hi]` per axis.
    Explicit(Vec<(usize, usize)>),
    /// No padding.
    Valid,
    /// Output extent `ceil(S / stride)`; total padding `max((O-1)·s + d·(K-1) + 1 - S, 0)`,
    /// `lo = total / 2`, the rest at the high end (JAX's `SAME`; PyTorch's `same` for stride 1).
    Same,
}

/// A convolution layer's hyper-parameters. Per-axis lists have one entry per spatial axis; an
/// empty list means "1 on every axis" (stride, dilation) or "0 on every axis"
/// (output_padding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvSpec {
    /// Convolution or transposed convolution.
    pub kind: ConvKind,
    /// Stride per axis (≥ 1).
    pub stride: Vec<usize>,
    /// Padding.
    pub padding: Padding,
    /// Dilation per axis (≥ 1).
    pub dilation: Vec<usize>,
    /// Channel groups (divides both channel counts).
    pub groups: usize,
    /// How padding is filled (`conv_transpose`: zeros only).
    pub padding_mode: PadMode,
    /// Extra output extent at the high end, `conv_transpose` only (< max(stride, dilation)).
    pub output_padding: Vec<usize>,
}

impl Default for ConvSpec {
    fn default() -> Self {
        ConvSpec {
            kind: ConvKind::Conv,
            stride: vec![],
            padding: Padding::Valid,
            dilation: vec![],
            groups: 1,
            padding_mode: PadMode::Zeros,
            output_padding: vec![],
        }
    }
}

/// A spec resolved against concrete shapes: every number the layer needs, per spatial axis.
///
/// For `Conv`: input `(n, c_in, *input)`, weight `(c_out, c_in/groups, *kernel)`, output
/// `(n, c_out, *output)`. For `ConvTranspose`: input `(n, c_in, *input)`, weight
/// `(c_in, c_out/groups, *kernel)`, output `(n, c_out, *output)`; it is the adjoint of the
/// [`Geometry::as_conv`] geometry, whose input has extent `conv_extent`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Geometry {
    /// Conv or transpose.
    pub kind: ConvKind,
    /// Batch size.
    pub n: usize,
    /// Input channels of the layer.
    pub c_in: usize,
    /// Output channels of the layer.
    pub c_out: usize,
    /// Groups.
    pub groups: usize,
    /// Spatial extents of the input.
    pub input: Vec<usize>,
    /// Kernel extents.
    pub kernel: Vec<usize>,
    /// Spatial extents of the output.
    pub output: Vec<usize>,
    /// Stride.
    pub stride: Vec<usize>,
    /// Dilation.
    pub dilation: Vec<usize>,
    /// Resolved `[lo, hi]` padding.
    pub pads: Vec<(usize, usize)>,
    /// Padding mode.
    pub padding_mode: PadMode,
    /// Output padding (transpose only; zeros for conv).
    pub output_padding: Vec<usize>,
}

impl ConvSpec {
    /// A plain convolution with the given stride, padding and dilation, groups 1, zeros mode.
    pub fn conv(stride: &[usize], padding: Padding, dilation: &[usize]) -> Self {
        ConvSpec {
            stride: stride.to_vec(),
            padding,
            dilation: dilation.to_vec(),
            ..Default::default()
        }
    }

    /// The geometry of a forward call `y = conv(x; w) + b`, with the bias (if any) checked
    /// against it: the entry check of every algorithm.
    ///
    /// # Errors
    /// Those of [`geometry`](Self::geometry); a bias not of shape `(c_out,)`.
    pub fn forward_geometry<T: Scalar>(
        &self,
        x: &Tensor<T>,
        w: &Tensor<T>,
        b: Option<&Tensor<T>>,
    ) -> Result<Geometry> {
        let g = self.geometry(x.shape(), w.shape())?;
        if let Some(b) = b {
            b.expect_shape(&g.b_shape(), "bias b")?;
        }
        Ok(g)
    }

    /// The geometry of a backward call, with the upstream gradient `dy` checked against the
    /// output shape: the entry check of every algorithm.
    ///
    /// # Errors
    /// Those of [`geometry`](Self::geometry); `dy` not of the output shape.
    pub fn backward_geometry<T: Scalar>(
        &self,
        x: &Tensor<T>,
        w: &Tensor<T>,
        dy: &Tensor<T>,
    ) -> Result<Geometry> {
        let g = self.geometry(x.shape(), w.shape())?;
        dy.expect_shape(&g.y_shape(), "upstream gradient dy")?;
        Ok(g)
    }
}

impl Geometry {
    /// Number of spatial axes.
    pub fn rank(&self) -> usize {
        self.input.len()
    }
    /// Shape of `x`.
    pub fn x_shape(&self) -> Vec<usize> {
        [vec![self.n, self.c_in], self.input.clone()].concat()
    }
    /// Shape of `w`.
    pub fn w_shape(&self) -> Vec<usize> {
        match self.kind {
            ConvKind::Conv => [
                vec![self.c_out, self.c_in / self.groups],
                self.kernel.clone(),
            ]
            .concat(),
            ConvKind::ConvTranspose => [
                vec![self.c_in, self.c_out / self.groups],
                self.kernel.clone(),
            ]
            .concat(),
        }
    }
    /// Shape of `b`.
    pub fn b_shape(&self) -> Vec<usize> {
        vec![self.c_out]
    }
    /// Shape of `y` (and `dy`).
    pub fn y_shape(&self) -> Vec<usize> {
        [vec![self.n, self.c_out], self.output.clone()].concat()
    }
    /// Dilated kernel extents `d·(K-1)+1`.
    pub fn dilated_kernel(&self) -> Vec<usize> {
        self.kernel
            .iter()
            .zip(&self.dilation)
            .map(|(&k, &d)| d * (k - 1) + 1)
            .collect()
    }

    /// For `ConvTranspose`: the convolution whose input-adjoint this layer is — weights as
    /// given, input extent this layer's output. Its output extent is this layer's input plus
    /// `floor(output_padding / stride)` (non-zero only when output_padding ≥ stride, allowed
    /// when dilation > stride); the transpose treats those extra entries as zeros. For `Conv`,
    /// a clone.
    pub fn as_conv(&self) -> Geometry {
        match self.kind {
            ConvKind::Conv => self.clone(),
            ConvKind::ConvTranspose => {
                let kd = self.dilated_kernel();
                let output: Vec<usize> = (0..self.rank())
                    .map(|a| {
                        (self.output[a] + self.pads[a].0 + self.pads[a].1 - kd[a]) / self.stride[a]
                            + 1
                    })
                    .collect();
                Geometry {
                    kind: ConvKind::Conv,
                    c_in: self.c_out,
                    c_out: self.c_in,
                    input: self.output.clone(),
                    output,
                    output_padding: vec![0; self.rank()],
                    ..self.clone()
                }
            }
        }
    }

    /// Multiply-adds of the direct forward pass (for FLOP counts: ×2).
    pub fn macs(&self) -> f64 {
        let per_out: f64 = self.kernel.iter().map(|&k| k as f64).product::<f64>()
            * (self.c_in / self.groups) as f64;
        match self.kind {
            ConvKind::Conv => self.y_shape().iter().map(|&e| e as f64).product::<f64>() * per_out,
            ConvKind::ConvTranspose => {
                let x: f64 = self.x_shape().iter().map(|&e| e as f64).product();
                x * self.kernel.iter().map(|&k| k as f64).product::<f64>()
                    * (self.c_out / self.groups) as f64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_extents_follow_the_framework_formulas() {
        let s = ConvSpec::conv(&[2, 1], Padding::Explicit(vec![(1, 2), (0, 0)]), &[1, 2]);
        let g = s.geometry(&[2, 3, 9, 10], &[4, 3, 3, 3]).unwrap();
        // O = floor((S + lo + hi - d(K-1) - 1)/s) + 1
        assert_eq!(g.output, vec![(9 + 3 - 2 - 1) / 2 + 1, (10 - 4 - 1) + 1]);
        let same = ConvSpec::conv(&[2], Padding::Same, &[]);
        let g = same.geometry(&[1, 1, 7], &[1, 1, 4]).unwrap();
        assert_eq!(g.output, vec![4]);
        assert_eq!(g.pads, vec![(1, 2)]);
    }

    #[test]
    fn transpose_extent_and_its_conv() {
        let s = ConvSpec {
            kind: ConvKind::ConvTranspose,
            stride: vec![3],
            padding: Padding::Explicit(vec![(1, 1)]),
            output_padding: vec![2],
            ..Default::default()
        };
        let g = s.geometry(&[1, 2, 5], &[2, 3, 4]).unwrap();
        assert_eq!(g.output, vec![(5 - 1) * 3 - 2 + 3 + 2 + 1]);
        assert_eq!(g.c_out, 3);
        let c = g.as_conv();
        assert_eq!(c.output, vec![5]);
        assert_eq!((c.input[0] + 2 - 4) / 3 + 1, 5);
    }

    #[test]
    fn bad_specs_are_refused_with_the_key_named() {
        let bad = |s: ConvSpec, x: &[usize], w: &[usize]| s.geometry(x, w).unwrap_err().to_string();
        assert!(bad(
            ConvSpec::conv(&[0], Padding::Valid, &[]),
            &[1, 1, 5],
            &[1, 1, 3]
        )
        .contains("stride[0]"));
        assert!(bad(
            ConvSpec {
                groups: 2,
                ..Default::default()
            },
            &[1, 3, 5],
            &[2, 1, 3]
        )
        .contains("groups"));
        assert!(bad(ConvSpec::default(), &[1, 1, 2], &[1, 1, 3]).contains("empty"));
        let reflect = ConvSpec {
            padding: Padding::Explicit(vec![(3, 0)]),
            padding_mode: PadMode::Reflect,
            ..Default::default()
        };
        assert!(bad(reflect, &[1, 1, 3], &[1, 1, 1]).contains("reflect"));
    }

    #[test]
    fn a_bad_spec_field_is_a_typed_error_with_the_same_text() {
        let err = ConvSpec::conv(&[1, 0], Padding::Valid, &[])
            .geometry(&[1, 1, 5, 5], &[1, 1, 3, 3])
            .unwrap_err();
        assert_eq!(err.to_string(), "stride[1]: must be at least 1");
        match err {
            crate::Error::Field { name, value, .. } => {
                assert_eq!((name.as_str(), value.as_str()), ("stride[1]", "0"))
            }
            other => panic!("{other:?}"),
        }
        let transpose = ConvSpec {
            kind: ConvKind::ConvTranspose,
            stride: vec![2],
            output_padding: vec![2],
            ..Default::default()
        };
        match transpose.geometry(&[1, 1, 5], &[1, 1, 3]).unwrap_err() {
            crate::Error::Field { name, value, rule } => {
                assert_eq!((name.as_str(), value.as_str()), ("output_padding[0]", "2"));
                assert_eq!(rule, "2 must be smaller than stride (2) or dilation (1)");
            }
            other => panic!("{other:?}"),
        }
    }
}
