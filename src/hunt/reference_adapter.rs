//! An adapter (HUNT.md) that computes with fftconv's own fast paths (`Algorithm::Auto`, in the
//! dtype of the request), with bugs of the kinds real libraries have planted on request. It is
//! what `fftconv adapter [--plant NAME]…` runs, so hunts can be tested, and demonstrated,
//! without Python.
//!
//! Every planted bug hides in one corner of the space, as real ones do: a condition on the
//! batch, the channels per group, a padding mode, the remainder an axis leaves after striding;
//! an error raised on some valid layers; a crash, garbage on stdout, a hang; a result that
//! depends on an earlier request; a tensor not written or written with the wrong shape; a
//! layer the frameworks refuse answered anyway.

use crate::case::Case;
use crate::conv::{self, Algorithm, ConvKind, ConvSpec, Padding};
use crate::error::{Error, Result};
use crate::npy::{self, NpyDtype};
use crate::op::PadMode;
use crate::tensor::{Scalar, Tensor};
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::path::Path;

/// A bug to plant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plant {
    /// ∂L/∂b sums the first sample only when the batch has ≥ 2 samples.
    DbFirstSample,
    /// y is off by one in its last entry with reflect padding when an axis leaves a remainder
    /// after striding (`(S + lo + hi − d(K−1) − 1) mod s ≠ 0`).
    ReflectRemainder,
    /// ∂L/∂w is doubled for depthwise-style layers (groups ≥ 2, one input channel per group).
    DwDepthwise,
    /// Refuses (`ok: false`) grouped layers with dilation ≥ 2: "not implemented".
    RefuseDilatedGroups,
    /// Exits with status 101 (a panic) when a group has ≥ 3 input channels.
    CrashThreeChannels,
    /// Prints a line that is not JSON for conv_transpose with output padding on a strided axis.
    GarbageOutputPadding,
    /// Hangs on dilation ≥ 3.
    HangDilation3,
    /// Keeps the bias of the last request that had one and adds it to a layer without bias.
    StaleBias,
    /// Answers ok without writing ∂L/∂w for 1×1 kernels.
    MissingDw1x1,
    /// Ignores output padding in y's shape (conv_transpose).
    ShapeIgnoresOutputPadding,
    /// Accepts reflect padding as wide as the input on the low side (checks the high side only).
    AcceptReflectLow,
}

impl Plant {
    /// Every planted bug.
    pub const ALL: [Plant; 11] = [
        Plant::DbFirstSample,
        Plant::ReflectRemainder,
        Plant::DwDepthwise,
        Plant::RefuseDilatedGroups,
        Plant::CrashThreeChannels,
        Plant::GarbageOutputPadding,
        Plant::HangDilation3,
        Plant::StaleBias,
        Plant::MissingDw1x1,
        Plant::ShapeIgnoresOutputPadding,
        Plant::AcceptReflectLow,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Plant::DbFirstSample => "db-first-sample",
            Plant::ReflectRemainder => "reflect-remainder",
            Plant::DwDepthwise => "dw-depthwise",
            Plant::RefuseDilatedGroups => "refuse-dilated-groups",
            Plant::CrashThreeChannels => "crash-three-channels",
            Plant::GarbageOutputPadding => "garbage-output-padding",
            Plant::HangDilation3 => "hang-dilation3",
            Plant::StaleBias => "stale-bias",
            Plant::MissingDw1x1 => "missing-dw-1x1",
            Plant::ShapeIgnoresOutputPadding => "shape-ignores-output-padding",
            Plant::AcceptReflectLow => "accept-reflect-low",
        }
    }

    /// The bug named `name`.
    ///
    /// # Errors
    /// [`Error::Field`] (`plant`) listing the names.
    pub fn parse(name: &str) -> Result<Plant> {
        Plant::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Plant::ALL.iter().map(|p| p.name()).collect();
                Error::field(
                    "plant",
                    name,
                    format!(
                        "`{name}` is not a planted bug; use one of {}",
                        names.join(", ")
                    ),
                )
            })
    }
}

/// State kept between requests (for [`Plant::StaleBias`]).
#[derive(Default)]
struct State {
    last_bias: Option<Tensor<f64>>,
}

