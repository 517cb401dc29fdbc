//! `case.toml`: the description of a validation case (`docs/CASES.md`), parsed with serde into a
//! [`Case`] — a [`ConvSpec`], the input and expected tensor files, an optional tolerance.
//!
//! Every key is typed and checked; an unknown key is refused with the list of valid ones; every
//! message is one line naming the file and the key (with line and column for syntax and type
//! errors).
//!
//! ```
//! use fftconv::case::Case;
//! let text = r#"
//! op = "conv"
//! stride = [2]
//! padding = [[1, 1]]
//! dilation = [1]
//! groups = 1
//! [inputs]
//! x = "x.npy"
//! w = "w.npy"
//! [expected]
//! y = "y.npy"
//! "#;
//! let case = Case::parse(text, std::path::Path::new("some/case")).unwrap();
//! assert_eq!(case.spec.stride, vec![2]);
//! assert_eq!(case.expected[0].1, std::path::Path::new("some/case/y.npy"));
//! ```

use super::Tolerance;
use crate::check::Profile;
use crate::conv::{ConvKind, ConvSpec, Padding};
use crate::error::{Error, Result};
use crate::op::PadMode;
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// The tensors a case can expect, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TensorName {
    /// Layer output.
    Y,
    /// ∂L/∂x.
    Dx,
    /// ∂L/∂w.
    Dw,
    /// ∂L/∂b.
    Db,
}

impl TensorName {
    /// All of them, in report order.
    pub const ALL: [TensorName; 4] = [
        TensorName::Y,
        TensorName::Dx,
        TensorName::Dw,
        TensorName::Db,
    ];

    /// `"y"`, `"dx"`, `"dw"` or `"db"`.
    pub fn as_str(self) -> &'static str {
        match self {
            TensorName::Y => "y",
            TensorName::Dx => "dx",
            TensorName::Dw => "dw",
            TensorName::Db => "db",
        }
    }
}

impl fmt::Display for TensorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `[inputs]` files of a case, resolved against the case folder.
#[derive(Clone, Debug, PartialEq)]
pub struct InputFiles {
    /// Layer input.
    pub x: PathBuf,
    /// Weights.
    pub w: PathBuf,
    /// Bias (optional).
    pub b: Option<PathBuf>,
    /// Upstream gradient (optional; needed for `dx`, `dw`, `db`).
    pub dy: Option<PathBuf>,
}

/// A parsed `case.toml`.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// The `case.toml` file (or a label for text parsed from elsewhere).
    pub toml_path: PathBuf,
    /// The layer.
    pub spec: ConvSpec,
    /// Number of spatial axes the per-axis keys describe.
    pub spatial_rank: usize,
    /// Input files.
    pub inputs: InputFiles,
    /// Expected tensors, in report order.
    pub expected: Vec<(TensorName, PathBuf)>,
    /// The `[tolerance]` table's `rtol`/`atol`, when given.
    pub tolerance: Option<Tolerance>,
    /// The `[tolerance]` table's named `profile`, when given (exclusive with `rtol`/`atol`).
    pub profile: Option<Profile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    op: String,
    stride: Vec<i64>,
    padding: toml::Value,
    dilation: Vec<i64>,
    groups: i64,
    padding_mode: Option<String>,
    output_padding: Option<Vec<i64>>,
    inputs: RawInputs,
    expected: Option<RawExpected>,
    tolerance: Option<RawTolerance>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInputs {
    x: String,
    w: String,
    b: Option<String>,
    dy: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpected {
    y: Option<String>,
    dx: Option<String>,
    dw: Option<String>,
    db: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTolerance {
    rtol: Option<f64>,
    atol: Option<f64>,
    profile: Option<String>,
}

/// `offset` clamped into `text` and moved back to a character boundary.
fn boundary(text: &str, offset: usize) -> usize {
    let mut o = offset.min(text.len());
    while !text.is_char_boundary(o) {
        o -= 1;
    }
    o
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The dotted key (`groups`, `inputs.x`) written on the line holding byte `offset`, if any.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = boundary(text, offset);
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].split('\n').next()?;
    let key = line.split('=').next()?.trim();
    let bare = |k: &str| {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
    };
    if !line.contains('=') || !bare(key) {
        return None;
    }
    let section = text[..start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']') && !l.starts_with("[["))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    Some(match section {
        Some(sec) if bare(&sec) => format!("{sec}.{key}"),
        _ => key.to_string(),
    })
}

