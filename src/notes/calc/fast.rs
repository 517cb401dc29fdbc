//! Calculator functions for the notes on the fast path (17–22): the library's cost and tiling
//! through their public API, the fused layer run with chosen tiles, and overlap-save /
//! overlap-add by their definitions, so a note can state both and compare them.
//!
//! Cost functions return **counts** (multiply-adds, flops), never the tuned rates of
//! [`cost`](crate::conv::fast::cost): the notes claim formulas and directions only.

use super::{arg, circ, corr, cvec, from_tensor, layer_of, real, scalar, tensor, Val, C, R};
use crate::conv::fast::{choose, fft_conv, polyphase, winograd, Choice, FftConv};
use crate::conv::{self, Algorithm};
use crate::expr::layer::Layer;

/// The functions of this file.
const NAMES: [&str; 16] = [
    "pads",
    "macs",
    "fft_flops",
    "choice",
    "tiling",
    "tiled_forward",
    "tiled_grad_x",
    "tiled_grad_w",
    "polyphase_forward",
    "polyphase_grad_x",
    "overlap_save",
    "overlap_add",
    "permute",
    "winograd_forward",
    "winograd_grad_x",
    "winograd_grad_w",
];

/// The functions of this file, or `None` when `f` is not one of them.
pub(super) fn call(f: &str, args: &[Val]) -> Option<R<Val>> {
    NAMES.contains(&f).then(|| run(f, args))
}

fn run(f: &str, args: &[Val]) -> R<Val> {
    let a = |i: usize| arg(args, i, f);
    let u = |i: usize| a(i)?.usize();
    let v = |i: usize| cvec(a(i)?);
    match f {
        "pads" | "macs" | "fft_flops" | "choice" | "tiling" => geometry_call(f, &layer_of(a(0)?)?),
        "tiled_forward" | "tiled_grad_x" | "tiled_grad_w" => tiled(f, args),
        "polyphase_forward" | "polyphase_grad_x" => polyphase(f, args),
        "winograd_forward" | "winograd_grad_x" | "winograd_grad_w" => winograd(f, args),
        "overlap_save" => Ok(real_vec(overlap_save(&v(0)?, &v(1)?, u(2)?, u(3)?)?)),
        "overlap_add" => Ok(real_vec(overlap_add(&v(0)?, &v(1)?, u(2)?, u(3)?, u(4)?)?)),
        _ => permute(&v(0)?, &usizes(a(1)?)?, &usizes(a(2)?)?),
    }
}

fn real_vec(x: Vec<C>) -> Val {
    real(x.into_iter().map(|c| c.re).collect())
}

fn usizes(v: &Val) -> R<Vec<usize>> {
    v.reals()?
        .into_iter()
        .map(|r| {
            if r >= 0.0 && r.fract() == 0.0 {
                Ok(r as usize)
            } else {
                Err(format!("{r} is not a non-negative integer"))
            }
        })
        .collect()
}

fn geometry_call(f: &str, l: &Layer) -> R<Val> {
    let g = l.geometry().map_err(|e| e.to_string())?;
    Ok(match f {
        "pads" => real(
            g.pads
                .iter()
                .flat_map(|&(lo, hi)| [lo as f64, hi as f64])
                .collect(),
        ),
        "macs" => scalar(C::new(g.macs(), 0.0), 0.0),
        "fft_flops" => {
            let (fwd, all) = fft_conv::flops(&g);
            real(vec![fwd, all])
        }
        "choice" => Val::Str(
            match choose(&g) {
                Choice::Fft => "fft",
                Choice::Im2col => "im2col",
                Choice::DirectSimd => "direct_simd",
                Choice::Winograd => "winograd",
            }
            .into(),
        ),
        _ => {
            // The planned tiling of the last spatial axis: [period, block, tiles].
            let layer =
                FftConv::<f64>::new(&l.spec, &l.x_shape, &l.w_shape).map_err(|e| e.to_string())?;
            let t = layer.tiling().axes[2];
            real(vec![t.period as f64, t.block as f64, t.tiles as f64])
        }
    })
}

/// `tiled_forward(L, x, w, B)`, `tiled_grad_x(L, x, w, dy, B)`, `tiled_grad_w(…)`: the fused FFT
/// layer with `B` outputs per tile on every spatial axis.
fn tiled(f: &str, args: &[Val]) -> R<Val> {
    let l = layer_of(arg(args, 0, f)?)?;
    let g = l.geometry().map_err(|e| e.to_string())?;
    let x = tensor(arg(args, 1, f)?, &l.x_shape)?;
    let w = tensor(arg(args, 2, f)?, &l.w_shape)?;
    let block_at = if f == "tiled_forward" { 3 } else { 4 };
    let block = arg(args, block_at, f)?.usize()?;
    let blocks = vec![block; g.rank()];
    let e = |e: crate::Error| e.to_string();
    let mut layer =
        FftConv::<f64>::with_blocks(&l.spec, &l.x_shape, &l.w_shape, &blocks).map_err(e)?;
    let y = layer.forward(&x, &w, None).map_err(e)?;
    if f == "tiled_forward" {
        return Ok(from_tensor(&y));
    }
    let dy = tensor(arg(args, 3, f)?, &g.y_shape())?;
    let grads = layer.backward(&dy, false).map_err(e)?;
    Ok(from_tensor(if f == "tiled_grad_x" {
        &grads.dx
    } else {
        &grads.dw
    }))
}

