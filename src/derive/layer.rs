//! A layer's gradients derived rule by rule ([`LayerDerivation`]), their numeric checks
//! ([`CheckReport`]) and the page `derive` prints for a layer.

use super::text::{extent_names, extents_text, pads_text, shape_text, shapes_table, steps_text};
use super::{numeric, Options, DENSE_TOL, DIRECT_TOL, DOT_TOL, FD_TOL};
use crate::conv::{self, Algorithm, Geometry};
use crate::error::{Error, Result};
use crate::expr::adjoint::{self, Step};
use crate::expr::claim::Var;
use crate::expr::env::seed_of;
use crate::expr::layer::{Expansion, Layer};
use crate::expr::lower::{eval_term, lower};
use crate::expr::print::{render, Style};
use crate::expr::shape::check;
use crate::expr::{Env, Expr, Kind, Operand, Prim, Term};
use crate::op::Op;
use crate::spec::ConvKind;
use crate::tensor::Tensor;
use std::fmt::Write;

/// A layer with its gradient derivations and the data to run them on.
#[derive(Clone, Debug)]
pub struct LayerDerivation {
    /// The layer.
    pub layer: Layer,
    /// Its expansion into primitives.
    pub expansion: Expansion,
    /// Named tensors: x, w, b, h (kernel), x_p (signal).
    pub env: Env,
    /// Input view with `h` named.
    pub input_view: Expr,
    /// Weight view with `x_p` named.
    pub weight_view: Expr,
    /// Name used for the kernel term.
    pub kernel_name: String,
    /// Name used for the signal term.
    pub signal_name: String,
}

/// One derived gradient: steps and the final expression (checked on the output shape).
#[derive(Clone, Debug)]
pub struct Gradient {
    /// Which variable.
    pub var: Var,
    /// The forward view it is the adjoint of.
    pub view: Expr,
    /// The steps of the rewrite.
    pub steps: Vec<Step>,
    /// The final gradient operator (apply to `dy`).
    pub result: Expr,
}

fn replace_terms(e: &Expr, from: &Term, to: &Term) -> Expr {
    let op = |o: &Operand| Operand {
        tensor: if &o.tensor == from {
            to.clone()
        } else {
            o.tensor.clone()
        },
        groups: o.groups,
    };
    let kind = match &e.kind {
        Kind::Prim(p) => Kind::Prim(Prim {
            operand: p.operand.as_ref().map(op),
            ..p.clone()
        }),
        Kind::Compose(f) => Kind::Compose(f.iter().map(|x| replace_terms(x, from, to)).collect()),
        Kind::Sum(f) => Kind::Sum(f.iter().map(|x| replace_terms(x, from, to)).collect()),
        Kind::Scale(a, x) => Kind::Scale(*a, Box::new(replace_terms(x, from, to))),
        Kind::Adjoint(x) => Kind::Adjoint(Box::new(replace_terms(x, from, to))),
    };
    Expr { kind, col: e.col }
}

impl LayerDerivation {
    /// Expand the layer and fill `x`, `w`, `b` with seeded data (the seed mixed with the names).
    ///
    /// # Errors
    /// Spec errors of the layer.
    pub fn new(layer: &Layer, seed: u64) -> Result<Self> {
        let expansion = layer.expand()?;
        let g = &expansion.geometry;
        let mut env = Env::new();
        env.insert(
            &layer.x_name,
            Tensor::randn(&g.x_shape(), seed ^ seed_of(&layer.x_name)),
        );
        env.insert(
            &layer.w_name,
            Tensor::randn(&g.w_shape(), seed ^ seed_of(&layer.w_name)),
        );
        env.insert("b", Tensor::randn(&g.b_shape(), seed ^ seed_of("b")));
        let pick = |base: &str| {
            let mut n = base.to_string();
            while n == layer.x_name || n == layer.w_name {
                n.push('_');
            }
            n
        };
        let (kernel_name, signal_name) = (pick("h"), pick("x_p"));
        let h = eval_term::<f64>(&expansion.kernel, &env, "layer")?;
        let xp = eval_term::<f64>(&expansion.signal, &env, "layer")?;
        env.insert(&kernel_name, h);
        env.insert(&signal_name, xp);
        let input_view = replace_terms(
            &expansion.input_view,
            &expansion.kernel,
            &Term::Name(kernel_name.clone()),
        );
        let weight_view = replace_terms(
            &expansion.weight_view,
            &expansion.signal,
            &Term::Name(signal_name.clone()),
        );
        Ok(LayerDerivation {
            layer: layer.clone(),
            expansion,
            env,
            input_view,
            weight_view,
            kernel_name,
            signal_name,
        })
    }

