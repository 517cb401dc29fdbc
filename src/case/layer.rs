//! [`LayerSpec`]: one layer with its tensor shapes, as plain data in the three forms users see
//! it in — the keys of `case.toml`, a JSON object (`export --specs`, `hunt --json`, `verify
//! --json`), and a DSL layer string that `fftconv derive` takes.
//!
//! ```
//! use fftconv::case::LayerSpec;
//! let line = r#"{"op": "conv", "x": [1, 2, 7], "w": [3, 2, 3], "stride": [2], "padding": [[1, 0]], "bias": true}"#;
//! let layer = LayerSpec::from_json_str(line).unwrap();
//! assert_eq!(layer.dsl(), "conv1d(x: [1, 2, 7], w: [3, 2, 3], stride=2, padding=[[1, 0]], bias)");
//! assert_eq!(layer.geometry().unwrap().y_shape(), vec![1, 3, 3]); // (7 + 1 − 3) / 2 + 1
//! ```

use crate::conv::{ConvKind, ConvSpec, Geometry, Padding};
use crate::error::{Error, Result};
use crate::op::PadMode;
use serde_json::{json, Value};

/// A layer and the shapes of `x` and `w` (explicit padding; the bias is on or off).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LayerSpec {
    /// `conv` or `conv_transpose`.
    pub kind: ConvKind,
    /// Shape of `x`, `(N, C_in, *S)`.
    pub x: Vec<usize>,
    /// Shape of `w` (OIHW for conv, IOHW for conv_transpose, as in CASES.md).
    pub w: Vec<usize>,
    /// Stride per spatial axis.
    pub stride: Vec<usize>,
    /// `(lo, hi)` padding per spatial axis.
    pub padding: Vec<(usize, usize)>,
    /// Dilation per spatial axis.
    pub dilation: Vec<usize>,
    /// Channel groups.
    pub groups: usize,
    /// Padding mode.
    pub padding_mode: PadMode,
    /// Output padding per spatial axis (conv_transpose).
    pub output_padding: Vec<usize>,
    /// Whether the layer has a bias.
    pub bias: bool,
}

fn list(v: &[usize]) -> String {
    let items: Vec<String> = v.iter().map(ToString::to_string).collect();
    format!("[{}]", items.join(", "))
}

/// One number when every axis has it, else the list.
fn per_axis(v: &[usize]) -> String {
    match v {
        [first, rest @ ..] if rest.iter().all(|x| x == first) => first.to_string(),
        _ => list(v),
    }
}

impl LayerSpec {
    /// Number of spatial axes.
    pub fn rank(&self) -> usize {
        self.x.len().saturating_sub(2)
    }

    /// The layer as a [`ConvSpec`].
    pub fn conv_spec(&self) -> ConvSpec {
        ConvSpec {
            kind: self.kind,
            stride: self.stride.clone(),
            padding: Padding::Explicit(self.padding.clone()),
            dilation: self.dilation.clone(),
            groups: self.groups,
            padding_mode: self.padding_mode,
            output_padding: self.output_padding.clone(),
        }
    }

    /// The layer resolved against its shapes: the frameworks' rules (CASES.md) decide.
    ///
    /// # Errors
    /// Spec and shape errors of [`ConvSpec::geometry`].
    pub fn geometry(&self) -> Result<Geometry> {
        self.conv_spec().geometry(&self.x, &self.w)
    }

    /// The layer for a resolved geometry.
    pub fn from_geometry(g: &Geometry, bias: bool) -> LayerSpec {
        LayerSpec {
            kind: g.kind,
            x: g.x_shape(),
            w: g.w_shape(),
            stride: g.stride.clone(),
            padding: g.pads.clone(),
            dilation: g.dilation.clone(),
            groups: g.groups,
            padding_mode: g.padding_mode,
            output_padding: g.output_padding.clone(),
            bias,
        }
    }