/// Serve requests from `input` until `quit` or end of input, replying on `output`.
///
/// # Errors
/// Only when `output` cannot be written.
pub fn serve(plants: &[Plant], input: impl BufRead, mut output: impl Write) -> Result<()> {
    let mut state = State::default();
    let io = |e: std::io::Error| Error::file("stdout", format!("cannot write the reply: {e}"));
    for line in input.lines() {
        let Ok(line) = line else { break };
        let Ok(request) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let id = request.get("id").cloned().unwrap_or(Value::Null);
        if request.get("quit").and_then(Value::as_bool) == Some(true) {
            break;
        }
        let dir = request.get("dir").and_then(Value::as_str).unwrap_or("");
        let want: Vec<String> = request
            .get("want")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let reply = match answer(plants, &mut state, Path::new(dir), &want, &mut output) {
            Ok(()) => json!({"id": id, "ok": true}),
            Err(e) => json!({"id": id, "ok": false, "error": e.to_string()}),
        };
        writeln!(output, "{reply}").map_err(io)?;
        output.flush().map_err(io)?;
    }
    Ok(())
}

fn has(plants: &[Plant], p: Plant) -> bool {
    plants.contains(&p)
}

fn answer(
    plants: &[Plant],
    state: &mut State,
    dir: &Path,
    want: &[String],
    output: &mut impl Write,
) -> Result<()> {
    let case = Case::load_request(&dir.join("case.toml"))?;
    let (x, dtype) = npy::read(&case.inputs.x)?;
    let (w, _) = npy::read(&case.inputs.w)?;
    let b = case
        .inputs
        .b
        .as_ref()
        .map(|p| npy::read(p))
        .transpose()?
        .map(|t| t.0);
    let dy = case
        .inputs
        .dy
        .as_ref()
        .map(|p| npy::read(p))
        .transpose()?
        .map(|t| t.0);
    let spec = &case.spec;
    let pads = match &spec.padding {
        Padding::Explicit(p) => p.clone(),
        _ => vec![(0, 0); spec.stride.len()],
    };
    let extent = &x.shape()[2..];
    let c_in_g = x.shape()[1] / spec.groups.max(1);
    let geometry = spec.geometry(x.shape(), w.shape());
    // The planted check looks at the high side only: with every low pad clamped below the
    // extent the layer would be fine, so it is answered.
    let low_side_only = || {
        let clamped: Vec<(usize, usize)> = pads
            .iter()
            .zip(extent)
            .map(|(&(lo, hi), &s)| (lo.min(s.saturating_sub(1)), hi))
            .collect();
        let fixed = ConvSpec {
            padding: Padding::Explicit(clamped),
            ..spec.clone()
        };
        fixed.geometry(x.shape(), w.shape()).is_ok()
    };
    if geometry.is_err()
        && has(plants, Plant::AcceptReflectLow)
        && spec.padding_mode == PadMode::Reflect
        && low_side_only()
    {
        write(&dir.join("y.npy"), &Tensor::<f64>::zeros(&[1]), dtype)?;
        return Ok(());
    }
    let g = geometry?;
    if has(plants, Plant::RefuseDilatedGroups)
        && spec.groups >= 2
        && spec.dilation.iter().any(|&d| d >= 2)
    {
        return Err(Error::invalid(
            "adapter",
            "dilated grouped convolution is not implemented",
        ));
    }
    if has(plants, Plant::CrashThreeChannels) && c_in_g >= 3 {
        eprintln!("thread 'main' panicked: kernel for 3 channels per group is broken");
        std::process::exit(101);
    }
    if has(plants, Plant::GarbageOutputPadding)
        && spec.kind == ConvKind::ConvTranspose
        && spec
            .output_padding
            .iter()
            .zip(&spec.stride)
            .any(|(&o, &s)| o >= 1 && s >= 2)
    {
        let _ = writeln!(output, "Warning: output_padding path {{not json");
    }
    if has(plants, Plant::HangDilation3) && spec.dilation.iter().any(|&d| d >= 3) {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
    let (mut y, mut grads) = match dtype {
        NpyDtype::F64 => compute::<f64>(spec, &x, &w, b.as_ref(), dy.as_ref())?,
        NpyDtype::F32 => compute::<f32>(spec, &x, &w, b.as_ref(), dy.as_ref())?,
    };
    if has(plants, Plant::ReflectRemainder) && spec.padding_mode == PadMode::Reflect {
        let remainder = (0..g.rank()).any(|a| {
            let span = g.input[a] + g.pads[a].0 + g.pads[a].1;
            (span - g.dilated_kernel()[a]) % g.stride[a] != 0
        });
        if remainder {
            let last = y.len() - 1;
            y.data_mut()[last] += 1.0;
        }
    }
    if has(plants, Plant::StaleBias) {
        match &b {
            Some(b) => state.last_bias = Some(b.clone()),
            None => {
                if let Some(old) = state.last_bias.as_ref().filter(|o| o.len() == g.c_out) {
                    let per = y.len() / (g.n * g.c_out);
                    for (i, v) in y.data_mut().iter_mut().enumerate() {
                        *v += old.data()[(i / per) % g.c_out];
                    }
                }
            }
        }
    }
    if has(plants, Plant::ShapeIgnoresOutputPadding) && spec.output_padding.iter().any(|&o| o > 0) {
        let plain = ConvSpec {
            output_padding: vec![0; spec.output_padding.len()],
            ..spec.clone()
        };
        y = match dtype {
            NpyDtype::F64 => compute::<f64>(&plain, &x, &w, b.as_ref(), None)?.0,
            NpyDtype::F32 => compute::<f32>(&plain, &x, &w, b.as_ref(), None)?.0,
        };
    }
    if let Some((_, dw, db)) = grads.as_mut() {
        if has(plants, Plant::DbFirstSample) && g.n >= 2 {
            if let (Some(db), Some(dy)) = (db.as_mut(), dy.as_ref()) {
                let per = dy.len() / (g.n * g.c_out);
                for (o, v) in db.data_mut().iter_mut().enumerate() {
                    *v = dy.data()[o * per..(o + 1) * per].iter().sum();
                }
            }
        }
        if has(plants, Plant::DwDepthwise) && g.groups >= 2 && c_in_g == 1 {
            *dw = dw.scale(2.0);
        }
    }
    for name in want {
        let t = match (name.as_str(), &grads) {
            ("y", _) => Some(&y),
            ("dx", Some((dx, _, _))) => Some(dx),
            ("dw", Some((_, dw, _))) => {
                if has(plants, Plant::MissingDw1x1) && g.kernel.iter().all(|&k| k == 1) {
                    None
                } else {
                    Some(dw)
                }
            }
            ("db", Some((_, _, Some(db)))) => Some(db),
            _ => None,
        };
        if let Some(t) = t {
            write(&dir.join(format!("{name}.npy")), t, dtype)?;
        }
    }
    Ok(())
}

type Outputs = (
    Tensor<f64>,
    Option<(Tensor<f64>, Tensor<f64>, Option<Tensor<f64>>)>,
);

/// Forward and (with `dy`) both gradients in `T`, through the fast paths.
fn compute<T: Scalar>(
    spec: &ConvSpec,
    x: &Tensor<f64>,
    w: &Tensor<f64>,
    b: Option<&Tensor<f64>>,
    dy: Option<&Tensor<f64>>,
) -> Result<Outputs> {
    let (x, w) = (x.cast::<T>(), w.cast::<T>());
    let b = b.map(|b| b.cast::<T>());
    let y = conv::forward(spec, &x, &w, b.as_ref(), Algorithm::Auto)?.cast::<f64>();
    let grads = match dy {
        Some(dy) => {
            let g = conv::backward(spec, &x, &w, &dy.cast::<T>(), b.is_some(), Algorithm::Auto)?;
            Some((
                g.dx.cast::<f64>(),
                g.dw.cast::<f64>(),
                g.db.map(|d| d.cast::<f64>()),
            ))
        }
        None => None,
    };
    Ok((y, grads))
}

fn write(path: &Path, t: &Tensor<f64>, dtype: NpyDtype) -> Result<()> {
    match dtype {
        NpyDtype::F64 => npy::write(path, t),
        NpyDtype::F32 => npy::write(path, &t.cast::<f32>()),
    }
}
