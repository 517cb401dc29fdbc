//! Circular convolution as a linear map of the kernel, the signal fixed ↔ correlation with the
//! signal (note `derivations/08-weight-gradient.md`, identities SWAP-1 and SWAP-2).

use super::circular_conv::{check_channels, spectra};
use super::primitive::{operand, Primitive, Resolution, Rule, Site, Syntax};
use super::shape_rules as rules;
use super::{LinearOp, Op, Symbol};
use crate::error::{Error, Result};
use crate::fft::RealFftNd;
use crate::tensor::{Scalar, Tensor};
use num_complex::Complex;
use std::sync::Arc;

/// The circular convolution `$y_{n,o} = \sum_c h_{o,c} \circledast x_{n,c}$` seen as a linear map
/// of the kernel `h: (O, C/g, *P)` with the signal `x: (N, C, *P)` fixed — the **bilinear swap**
/// `$\operatorname{circ}(h)\,x = \operatorname{circ}(x)\,h$` (SWAP-1).
///
/// Adjoint: correlate the cotangent with the signal and sum over the batch,
/// `$\hat h_{o,c} = \sum_n \overline{\hat x_{n,c}}\, \hat y_{n,o}$` (SWAP-2) — the weight
/// gradient `$\partial L/\partial w = \partial L/\partial y \star x$`. The signal's spectrum is
/// computed once and serves both directions.
///
/// ```
/// use fftconv::{op::{CircularConvWeight, LinearOp}, Tensor};
/// let x = Tensor::new(vec![1, 1, 4], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
/// let view = CircularConvWeight::new(&x, 1, 1).unwrap();
/// let h = Tensor::new(vec![1, 1, 4], vec![1.0, 0.0, 0.0, 0.0]).unwrap(); // identity kernel
/// let y = view.apply(&h).unwrap();
/// assert!(y.sub(&x).unwrap().max_abs() < 1e-12);
/// ```
///
/// # Errors
/// `new` fails when `groups` does not divide the channels or a shape is empty.
#[derive(Clone, Debug)]
pub struct CircularConvWeight<T: Scalar> {
    signal_shape: Vec<usize>,
    kernel_shape: Vec<usize>,
    out_shape: Vec<usize>,
    groups: usize,
    plan: Arc<RealFftNd<T>>,
    signal_spectra: Arc<Vec<Complex<T>>>,
    adjoint: bool,
}

impl<T: Scalar> CircularConvWeight<T> {
    /// The map `h ↦ circ(h) x` for kernels `(out_channels, C/groups, *P)`.
    pub fn new(signal: &Tensor<T>, out_channels: usize, groups: usize) -> Result<Self> {
        let ss = signal.shape();
        if ss.len() < 3 || groups == 0 || !ss[1].is_multiple_of(groups) {
            return Err(Error::invalid(
                "circular_conv_weight",
                format!("needs a signal (N, C, *P) with groups={groups} dividing C, got {ss:?}"),
            ));
        }
        let mut kernel_shape = ss.to_vec();
        kernel_shape[0] = out_channels;
        kernel_shape[1] = ss[1] / groups;
        check_channels("circular_conv_weight", ss, &kernel_shape, groups)?;
        let mut out_shape = ss.to_vec();
        out_shape[1] = out_channels;
        let plan = RealFftNd::plan(&ss[2..]);
        let signal_spectra = Arc::new(spectra(&plan, signal.data()));
        Ok(CircularConvWeight {
            signal_shape: ss.to_vec(),
            kernel_shape,
            out_shape,
            groups,
            plan,
            signal_spectra,
            adjoint: false,
        })
    }
}

impl<T: Scalar> LinearOp<T> for CircularConvWeight<T> {
    fn domain(&self) -> &[usize] {
        if self.adjoint {
            &self.out_shape
        } else {
            &self.kernel_shape
        }
    }
    fn codomain(&self) -> &[usize] {
        if self.adjoint {
            &self.kernel_shape
        } else {
            &self.out_shape
        }
    }
    fn forward(&self, v: &Tensor<T>) -> Tensor<T> {
        let (o_n, cg) = (self.kernel_shape[0], self.kernel_shape[1]);
        let (n_n, c_n) = (self.signal_shape[0], self.signal_shape[1]);
        let og = o_n / self.groups;
        let f = self.plan.spectrum_len();
        let p = self.plan.real_len();
        let xs = &self.signal_spectra;
        let vs = spectra(&self.plan, v.data());
        let zero = Complex::new(T::zero(), T::zero());
        let mut acc = vec![zero; f];
        let mut out = Tensor::zeros(LinearOp::<T>::codomain(self));
        if self.adjoint {
            // v = dy: (N, O, *P)  →  dh: (O, C/g, *P)
            for o in 0..o_n {
                let g = o / og;
                for c in 0..cg {
                    acc.iter_mut().for_each(|a| *a = zero);
                    let ci = g * cg + c;
                    for n in 0..n_n {
                        let xk = &xs[(n * c_n + ci) * f..(n * c_n + ci + 1) * f];
                        let yk = &vs[(n * o_n + o) * f..(n * o_n + o + 1) * f];
                        for ((a, xv), yv) in acc.iter_mut().zip(xk).zip(yk) {
                            *a = *a + xv.conj() * yv;
                        }
                    }
                    let r = self.plan.inverse(&mut acc);
                    out.data_mut()[(o * cg + c) * p..(o * cg + c + 1) * p].copy_from_slice(&r);
                }
            }
        } else {
            // v = h: (O, C/g, *P)  →  y: (N, O, *P)
            for n in 0..n_n {
                for o in 0..o_n {
                    let g = o / og;
                    acc.iter_mut().for_each(|a| *a = zero);
                    for c in 0..cg {
                        let ci = g * cg + c;
                        let xk = &xs[(n * c_n + ci) * f..(n * c_n + ci + 1) * f];
                        let hk = &vs[(o * cg + c) * f..(o * cg + c + 1) * f];
                        for ((a, xv), hv) in acc.iter_mut().zip(xk).zip(hk) {
                            *a = *a + xv * hv;
                        }
                    }
                    let r = self.plan.inverse(&mut acc);
                    out.data_mut()[(n * o_n + o) * p..(n * o_n + o + 1) * p].copy_from_slice(&r);
                }
            }
        }
        out
    }
    fn adjoint(&self) -> Op<T> {
        Arc::new(CircularConvWeight {
            adjoint: !self.adjoint,
            ..self.clone()
        })
    }
    fn symbol(&self) -> Symbol {
        // The DSL names (`op::PRIMITIVES`).
        let name = if self.adjoint {
            "corr_signal"
        } else {
            "circ_signal"
        };
        Symbol::new(
            name,
            vec![
                ("period", format!("{:?}", &self.signal_shape[2..])),
                ("groups", self.groups.to_string()),
            ],
        )
    }
}