    /// The geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.expansion.geometry
    }

    /// The forward view of a variable and its domain.
    pub fn view(&self, var: Var) -> (Expr, Vec<usize>) {
        let g = self.geometry();
        match var {
            Var::X => (self.input_view.clone(), g.x_shape()),
            Var::W => (self.weight_view.clone(), g.w_shape()),
            Var::B => (self.expansion.bias_view.clone(), g.b_shape()),
        }
    }

    /// Derive the gradient of `L` with respect to `var`: the adjoint of its view, rewritten and
    /// simplified, resolved on the output shape.
    ///
    /// # Errors
    /// Shape errors (none for a valid layer).
    pub fn gradient(&self, var: Var) -> Result<Gradient> {
        let (view, dom) = self.view(var);
        let (result, steps) = adjoint::derive(&view);
        // Typed on its own domain alone: no extent may be hidden in the codomain.
        let typed = check(
            &result,
            Some(&self.geometry().y_shape()),
            None,
            &self.env,
            "gradient",
        )?;
        if typed.codomain != dom {
            return Err(Error::shape(
                format!("derived ∂{} maps dy to", var.name()),
                &dom,
                &typed.codomain,
            ));
        }
        Ok(Gradient {
            var,
            view,
            steps,
            result: typed.expr,
        })
    }

    /// The forward view and the derived gradient, lowered to operators.
    ///
    /// # Errors
    /// Lowering errors.
    pub fn operators(&self, grad: &Gradient) -> Result<(Op<f64>, Op<f64>)> {
        let (view, dom) = self.view(grad.var);
        let y = self.geometry().y_shape();
        let fwd = lower::<f64>(
            &check(&view, Some(&dom), None, &self.env, "view")?.expr,
            &dom,
            &y,
            &self.env,
            "view",
        )?;
        let back = lower::<f64>(&grad.result, &y, &dom, &self.env, "gradient")?;
        Ok((fwd, back))
    }

    /// Numeric checks of the derived gradient of `var`.
    ///
    /// # Errors
    /// Lowering and shape errors.
    pub fn check(&self, var: Var, seed: u64) -> Result<CheckReport> {
        let grad = self.gradient(var)?;
        let (fwd, back) = self.operators(&grad)?;
        let dot = numeric::dot_error(&fwd, &back, 3, seed)?;
        let dense = numeric::transpose_error(&fwd, &back)?;
        let g = self.geometry();
        let x = self.env.get(&self.layer.x_name)?.clone();
        let w = self.env.get(&self.layer.w_name)?.clone();
        let dy = Tensor::<f64>::randn(&g.y_shape(), seed ^ 0xd1);
        let got = back.apply(&dy)?;
        let point = match var {
            Var::X => x.clone(),
            Var::W => w.clone(),
            Var::B => self.env.get("b")?.clone(),
        };
        let fd = numeric::fd_error(fwd.as_ref(), &point, &dy, &got, seed)?;
        let with_bias = self.layer.bias || var == Var::B;
        let grads = conv::backward(&self.layer.spec, &x, &w, &dy, with_bias, Algorithm::Direct)?;
        let witness = match var {
            Var::X => grads.dx,
            Var::W => grads.dw,
            Var::B => grads
                .db
                .ok_or_else(|| Error::invalid("bias", "direct witness gave no db"))?,
        };
        let direct = numeric::rel_max(&got, &witness)?;
        Ok(CheckReport {
            var,
            dot,
            dense,
            fd,
            direct,
        })
    }
}

