//! `fftconv export --out DIR --op conv --x 2,3,8,8 --w 4,3,3,3 [--stride ..] [--padding ..]
//! [--dilation ..] [--groups G] [--mode M] [--output-padding ..] [--bias] [--seed N]
//! [--dtype f64|f32] [--force]`: write a golden case (`docs/CASES.md`) computed by the reference.

use fftconv::case::{export_case, ExportRequest, LayerSpec};
use fftconv::conv::{ConvKind, ConvSpec, Padding};
use fftconv::npy::NpyDtype;
use fftconv::op::PadMode;
use fftconv::{Error, Result};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `export`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folder to write the case into (created if needed).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// `conv` or `conv_transpose`.
    #[arg(long, default_value = "conv")]
    pub op: String,
    /// Shape of x, `N,C_in,S1[,S2[,S3]]` (required unless --specs).
    #[arg(long, value_name = "SHAPE", required_unless_present = "specs")]
    pub x: Option<String>,
    /// Shape of w: `C_out,C_in/groups,K...` (conv) or `C_in,C_out/groups,K...` (conv_transpose).
    #[arg(long, value_name = "SHAPE", required_unless_present = "specs")]
    pub w: Option<String>,
    /// Stride: one number for every axis, or one per axis (`2,1`).
    #[arg(long, default_value = "1")]
    pub stride: String,
    /// Padding: `P` (every side), `P1,P2` (per axis, both sides), `LO:HI,LO:HI` (per axis),
    /// `same` or `valid`.
    #[arg(long, default_value = "0")]
    pub padding: String,
    /// Dilation: one number for every axis, or one per axis.
    #[arg(long, default_value = "1")]
    pub dilation: String,
    /// Channel groups.
    #[arg(long, default_value_t = 1)]
    pub groups: usize,
    /// Padding mode: zeros, circular, reflect, replicate.
    #[arg(long, default_value = "zeros")]
    pub mode: String,
    /// Output padding (conv_transpose): one number or one per axis.
    #[arg(long, default_value = "0")]
    pub output_padding: String,
    /// Give the layer a bias (writes b and db).
    #[arg(long)]
    pub bias: bool,
    /// Seed of the random inputs.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Element type of the files: f64 or f32.
    #[arg(long, default_value = "f64")]
    pub dtype: String,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
    /// Write the inputs only (x, w, b, dy and case.toml without [expected]), for another
    /// implementation to compute.
    #[arg(long)]
    pub no_expected: bool,
    /// Export many layers: a file with one JSON layer per line (`{"op": "conv", "x": [1, 3, 8, 8],
    /// "w": [4, 3, 3, 3], "stride": [2, 2], "padding": [[1, 1], [1, 1]], "bias": true}`; keys as
    /// in `hunt --json`'s `spec`), written to --out/case-0001, case-0002, …
    #[arg(long, value_name = "FILE", conflicts_with_all = ["x", "w"])]
    pub specs: Option<PathBuf>,
}

fn numbers(key: &str, text: &str) -> Result<Vec<usize>> {
    text.split(',')
        .map(|s| {
            s.trim().parse::<usize>().map_err(|_| {
                Error::invalid(
                    key,
                    format!("`{text}` is not a comma-separated list of non-negative integers"),
                )
            })
        })
        .collect()
}

/// Broadcast a single number to `d` axes, or check there is one per axis.
fn per_axis(key: &str, text: &str, d: usize) -> Result<Vec<usize>> {
    let v = numbers(key, text)?;
    match v.len() {
        1 => Ok(vec![v[0]; d]),
        n if n == d => Ok(v),
        n => Err(Error::invalid(
            key,
            format!("has {n} entries; give one, or one per spatial axis ({d})"),
        )),
    }
}

fn padding(text: &str, d: usize) -> Result<Padding> {
    match text.trim() {
        "same" => return Ok(Padding::Same),
        "valid" => return Ok(Padding::Valid),
        _ => {}
    }
    if text.contains(':') {
        let pairs: Vec<(usize, usize)> = text
            .split(',')
            .map(|pair| {
                let v = numbers("--padding", &pair.replace(':', ","))?;
                match v[..] {
                    [lo, hi] => Ok((lo, hi)),
                    _ => Err(Error::invalid(
                        "--padding",
                        format!("`{pair}` is not LO:HI"),
                    )),
                }
            })
            .collect::<Result<_>>()?;
        if pairs.len() != d {
            return Err(Error::invalid(
                "--padding",
                format!(
                    "has {} LO:HI pairs; give one per spatial axis ({d})",
                    pairs.len()
                ),
            ));
        }
        return Ok(Padding::Explicit(pairs));
    }
    Ok(Padding::Explicit(
        per_axis("--padding", text, d)?
            .into_iter()
            .map(|p| (p, p))
            .collect(),
    ))
}

