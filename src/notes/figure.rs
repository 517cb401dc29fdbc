//! The notes' figures, computed from the library and drawn as SVG (plotters' SVG backend):
//! `fftconv figure` writes them into `derivations/figures/`, and `tests/notes_figures.rs`
//! regenerates them and fails when a committed one differs.
//!
//! - `conv-matrix.svg`: the dense matrix of a small 2-D conv layer in `x` and the dense matrix
//!   of its adjoint operator side by side (the figure of Dumoulin and Visin's conv arithmetic
//!   guide, computed by [`dense_matrix`] on the operator chain);
//! - `wrap-around.svg`: the ring of a circular correlation, the outputs whose windows cross the
//!   seam, and the crop that removes them (LIN-1);
//! - `chain.svg`: the layer's forward chain and its adjoint with the shape after every step
//!   (LAYER-1, DX-1), from the layer's geometry;
//! - `overlap-save.svg`: the windows and tiles of overlap-save (TILE-1), with the tiling the fused
//!   FFT layer plans for the chosen block.
//!
//! Every figure is a pure function of its parameters: regenerating gives the same bytes.

use crate::check::dense_matrix;
use crate::conv::fast::FftConv;
use crate::conv::{chain, ConvSpec, Padding};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};

/// One figure: its file name and its SVG text.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// File name, e.g. `conv-matrix.svg`.
    pub name: &'static str,
    /// The SVG document.
    pub svg: String,
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

fn draw_err<E: std::fmt::Display>(e: E) -> Error {
    Error::invalid("figure", format!("cannot draw: {e}"))
}

/// Render with a drawing closure into an SVG string of the given size.
fn render(size: (u32, u32), draw: impl FnOnce(&Area) -> Result<()>) -> Result<String> {
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, size).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        draw(&root)?;
        root.present().map_err(draw_err)?;
    }
    Ok(s)
}

fn text(area: &Area, t: &str, at: (i32, i32), size: u32, color: RGBColor) -> Result<()> {
    let style = TextStyle::from(("sans-serif", size).into_font())
        .color(&color)
        .pos(Pos::new(HPos::Center, VPos::Center));
    area.draw(&Text::new(t.to_string(), at, style))
        .map_err(draw_err)
}

fn text_left(area: &Area, t: &str, at: (i32, i32), size: u32) -> Result<()> {
    let style = TextStyle::from(("sans-serif", size).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    area.draw(&Text::new(t.to_string(), at, style))
        .map_err(draw_err)
}

fn rect(area: &Area, a: (i32, i32), b: (i32, i32), fill: RGBColor, stroke: bool) -> Result<()> {
    area.draw(&Rectangle::new([a, b], fill.filled()))
        .map_err(draw_err)?;
    if stroke {
        area.draw(&Rectangle::new([a, b], BLACK.stroke_width(1)))
            .map_err(draw_err)?;
    }
    Ok(())
}

fn line(area: &Area, pts: Vec<(i32, i32)>, color: RGBColor, width: u32) -> Result<()> {
    area.draw(&PathElement::new(pts, color.stroke_width(width)))
        .map_err(draw_err)
}

/// An arrow from `a` to `b` (a line and a small head).
fn arrow(area: &Area, a: (i32, i32), b: (i32, i32), color: RGBColor) -> Result<()> {
    line(area, vec![a, b], color, 2)?;
    let (dx, dy) = ((b.0 - a.0) as f64, (b.1 - a.1) as f64);
    let len = (dx * dx + dy * dy).sqrt().max(1.0);
    let (ux, uy) = (dx / len, dy / len);
    let p = |s: f64| {
        (
            (b.0 as f64 - 9.0 * ux + s * 5.0 * uy).round() as i32,
            (b.1 as f64 - 9.0 * uy - s * 5.0 * ux).round() as i32,
        )
    };
    area.draw(&Polygon::new(vec![b, p(1.0), p(-1.0)], color.filled()))
        .map_err(draw_err)
}

const KEPT: RGBColor = RGBColor(170, 215, 170);
const DROPPED: RGBColor = RGBColor(235, 170, 160);
const TAP: RGBColor = RGBColor(120, 160, 220);
const PALE: RGBColor = RGBColor(235, 235, 235);
const DARK_RED: RGBColor = RGBColor(170, 30, 20);

/// All figures, in a fixed order.
///
/// # Errors
/// [`Error::Invalid`] if drawing fails (it does not for these fixed parameters).
pub fn all() -> Result<Vec<Figure>> {
    Ok(vec![
        Figure {
            name: "conv-matrix.svg",
            svg: conv_matrix()?,
        },
        Figure {
            name: "wrap-around.svg",
            svg: wrap_around(6, 3)?,
        },
        Figure {
            name: "chain.svg",
            svg: chain_diagram(9, 3, 2, 1)?,
        },
        Figure {
            name: "overlap-save.svg",
            svg: overlap_save(7, 3, 2)?,
        },
    ])
}

/// Write every figure into `dir` (created if missing), returning the paths written.
///
/// # Errors
/// [`Error::File`] when `dir` exists and is not a directory, or cannot be created or written.
pub fn write_all(dir: &Path) -> Result<Vec<PathBuf>> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::file(
            dir.display(),
            "is a file, not a directory; give a directory for the figures",
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::file(dir.display(), e.to_string()))?;
    let mut written = Vec::new();
    for f in all()? {
        let path = dir.join(f.name);
        std::fs::write(&path, &f.svg).map_err(|e| Error::file(path.display(), e.to_string()))?;
        written.push(path);
    }
    Ok(written)
}