/// Squash a message onto one line.
fn one_line(msg: &str) -> String {
    msg.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

fn key_error(file: &Path, key: &str, msg: impl fmt::Display) -> Error {
    Error::file(file.display(), format!("`{key}` {msg}"))
}

/// Per-axis positive integers (`stride`, `dilation`).
fn positive_list(file: &Path, key: &str, v: &[i64]) -> Result<Vec<usize>> {
    v.iter()
        .enumerate()
        .map(|(a, &s)| {
            if s < 1 {
                Err(key_error(
                    file,
                    &format!("{key}[{a}]"),
                    format!("is {s}; it must be at least 1"),
                ))
            } else {
                usize::try_from(s).map_err(|_| key_error(file, key, "is too large"))
            }
        })
        .collect()
}

fn non_negative(file: &Path, key: &str, s: i64) -> Result<usize> {
    if s < 0 {
        return Err(key_error(
            file,
            key,
            format!("is {s}; it must be 0 or more"),
        ));
    }
    usize::try_from(s).map_err(|_| key_error(file, key, "is too large"))
}

fn parse_padding(file: &Path, v: &toml::Value) -> Result<Padding> {
    const HOW: &str = "must be a list of [lo, hi] pairs, one per spatial axis, e.g. [[1, 1], [0, 2]] (or \"same\" / \"valid\")";
    match v {
        toml::Value::String(s) if s == "same" => Ok(Padding::Same),
        toml::Value::String(s) if s == "valid" => Ok(Padding::Valid),
        toml::Value::Array(axes) => {
            let mut pads = Vec::with_capacity(axes.len());
            for (a, pair) in axes.iter().enumerate() {
                let key = format!("padding[{a}]");
                let items = match pair {
                    toml::Value::Array(items) if items.len() == 2 => items,
                    _ => return Err(key_error(file, &key, format!("is {pair}; it {HOW}"))),
                };
                let mut lohi = [0usize; 2];
                for (i, item) in items.iter().enumerate() {
                    let k = format!("padding[{a}][{i}]");
                    lohi[i] = match item {
                        toml::Value::Integer(n) => non_negative(file, &k, *n)?,
                        other => {
                            return Err(key_error(
                                file,
                                &k,
                                format!("is {other}; it must be an integer"),
                            ))
                        }
                    };
                }
                pads.push((lohi[0], lohi[1]));
            }
            Ok(Padding::Explicit(pads))
        }
        other => Err(key_error(file, "padding", format!("is {other}; it {HOW}"))),
    }
}

impl Case {
    /// Read and parse the `case.toml` at `path`; tensor paths are relative to its folder.
    ///
    /// # Errors
    /// [`Error::File`] naming the file (and the key) when it cannot be read or is malformed.
    pub fn load(path: &Path) -> Result<Case> {
        let meta = std::fs::metadata(path)
            .map_err(|e| Error::file(path.display(), format!("cannot read: {e}")))?;
        crate::limits::guard(&path.display().to_string(), meta.len() as u128, 1)?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::file(path.display(), format!("cannot read: {e}")))?;
        let dir = path.parent().unwrap_or(Path::new(""));
        let mut case = Self::parse_named(&text, dir, path, true)?;
        case.toml_path = path.to_path_buf();
        Ok(case)
    }

    /// Read the `case.toml` of a hunt request (HUNT.md): like [`Case::load`], but the
    /// `[expected]` table may be absent, since the implementation is asked to write those
    /// tensors.
    ///
    /// # Errors
    /// As [`Case::load`].
    pub fn load_request(path: &Path) -> Result<Case> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::file(path.display(), format!("cannot read: {e}")))?;
        let dir = path.parent().unwrap_or(Path::new(""));
        Self::parse_named(&text, dir, path, false)
    }

    /// Parse `case.toml` text; tensor paths are resolved against `dir`.
    ///
    /// # Errors
    /// [`Error::File`] naming `dir/case.toml` and the key when the text is malformed.
    pub fn parse(text: &str, dir: &Path) -> Result<Case> {
        Self::parse_named(text, dir, &dir.join("case.toml"), true)
    }

    fn parse_named(text: &str, dir: &Path, file: &Path, require_expected: bool) -> Result<Case> {
        let raw: RawCase = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|s| {
                    let (l, c) = line_col(text, s.start);
                    match key_at(text, s.start) {
                        Some(k) => format!("line {l}, column {c}, key `{k}`: "),
                        None => format!("line {l}, column {c}: "),
                    }
                })
                .unwrap_or_default();
            Error::file(file.display(), format!("{at}{}", one_line(e.message())))
        })?;
        let kind = match raw.op.as_str() {
            "conv" => ConvKind::Conv,
            "conv_transpose" => ConvKind::ConvTranspose,
            other => {
                return Err(key_error(
                    file,
                    "op",
                    format!("is \"{other}\"; use \"conv\" or \"conv_transpose\""),
                ))
            }
        };
        let stride = positive_list(file, "stride", &raw.stride)?;
        let dilation = positive_list(file, "dilation", &raw.dilation)?;
        let padding = parse_padding(file, &raw.padding)?;
        let d = stride.len();
        if !(1..=3).contains(&d) {
            return Err(key_error(
                file,
                "stride",
                format!("has {d} entries; give one per spatial axis (1 to 3)"),
            ));
        }
        if dilation.len() != d {
            return Err(key_error(
                file,
                "dilation",
                format!(
                    "has {} entries but stride has {d}; give one per spatial axis",
                    dilation.len()
                ),
            ));
        }
        if let Padding::Explicit(p) = &padding {
            if p.len() != d {
                return Err(key_error(
                    file,
                    "padding",
                    format!("has {} [lo, hi] pairs but stride has {d} entries; give one per spatial axis", p.len()),
                ));
            }
        }
        if raw.groups < 1 {
            return Err(key_error(
                file,
                "groups",
                format!("is {}; it must be at least 1", raw.groups),
            ));
        }
        let groups =
            usize::try_from(raw.groups).map_err(|_| key_error(file, "groups", "is too large"))?;
        let padding_mode = match raw.padding_mode.as_deref() {
            None => PadMode::Zeros,
            Some(s) => s.parse::<PadMode>().map_err(|_| {
                key_error(
                    file,
                    "padding_mode",
                    format!("is \"{s}\"; use one of \"zeros\", \"circular\", \"reflect\", \"replicate\""),
                )
            })?,
        };
        let output_padding = match &raw.output_padding {
            None => vec![0; d],
            Some(v) => {
                if v.len() != d {
                    return Err(key_error(
                        file,
                        "output_padding",
                        format!(
                            "has {} entries but stride has {d}; give one per spatial axis",
                            v.len()
                        ),
                    ));
                }
                v.iter()
                    .enumerate()
                    .map(|(a, &o)| non_negative(file, &format!("output_padding[{a}]"), o))
                    .collect::<Result<Vec<_>>>()?
            }
        };
        if kind == ConvKind::Conv && output_padding.iter().any(|&o| o != 0) {
            return Err(key_error(
                file,
                "output_padding",
                "applies to conv_transpose only; remove it or set it to zeros",
            ));
        }
        let mut profile = None;
        let tolerance = match raw.tolerance {
            None => None,
            Some(t) if t.profile.is_some() => {
                if t.rtol.is_some() || t.atol.is_some() {
                    return Err(key_error(
                        file,
                        "tolerance",
                        "gives both a profile and rtol/atol; give one of them",
                    ));
                }
                let name = t.profile.unwrap_or_default();
                profile = Some(Profile::parse(&name).map_err(|_| {
                    key_error(
                        file,
                        "tolerance.profile",
                        format!("is \"{name}\"; use one of \"f64\", \"f32\", \"tf32\", \"bf16\", \"f16\""),
                    )
                })?);
                None
            }
            Some(t) => {
                if t.rtol.is_none() && t.atol.is_none() {
                    return Err(key_error(
                        file,
                        "tolerance",
                        "is empty; give rtol and/or atol, or a profile",
                    ));
                }
                let rtol = t.rtol.unwrap_or(0.0);
                let atol = t.atol.unwrap_or(0.0);
                for (k, v) in [("tolerance.rtol", rtol), ("tolerance.atol", atol)] {
                    if !v.is_finite() || v < 0.0 {
                        return Err(key_error(
                            file,
                            k,
                            format!("is {v}; it must be a finite number ≥ 0"),
                        ));
                    }
                }
                Some(Tolerance { rtol, atol })
            }
        };
        let resolve = |key: &str, p: &str| -> Result<PathBuf> {
            if p.trim().is_empty() {
                return Err(key_error(file, key, "is an empty path; name a .npy file"));
            }
            Ok(dir.join(p))
        };
        let inputs = InputFiles {
            x: resolve("inputs.x", &raw.inputs.x)?,
            w: resolve("inputs.w", &raw.inputs.w)?,
            b: raw
                .inputs
                .b
                .as_deref()
                .map(|p| resolve("inputs.b", p))
                .transpose()?,
            dy: raw
                .inputs
                .dy
                .as_deref()
                .map(|p| resolve("inputs.dy", p))
                .transpose()?,
        };
        let mut expected = Vec::new();
        if let Some(e) = &raw.expected {
            for (name, p) in [
                (TensorName::Y, &e.y),
                (TensorName::Dx, &e.dx),
                (TensorName::Dw, &e.dw),
                (TensorName::Db, &e.db),
            ] {
                if let Some(p) = p {
                    expected.push((name, resolve(&format!("expected.{name}"), p)?));
                }
            }
        }
        if expected.is_empty() && require_expected {
            return Err(key_error(
                file,
                "expected",
                "lists no tensor, so there is nothing to judge; add e.g. y = \"y.npy\" under [expected]",
            ));
        }
        for (name, _) in &expected {
            if *name != TensorName::Y && inputs.dy.is_none() {
                return Err(key_error(
                    file,
                    &format!("expected.{name}"),
                    "has no reference: a gradient needs the upstream gradient; add dy under [inputs]",
                ));
            }
            if *name == TensorName::Db && inputs.b.is_none() {
                return Err(key_error(
                    file,
                    "expected.db",
                    "has no reference: the layer has no bias; add b under [inputs] or remove db",
                ));
            }
        }
        Ok(Case {
            toml_path: file.to_path_buf(),
            spec: ConvSpec {
                kind,
                stride,
                padding,
                dilation,
                groups,
                padding_mode,
                output_padding,
            },
            spatial_rank: d,
            inputs,
            expected,
            tolerance,
            profile,
        })
    }
}
