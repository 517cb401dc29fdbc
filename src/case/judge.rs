//! Judging a case: load its tensors, compute the reference in f64 through the operator chain,
//! and compare every expected tensor norm-wise (`max|got − ref| ≤ atol + rtol · max|ref|`).
//!
//! A case is judged only when everything about it is sound: every file readable, inputs finite,
//! every shape fitting the spec. Otherwise the whole case is refused with one error naming the
//! file or key ("could not be judged", exit status 2). A non-finite value in an *expected* tensor
//! is not an error but a failed comparison.
//!
//! ```no_run
//! use fftconv::case::judge_path;
//! let report = judge_path(std::path::Path::new("tests/data/cases/case001-conv-2d")).unwrap();
//! assert!(report.pass());
//! ```

use super::format::{Case, TensorName};
use super::layer::LayerSpec;
use super::{compare, Comparison, Tolerance};
use crate::check::{fan_in, Profile};
use crate::conv::{self, Algorithm, Geometry};
use crate::error::{Error, Result};
use crate::npy::{self, NpyDtype};
use crate::tensor::Tensor;
use std::fmt;
use std::path::{Path, PathBuf};

/// The default tolerance for expected tensors stored as `dtype`: the comparison profiles of
/// [`Tolerance`] — tight for f64 (a correct f64 implementation agrees with the reference to
/// ~1e-15 of the tensor's scale), loose for f32.
pub fn tolerance_profile(dtype: NpyDtype) -> Tolerance {
    match dtype {
        NpyDtype::F64 => Tolerance::F64,
        NpyDtype::F32 => Tolerance::F32,
    }
}

/// Where a tolerance came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToleranceSource {
    /// The case's `[tolerance]` table (`rtol`/`atol`).
    CaseFile,
    /// The profile of the expected tensor's dtype.
    Profile(NpyDtype),
    /// A named profile, from the case's `[tolerance] profile` or the command line.
    Named(Profile),
}

impl fmt::Display for ToleranceSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToleranceSource::CaseFile => f.write_str("case.toml"),
            ToleranceSource::Profile(d) => write!(f, "{} profile", d.name()),
            ToleranceSource::Named(p) => write!(f, "{p} profile"),
        }
    }
}

/// The verdict on one expected tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorVerdict {
    /// Which tensor.
    pub name: TensorName,
    /// Its file.
    pub path: PathBuf,
    /// Its stored dtype.
    pub dtype: NpyDtype,
    /// The tolerance applied.
    pub tolerance: Tolerance,
    /// Where the tolerance came from.
    pub tolerance_source: ToleranceSource,
    /// Errors and verdict (a failed comparison with NaN errors when the shape is wrong).
    pub comparison: Comparison,
    /// `(got, expected)` shapes when the tensor has the wrong shape: a failed verdict, not an
    /// error of the case.
    pub wrong_shape: Option<(Vec<usize>, Vec<usize>)>,
}

/// The verdicts on every expected tensor of a case.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseReport {
    /// The case's `case.toml`.
    pub toml_path: PathBuf,
    /// The layer judged, with its shapes.
    pub layer: LayerSpec,
    /// One verdict per expected tensor, in the order y, dx, dw, db.
    pub tensors: Vec<TensorVerdict>,
}

/// How to judge: the tolerance profile that overrides the case's (`verify --profile`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct JudgeOptions {
    /// A named profile for every tensor, in place of the case's tolerance.
    pub profile: Option<Profile>,
}

impl CaseReport {
    /// Whether every expected tensor agrees with the reference.
    pub fn pass(&self) -> bool {
        self.tensors.iter().all(|t| t.comparison.pass)
    }

    /// Names of the tensors that disagree.
    pub fn failed(&self) -> Vec<TensorName> {
        self.tensors
            .iter()
            .filter(|t| !t.comparison.pass)
            .map(|t| t.name)
            .collect()
    }
}

/// Read an input tensor: it must exist, be readable and hold finite values only.
fn read_input(key: &str, path: &Path) -> Result<Tensor<f64>> {
    let (t, _) = npy::read(path)?;
    if let Some((index, value)) = t.first_non_finite() {
        return Err(Error::NonFinite {
            name: format!("{key} ({})", path.display()),
            index,
            value,
        });
    }
    Ok(t)
}

fn check_shape(
    section: &str,
    key: &str,
    path: &Path,
    t: &Tensor<f64>,
    want: &[usize],
) -> Result<()> {
    if t.shape() != want {
        return Err(Error::file(
            path.display(),
            format!(
                "[{section}] {key} has shape {:?}, but the spec and the shapes of x and w need {want:?}",
                t.shape()
            ),
        ));
    }
    Ok(())
}

/// The geometry of a case, with errors attributed to `case.toml`.
fn geometry(case: &Case, x: &Tensor<f64>, w: &Tensor<f64>) -> Result<Geometry> {
    let file = case.toml_path.display();
    let d = case.spatial_rank;
    if x.ndim() != d + 2 {
        return Err(Error::file(
            case.inputs.x.display(),
            format!(
                "[inputs] x has shape {:?} ({} spatial axes), but stride/padding/dilation in {file} describe {d}; x must be (N, C_in, *spatial)",
                x.shape(),
                x.ndim().saturating_sub(2)
            ),
        ));
    }
    if w.ndim() != d + 2 {
        return Err(Error::file(
            case.inputs.w.display(),
            format!(
                "[inputs] w has shape {:?}, but x {:?} needs weights with {} axes",
                w.shape(),
                x.shape(),
                d + 2
            ),
        ));
    }
    case.spec.geometry(x.shape(), w.shape()).map_err(|e| {
        Error::file(
            &file,
            format!("{e} (with x {:?} and w {:?})", x.shape(), w.shape()),
        )
    })
}

