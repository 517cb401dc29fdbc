//! Writing golden cases: seeded random inputs `x`, `w`, (`b`), `dy` for a spec, and the
//! reference `y`, `dx`, `dw`, (`db`) computed in f64 through the operator chain, in the format
//! of `docs/CASES.md`.
//!
//! For `f32` the inputs are rounded to f32 *first* and the reference is computed in f64 from the
//! rounded values, so the stored inputs are exactly what the reference saw; only the outputs carry
//! the final rounding to f32.
//!
//! Files are never overwritten unless asked (`force`), and each is written atomically: to a
//! temporary file in the same folder, then renamed over its name.
//!
//! ```
//! use fftconv::case::{export_case, judge_path, ExportRequest};
//! use fftconv::conv::{ConvSpec, Padding};
//! use fftconv::npy::NpyDtype;
//! let dir = std::env::temp_dir().join(format!("fftconv-doc-export-{}", std::process::id()));
//! let request = ExportRequest {
//!     spec: ConvSpec::conv(&[2], Padding::Explicit(vec![(1, 1)]), &[1]),
//!     x_shape: vec![1, 2, 7],
//!     w_shape: vec![3, 2, 3],
//!     bias: true,
//!     seed: 7,
//!     dtype: NpyDtype::F64,
//!     expected: true,
//! };
//! export_case(&dir, &request, false).unwrap();
//! assert!(judge_path(&dir).unwrap().pass());
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use crate::conv::{self, Algorithm, ConvKind, ConvSpec};
use crate::error::{Error, Result};
use crate::npy::{self, NpyDtype};
use crate::tensor::Tensor;
use std::path::{Path, PathBuf};

/// What to export.
#[derive(Clone, Debug, PartialEq)]
pub struct ExportRequest {
    /// The layer.
    pub spec: ConvSpec,
    /// Shape of `x`, `(N, C_in, *S)`.
    pub x_shape: Vec<usize>,
    /// Shape of `w`.
    pub w_shape: Vec<usize>,
    /// Whether the layer has a bias (writes `b` and `db`).
    pub bias: bool,
    /// Seed of the random inputs (`x` uses `seed`, `w` `seed+1`, `b` `seed+2`, `dy` `seed+3`).
    pub seed: u64,
    /// Element type of the written files.
    pub dtype: NpyDtype,
    /// Write the reference `y`, `dx`, `dw`, (`db`) and the `[expected]` table; `false` writes
    /// the inputs only, for another implementation to fill in.
    pub expected: bool,
}

fn round_to(t: Tensor<f64>, dtype: NpyDtype) -> Tensor<f64> {
    match dtype {
        NpyDtype::F64 => t,
        NpyDtype::F32 => t.cast::<f32>().cast::<f64>(),
    }
}

fn toml_list(v: &[usize]) -> String {
    let items: Vec<String> = v.iter().map(ToString::to_string).collect();
    format!("[{}]", items.join(", "))
}

/// The text of `case.toml` for a resolved layer.
fn case_toml(request: &ExportRequest, g: &conv::Geometry) -> String {
    let pads: Vec<String> = g
        .pads
        .iter()
        .map(|(lo, hi)| format!("[{lo}, {hi}]"))
        .collect();
    let mut s = String::new();
    s.push_str(&format!(
        "# Golden case written by `fftconv export` (seed {}, {}); reference computed in f64 through the FFT operator chain.\n",
        request.seed,
        request.dtype.name()
    ));
    s.push_str(&format!("op = \"{}\"\n", g.kind));
    s.push_str(&format!("stride = {}\n", toml_list(&g.stride)));
    s.push_str(&format!("padding = [{}]\n", pads.join(", ")));
    s.push_str(&format!("dilation = {}\n", toml_list(&g.dilation)));
    s.push_str(&format!("groups = {}\n", g.groups));
    s.push_str(&format!("padding_mode = \"{}\"\n", g.padding_mode));
    if g.kind == ConvKind::ConvTranspose {
        s.push_str(&format!(
            "output_padding = {}\n",
            toml_list(&g.output_padding)
        ));
    }
    s.push_str("\n[inputs]\nx = \"x.npy\"\nw = \"w.npy\"\n");
    if request.bias {
        s.push_str("b = \"b.npy\"\n");
    }
    s.push_str("dy = \"dy.npy\"\n");
    if !request.expected {
        return s;
    }
    s.push_str("\n[expected]\ny = \"y.npy\"\ndx = \"dx.npy\"\ndw = \"dw.npy\"\n");
    if request.bias {
        s.push_str("db = \"db.npy\"\n");
    }
    s
}