/// `conv2d(x: [1, 1, 4, 4], w: [1, 1, 3, 3])` with taps numbered 1–9: its 4×16 matrix and the
/// 16×4 matrix of its adjoint operator, each cell labelled with the tap it holds.
fn conv_matrix() -> Result<String> {
    let spec = ConvSpec::conv(&[1, 1], Padding::Valid, &[1, 1]);
    let g = spec.geometry(&[1, 1, 4, 4], &[1, 1, 3, 3])?;
    let w = Tensor::<f64>::from_fn(&[1, 1, 3, 3], |i| (i[2] * 3 + i[3] + 1) as f64);
    let op = chain::input_operator(&g, &w)?;
    let a = dense_matrix(op.as_ref())?;
    let at = dense_matrix(op.adjoint().as_ref())?;
    let cell = 26i32;
    let (ax, ay) = (30i32, 70i32);
    let bx = ax + cell * a.ncols() as i32 + 60;
    let width = bx + cell * at.ncols() as i32 + 260;
    let height = ay + cell * at.nrows() as i32 + 30;
    render((width as u32, height as u32), |area| {
        text(
            area,
            "A: y = conv(x), 4 outputs × 16 inputs (taps 1–9)",
            (ax + cell * 8, 25),
            15,
            BLACK,
        )?;
        text_left(area, "A*: 16 × 4, the adjoint operator", (bx, 25), 15)?;
        text_left(area, "row i of A* = column i of A", (bx, 48), 13)?;
        for (m, x0) in [(&a, ax), (&at, bx)] {
            for r in 0..m.nrows() {
                for c in 0..m.ncols() {
                    let v = m[(r, c)];
                    let p = (x0 + cell * c as i32, ay + cell * r as i32);
                    let q = (p.0 + cell, p.1 + cell);
                    let fill = if v.abs() > 1e-9 { TAP } else { PALE };
                    rect(area, p, q, fill, true)?;
                    if v.abs() > 1e-9 {
                        let label = format!("{}", v.round() as i64);
                        text(area, &label, (p.0 + cell / 2, p.1 + cell / 2), 13, BLACK)?;
                    }
                }
            }
        }
        Ok(())
    })
}

