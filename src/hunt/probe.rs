//! One probe: a layer and its input values, written as a case folder (HUNT.md), sent to the
//! adapter, and judged tensor by tensor against the f64 reference.
//!
//! The inputs are a function of the hunt's seed and the layer alone, so the same layer always
//! gets the same inputs: a shrinking step, a replay in a fresh adapter and the reproducer all
//! see the case that failed.

use super::adapter::{Adapter, Reply};
use super::generate::Draft;
use crate::case::TensorName;
use crate::check::{compare, fan_in, Profile, Tolerance};
use crate::conv::{self, Algorithm, Geometry};
use crate::error::{Error, Result};
use crate::npy::{self, NpyDtype};
use crate::tensor::Tensor;
use std::fmt;
use std::path::Path;

/// The kind of a failure (HUNT.md's verdicts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A tensor disagrees with the reference (a wrong dtype or a non-finite value too).
    WrongValue,
    /// A tensor has the wrong shape.
    WrongShape,
    /// `ok: true`, but a wanted tensor was not written.
    Missing,
    /// `ok: false` on a layer the frameworks accept.
    Refused,
    /// The adapter exited, printed garbage, answered another id or timed out.
    Crash,
    /// `ok: true` on a layer the frameworks refuse.
    AcceptedInvalid,
}

impl Kind {
    /// The JSON spelling: `wrong-value`, `wrong-shape`, `missing`, `refused`, `crash`,
    /// `accepted-invalid`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::WrongValue => "wrong-value",
            Kind::WrongShape => "wrong-shape",
            Kind::Missing => "missing",
            Kind::Refused => "refused",
            Kind::Crash => "crash",
            Kind::AcceptedInvalid => "accepted-invalid",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the input values are drawn: standard normal, or small integers in `[-2, 2]` (the
/// simpler values a shrunk reproducer ends with when they still show the failure).
/// Zero is left out (it is drawn as 1), so no entry silently drops out of a sum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Values {
    /// Standard normal.
    Normal,
    /// Integers in `[-2, 2]` other than 0.
    SmallIntegers,
}

/// A layer and how its inputs are drawn.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Probe {
    /// The layer.
    pub draft: Draft,
    /// The input values.
    pub values: Values,
}

/// One failure of a probe.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// What went wrong.
    pub kind: Kind,
    /// On which tensor (None for refused, crash and accepted-invalid).
    pub tensor: Option<TensorName>,
    /// The norm-wise relative error, for wrong values.
    pub max_rel_err: Option<f64>,
    /// One line: what was seen.
    pub message: String,
}

impl Failure {
    fn new(kind: Kind, tensor: Option<TensorName>, message: String) -> Failure {
        Failure {
            kind,
            tensor,
            max_rel_err: None,
            message,
        }
    }

    /// Whether `other` is the same kind of failure on the same tensor.
    pub fn same_as(&self, other: &Failure) -> bool {
        self.kind == other.kind && self.tensor == other.tensor
    }
}

/// The settings every probe of a hunt shares.
#[derive(Clone, Debug)]
pub struct ProbeSettings {
    /// The hunt's seed.
    pub seed: u64,
    /// The dtype of the inputs written.
    pub dtype: NpyDtype,
    /// The tensors asked for (`db` only goes out when the layer has a bias).
    pub want: Vec<TensorName>,
    /// The tolerance profile (default: the dtype's).
    pub profile: Profile,
}

/// The inputs of a probe, as f64 tensors holding values exact in the probe's dtype.
pub struct Inputs {
    /// Layer input.
    pub x: Tensor<f64>,
    /// Weights.
    pub w: Tensor<f64>,
    /// Bias.
    pub b: Option<Tensor<f64>>,
    /// Upstream gradient (valid layers only: an invalid layer has no output shape).
    pub dy: Option<Tensor<f64>>,
}