/// `polyphase_forward(L, x, w)`, `polyphase_grad_x(L, x, w, dy)`: the strided layer through
/// the fast path's phase split (`conv::fast::polyphase`).
fn polyphase(f: &str, args: &[Val]) -> R<Val> {
    let l = layer_of(arg(args, 0, f)?)?;
    let x = tensor(arg(args, 1, f)?, &l.x_shape)?;
    let w = tensor(arg(args, 2, f)?, &l.w_shape)?;
    let e = |e: crate::Error| e.to_string();
    if f == "polyphase_forward" {
        let y = polyphase::forward(&l.spec, &x, &w, None, Default::default()).map_err(e)?;
        return Ok(from_tensor(&y));
    }
    let g = l.geometry().map_err(|e| e.to_string())?;
    let dy = tensor(arg(args, 3, f)?, &g.y_shape())?;
    let grads = polyphase::backward(&l.spec, &x, &w, &dy, false, Default::default()).map_err(e)?;
    Ok(from_tensor(&grads.dx))
}

/// The library's Winograd path (`Algorithm::Winograd`) on a layer it computes itself (its
/// conv is one `winograd::supports`: no silent fallback to another path).
fn winograd(f: &str, args: &[Val]) -> R<Val> {
    let l = layer_of(arg(args, 0, f)?)?;
    let g = l.geometry().map_err(|e| e.to_string())?;
    if !winograd::supports(&g.as_conv()) {
        return Err(format!(
            "`{f}` needs a 2-D layer with a 3×3 or 4×4 kernel at stride 1, or 5×5 to 8×8 at stride 2"
        ));
    }
    let x = tensor(arg(args, 1, f)?, &l.x_shape)?;
    let w = tensor(arg(args, 2, f)?, &l.w_shape)?;
    let e = |e: crate::Error| e.to_string();
    if f == "winograd_forward" {
        let y = conv::forward(&l.spec, &x, &w, None, Algorithm::Winograd).map_err(e)?;
        return Ok(from_tensor(&y));
    }
    let dy = tensor(arg(args, 3, f)?, &g.y_shape())?;
    let grads = conv::backward(&l.spec, &x, &w, &dy, false, Algorithm::Winograd).map_err(e)?;
    Ok(from_tensor(if f == "winograd_grad_x" {
        &grads.dx
    } else {
        &grads.dw
    }))
}

/// Tiles of `B` outputs of the valid correlation of `x` (extent n) with `w` (extent K): tile
/// `t` reads the window `x[tB, tB + T)` (zeros past the end) and keeps the first outputs of
/// its circular correlation over `T`.
fn overlap_save(x: &[C], w: &[C], block: usize, period: usize) -> R<Vec<C>> {
    let (n, k) = (x.len(), w.len());
    check_tiles(n, k, block, period)?;
    let out = n + 1 - k;
    let mut y = Vec::with_capacity(out);
    for start in (0..out).step_by(block) {
        let window: Vec<C> = (start..start + period)
            .map(|i| x.get(i).copied().unwrap_or_default())
            .collect();
        let c = corr(w, &window)?;
        y.extend_from_slice(&c[..block.min(out - start)]);
    }
    Ok(y)
}

/// The adjoint of [`overlap_save`] by its own definition: each tile's gradient block, zero
/// extended to `T`, circularly convolved with `w`, and added into the window it came from
/// (clipped to `n`).
fn overlap_add(g: &[C], w: &[C], block: usize, period: usize, n: usize) -> R<Vec<C>> {
    let k = w.len();
    check_tiles(n, k, block, period)?;
    if g.len() != n + 1 - k {
        return Err(format!(
            "overlap_add: {} gradients, expected {}",
            g.len(),
            n + 1 - k
        ));
    }
    let mut dx = vec![C::default(); n];
    for start in (0..g.len()).step_by(block) {
        let mut gt = vec![C::default(); period];
        let len = block.min(g.len() - start);
        gt[..len].copy_from_slice(&g[start..start + len]);
        for (i, v) in circ(w, &gt)?.into_iter().enumerate() {
            if let Some(d) = dx.get_mut(start + i) {
                *d += v;
            }
        }
    }
    Ok(dx)
}

fn check_tiles(n: usize, k: usize, block: usize, period: usize) -> R<()> {
    if k == 0 || k > n || block == 0 {
        return Err("overlap: need 1 ≤ K ≤ n and a block ≥ 1".into());
    }
    if period < block + k - 1 {
        return Err(format!(
            "overlap: a period of {period} cannot hold the {} inputs a block of {block} reads",
            block + k - 1
        ));
    }
    Ok(())
}

/// `permute(x, shape, perm)`: the array of `shape` (row-major) with its axes reordered, axis
/// `a` of the result being axis `perm[a]` of the input (NumPy's `transpose`).
fn permute(x: &[C], shape: &[usize], perm: &[usize]) -> R<Val> {
    let d = shape.len();
    let mut seen = perm.to_vec();
    seen.sort_unstable();
    if perm.len() != d || seen != (0..d).collect::<Vec<_>>() {
        return Err(format!(
            "permute: {perm:?} is not a permutation of {d} axes"
        ));
    }
    if shape.iter().product::<usize>() != x.len() {
        return Err(format!("permute: {} entries, shape {shape:?}", x.len()));
    }
    let new_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let strides: Vec<usize> = (0..d).map(|a| shape[a + 1..].iter().product()).collect();
    let mut out = Vec::with_capacity(x.len());
    let mut idx = vec![0usize; d];
    for _ in 0..x.len() {
        let src: usize = (0..d).map(|a| idx[a] * strides[perm[a]]).sum();
        out.push(x[src]);
        for a in (0..d).rev() {
            idx[a] += 1;
            if idx[a] < new_shape[a] {
                break;
            }
            idx[a] = 0;
        }
    }
    Ok(Val::Arr {
        tol: vec![0.0; out.len()],
        shape: new_shape,
        data: out,
    })
}