/// The numeric checks of one derived gradient.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckReport {
    /// The variable.
    pub var: Var,
    /// Normalised dot-test error (view vs derived adjoint).
    pub dot: f64,
    /// Dense transpose error (None when too large to build).
    pub dense: Option<f64>,
    /// Finite-difference relative error of `L = <dy, y>`.
    pub fd: f64,
    /// Relative error against the direct loops.
    pub direct: f64,
}

impl CheckReport {
    /// Do all checks pass their thresholds?
    pub fn pass(&self) -> bool {
        self.dot <= DOT_TOL
            && self.dense.is_none_or(|d| d <= DENSE_TOL)
            && self.fd <= FD_TOL
            && self.direct <= DIRECT_TOL
    }
    /// One line: `∂x: dot 1.2e-17, dense 0.0e0, fd 3.1e-11, direct 4.4e-16: pass`.
    pub fn line(&self) -> String {
        let dense = self
            .dense
            .map_or("skipped (large)".to_string(), |d| format!("{d:.1e}"));
        format!(
            "∂{}: dot {:.1e}, dense transpose {dense}, finite differences {:.1e}, direct loops {:.1e}: {}",
            self.var.name(),
            self.dot,
            self.fd,
            self.direct,
            if self.pass() { "pass" } else { "FAIL" }
        )
    }
}