/// Write `bytes`-producing `write` to `path` atomically: a temporary file beside it, then rename.
fn write_atomic(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    if let Err(e) = write(&tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::file(
            path.display(),
            format!("cannot move the finished file into place: {e}"),
        )
    })
}

fn write_tensor(path: &Path, t: &Tensor<f64>, dtype: NpyDtype) -> Result<()> {
    write_atomic(path, |tmp| match dtype {
        NpyDtype::F64 => npy::write(tmp, t),
        NpyDtype::F32 => npy::write(tmp, &t.cast::<f32>()),
    })
}

/// Compute and write a golden case into `dir` (created if needed). Returns the files written.
///
/// # Errors
/// Spec and shape errors of the layer; [`Error::File`] when a file already exists and `force` is
/// false (nothing is written then), or when a file cannot be written.
pub fn export_case(dir: &Path, request: &ExportRequest, force: bool) -> Result<Vec<PathBuf>> {
    let g = request.spec.geometry(&request.x_shape, &request.w_shape)?;
    crate::limits::guard_shape("x", &g.x_shape(), 8)?;
    crate::limits::guard_shape("y", &g.y_shape(), 8)?;
    crate::limits::guard_shape("w", &g.w_shape(), 8)?;
    conv::budget::guard_geometry(&g, Algorithm::Chain, 8)?;
    let mut names = vec!["case.toml", "x.npy", "w.npy", "dy.npy"];
    if request.expected {
        names.extend(["y.npy", "dx.npy", "dw.npy"]);
    }
    if request.bias {
        names.push("b.npy");
        if request.expected {
            names.push("db.npy");
        }
    }
    if dir.exists() && !dir.is_dir() {
        return Err(Error::file(
            dir.display(),
            "exists and is not a folder; choose another output folder",
        ));
    }
    if !force {
        for n in &names {
            let p = dir.join(n);
            if p.exists() {
                return Err(Error::file(
                    p.display(),
                    "already exists; refusing to overwrite (allow overwriting, or choose another output folder)",
                ));
            }
        }
    }
    let seed = request.seed;
    let x = round_to(Tensor::<f64>::randn(&g.x_shape(), seed), request.dtype);
    let w = round_to(
        Tensor::<f64>::randn(&g.w_shape(), seed.wrapping_add(1)),
        request.dtype,
    );
    let b = request.bias.then(|| {
        round_to(
            Tensor::<f64>::randn(&g.b_shape(), seed.wrapping_add(2)),
            request.dtype,
        )
    });
    let dy = round_to(
        Tensor::<f64>::randn(&g.y_shape(), seed.wrapping_add(3)),
        request.dtype,
    );
    let y = conv::forward(&request.spec, &x, &w, b.as_ref(), Algorithm::Chain)?;
    let grads = conv::backward(&request.spec, &x, &w, &dy, request.bias, Algorithm::Chain)?;

    std::fs::create_dir_all(dir)
        .map_err(|e| Error::file(dir.display(), format!("cannot create the folder: {e}")))?;
    let mut written = Vec::new();
    let mut tensors: Vec<(&str, &Tensor<f64>)> =
        vec![("x.npy", &x), ("w.npy", &w), ("dy.npy", &dy)];
    if request.expected {
        tensors.extend([("y.npy", &y), ("dx.npy", &grads.dx), ("dw.npy", &grads.dw)]);
    }
    if let Some(b) = &b {
        tensors.push(("b.npy", b));
    }
    if let (true, Some(db)) = (request.expected, &grads.db) {
        tensors.push(("db.npy", db));
    }
    for (name, t) in tensors {
        let p = dir.join(name);
        write_tensor(&p, t, request.dtype)?;
        written.push(p);
    }
    let toml = dir.join("case.toml");
    let text = case_toml(request, &g);
    write_atomic(&toml, |tmp| {
        std::fs::write(tmp, &text)
            .map_err(|e| Error::file(tmp.display(), format!("cannot write: {e}")))
    })?;
    written.push(toml);
    Ok(written)
}
