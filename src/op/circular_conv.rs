//! Circular convolution with channel mixing, by real FFT ↔ circular correlation (note
//! `derivations/03-circular-convolution.md`, identities CIRC-1 and CIRC-2).

use super::primitive::{operand, Primitive, Resolution, Rule, Site, Syntax};
use super::shape_rules as rules;
use super::{LinearOp, Op, Symbol};
use crate::error::{Error, Result};
use crate::fft::RealFftNd;
use crate::tensor::{Scalar, Tensor};
use num_complex::Complex;
use std::sync::Arc;

/// Half spectra of `count` consecutive real blocks of one plan's shape.
pub(crate) fn spectra<T: Scalar>(plan: &RealFftNd<T>, data: &[T]) -> Vec<Complex<T>> {
    let len = plan.real_len();
    let mut out = Vec::with_capacity(data.len() / len * plan.spectrum_len());
    for block in data.chunks(len) {
        out.extend(plan.forward(block));
    }
    out
}

/// Validate `(N, C, *P)` against a kernel `(O, C/groups, *P)`; returns (O, C/groups).
pub(crate) fn check_channels(
    context: &str,
    signal: &[usize],
    kernel: &[usize],
    groups: usize,
) -> Result<(usize, usize)> {
    if kernel.len() < 3 || signal.len() != kernel.len() {
        return Err(Error::invalid(
            context,
            format!("needs signal (N, C, *P) and kernel (O, C/groups, *P) of equal rank ≥ 3, got {signal:?} and {kernel:?}"),
        ));
    }
    if signal[2..] != kernel[2..] {
        return Err(Error::shape(
            format!("{context}: period of the kernel"),
            &signal[2..],
            &kernel[2..],
        ));
    }
    let (o, cg) = (kernel[0], kernel[1]);
    if groups == 0 || o % groups != 0 || cg * groups != signal[1] {
        return Err(Error::invalid(
            format!("{context} groups"),
            format!(
                "groups={groups} must divide O={o} and C={} with C/groups={cg}",
                signal[1]
            ),
        ));
    }
    if signal[2..].contains(&0) || signal[0] == 0 || o == 0 || cg == 0 {
        return Err(Error::invalid(
            context,
            format!("empty axis in {signal:?} or {kernel:?}"),
        ));
    }
    crate::tensor::checked_numel(signal)?;
    crate::tensor::checked_numel(kernel)?;
    Ok((o, cg))
}

/// Circular convolution over a period `P` with channel mixing and groups, run by real FFT.
///
/// For `x: (N, C, *P)` and a kernel `h: (O, C/g, *P)`:
/// `$y_{n,o} = \sum_{c} h_{o,c} \circledast x_{n,\gamma(o)C/g + c}$` with
/// `$(h \circledast x)_i = \sum_j h_j\, x_{(i-j) \bmod P}$`, computed as
/// `$\hat y_{n,o} = \sum_c \hat h_{o,c} \hat x_{n,c}$` per frequency (CIRC-1).
///
/// Adjoint: circular correlation, i.e. multiplication by the conjugate spectrum,
/// `$\hat x_{n,c} = \sum_{o} \overline{\hat h_{o,c}}\, \hat y_{n,o}$` (CIRC-2). The kernel's
/// spectrum is computed once, when the operator is built, and serves both directions.
///
/// ```
/// use fftconv::{op::{CircularConv, LinearOp}, Tensor};
/// let h = Tensor::<f64>::new(vec![1, 1, 4], vec![0.0, 1.0, 0.0, 0.0]).unwrap(); // shift by one
/// let conv = CircularConv::new(&h, 1, 1).unwrap();
/// let y = conv.apply(&Tensor::new(vec![1, 1, 4], vec![1.0, 2.0, 3.0, 4.0]).unwrap()).unwrap();
/// assert!((y.data()[0] - 4.0).abs() < 1e-12 && (y.data()[1] - 1.0).abs() < 1e-12);
/// ```
///
/// # Errors
/// `new` fails when `groups` does not divide the channels or a shape is empty.
#[derive(Clone, Debug)]
pub struct CircularConv<T: Scalar> {
    in_shape: Vec<usize>,
    out_shape: Vec<usize>,
    kernel_shape: Vec<usize>,
    groups: usize,
    plan: Arc<RealFftNd<T>>,
    kernel_spectra: Arc<Vec<Complex<T>>>,
    adjoint: bool,
}