fn groups_or_one(s: &Site) -> usize {
    s.groups.unwrap_or(1)
}

/// The DSL's `circ_signal(x[, groups=g])`: the convolution as a map of the kernel, the signal
/// `x: (N, C, *P)` fixed; its adjoint is `corr_signal` (SWAP-2; CHAN-2 with groups).
pub static CIRC_SIGNAL: Primitive = Primitive {
    dsl: "circ_signal",
    aliases: &[],
    op: "CircularConvWeight",
    syntax: Syntax::Operand,
    adjoint: &CORR_SIGNAL,
    rule: Rule {
        name: "weight view* = correlation with the signal",
        note: "SWAP-2",
        statement: "circ_signal(x)' = corr_signal(x)",
    },
    grouped_rule: Some(Rule {
        name: "grouped weight view* = grouped correlation with the signal",
        note: "CHAN-2",
        statement: "circ_signal(x, groups=g)' = corr_signal(x, groups=g)",
    }),
    example: "circ_signal(x)",
    domain: &[2, 3, 6],
    forward: |s, d| {
        let x = rules::operand(s, d.len(), "the signal")?;
        let g = rules::groups_from(s.groups, x[1], d[1])?;
        rules::conv_check(x, d, g)?;
        Ok(Some(rules::with_channels(d[0], x)))
    },
    backward: |s, c| {
        if rules::wait_for_groups(s) {
            return Ok(None);
        }
        let x = rules::operand(s, c.len(), "the signal")?;
        let mut k = x.to_vec();
        k[0] = c[1];
        k[1] = x[1] / groups_or_one(s).max(1);
        Ok(Some(k))
    },
    resolve: |s, d, _| {
        let x = rules::operand(s, 0, "the signal")?;
        rules::groups_from(s.groups, x[1], d[1]).map(Resolution::Groups)
    },
    mismatch_hint: "",
    lower: crate::lowering!(lower_circ_signal),
};

/// The DSL's `corr_signal(x[, groups=g])`: the adjoint of `circ_signal` (SWAP-2).
pub static CORR_SIGNAL: Primitive = Primitive {
    dsl: "corr_signal",
    aliases: &[],
    op: "CircularConvWeight*",
    syntax: Syntax::Operand,
    adjoint: &CIRC_SIGNAL,
    rule: Rule {
        name: "correlation with the signal* = weight view",
        note: "SWAP-2",
        statement: "corr_signal(x)' = circ_signal(x)",
    },
    grouped_rule: Some(Rule {
        name: "grouped correlation with the signal* = grouped weight view",
        note: "CHAN-2",
        statement: "corr_signal(x, groups=g)' = circ_signal(x, groups=g)",
    }),
    example: "corr_signal(x)",
    domain: &[1, 2, 6],
    forward: |s, d| {
        if rules::wait_for_groups(s) {
            return Ok(None);
        }
        let x = rules::operand(s, d.len(), "the signal")?;
        let g = groups_or_one(s);
        rules::need(d.len() >= 3 && d[0] == x[0] && d[2..] == x[2..], || {
            format!(
                "input {} does not fit the signal {}",
                rules::fmt_shape(d),
                rules::fmt_shape(x)
            )
        })?;
        rules::need(g > 0 && x[1] % g == 0, || {
            format!("groups={g} must divide C={}", x[1])
        })?;
        let mut k = x.to_vec();
        k[0] = d[1];
        k[1] = x[1] / g;
        rules::conv_check(x, &k, g)?;
        Ok(Some(k))
    },
    backward: |s, c| {
        let x = rules::operand(s, c.len(), "the signal")?;
        Ok(Some(rules::with_channels(c[0], x)))
    },
    resolve: |s, _, c| {
        let x = rules::operand(s, 0, "the signal")?;
        rules::groups_from(s.groups, x[1], c[1]).map(Resolution::Groups)
    },
    mismatch_hint: "",
    lower: crate::lowering!(lower_corr_signal),
};

fn lower_circ_signal<T: Scalar>(
    s: &Site,
    _: &[usize],
    cod: &[usize],
    x: Option<&Tensor<T>>,
) -> Result<Op<T>> {
    Ok(Arc::new(CircularConvWeight::new(
        operand("circ_signal", x)?,
        cod[1],
        groups_or_one(s),
    )?))
}

fn lower_corr_signal<T: Scalar>(
    s: &Site,
    dom: &[usize],
    _: &[usize],
    x: Option<&Tensor<T>>,
) -> Result<Op<T>> {
    Ok(CircularConvWeight::new(operand("corr_signal", x)?, dom[1], groups_or_one(s))?.adjoint())
}