    /// The layer as a DSL layer string (`conv2d(x: [..], w: [..], stride=2, …)`) that
    /// `fftconv derive` parses; parameters at their default are left out.
    pub fn dsl(&self) -> String {
        let name = match self.kind {
            ConvKind::Conv => format!("conv{}d", self.rank()),
            ConvKind::ConvTranspose => format!("conv_transpose{}d", self.rank()),
        };
        let mut s = format!("{name}(x: {}, w: {}", list(&self.x), list(&self.w));
        if self.stride.iter().any(|&v| v != 1) {
            s += &format!(", stride={}", per_axis(&self.stride));
        }
        if self.padding.iter().any(|&(lo, hi)| lo + hi > 0) {
            if self.padding.iter().all(|&(lo, hi)| lo == hi) {
                let v: Vec<usize> = self.padding.iter().map(|p| p.0).collect();
                s += &format!(", padding={}", per_axis(&v));
            } else {
                let v: Vec<String> = self
                    .padding
                    .iter()
                    .map(|(l, h)| format!("[{l}, {h}]"))
                    .collect();
                s += &format!(", padding=[{}]", v.join(", "));
            }
        }
        if self.dilation.iter().any(|&v| v != 1) {
            s += &format!(", dilation={}", per_axis(&self.dilation));
        }
        if self.output_padding.iter().any(|&v| v != 0) {
            s += &format!(", output_padding={}", per_axis(&self.output_padding));
        }
        if self.groups != 1 {
            s += &format!(", groups={}", self.groups);
        }
        if self.padding_mode != PadMode::Zeros {
            s += &format!(", mode={}", self.padding_mode);
        }
        if self.bias {
            s += ", bias";
        }
        s + ")"
    }

    /// The layer as a JSON object: `op`, `x`, `w`, `stride`, `padding` (`[[lo, hi], …]`),
    /// `dilation`, `groups`, `padding_mode`, `output_padding`, `bias`.
    pub fn to_json(&self) -> Value {
        let pads: Vec<[usize; 2]> = self.padding.iter().map(|&(l, h)| [l, h]).collect();
        json!({
            "op": self.kind.to_string(),
            "x": self.x,
            "w": self.w,
            "stride": self.stride,
            "padding": pads,
            "dilation": self.dilation,
            "groups": self.groups,
            "padding_mode": self.padding_mode.to_string(),
            "output_padding": self.output_padding,
            "bias": self.bias,
        })
    }