pub(super) fn derive_layer(layer: &Layer, opts: &Options, style: Style) -> Result<(String, bool)> {
    let ld = LayerDerivation::new(layer, opts.seed)?;
    let g = ld.geometry().clone();
    let r = |e: &Expr| render(e, style);
    let mut out = String::new();
    let _ = writeln!(out, "layer     {}", layer.text());
    let _ = writeln!(
        out,
        "geometry  N={} C_in={} C_out={} groups={} input={} kernel={} output={} pads={}",
        g.n,
        g.c_in,
        g.c_out,
        g.groups,
        shape_text(&g.input),
        shape_text(&g.kernel),
        shape_text(&g.output),
        pads_text(&g.pads)
    );
    let _ = writeln!(
        out,
        "shapes    x {}, w {}, y {}{}",
        shape_text(&g.x_shape()),
        shape_text(&g.w_shape()),
        shape_text(&g.y_shape()),
        if layer.bias {
            format!(", b {}", shape_text(&g.b_shape()))
        } else {
            String::new()
        }
    );
    extents_text(&mut out, &g);
    out.push('\n');
    let transpose = g.kind == ConvKind::ConvTranspose;
    let mut cite: Vec<&str> = vec![if transpose { "TRANS-1" } else { "LAYER-1" }];
    if !transpose && g.stride.iter().any(|&s| s != 1) {
        cite.push("STRIDE-3");
    }
    if g.dilation.iter().any(|&d| d != 1) {
        cite.push("DIL-3");
    }
    if g.padding_mode != crate::op::PadMode::Zeros {
        cite.push("MODE-3");
    }
    if g.groups != 1 {
        cite.push("CHAN-2");
    }
    let groups_cite = if g.groups != 1 { ", CHAN-2" } else { "" };
    let _ = writeln!(out, "forward [{}]", cite.join(", "));
    let _ = writeln!(
        out,
        "  y = A_x ({}){}",
        layer.x_name,
        if layer.bias { " + broadcast (b)" } else { "" }
    );
    let _ = writeln!(out, "  A_x = {}", r(&ld.input_view));
    match &ld.expansion.kernel_chain {
        Some(k) => {
            let _ = writeln!(out, "  {} = {} ({})", ld.kernel_name, r(k), layer.w_name);
        }
        None => {
            let _ = writeln!(out, "  {} = {}", ld.kernel_name, layer.w_name);
        }
    }
    let mut vars = if opts.wrt.is_empty() {
        let mut v = vec![Var::X, Var::W];
        if layer.bias {
            v.push(Var::B);
        }
        v
    } else {
        opts.wrt.clone()
    };
    vars.dedup();
    let mut finals = Vec::new();
    for &var in &vars {
        out.push('\n');
        let grad = ld.gradient(var)?;
        match var {
            Var::X => {
                let _ = writeln!(
                    out,
                    "∂L/∂{} = A_xᵀ (dy)   [{}{groups_cite}]",
                    layer.x_name,
                    if transpose { "TRANS-3" } else { "DX-1" }
                );
                let _ = writeln!(out, "  A_xᵀ = {}", r(&ld.input_view.clone().adjoint()));
            }
            Var::W => {
                let _ = writeln!(
                    out,
                    "∂L/∂{} = A_wᵀ (dy)   [SWAP-1 {}{}{groups_cite}]",
                    layer.w_name,
                    crate::expr::rules::SWAP.name,
                    if transpose { ", TRANS-2" } else { "" }
                );
                let _ = writeln!(
                    out,
                    "  bilinear swap: circ({}) ({}) = circ_signal({}) ({}), so y = A_w ({})",
                    ld.kernel_name, ld.signal_name, ld.signal_name, ld.kernel_name, layer.w_name
                );
                let _ = writeln!(out, "  A_w = {}", r(&ld.weight_view));
                match &ld.expansion.signal_chain {
                    Some(s) => {
                        let _ = writeln!(out, "  {} = {} ({})", ld.signal_name, r(s), layer.x_name);
                    }
                    None => {
                        let _ = writeln!(out, "  {} = {}", ld.signal_name, layer.x_name);
                    }
                }
                let _ = writeln!(out, "  A_wᵀ = {}", r(&ld.weight_view.clone().adjoint()));
            }
            Var::B => {
                if !layer.bias {
                    return Err(Error::invalid(
                        "gradient with respect to b",
                        "the layer has no bias; add `bias` to the layer's arguments",
                    ));
                }
                let _ = writeln!(out, "∂L/∂b = A_bᵀ (dy)   [BIAS-1]");
                let _ = writeln!(
                    out,
                    "  A_bᵀ = {}",
                    r(&ld.expansion.bias_view.clone().adjoint())
                );
            }
        }
        steps_text(&mut out, &grad.steps, style);
        let name = match var {
            Var::X => layer.x_name.clone(),
            Var::W => layer.w_name.clone(),
            Var::B => "b".to_string(),
        };
        let _ = writeln!(out, "  ∂L/∂{name} = {} (dy)", r(&grad.result));
        finals.push((name, grad));
    }
    out.push('\n');
    let _ = writeln!(out, "gradients");
    for (name, grad) in &finals {
        let _ = writeln!(out, "  ∂L/∂{name} = {} (dy)", r(&grad.result));
    }
    out.push('\n');
    let _ = writeln!(out, "shapes after each operator (applied right to left)");
    let names = extent_names(&g);
    let y = g.y_shape();
    let (xn, wn) = (&layer.x_name, &layer.w_name);
    shapes_table(
        &mut out,
        &format!("y = A_x ({xn})"),
        xn,
        &ld.input_view,
        &g.x_shape(),
        &y,
        &ld.env,
        &names,
        false,
        style,
    )?;
    if vars.contains(&Var::W) {
        shapes_table(
            &mut out,
            &format!("y = A_w ({wn})"),
            wn,
            &ld.weight_view,
            &g.w_shape(),
            &y,
            &ld.env,
            &names,
            true,
            style,
        )?;
    }
    for (name, grad) in &finals {
        let (_, dom) = ld.view(grad.var);
        shapes_table(
            &mut out,
            &format!("∂L/∂{name} = … (dy)"),
            "dy",
            &grad.result,
            &y,
            &dom,
            &ld.env,
            &names,
            false,
            style,
        )?;
    }
    let mut ok = true;
    if opts.check {
        out.push('\n');
        let _ = writeln!(out, "checks (f64, seed {})", opts.seed);
        for &var in &vars {
            let rep = ld.check(var, opts.seed)?;
            ok &= rep.pass();
            let _ = writeln!(out, "  {}", rep.line());
        }
    }
    Ok((out, ok))
}