impl<T: Scalar> std::fmt::Debug for RealFftNd<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RealFftNd{:?}", self.shape())
    }
}

impl<T: Scalar> CircularConv<T> {
    /// Convolution with `kernel: (O, C/groups, *P)` of tensors `(batch, C, *P)`, where
    /// `C = groups · kernel.shape()[1]`.
    pub fn new(kernel: &Tensor<T>, batch: usize, groups: usize) -> Result<Self> {
        let ks = kernel.shape();
        if ks.len() < 3 {
            return Err(Error::invalid(
                "circular_conv",
                format!("kernel needs shape (O, C/groups, *P), got {ks:?}"),
            ));
        }
        let mut in_shape = ks.to_vec();
        in_shape[0] = batch;
        in_shape[1] = ks[1] * groups;
        let (o, _) = check_channels("circular_conv", &in_shape, ks, groups)?;
        let mut out_shape = in_shape.clone();
        out_shape[1] = o;
        let plan = RealFftNd::plan(&ks[2..]);
        let kernel_spectra = Arc::new(spectra(&plan, kernel.data()));
        Ok(CircularConv {
            in_shape,
            out_shape,
            kernel_shape: ks.to_vec(),
            groups,
            plan,
            kernel_spectra,
            adjoint: false,
        })
    }
}

impl<T: Scalar> LinearOp<T> for CircularConv<T> {
    fn domain(&self) -> &[usize] {
        if self.adjoint {
            &self.out_shape
        } else {
            &self.in_shape
        }
    }
    fn codomain(&self) -> &[usize] {
        if self.adjoint {
            &self.in_shape
        } else {
            &self.out_shape
        }
    }
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        let (o_n, cg) = (self.kernel_shape[0], self.kernel_shape[1]);
        let c_n = self.in_shape[1];
        let og = o_n / self.groups;
        let f = self.plan.spectrum_len();
        let p = self.plan.real_len();
        let h = &self.kernel_spectra;
        let xs = spectra(&self.plan, x.data());
        let zero = Complex::new(T::zero(), T::zero());
        let out_shape = LinearOp::<T>::codomain(self).to_vec();
        let mut y = Tensor::zeros(&out_shape);
        let out_ch = out_shape[1];
        let in_ch = if self.adjoint { o_n } else { c_n };
        let mut acc = vec![zero; f];
        for n in 0..self.in_shape[0] {
            for oc in 0..out_ch {
                acc.iter_mut().for_each(|a| *a = zero);
                if self.adjoint {
                    // oc is an input channel of the convolution: sum over the outputs of its group.
                    let (g, c) = (oc / cg, oc % cg);
                    for o in g * og..(g + 1) * og {
                        let hk = &h[(o * cg + c) * f..(o * cg + c + 1) * f];
                        let yk = &xs[(n * in_ch + o) * f..(n * in_ch + o + 1) * f];
                        for ((a, hv), yv) in acc.iter_mut().zip(hk).zip(yk) {
                            *a = *a + hv.conj() * yv;
                        }
                    }
                } else {
                    let g = oc / og;
                    for c in 0..cg {
                        let hk = &h[(oc * cg + c) * f..(oc * cg + c + 1) * f];
                        let ci = g * cg + c;
                        let xk = &xs[(n * in_ch + ci) * f..(n * in_ch + ci + 1) * f];
                        for ((a, hv), xv) in acc.iter_mut().zip(hk).zip(xk) {
                            *a = *a + hv * xv;
                        }
                    }
                }
                let out = self.plan.inverse(&mut acc);
                y.data_mut()[(n * out_ch + oc) * p..(n * out_ch + oc + 1) * p]
                    .copy_from_slice(&out);
            }
        }
        y
    }
    fn adjoint(&self) -> Op<T> {
        Arc::new(CircularConv {
            adjoint: !self.adjoint,
            ..self.clone()
        })
    }
    fn symbol(&self) -> Symbol {
        // The DSL names (`op::PRIMITIVES`).
        let name = if self.adjoint { "corr" } else { "circ" };
        Symbol::new(
            name,
            vec![
                ("period", format!("{:?}", &self.kernel_shape[2..])),
                ("groups", self.groups.to_string()),
            ],
        )
    }
}