/// The ring of a circular convolution over `p` points with a flipped `k`-tap kernel (LIN-1):
/// output `j` reads inputs `j, j − 1, …, j − k + 1 (mod p)`; the first `k − 1` outputs read
/// across the seam and are cropped.
fn wrap_around(p: usize, k: usize) -> Result<String> {
    let (cx, cy, r) = (230.0f64, 265.0f64, 140.0f64);
    let at = |i: f64, rad: f64| {
        let a = std::f64::consts::PI * (2.0 * i / p as f64 - 0.5);
        (
            (cx + rad * a.cos()).round() as i32,
            (cy + rad * a.sin()).round() as i32,
        )
    };
    render((820, 500), |area| {
        text(
            area,
            &format!("circular convolution over P = {p}, flipped kernel of {k} taps"),
            (230, 18),
            15,
            BLACK,
        )?;
        // The seam between input p − 1 and input 0: a bar across the ring halfway between them.
        let seam = |rad: f64| {
            let a = std::f64::consts::PI * (2.0 * (p as f64 - 0.5) / p as f64 - 0.5);
            (
                (cx + rad * a.cos()).round() as i32,
                (cy + rad * a.sin()).round() as i32,
            )
        };
        line(area, vec![seam(r - 30.0), seam(r + 30.0)], DARK_RED, 3)?;
        // Each output sits opposite the middle of the window it reads, so its lines fan out to
        // neighbouring inputs instead of cutting across the ring.
        let out_at = |j: usize| at(j as f64 - (k as f64 - 1.0) / 2.0, r + 60.0);
        // Each output joined to the inputs its window reads.
        for j in 0..p {
            let wraps = j + 1 < k;
            let color = if wraps {
                DARK_RED
            } else {
                RGBColor(40, 120, 40)
            };
            for t in 0..k {
                line(
                    area,
                    vec![out_at(j), at(((j + p - t) % p) as f64, r)],
                    color,
                    1,
                )?;
            }
        }
        for j in 0..p {
            let fill = if j + 1 < k { DROPPED } else { KEPT };
            let out = out_at(j);
            area.draw(&Circle::new(out, 17, fill.filled()))
                .map_err(draw_err)?;
            text(area, &format!("y{j}"), out, 13, BLACK)?;
            let node = at(j as f64, r);
            area.draw(&Circle::new(node, 15, PALE.filled()))
                .map_err(draw_err)?;
            area.draw(&Circle::new(node, 15, BLACK.stroke_width(1)))
                .map_err(draw_err)?;
            text(area, &format!("x{j}"), node, 13, BLACK)?;
        }
        let legend = [
            (
                KEPT,
                format!(
                    "y{} … y{}: window inside x0 … x{}: kept",
                    k - 1,
                    p - 1,
                    p - 1
                ),
            ),
            (
                DROPPED,
                format!("y0 … y{}: window crosses the seam: cropped", k - 2),
            ),
        ];
        for (n, (fill, label)) in legend.iter().enumerate() {
            let y = 150 + 40 * n as i32;
            area.draw(&Circle::new((470, y), 10, fill.filled()))
                .map_err(draw_err)?;
            text_left(area, label, (488, y), 13)?;
        }
        text_left(area, "red bar: the seam between", (470, 250), 13)?;
        text_left(area, &format!("x{} and x0", p - 1), (470, 268), 13)?;
        let windows: Vec<String> = (0..k - 1)
            .map(|j| {
                let idx: Vec<String> = (0..k).map(|t| format!("x{}", (j + p - t) % p)).collect();
                format!("y{j} reads {}", idx.join(", "))
            })
            .collect();
        for (n, w) in windows.iter().enumerate() {
            text_left(area, w, (470, 310 + 20 * n as i32), 13)?;
        }
        text_left(
            area,
            &format!("crop[{}:0] keeps {} outputs", k - 1, p - k + 1),
            (470, 310 + 20 * windows.len() as i32 + 10),
            13,
        )?;
        Ok(())
    })
}

