//! Circular, reflect and replicate padding ↔ their fold-back adjoints (note
//! `derivations/12-padding-modes.md`, identity MODE-1).

use super::index::{fmt_list, gather, mapped_shape, scatter_add, AxisMaps};
use super::primitive::{keep, pads_of, Primitive, Rule, Site, Syntax};
use super::shape_rules as rules;
use super::{check_rank, LinearOp, Op, Symbol};
use crate::error::{Error, Result};
use crate::tensor::{Scalar, Tensor};
use std::fmt;
use std::sync::Arc;

/// How a padding fills the new entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PadMode {
    /// Zeros (see [`ZeroPad`](super::ZeroPad)).
    Zeros,
    /// Wrap around: `$x_{(i - lo) \bmod n}$`.
    Circular,
    /// Mirror without repeating the edge: `[a b c] → b [a b c] b`.
    Reflect,
    /// Repeat the edge: `[a b c] → a [a b c] c`.
    Replicate,
}

impl fmt::Display for PadMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PadMode::Zeros => "zeros",
            PadMode::Circular => "circular",
            PadMode::Reflect => "reflect",
            PadMode::Replicate => "replicate",
        })
    }
}

impl std::str::FromStr for PadMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "zeros" => Ok(PadMode::Zeros),
            "circular" => Ok(PadMode::Circular),
            "reflect" => Ok(PadMode::Reflect),
            "replicate" => Ok(PadMode::Replicate),
            _ => Err(Error::invalid(
                "padding_mode",
                format!("unknown mode `{s}`; use one of zeros, circular, reflect, replicate"),
            )),
        }
    }
}

/// The source index of padded position `i` (output axis) for an input extent `n`.
fn source(mode: PadMode, i: usize, lo: usize, n: usize) -> Option<usize> {
    let j = i as i64 - lo as i64;
    let n_i = n as i64;
    match mode {
        PadMode::Zeros => (0..n_i).contains(&j).then_some(j as usize),
        PadMode::Circular => Some(j.rem_euclid(n_i) as usize),
        PadMode::Replicate => Some(j.clamp(0, n_i - 1) as usize),
        PadMode::Reflect => {
            if n == 1 {
                return Some(0);
            }
            let period = 2 * (n_i - 1);
            let m = j.rem_euclid(period);
            Some(if m >= n_i { period - m } else { m } as usize)
        }
    }
}

fn build_maps(mode: PadMode, shape: &[usize], pads: &[(usize, usize)]) -> Result<AxisMaps> {
    check_rank("pad", shape, pads.len())?;
    let lead = shape.len() - pads.len();
    let mut maps = AxisMaps::new();
    for (a, (&(lo, hi), &n)) in pads.iter().zip(&shape[lead..]).enumerate() {
        if n == 0 {
            return Err(Error::invalid(
                format!("{mode} padding, axis {a}"),
                "cannot pad an empty axis",
            ));
        }
        if mode == PadMode::Reflect && (lo >= n || hi >= n) {
            return Err(Error::invalid(
                format!("reflect padding, axis {a}"),
                format!("padding [{lo}, {hi}] must be smaller than the extent {n}; pad less or use another mode"),
            ));
        }
        maps.push((0..lo + n + hi).map(|i| source(mode, i, lo, n)).collect());
    }
    Ok(maps)
}

/// Padding of the trailing axes by `[lo, hi]` in a mode: zeros, circular, reflect or replicate.
///
/// Forward: `$y_i = x_{\sigma(i)}$` where `$\sigma$` maps each padded position to the input entry it
/// copies (wrap, mirror or clamp).
///
/// Adjoint ([`PadFold`]): `$x_j = \sum_{i:\,\sigma(i)=j} y_i$` — crop, then add every padded
/// entry back onto the entry it was copied from (MODE-1).
///
/// ```
/// use fftconv::{op::{LinearOp, Pad, PadMode}, Tensor};
/// let pad = Pad::new(PadMode::Reflect, &[3], &[(2, 1)]).unwrap();
/// let y = pad.apply(&Tensor::new(vec![3], vec![1.0, 2.0, 3.0]).unwrap()).unwrap();
/// assert_eq!(y.data(), &[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]);
/// ```
///
/// # Errors
/// `new` fails for reflect padding not smaller than the extent, an empty axis, or a rank that
/// does not fit.
#[derive(Clone, Debug)]
pub struct Pad {
    mode: PadMode,
    domain: Vec<usize>,
    codomain: Vec<usize>,
    pads: Vec<(usize, usize)>,
    maps: AxisMaps,
}

impl Pad {
    /// Pad the trailing `pads.len()` axes of tensors of `shape`.
    pub fn new(mode: PadMode, shape: &[usize], pads: &[(usize, usize)]) -> Result<Self> {
        let maps = build_maps(mode, shape, pads)?;
        let codomain = mapped_shape(shape, &maps);
        crate::tensor::checked_numel(&codomain)?;
        Ok(Pad {
            mode,
            domain: shape.to_vec(),
            codomain,
            pads: pads.to_vec(),
            maps,
        })
    }
    /// The padding mode.
    pub fn mode(&self) -> PadMode {
        self.mode
    }
}

impl<T: Scalar> LinearOp<T> for Pad {
    fn domain(&self) -> &[usize] {
        &self.domain
    }
    fn codomain(&self) -> &[usize] {
        &self.codomain
    }
    fn forward(&self, x: &Tensor<T>) -> Tensor<T> {
        gather(x, &self.maps)
    }
    fn adjoint(&self) -> Op<T> {
        Arc::new(PadFold { pad: self.clone() })
    }
    fn symbol(&self) -> Symbol {
        // The DSL name (`op::PRIMITIVES`).
        let name = match self.mode {
            PadMode::Zeros => "zero_pad",
            PadMode::Circular => "pad_circular",
            PadMode::Reflect => "pad_reflect",
            PadMode::Replicate => "pad_replicate",
        };
        Symbol::new(
            name,
            vec![
                ("mode", self.mode.to_string()),
                ("pads", fmt_list(&self.pads)),
            ],
        )
    }
}