/// Run `export`.
///
/// # Errors
/// Bad arguments (naming the option), spec errors, existing files without `--force`, write
/// failures.
pub fn run(args: Args) -> Result<ExitCode> {
    if let Some(file) = &args.specs {
        return run_specs(&args, file);
    }
    let (x_text, w_text) = (
        args.x.clone().unwrap_or_default(),
        args.w.clone().unwrap_or_default(),
    );
    let x_shape = numbers("--x", &x_text)?;
    let w_shape = numbers("--w", &w_text)?;
    if !(3..=5).contains(&x_shape.len()) {
        return Err(Error::invalid(
            "--x",
            format!("`{x_text}` must be N,C_in and 1 to 3 spatial extents"),
        ));
    }
    let d = x_shape.len() - 2;
    let kind = match args.op.as_str() {
        "conv" => ConvKind::Conv,
        "conv_transpose" => ConvKind::ConvTranspose,
        other => {
            return Err(Error::invalid(
                "--op",
                format!("`{other}`: use conv or conv_transpose"),
            ))
        }
    };
    let padding_mode: PadMode = args.mode.parse().map_err(|_| {
        Error::invalid(
            "--mode",
            format!("`{}`: use zeros, circular, reflect or replicate", args.mode),
        )
    })?;
    let dtype = dtype(&args.dtype)?;
    let spec = ConvSpec {
        kind,
        stride: per_axis("--stride", &args.stride, d)?,
        padding: padding(&args.padding, d)?,
        dilation: per_axis("--dilation", &args.dilation, d)?,
        groups: args.groups,
        padding_mode,
        output_padding: per_axis("--output-padding", &args.output_padding, d)?,
    };
    let request = ExportRequest {
        spec,
        x_shape,
        w_shape,
        bias: args.bias,
        seed: args.seed,
        dtype,
        expected: !args.no_expected,
    };
    let written = export_case(&args.out, &request, args.force)?;
    println!(
        "wrote {} files to {} ({}, seed {})",
        written.len(),
        args.out.display(),
        dtype.name(),
        args.seed
    );
    Ok(ExitCode::SUCCESS)
}

fn dtype(text: &str) -> Result<NpyDtype> {
    match text {
        "f64" => Ok(NpyDtype::F64),
        "f32" => Ok(NpyDtype::F32),
        other => Err(Error::invalid(
            "--dtype",
            format!("`{other}`: use f64 or f32"),
        )),
    }
}

/// `export --specs FILE`: one case folder per JSON line, `--out/case-0001`, …; every line is
/// checked before anything is written, so a bad line leaves no half-written batch.
fn run_specs(args: &Args, file: &std::path::Path) -> Result<ExitCode> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::file(file.display(), format!("cannot read: {e}")))?;
    let mut layers = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let at = |e: Error| Error::file(format!("{}:{}", file.display(), i + 1), e.to_string());
        let layer = LayerSpec::from_json_str(line).map_err(at)?;
        layer.geometry().map_err(at)?;
        layers.push(layer);
    }
    if layers.is_empty() {
        return Err(Error::file(
            file.display(),
            "holds no layer; write one JSON object per line",
        ));
    }
    let dtype = dtype(&args.dtype)?;
    for (i, layer) in layers.iter().enumerate() {
        let request = ExportRequest {
            spec: layer.conv_spec(),
            x_shape: layer.x.clone(),
            w_shape: layer.w.clone(),
            bias: layer.bias,
            seed: args.seed.wrapping_add(i as u64 * 4),
            dtype,
            expected: !args.no_expected,
        };
        export_case(
            &args.out.join(format!("case-{:04}", i + 1)),
            &request,
            args.force,
        )?;
    }
    println!(
        "wrote {} cases to {} ({}, seeds from {})",
        layers.len(),
        args.out.display(),
        dtype.name(),
        args.seed
    );
    Ok(ExitCode::SUCCESS)
}
