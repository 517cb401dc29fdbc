//! The conv layer as a macro: `conv2d(x: [2,3,8,8], w: [4,3,3,3], stride=2, padding=1)`
//! expands into the primitive chain that `conv::chain` lowers and runs
//! (note `derivations/06-conv-layer.md`, LAYER-*):
//!
//! - the map of `x`: `subsample ∘ crop ∘ circ(h) ∘ zero_pad ∘ pad_mode` with the kernel
//!   `h = zero_pad ∘ flip ∘ dilate (w)` (conv) or `crop ∘ circ(h) ∘ zero_pad ∘ zero_insert` with
//!   `h = zero_pad ∘ dilate ∘ group_transpose (w)` (conv_transpose);
//! - the map of `w` (the bilinear swap SWAP-1): the kernel chain followed by
//!   `circ_signal(x_p)` and the same output chain;
//! - the bias: `broadcast[y shape]`.
//!
//! Operators that would do nothing (a zero padding of zero, stride 1, dilation 1) are left
//! out. This is the only construction of the layer chain: `conv::chain::{input_operator,
//! weight_operator, bias_operator}` are the lowerings of these expressions, so
//! `Algorithm::Chain` runs what `derive` prints. The extents come from
//! [`crate::spec::Period`].

use super::parse::Parser;
use super::{Expr, Operand, Prim, Term};
use crate::error::{Error, Result};
use crate::op::{self, PadMode, Params};
use crate::spec::{period, ConvKind, ConvSpec, Geometry, Padding, Period};

/// A parsed layer macro: names and shapes of `x` and `w`, the spec, and the bias flag.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// Spatial rank (1..=3).
    pub dims: usize,
    /// The spec (kind, stride, padding, dilation, groups, mode, output padding).
    pub spec: ConvSpec,
    /// Name of the input tensor (usually `x`).
    pub x_name: String,
    /// Shape of the input.
    pub x_shape: Vec<usize>,
    /// Name of the weights (usually `w`).
    pub w_name: String,
    /// Shape of the weights.
    pub w_shape: Vec<usize>,
    /// Whether the layer has a bias `b: (C_out,)`.
    pub bias: bool,
    /// Column of the macro name.
    pub col: usize,
}

/// The layer's three linear views and the tensors they are built from.
#[derive(Clone, Debug)]
pub struct Expansion {
    /// The resolved geometry.
    pub geometry: Geometry,
    /// `y = A_x (x)`: the map of `x` (kernel `h` inside).
    pub input_view: Expr,
    /// `y = A_w (w)`: the map of `w` (signal `x_p` inside).
    pub weight_view: Expr,
    /// `y = broadcast (b)`.
    pub bias_view: Expr,
    /// `h`, the kernel term of the input view.
    pub kernel: Term,
    /// `x_p`, the signal term of the weight view.
    pub signal: Term,
    /// The kernel chain `w ↦ h` (None when `h = w`).
    pub kernel_chain: Option<Expr>,
    /// The signal chain `x ↦ x_p` (None when `x_p = x`).
    pub signal_chain: Option<Expr>,
}