fn groups_or_one(s: &Site) -> usize {
    s.groups.unwrap_or(1)
}

/// The DSL's `circ(h[, groups=g])`: circular convolution with `h: (O, C/g, *P)` on
/// `(N, C, *P)`; its adjoint is `corr` (CIRC-2; CHAN-2 with groups).
pub static CIRC: Primitive = Primitive {
    dsl: "circ",
    aliases: &[],
    op: "CircularConv",
    syntax: Syntax::Operand,
    adjoint: &CORR,
    rule: Rule {
        name: "circular convolution* = correlation",
        note: "CIRC-2",
        statement: "circ(h)' = corr(h)",
    },
    grouped_rule: Some(Rule {
        name: "grouped circular convolution* = grouped correlation (block transpose)",
        note: "CHAN-2",
        statement: "circ(h, groups=g)' = corr(h, groups=g)",
    }),
    example: "circ(h)",
    domain: &[1, 3, 6],
    forward: |s, d| {
        let k = rules::operand(s, d.len(), "the kernel")?;
        let g = rules::groups_from(s.groups, d[1], k[1])?;
        rules::conv_check(d, k, g)?;
        Ok(Some(rules::with_channels(k[0], d)))
    },
    backward: |s, c| {
        if rules::wait_for_groups(s) {
            return Ok(None);
        }
        let k = rules::operand(s, c.len(), "the kernel")?;
        Ok(Some(rules::with_channels(
            k[1].saturating_mul(groups_or_one(s)),
            c,
        )))
    },
    resolve: |s, d, _| {
        let k = rules::operand(s, 0, "the kernel")?;
        rules::groups_from(s.groups, d[1], k[1]).map(Resolution::Groups)
    },
    mismatch_hint: "",
    lower: crate::lowering!(lower_circ),
};

/// The DSL's `corr(h[, groups=g])`: circular correlation, the adjoint of `circ` (CIRC-2).
pub static CORR: Primitive = Primitive {
    dsl: "corr",
    aliases: &[],
    op: "CircularConv*",
    syntax: Syntax::Operand,
    adjoint: &CIRC,
    rule: Rule {
        name: "correlation* = circular convolution",
        note: "CIRC-2",
        statement: "corr(h)' = circ(h)",
    },
    grouped_rule: Some(Rule {
        name: "grouped correlation* = grouped circular convolution (block transpose)",
        note: "CHAN-2",
        statement: "corr(h, groups=g)' = circ(h, groups=g)",
    }),
    example: "corr(h)",
    domain: &[1, 2, 6],
    forward: |s, d| {
        if rules::wait_for_groups(s) {
            return Ok(None);
        }
        let k = rules::operand(s, d.len(), "the kernel")?;
        let g = groups_or_one(s);
        rules::need(d[1] == k[0], || {
            format!("input has {} channels, the kernel {} outputs", d[1], k[0])
        })?;
        let out = rules::with_channels(k[1].saturating_mul(g), d);
        rules::conv_check(&out, k, g)?;
        Ok(Some(out))
    },
    backward: |s, c| {
        let k = rules::operand(s, c.len(), "the kernel")?;
        Ok(Some(rules::with_channels(k[0], c)))
    },
    resolve: |s, _, c| {
        let k = rules::operand(s, 0, "the kernel")?;
        rules::groups_from(s.groups, c[1], k[1]).map(Resolution::Groups)
    },
    mismatch_hint: "",
    lower: crate::lowering!(lower_corr),
};

fn lower_circ<T: Scalar>(
    s: &Site,
    dom: &[usize],
    _: &[usize],
    h: Option<&Tensor<T>>,
) -> Result<Op<T>> {
    Ok(Arc::new(CircularConv::new(
        operand("circ", h)?,
        dom[0],
        groups_or_one(s),
    )?))
}

fn lower_corr<T: Scalar>(
    s: &Site,
    _: &[usize],
    cod: &[usize],
    h: Option<&Tensor<T>>,
) -> Result<Op<T>> {
    Ok(CircularConv::new(operand("corr", h)?, cod[0], groups_or_one(s))?.adjoint())
}