/// FNV-1a: a stable hash (the std hasher may change between releases, and reproducers must not).
fn fnv(bytes: &[u8], mut h: u64) -> u64 {
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

impl Probe {
    /// The seed of this probe's inputs: the hunt seed, the layer and the value kind.
    pub fn input_seed(&self, hunt_seed: u64) -> u64 {
        let text = format!("{}|{:?}", self.draft.spec().dsl(), self.values);
        fnv(text.as_bytes(), 0xcbf2_9ce4_8422_2325 ^ hunt_seed)
    }

    /// The tensors this probe asks for.
    pub fn want(&self, settings: &ProbeSettings) -> Vec<TensorName> {
        if !self.draft.is_valid() {
            return vec![TensorName::Y];
        }
        settings
            .want
            .iter()
            .copied()
            .filter(|&t| t != TensorName::Db || self.draft.bias)
            .collect()
    }

    /// Draw the inputs.
    pub fn inputs(&self, settings: &ProbeSettings) -> Inputs {
        let spec = self.draft.spec();
        let seed = self.input_seed(settings.seed);
        let draw = |shape: &[usize], k: u64| {
            let t = match self.values {
                Values::Normal => Tensor::<f64>::randn(shape, seed.wrapping_add(k)),
                Values::SmallIntegers => {
                    Tensor::<f64>::uniform(shape, -2.5, 2.5, seed.wrapping_add(k))
                        .expect("constant bounds -2.5 < 2.5")
                        .map(|v| if v.round() == 0.0 { 1.0 } else { v.round() })
                }
            };
            match settings.dtype {
                NpyDtype::F64 => t,
                NpyDtype::F32 => t.cast::<f32>().cast::<f64>(),
            }
        };
        let geometry = spec.geometry().ok();
        Inputs {
            x: draw(&spec.x, 0),
            w: draw(&spec.w, 1),
            b: spec
                .bias
                .then(|| draw(&[self.draft.groups * self.draft.cout_g], 2)),
            dy: geometry.map(|g| draw(&g.y_shape(), 3)),
        }
    }

    /// Write the case folder of the request (HUNT.md): `case.toml` with the layer and
    /// `[inputs]`, and the input tensors in the hunt's dtype.
    ///
    /// # Errors
    /// [`Error::File`] when the folder or a file cannot be written.
    pub fn write_request(&self, dir: &Path, inputs: &Inputs, dtype: NpyDtype) -> Result<()> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::file(dir.display(), format!("cannot create the folder: {e}")))?;
        let mut toml = self.draft.spec().toml_keys();
        toml += "\n[inputs]\nx = \"x.npy\"\nw = \"w.npy\"\n";
        let mut files = vec![("x.npy", &inputs.x), ("w.npy", &inputs.w)];
        if let Some(b) = &inputs.b {
            toml += "b = \"b.npy\"\n";
            files.push(("b.npy", b));
        }
        if let Some(dy) = &inputs.dy {
            toml += "dy = \"dy.npy\"\n";
            files.push(("dy.npy", dy));
        }
        for (name, t) in files {
            write_tensor(&dir.join(name), t, dtype)?;
        }
        std::fs::write(dir.join("case.toml"), toml).map_err(|e| {
            Error::file(
                dir.join("case.toml").display(),
                format!("cannot write: {e}"),
            )
        })
    }

    /// Run the probe: write its folder, ask the adapter, judge what it wrote.
    ///
    /// # Errors
    /// Only when fftconv itself cannot work (a folder it cannot write, an adapter that cannot
    /// be started); everything the adapter does is a [`Failure`].
    pub fn run(
        &self,
        adapter: &mut Adapter,
        dir: &Path,
        settings: &ProbeSettings,
    ) -> Result<Vec<Failure>> {
        let inputs = self.inputs(settings);
        self.write_request(dir, &inputs, settings.dtype)?;
        let want = self.want(settings);
        let names: Vec<&str> = want.iter().map(|t| t.as_str()).collect();
        let reply = adapter.request(dir, &names)?;
        let valid = self.draft.is_valid();
        Ok(match (reply, valid) {
            (Reply::Crash(why), _) => vec![Failure::new(Kind::Crash, None, why)],
            (Reply::Refused(_), false) => Vec::new(),
            (Reply::Refused(msg), true) => vec![Failure::new(
                Kind::Refused,
                None,
                format!("refused a valid layer: {msg}"),
            )],
            (Reply::Ok, false) => vec![Failure::new(
                Kind::AcceptedInvalid,
                None,
                format!(
                    "answered ok on a layer the frameworks refuse ({})",
                    self.draft
                        .spec()
                        .geometry()
                        .err()
                        .map(|e| e.to_string())
                        .unwrap_or_default()
                ),
            )],
            (Reply::Ok, true) => judge_outputs(self, &inputs, dir, &want, settings)?,
        })
    }
}

fn write_tensor(path: &Path, t: &Tensor<f64>, dtype: NpyDtype) -> Result<()> {
    match dtype {
        NpyDtype::F64 => npy::write(path, t),
        NpyDtype::F32 => npy::write(path, &t.cast::<f32>()),
    }
}