/// The adjoint of [`Pad`]: crop and fold the padded entries back onto their sources.
///
/// Forward: `$x_j = \sum_{i:\,\sigma(i)=j} y_i$`. Adjoint: the [`Pad`] it came from (MODE-1).
#[derive(Clone, Debug)]
pub struct PadFold {
    pad: Pad,
}

// The fold-back maps the padded shape to the unpadded one: domain and codomain swap roles.
#[allow(clippy::misnamed_getters)]
impl<T: Scalar> LinearOp<T> for PadFold {
    fn domain(&self) -> &[usize] {
        &self.pad.codomain
    }
    fn codomain(&self) -> &[usize] {
        &self.pad.domain
    }
    fn forward(&self, y: &Tensor<T>) -> Tensor<T> {
        scatter_add(y, &self.pad.domain, &self.pad.maps)
    }
    fn adjoint(&self) -> Op<T> {
        Arc::new(self.pad.clone())
    }
    fn symbol(&self) -> Symbol {
        // The DSL name (`op::PRIMITIVES`).
        let name = match self.pad.mode {
            PadMode::Zeros => "crop",
            PadMode::Circular => "fold_circular",
            PadMode::Reflect => "fold_reflect",
            PadMode::Replicate => "fold_replicate",
        };
        Symbol::new(
            name,
            vec![
                ("mode", self.pad.mode.to_string()),
                ("pads", fmt_list(&self.pad.pads)),
            ],
        )
    }
}

/// The DSL's `pad_MODE[lo:hi, …]` and its adjoint `fold_MODE[lo:hi, …]` for one mode (MODE-1).
macro_rules! mode_pair {
    ($pad:ident, $fold:ident, $m:literal, $mode:literal) => {
        #[doc = concat!("The DSL's `pad_", $mode, "[lo:hi, …]`; its adjoint is `fold_", $mode, "` (MODE-1).")]
        pub static $pad: Primitive = Primitive {
            dsl: concat!("pad_", $mode),
            aliases: &[],
            op: "Pad",
            syntax: Syntax::Pads,
            adjoint: &$fold,
            rule: Rule {
                name: "pad_mode* = fold_mode",
                note: "MODE-1",
                statement: "pad_reflect[p]' = fold_reflect[p]",
            },
            grouped_rule: None,
            example: concat!("pad_", $mode, "[1:2]"),
            domain: &[1, 2, 4],
            forward: |s, d| rules::pad_shape(d, rules::pads(s)?, true).map(Some),
            backward: |s, c| rules::pad_shape(c, rules::pads(s)?, false).map(Some),
            resolve: keep,
            mismatch_hint: "",
            lower: crate::lowering!(lower_pad::<_, $m>),
        };
        #[doc = concat!("The DSL's `fold_", $mode, "[lo:hi, …]`; its adjoint is `pad_", $mode, "` (MODE-1).")]
        pub static $fold: Primitive = Primitive {
            dsl: concat!("fold_", $mode),
            aliases: &[],
            op: "Pad*",
            syntax: Syntax::Pads,
            adjoint: &$pad,
            rule: Rule {
                name: "fold_mode* = pad_mode",
                note: "MODE-1",
                statement: "fold_reflect[p]' = pad_reflect[p]",
            },
            grouped_rule: None,
            example: concat!("fold_", $mode, "[1:2]"),
            domain: &[1, 2, 7],
            forward: |s, d| rules::pad_shape(d, rules::pads(s)?, false).map(Some),
            backward: |s, c| rules::pad_shape(c, rules::pads(s)?, true).map(Some),
            resolve: keep,
            mismatch_hint: "",
            lower: crate::lowering!(lower_fold::<_, $m>),
        };
    };
}

mode_pair!(PAD_CIRCULAR, FOLD_CIRCULAR, 0, "circular");
mode_pair!(PAD_REFLECT, FOLD_REFLECT, 1, "reflect");
mode_pair!(PAD_REPLICATE, FOLD_REPLICATE, 2, "replicate");

const MODES: [PadMode; 3] = [PadMode::Circular, PadMode::Reflect, PadMode::Replicate];

fn lower_pad<T: Scalar, const M: usize>(
    s: &Site,
    dom: &[usize],
    _: &[usize],
    _: Option<&Tensor<T>>,
) -> Result<Op<T>> {
    Ok(Arc::new(Pad::new(
        MODES[M],
        dom,
        pads_of("pad", s.params)?,
    )?))
}

fn lower_fold<T: Scalar, const M: usize>(
    s: &Site,
    _: &[usize],
    cod: &[usize],
    _: Option<&Tensor<T>>,
) -> Result<Op<T>> {
    Ok(LinearOp::<T>::adjoint(&Pad::new(
        MODES[M],
        cod,
        pads_of("fold", s.params)?,
    )?))
}

/// The primitive that pads in `mode` (`zero_pad` for zeros).
pub fn pad_primitive(mode: PadMode) -> &'static Primitive {
    match mode {
        PadMode::Zeros => &super::zero_pad::ZERO_PAD,
        PadMode::Circular => &PAD_CIRCULAR,
        PadMode::Reflect => &PAD_REFLECT,
        PadMode::Replicate => &PAD_REPLICATE,
    }
}