fn per_axis_text(v: &[usize]) -> String {
    if v.iter().all(|&e| e == v[0]) {
        v[0].to_string()
    } else {
        format!(
            "[{}]",
            v.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

fn shape_text(v: &[usize]) -> String {
    format!(
        "[{}]",
        v.iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

impl Layer {
    /// The macro name: `conv2d`, `conv_transpose1d`, …
    pub fn name(&self) -> String {
        match self.spec.kind {
            ConvKind::Conv => format!("conv{}d", self.dims),
            ConvKind::ConvTranspose => format!("conv_transpose{}d", self.dims),
        }
    }

    /// Is `name` a layer macro name? Returns (kind, dims).
    pub fn macro_name(name: &str) -> Option<(ConvKind, usize)> {
        let (kind, rest) = if let Some(r) = name.strip_prefix("conv_transpose") {
            (ConvKind::ConvTranspose, r)
        } else {
            (ConvKind::Conv, name.strip_prefix("conv")?)
        };
        match rest {
            "1d" => Some((kind, 1)),
            "2d" => Some((kind, 2)),
            "3d" => Some((kind, 3)),
            _ => None,
        }
    }

    /// Parse `convNd(x: [...], w: [...], key=value, …, bias)` at the parser's position.
    ///
    /// # Errors
    /// [`Error::Parse`] at the column of the offending argument, including spec errors
    /// ([`ConvSpec::geometry`]) reported at the macro name.
    pub fn parse(p: &mut Parser) -> Result<Layer> {
        let (name, col) = p.ident("a layer macro such as `conv2d(`")?;
        let (kind, dims) = Self::macro_name(&name).ok_or_else(|| {
            p.error_at(
                col,
                format!("unknown layer `{name}`; expected conv1d/2d/3d or conv_transpose1d/2d/3d"),
            )
        })?;
        p.sym("(", &format!("after `{name}`"))?;
        let mut spec = ConvSpec {
            kind,
            ..Default::default()
        };
        let (x_name, _) = p.ident("the input tensor, as in `x: [2, 3, 8, 8]`")?;
        p.sym(":", "after the input name")?;
        let shape_col = p.peek().col;
        let x_shape = p.shape()?;
        if x_shape.len() != dims + 2 {
            return Err(p.error_at(
                shape_col,
                format!(
                    "{name} needs an input (N, C, {dims} spatial axes): {} axes, got {}",
                    dims + 2,
                    x_shape.len()
                ),
            ));
        }
        p.sym(",", "and the weights, as in `w: [4, 3, 3, 3]`")?;
        let (w_name, _) = p.ident("the weight tensor, as in `w: [4, 3, 3, 3]`")?;
        p.sym(":", "after the weight name")?;
        let w_shape = p.shape()?;
        let mut bias = false;
        while p.at_sym(",") {
            p.next_token();
            let (key, kcol) = p.ident(
                "a layer argument (stride, padding, dilation, groups, mode, output_padding, bias)",
            )?;
            if key == "bias" && !p.at_sym("=") {
                bias = true;
                continue;
            }
            p.sym("=", &format!("after `{key}`"))?;
            let vcol = p.peek().col;
            match key.as_str() {
                "stride" => spec.stride = p.number_or_list("stride")?,
                "dilation" => spec.dilation = p.number_or_list("dilation")?,
                "output_padding" => spec.output_padding = p.number_or_list("output padding")?,
                "groups" => spec.groups = p.usize("the number of groups")?,
                "mode" | "padding_mode" => {
                    let (m, mcol) = p.ident("zeros, circular, reflect or replicate")?;
                    spec.padding_mode = m.parse::<PadMode>().map_err(|_| {
                        p.error_at(mcol, format!("unknown padding mode `{m}`; expected zeros, circular, reflect or replicate"))
                    })?;
                }
                "bias" => {
                    let (v, bcol) = p.ident("true or false")?;
                    bias = match v.as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(p.error_at(bcol, "expected true or false")),
                    };
                }
                "padding" => spec.padding = Self::padding(p, dims)?,
                _ => {
                    return Err(p.error_at(
                        kcol,
                        format!("unknown layer argument `{key}`; expected stride, padding, dilation, groups, mode, output_padding or bias"),
                    ))
                }
            }
            let _ = vcol;
        }
        p.sym(
            ")",
            &format!("to close `{name}(` (or `,` and another argument)"),
        )?;
        let layer = Layer {
            dims,
            spec,
            x_name,
            x_shape,
            w_name,
            w_shape,
            bias,
            col,
        };
        layer
            .geometry()
            .map_err(|e| p.error_at(col, format!("{name}: {e}")))?;
        Ok(layer)
    }

    fn padding(p: &mut Parser, dims: usize) -> Result<Padding> {
        if p.at_ident("same") {
            p.next_token();
            return Ok(Padding::Same);
        }
        if p.at_ident("valid") {
            p.next_token();
            return Ok(Padding::Valid);
        }
        if !p.at_sym("[") {
            let n = p.usize("a padding: a number, [a, b], [[lo, hi], ...], same or valid")?;
            return Ok(Padding::Explicit(vec![(n, n); dims]));
        }
        p.sym("[", "")?;
        let mut pads = Vec::new();
        loop {
            if p.at_sym("[") {
                p.next_token();
                let lo = p.usize("the low padding")?;
                p.sym(",", "between low and high padding, as in [1, 2]")?;
                let hi = p.usize("the high padding")?;
                p.sym("]", "to close the [lo, hi] pair")?;
                pads.push((lo, hi));
            } else {
                let n = p.usize("a padding amount or a [lo, hi] pair")?;
                pads.push((n, n));
            }
            if p.at_sym(",") {
                p.next_token();
            } else {
                break;
            }
        }
        p.sym("]", "to close the padding list")?;
        if pads.len() == 1 && dims > 1 {
            pads = vec![pads[0]; dims];
        }
        Ok(Padding::Explicit(pads))
    }

    /// The spec resolved against the shapes.
    ///
    /// # Errors
    /// Those of [`ConvSpec::geometry`].
    pub fn geometry(&self) -> Result<Geometry> {
        let g = self.spec.geometry(&self.x_shape, &self.w_shape)?;
        if g.rank() != self.dims {
            return Err(Error::invalid(
                self.name(),
                "spatial rank does not match the macro",
            ));
        }
        Ok(g)
    }

    /// The macro written back in canonical ASCII form (re-parses to the same layer).
    pub fn text(&self) -> String {
        let g = self.geometry().ok();
        let mut s = format!(
            "{}({}: {}, {}: {}",
            self.name(),
            self.x_name,
            shape_text(&self.x_shape),
            self.w_name,
            shape_text(&self.w_shape)
        );
        if let Some(g) = g {
            if g.stride.iter().any(|&v| v != 1) {
                s += &format!(", stride={}", per_axis_text(&g.stride));
            }
            match &self.spec.padding {
                Padding::Same => s += ", padding=same",
                Padding::Valid => {}
                Padding::Explicit(p) => {
                    if p.iter().any(|&(lo, hi)| lo + hi > 0) {
                        if p.iter().all(|&(lo, hi)| lo == hi) {
                            let v: Vec<usize> = p.iter().map(|x| x.0).collect();
                            s += &format!(", padding={}", per_axis_text(&v));
                        } else {
                            let v: Vec<String> =
                                p.iter().map(|(l, h)| format!("[{l}, {h}]")).collect();
                            s += &format!(", padding=[{}]", v.join(", "));
                        }
                    }
                }
            }
            if g.dilation.iter().any(|&v| v != 1) {
                s += &format!(", dilation={}", per_axis_text(&g.dilation));
            }
            if g.output_padding.iter().any(|&v| v != 0) {
                s += &format!(", output_padding={}", per_axis_text(&g.output_padding));
            }
            if g.groups != 1 {
                s += &format!(", groups={}", g.groups);
            }
            if g.padding_mode != PadMode::Zeros {
                s += &format!(", mode={}", g.padding_mode);
            }
        }
        if self.bias {
            s += ", bias";
        }
        s + ")"
    }

    /// Expand into the primitive chains that `conv::chain` lowers and runs.
    ///
    /// # Errors
    /// Spec errors of [`ConvSpec::geometry`]; [`crate::Error::TooLarge`] over `--max-memory`.
    pub fn expand(&self) -> Result<Expansion> {
        let g = self.geometry()?;
        // Refuse, before any FFT length is searched for or any data made, a layer whose tensors
        // or FFT chain would exceed `--max-memory`.
        for (name, shape) in [("x", g.x_shape()), ("w", g.w_shape()), ("y", g.y_shape())] {
            crate::limits::guard_shape(&format!("layer tensor {name} {shape:?}"), &shape, 8)?;
        }
        period::guard_chain(&g, 8)?;
        Ok(expand(&g, &self.x_name, &self.w_name))
    }
}

/// The layer of geometry `g` as operator expressions over the tensors called `x_name` and
/// `w_name`: the one construction of the layer chain (`conv::chain` is its lowering). The
/// period and extents come from [`Period::of`]; call [`period::guard_chain`] first for
/// untrusted sizes.
pub fn expand(g: &Geometry, x_name: &str, w_name: &str) -> Expansion {
    let per = Period::of(g);
    let kernel_chain = kernel_chain(g, &per);
    let signal_chain = signal_chain(g, &per);
    let output = output_chain(g, &per);
    let kernel = applied(&kernel_chain, w_name);
    let signal = applied(&signal_chain, x_name);
    let groups = (g.groups != 1).then_some(g.groups);
    // Input view: output ∘ circ(h) ∘ signal chain (application order reversed).
    let mut f: Vec<Expr> = output.iter().rev().cloned().collect();
    f.push(Expr::prim(Prim::with_operand(
        &op::CIRC,
        Operand {
            tensor: kernel.clone(),
            groups,
        },
    )));
    f.extend(signal_chain.iter().rev().cloned());
    let input_view = Expr::compose(f);
    let mut f: Vec<Expr> = output.iter().rev().cloned().collect();
    f.push(Expr::prim(Prim::with_operand(
        &op::CIRC_SIGNAL,
        Operand {
            tensor: signal.clone(),
            groups,
        },
    )));
    f.extend(kernel_chain.iter().rev().cloned());
    let weight_view = Expr::compose(f);
    let bias_view = Expr::prim(Prim::new(&op::BROADCAST, Params::Shape(Some(g.y_shape()))));
    let as_expr =
        |c: &[Expr]| (!c.is_empty()).then(|| Expr::compose(c.iter().rev().cloned().collect()));
    Expansion {
        kernel_chain: as_expr(&kernel_chain),
        signal_chain: as_expr(&signal_chain),
        geometry: g.clone(),
        input_view,
        weight_view,
        bias_view,
        kernel,
        signal,
    }
}

fn applied(chain_in_order: &[Expr], name: &str) -> Term {
    if chain_in_order.is_empty() {
        Term::Name(name.to_string())
    } else {
        Term::Apply(
            Box::new(Expr::compose(
                chain_in_order.iter().rev().cloned().collect(),
            )),
            Box::new(Term::Name(name.to_string())),
        )
    }
}

/// The kernel chain in application order.
fn kernel_chain(g: &Geometry, per: &Period) -> Vec<Expr> {
    let d = g.rank();
    let mut ops = Vec::new();
    if g.kind == ConvKind::ConvTranspose {
        ops.push(Expr::prim(Prim::new(
            &op::GROUP_TRANSPOSE,
            Params::Count(g.groups),
        )));
    }
    if g.dilation.iter().any(|&v| v != 1) {
        ops.push(Expr::prim(Prim::new(
            &op::DILATE,
            Params::List(g.dilation.clone()),
        )));
    }
    if g.kind == ConvKind::Conv {
        ops.push(Expr::prim(Prim::new(&op::FLIP, Params::Count(d))));
    }
    let embed: Vec<(usize, usize)> = (0..d).map(|a| (0, per.p[a] - per.kd[a])).collect();
    if embed.iter().any(|&(_, h)| h > 0) {
        ops.push(Expr::prim(Prim::new(&op::ZERO_PAD, Params::Pads(embed))));
    }
    ops
}

/// The signal chain in application order.
fn signal_chain(g: &Geometry, per: &Period) -> Vec<Expr> {
    let d = g.rank();
    let mut ops = Vec::new();
    let mut spatial = g.input.clone();
    match g.kind {
        ConvKind::Conv => {
            if g.pads.iter().any(|&(lo, hi)| lo + hi > 0) {
                ops.push(Expr::prim(Prim::new(
                    op::pad_primitive(g.padding_mode),
                    Params::Pads(g.pads.clone()),
                )));
                spatial = per.inner.clone();
            }
        }
        ConvKind::ConvTranspose => {
            if g.stride.iter().any(|&s| s != 1) {
                // zero_insert gives exactly (S-1)s+1 = L_u; the embedding below says the rest.
                ops.push(Expr::prim(Prim::new(
                    &op::ZERO_INSERT,
                    Params::List(g.stride.clone()),
                )));
                spatial = per.inner.clone();
            }
        }
    }
    let embed: Vec<(usize, usize)> = (0..d).map(|a| (0, per.p[a] - spatial[a])).collect();
    if embed.iter().any(|&(_, h)| h > 0) {
        ops.push(Expr::prim(Prim::new(&op::ZERO_PAD, Params::Pads(embed))));
    }
    ops
}

/// The output chain in application order. For a strided conv the crop also removes the
/// `tail` that the stride never reads, so that `subsample` acts on exactly `(O-1)s+1`
/// entries and its adjoint `zero_insert` has no hidden end padding (STRIDE-1).
fn output_chain(g: &Geometry, per: &Period) -> Vec<Expr> {
    let d = g.rank();
    let p = &per.p;
    let mut ops = Vec::new();
    let trims: Vec<(usize, usize)> = match g.kind {
        ConvKind::Conv => (0..d)
            .map(|a| (per.kd[a] - 1, p[a] - per.inner[a] + per.tail[a]))
            .collect(),
        ConvKind::ConvTranspose => (0..d)
            .map(|a| (g.pads[a].0, p[a] - g.pads[a].0 - g.output[a]))
            .collect(),
    };
    if trims.iter().any(|&(lo, hi)| lo + hi > 0) {
        ops.push(Expr::prim(Prim::new(&op::CROP, Params::Pads(trims))));
    }
    if g.kind == ConvKind::Conv && g.stride.iter().any(|&s| s != 1) {
        ops.push(Expr::prim(Prim::new(
            &op::SUBSAMPLE,
            Params::List(g.stride.clone()),
        )));
    }
    ops
}