/// The reference tensors (f64) of a valid probe, by `algo`.
fn reference(
    probe: &Probe,
    inputs: &Inputs,
    algo: Algorithm,
) -> Result<Vec<(TensorName, Tensor<f64>)>> {
    let spec = probe.draft.spec().conv_spec();
    let y = conv::forward(&spec, &inputs.x, &inputs.w, inputs.b.as_ref(), algo)?;
    let mut out = vec![(TensorName::Y, y)];
    if let Some(dy) = &inputs.dy {
        let g = conv::backward(&spec, &inputs.x, &inputs.w, dy, inputs.b.is_some(), algo)?;
        out.push((TensorName::Dx, g.dx));
        out.push((TensorName::Dw, g.dw));
        if let Some(db) = g.db {
            out.push((TensorName::Db, db));
        }
    }
    Ok(out)
}

fn judge_outputs(
    probe: &Probe,
    inputs: &Inputs,
    dir: &Path,
    want: &[TensorName],
    settings: &ProbeSettings,
) -> Result<Vec<Failure>> {
    let g: Geometry = probe.draft.spec().geometry()?;
    let chain = reference(probe, inputs, Algorithm::Chain)?;
    let mut direct: Option<Vec<(TensorName, Tensor<f64>)>> = None;
    let mut failures = Vec::new();
    for &name in want {
        let path = dir.join(format!("{name}.npy"));
        let Some(reference) = chain.iter().find(|(n, _)| *n == name).map(|(_, t)| t) else {
            continue;
        };
        if !path.exists() {
            failures.push(Failure::new(
                Kind::Missing,
                Some(name),
                format!("ok, but {name}.npy was not written"),
            ));
            continue;
        }
        let (got, dtype) = match npy::read(&path) {
            Ok(v) => v,
            Err(e) => {
                failures.push(Failure::new(
                    Kind::WrongValue,
                    Some(name),
                    format!("{name}.npy cannot be read: {e}"),
                ));
                continue;
            }
        };
        if got.shape() != reference.shape() {
            failures.push(Failure::new(
                Kind::WrongShape,
                Some(name),
                format!(
                    "{name} has shape {:?}, expected {:?}",
                    got.shape(),
                    reference.shape()
                ),
            ));
            continue;
        }
        if dtype != settings.dtype {
            failures.push(Failure::new(
                Kind::WrongValue,
                Some(name),
                format!(
                    "{name} is stored as {}, the hunt runs in {}",
                    dtype.name(),
                    settings.dtype.name()
                ),
            ));
            continue;
        }
        let tol = settings.profile.tolerance(fan_in(&g, name.as_str()));
        let c = compare(&got, reference, tol)?;
        if c.pass {
            continue;
        }
        // Confirm by the direct loops, which share no code with the chain: a finding must be
        // the implementation's, never a disagreement inside fftconv.
        if direct.is_none() {
            direct = Some(reference_direct(probe, inputs)?);
        }
        let witness = direct
            .as_ref()
            .and_then(|d| d.iter().find(|(n, _)| *n == name))
            .map(|(_, t)| t);
        if let Some(w) = witness {
            if compare(&got, w, tol)?.pass {
                eprintln!(
                    "fftconv: internal disagreement on {name} of {} (chain vs direct loops); please report it",
                    probe.draft.spec().dsl()
                );
                continue;
            }
        }
        let mut f = Failure::new(
            Kind::WrongValue,
            Some(name),
            if c.got_at_worst.is_finite() {
                format!(
                    "{name}[{}] = {:.6e}, reference {:.6e} ({})",
                    index_text(&c.worst_index),
                    c.got_at_worst,
                    c.ref_at_worst,
                    error_text(c.max_abs_err, c.max_rel_err, c.absolute_only, tol)
                )
            } else {
                format!(
                    "{name}[{}] = {} where the reference is {:.6e}",
                    index_text(&c.worst_index),
                    c.got_at_worst,
                    c.ref_at_worst
                )
            },
        );
        f.max_rel_err = Some(if c.absolute_only {
            c.max_abs_err
        } else {
            c.max_rel_err
        });
        failures.push(f);
    }
    Ok(failures)
}

fn reference_direct(probe: &Probe, inputs: &Inputs) -> Result<Vec<(TensorName, Tensor<f64>)>> {
    reference(probe, inputs, Algorithm::Direct)
}

fn index_text(i: &[usize]) -> String {
    i.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn error_text(abs: f64, rel: f64, absolute_only: bool, tol: Tolerance) -> String {
    if absolute_only {
        format!("abs err {abs:.2e}; the reference is at rounding level")
    } else {
        format!("rel err {rel:.2e}, rtol {:.1e}", tol.rtol)
    }
}