    /// Read a layer from one line of JSON, the form [`LayerSpec::to_json`] writes. Only `op`,
    /// `x` and `w` are required: stride and dilation default to 1, padding and output padding
    /// to 0, groups to 1, the mode to zeros, bias to off.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the key that is missing or malformed.
    pub fn from_json_str(text: &str) -> Result<LayerSpec> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| Error::invalid("layer JSON", format!("{e}; write one JSON object")))?;
        Self::from_json(&v)
    }

    /// [`LayerSpec::from_json_str`] on a parsed value.
    ///
    /// # Errors
    /// As [`LayerSpec::from_json_str`].
    pub fn from_json(v: &Value) -> Result<LayerSpec> {
        const KEYS: [&str; 10] = [
            "op",
            "x",
            "w",
            "stride",
            "padding",
            "dilation",
            "groups",
            "padding_mode",
            "output_padding",
            "bias",
        ];
        let obj = v.as_object().ok_or_else(|| {
            Error::invalid(
                "layer JSON",
                "must be an object like {\"op\": \"conv\", \"x\": [1, 1, 8], \"w\": [1, 1, 3]}",
            )
        })?;
        if let Some(k) = obj.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(Error::invalid(
                format!("layer JSON key `{k}`"),
                format!("is not a layer key; use {}", KEYS.join(", ")),
            ));
        }
        let bad = |key: &str, what: &str| {
            Error::invalid(format!("layer JSON key `{key}`"), what.to_string())
        };
        let shape = |key: &str| -> Result<Vec<usize>> {
            let a = obj
                .get(key)
                .and_then(Value::as_array)
                .ok_or_else(|| bad(key, "is missing; give a list of extents, e.g. [1, 3, 8, 8]"))?;
            a.iter()
                .map(|n| n.as_u64().map(|n| n as usize))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad(key, "must be a list of non-negative integers"))
        };
        let kind = match obj.get("op").and_then(Value::as_str) {
            Some("conv") => ConvKind::Conv,
            Some("conv_transpose") => ConvKind::ConvTranspose,
            _ => return Err(bad("op", "must be \"conv\" or \"conv_transpose\"")),
        };
        let x = shape("x")?;
        let w = shape("w")?;
        if !(3..=5).contains(&x.len()) {
            return Err(bad("x", "must be (N, C_in, *S) with 1 to 3 spatial axes"));
        }
        let d = x.len() - 2;
        let axes = |key: &str, default: usize| -> Result<Vec<usize>> {
            match obj.get(key) {
                None => Ok(vec![default; d]),
                Some(Value::Number(n)) => n
                    .as_u64()
                    .map(|n| vec![n as usize; d])
                    .ok_or_else(|| bad(key, "must be a non-negative integer or one per axis")),
                Some(Value::Array(a)) if a.len() == d => a
                    .iter()
                    .map(|n| n.as_u64().map(|n| n as usize))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad(key, "must hold non-negative integers")),
                Some(_) => Err(bad(
                    key,
                    &format!("must be a number or a list of {d} (one per spatial axis)"),
                )),
            }
        };
        let padding = match obj.get("padding") {
            None => vec![(0, 0); d],
            Some(Value::Array(a)) if a.len() == d => a
                .iter()
                .map(|p| match p {
                    Value::Number(n) => n.as_u64().map(|n| (n as usize, n as usize)),
                    Value::Array(lh) if lh.len() == 2 => {
                        Some((lh[0].as_u64()? as usize, lh[1].as_u64()? as usize))
                    }
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    bad(
                        "padding",
                        "must be [[lo, hi], …], one pair per spatial axis",
                    )
                })?,
            Some(Value::Number(n)) if n.as_u64().is_some() => {
                let p = n.as_u64().unwrap_or(0) as usize;
                vec![(p, p); d]
            }
            Some(_) => {
                return Err(bad(
                    "padding",
                    "must be [[lo, hi], …], one pair per spatial axis",
                ))
            }
        };
        let padding_mode = match obj.get("padding_mode") {
            None => PadMode::Zeros,
            Some(m) => m.as_str().and_then(|s| s.parse().ok()).ok_or_else(|| {
                bad(
                    "padding_mode",
                    "must be zeros, circular, reflect or replicate",
                )
            })?,
        };
        let groups = match obj.get("groups") {
            None => 1,
            Some(g) => g
                .as_u64()
                .ok_or_else(|| bad("groups", "must be a positive integer"))?
                as usize,
        };
        let bias = match obj.get("bias") {
            None => false,
            Some(b) => b
                .as_bool()
                .ok_or_else(|| bad("bias", "must be true or false"))?,
        };
        Ok(LayerSpec {
            kind,
            x,
            w,
            stride: axes("stride", 1)?,
            padding,
            dilation: axes("dilation", 1)?,
            groups,
            padding_mode,
            output_padding: axes("output_padding", 0)?,
            bias,
        })
    }

    /// The layer keys of `case.toml` (CASES.md), one per line.
    pub fn toml_keys(&self) -> String {
        let pads: Vec<String> = self
            .padding
            .iter()
            .map(|(lo, hi)| format!("[{lo}, {hi}]"))
            .collect();
        let mut s = format!(
            "op = \"{}\"\nstride = {}\npadding = [{}]\ndilation = {}\ngroups = {}\npadding_mode = \"{}\"\n",
            self.kind,
            list(&self.stride),
            pads.join(", "),
            list(&self.dilation),
            self.groups,
            self.padding_mode
        );
        if self.kind == ConvKind::ConvTranspose {
            s += &format!("output_padding = {}\n", list(&self.output_padding));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_and_unknown_keys_are_refused() {
        let l = LayerSpec {
            kind: ConvKind::ConvTranspose,
            x: vec![2, 4, 5, 6],
            w: vec![4, 1, 3, 2],
            stride: vec![2, 3],
            padding: vec![(1, 0), (0, 2)],
            dilation: vec![1, 2],
            groups: 2,
            padding_mode: PadMode::Zeros,
            output_padding: vec![1, 0],
            bias: true,
        };
        let back = LayerSpec::from_json_str(&l.to_json().to_string()).unwrap();
        assert_eq!(back, l);
        let e =
            LayerSpec::from_json_str(r#"{"op": "conv", "x": [1,1,4], "w": [1,1,2], "strides": 2}"#)
                .unwrap_err()
                .to_string();
        assert!(e.contains("strides"), "{e}");
        let e = LayerSpec::from_json_str(r#"{"op": "conv", "x": [1,1,4]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`w`"), "{e}");
    }
}