/// Judge a loaded case.
///
/// # Errors
/// The case could not be judged: a file is missing or unreadable, an input holds a non-finite
/// value, or a shape does not fit the spec. Each error names the file or key.
pub fn judge(case: &Case) -> Result<CaseReport> {
    judge_with(case, JudgeOptions::default())
}

/// [`judge`] with options (a tolerance profile that overrides the case's).
///
/// # Errors
/// As [`judge`].
pub fn judge_with(case: &Case, options: JudgeOptions) -> Result<CaseReport> {
    let x = read_input("x", &case.inputs.x)?;
    let w = read_input("w", &case.inputs.w)?;
    let g = geometry(case, &x, &w)?;
    let b = match &case.inputs.b {
        Some(p) => {
            let b = read_input("b", p)?;
            check_shape("inputs", "b", p, &b, &g.b_shape())?;
            Some(b)
        }
        None => None,
    };
    let dy = match &case.inputs.dy {
        Some(p) => {
            let dy = read_input("dy", p)?;
            check_shape("inputs", "dy", p, &dy, &g.y_shape())?;
            Some(dy)
        }
        None => None,
    };
    let mut got = Vec::with_capacity(case.expected.len());
    for (name, path) in &case.expected {
        let (t, dtype) = npy::read(path)?;
        got.push((*name, path.clone(), t, dtype));
    }

    // The reference, in f64, through the operator chain.
    // A refusal while computing (the memory guard) names the case it came from.
    let in_case = |e: Error| Error::file(case.toml_path.display(), e.to_string());
    let wants = |n: TensorName| case.expected.iter().any(|(m, _)| *m == n);
    let y_ref = if wants(TensorName::Y) {
        Some(conv::forward(&case.spec, &x, &w, b.as_ref(), Algorithm::Chain).map_err(in_case)?)
    } else {
        None
    };
    let grads = match &dy {
        Some(dy) if wants(TensorName::Dx) || wants(TensorName::Dw) || wants(TensorName::Db) => {
            Some(
                conv::backward(&case.spec, &x, &w, dy, b.is_some(), Algorithm::Chain)
                    .map_err(in_case)?,
            )
        }
        _ => None,
    };
    let missing = |n: TensorName| {
        Error::file(
            case.toml_path.display(),
            format!("`expected.{n}` has no reference; give the inputs it needs"),
        )
    };

    let mut tensors = Vec::with_capacity(got.len());
    for (name, path, t, dtype) in got {
        let reference = match name {
            TensorName::Y => y_ref.as_ref(),
            TensorName::Dx => grads.as_ref().map(|g| &g.dx),
            TensorName::Dw => grads.as_ref().map(|g| &g.dw),
            TensorName::Db => grads.as_ref().and_then(|g| g.db.as_ref()),
        }
        .ok_or_else(|| missing(name))?;
        if let Some((index, value)) = reference.first_non_finite() {
            return Err(Error::file(
                case.toml_path.display(),
                format!(
                    "the f64 reference for `expected.{name}` overflows ({value} at index {index:?}): the inputs are too large for f64 to judge; scale them down"
                ),
            ));
        }
        let fan = fan_in(&g, name.as_str());
        let (tolerance, tolerance_source) = match (options.profile.or(case.profile), case.tolerance)
        {
            (Some(p), _) if options.profile.is_some() || case.tolerance.is_none() => {
                (p.tolerance(fan), ToleranceSource::Named(p))
            }
            (_, Some(t)) => (t, ToleranceSource::CaseFile),
            _ => (tolerance_profile(dtype), ToleranceSource::Profile(dtype)),
        };
        // A wrong shape is the implementation's mistake, judged like a wrong value.
        let wrong_shape = (t.shape() != reference.shape())
            .then(|| (t.shape().to_vec(), reference.shape().to_vec()));
        let comparison = match wrong_shape {
            Some(_) => Comparison {
                max_abs_err: f64::NAN,
                max_rel_err: f64::NAN,
                tol: tolerance.threshold(reference.max_abs()),
                pass: false,
                worst_index: Vec::new(),
                got_at_worst: f64::NAN,
                ref_at_worst: f64::NAN,
                ref_scale: reference.max_abs(),
                absolute_only: false,
            },
            None => compare(&t, reference, tolerance)?,
        };
        tensors.push(TensorVerdict {
            name,
            path,
            dtype,
            tolerance,
            tolerance_source,
            comparison,
            wrong_shape,
        });
    }
    Ok(CaseReport {
        toml_path: case.toml_path.clone(),
        layer: LayerSpec::from_geometry(&g, b.is_some()),
        tensors,
    })
}

/// Load `case.toml` (a case folder or the file itself) and judge it.
///
/// # Errors
/// As [`Case::load`] and [`judge`].
pub fn judge_path(path: &Path) -> Result<CaseReport> {
    judge_path_with(path, JudgeOptions::default())
}

/// [`judge_path`] with options.
///
/// # Errors
/// As [`Case::load`] and [`judge`].
pub fn judge_path_with(path: &Path, options: JudgeOptions) -> Result<CaseReport> {
    let toml = if path.is_dir() {
        path.join("case.toml")
    } else {
        path.to_path_buf()
    };
    judge_with(&Case::load(&toml)?, options)
}