/// The chain of `conv1d(x: [1, 1, n], w: [1, 1, k], stride=s, padding=pad)` and its adjoint,
/// one box per step with the extent after it.
fn chain_diagram(n: usize, k: usize, s: usize, pad: usize) -> Result<String> {
    let spec = ConvSpec::conv(&[s], Padding::Explicit(vec![(pad, pad)]), &[1]);
    let g = spec.geometry(&[1, 1, n], &[1, 1, k])?;
    let padded = n + 2 * pad;
    let period = crate::fft::fast_len(padded);
    let o = g.output[0];
    let full = padded + 1 - k;
    let fwd = [
        (format!("x [{n}]"), String::new()),
        (format!("[{padded}]"), format!("zero_pad[{pad}:{pad}]")),
        (
            format!("[{period}]"),
            format!("zero_pad[0:{}]", period - padded),
        ),
        (format!("[{period}]"), "circ(h), h = Z F w".to_string()),
        (
            format!("[{full}]"),
            format!("crop[{}:{}]", k - 1, period - padded),
        ),
        (format!("y [{o}]"), format!("subsample[{s}]")),
    ];
    // Box i of the adjoint row, and the step that maps box i to box i − 1.
    let adj = [
        (format!("x̄ [{n}]"), String::new()),
        (format!("[{padded}]"), format!("crop[{pad}:{pad}]")),
        (
            format!("[{period}]"),
            format!("crop[0:{}]", period - padded),
        ),
        (format!("[{period}]"), "corr(h)".to_string()),
        (
            format!("[{full}]"),
            format!("zero_pad[{}:{}]", k - 1, period - padded),
        ),
        (
            format!("ȳ [{o}]"),
            format!("zero_insert[{s}], zero_pad[0:{}]", full - ((o - 1) * s + 1)),
        ),
    ];
    let (bw, gap) = (86i32, 62i32);
    let width = 40 + fwd.len() as i32 * (bw + gap);
    render((width as u32, 330), |area| {
        text(
            area,
            &format!("conv1d: x [{n}], w [{k}], stride {s}, padding {pad}; FFT period {period}"),
            (width / 2, 20),
            15,
            BLACK,
        )?;
        text_left(area, "forward", (10, 60), 13)?;
        text_left(area, "adjoint (the gradient, right to left)", (10, 195), 13)?;
        for (row, steps, y) in [(0, &fwd, 90), (1, &adj, 225)] {
            for (i, (shape, op)) in steps.iter().enumerate() {
                let x0 = 20 + i as i32 * (bw + gap);
                rect(area, (x0, y), (x0 + bw, y + 40), PALE, true)?;
                text(area, shape, (x0 + bw / 2, y + 20), 14, BLACK)?;
                if i > 0 {
                    let (a, b) = if row == 0 {
                        ((x0 - gap + 2, y + 20), (x0 - 2, y + 20))
                    } else {
                        ((x0 - 2, y + 20), (x0 - gap + 2, y + 20))
                    };
                    arrow(area, a, b, if row == 0 { BLACK } else { DARK_RED })?;
                    let ty = if row == 0 { y - 14 } else { y + 56 };
                    text(area, op, (x0 - gap / 2, ty), 12, BLACK)?;
                }
            }
        }
        Ok(())
    })
}

/// Overlap-save on a signal of `n` samples with a `k`-tap valid kernel and `block` outputs per
/// tile, with the period the fused FFT layer plans for that block.
fn overlap_save(n: usize, k: usize, block: usize) -> Result<String> {
    let spec = ConvSpec::conv(&[1], Padding::Valid, &[1]);
    let layer = FftConv::<f64>::with_blocks(&spec, &[1, 1, n], &[1, 1, k], &[block])?;
    let t = layer.tiling().axes[2];
    let (period, tiles) = (t.period, t.tiles);
    let out = n + 1 - k;
    let cell = 40i32;
    let x0 = 120i32;
    let height = 110 + tiles as i32 * 70;
    let width = x0 + cell * (n.max(out) as i32 + 2) + 20;
    render((width as u32, height as u32), |area| {
        text(
            area,
            &format!(
                "overlap-save: {n} inputs, {k} taps, {block} outputs per tile, period {period}"
            ),
            (width / 2, 20),
            15,
            BLACK,
        )?;
        text_left(area, "input", (10, 60), 13)?;
        for i in 0..n {
            let p = (x0 + cell * i as i32, 45);
            rect(area, p, (p.0 + cell, p.1 + 30), PALE, true)?;
            text(
                area,
                &format!("x{i}"),
                (p.0 + cell / 2, p.1 + 15),
                13,
                BLACK,
            )?;
        }
        for tile in 0..tiles {
            let y = 95 + tile as i32 * 70;
            let start = tile * block;
            text_left(area, &format!("tile {tile}"), (10, y + 15), 13)?;
            for j in 0..period {
                let i = start + j;
                let kept = j < block && start + j < out;
                let fill = if kept { KEPT } else { DROPPED };
                let p = (x0 + cell * i as i32, y);
                rect(area, p, (p.0 + cell, p.1 + 30), fill, true)?;
                // Slots past the tile's block hold wrapped-around sums; slots of the last
                // tile past the layer's output hold valid sums nobody asked for.
                let label = if kept {
                    format!("y{}", start + j)
                } else if j < block {
                    "unused".to_string()
                } else {
                    "wrap".to_string()
                };
                let size = if kept { 12 } else { 10 };
                text(area, &label, (p.0 + cell / 2, p.1 + 15), size, BLACK)?;
                if i >= n {
                    text(area, "(zero)", (p.0 + cell / 2, p.1 + 42), 11, BLACK)?;
                }
            }
        }
        Ok(())
    })
}
