//! Overlap tiling for the FFT layer: each spatial axis is cut into tiles of `block` outputs,
//! each tile transformed on its own period, chosen by a cost model.
//!
//! Notation per axis: output extent `$O$`, stride `$s$`, effective kernel extent
//! `$K_e = d\,(K-1) + 1$`, padded input extent `$S_p$`. A tiling picks `$B$` outputs per tile and
//! a period `$T \ge (B-1)s + K_e$` (the smallest fast length, or the smallest with radices 2 and 3
//! only, whose butterflies run 2–4× faster per point); tile `$t$` covers outputs `$[tB, tB + B)$` and reads
//! the padded input window `$[tBs, tBs + T)$` (clipped to `$S_p$`). Because the window holds every
//! input those outputs see, the circular correlation over `$T$` equals the linear one on them
//! (*overlap–save*); its adjoint scatters each window's input gradient back and adds where
//! windows overlap (*overlap–add*), and the weight gradient sums over tiles as it sums over
//! the batch. One tile per axis (`$B = O$`) is the untiled layer.
//!
//! Why tile: the transforms of the weights and of their gradient cost
//! `$O(T \log T)$` each and there are `$C_{out} C_{in}/g$` of them, however small the kernel; with
//! tiles they shrink to the tile's period. Tiles cost more input-side transforms (the windows
//! overlap by `$K_e - s$`) and more frequencies in the contraction. The cost model
//! (`Tiling::cost`) counts the 1-D lines each pruned transform computes
//! ([`super::pruned_fft`]), each weighted by the speed of its radices, and the multiply-adds
//! of the contraction, and `Tiling::plan` takes the cheapest tiling.
//!
//! ```
//! use fftconv::conv::fast::tiling::Tiling;
//! use fftconv::conv::{ConvSpec, Padding};
//! let spec = ConvSpec::conv(&[1], Padding::Same, &[1]);
//! let g = spec.geometry(&[4, 16, 4096], &[16, 16, 65]).unwrap();
//! let t = Tiling::for_geometry(&g);
//! assert!(t.tiles() > 1); // a long signal and a short kernel: tiled
//! assert!(t.axes[2].period < 4096);
//! ```

use super::Layout;
use crate::conv::spec::Geometry;
use crate::fft::fast_len;

/// The tiling of one axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AxisTiling {
    /// FFT length of a tile.
    pub period: usize,
    /// Outputs per tile.
    pub block: usize,
    /// Number of tiles.
    pub tiles: usize,
}

/// A tiling of the three (normalised) spatial axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tiling {
    /// Per axis, leading axes of extent 1 first.
    pub axes: [AxisTiling; 3],
}

/// Relative cost of one multiply-add of the contraction against one FFT flop (it vectorises
/// better and streams from cache).
const CONTRACTION_WEIGHT: f64 = 1.0;
/// Fixed cost of one 1-D transform call, in FFT flops.
const LINE_OVERHEAD: f64 = 40.0;

/// The work of a pass: FFT flops (`5 n log2 n` per complex line of `n`, half for a real one),
/// 1-D transform calls, real samples moved into and out of tiles, and complex multiply-adds of
/// the contraction.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Work {
    /// FFT flops.
    pub fft_flops: f64,
    /// FFT flops weighted by the speed of each radix (`radix_log2`): what the cost model
    /// charges.
    pub fft_cost: f64,
    /// 1-D transforms called.
    pub lines: f64,
    /// Real samples written to or read from tiles.
    pub moves: f64,
    /// Complex multiply-adds of the channel contraction.
    pub macs: f64,
}

impl Work {
    /// Flops in all (a complex multiply-add counted as 8).
    pub fn flops(&self) -> f64 {
        self.fft_flops + 8.0 * self.macs
    }
    fn add(self, o: Work) -> Work {
        Work {
            fft_flops: self.fft_flops + o.fft_flops,
            fft_cost: self.fft_cost + o.fft_cost,
            lines: self.lines + o.lines,
            moves: self.moves + o.moves,
            macs: self.macs + o.macs,
        }
    }
    fn times(self, k: f64) -> Work {
        Work {
            fft_flops: self.fft_flops * k,
            fft_cost: self.fft_cost * k,
            lines: self.lines * k,
            moves: self.moves * k,
            macs: self.macs * k,
        }
    }
}

fn line_flops(n: usize, real: bool) -> f64 {
    line_work(n, real, (n as f64).log2())
}

/// What the cost model charges for a line: a real line of odd length costs a complex one
/// (realfft runs odd lengths as a complex transform of the full length; `RealToComplexOdd` and
/// `ComplexToRealOdd` took a quarter of the 2d-k11 profile on a period of 75).
fn line_cost(n: usize, real: bool) -> f64 {
    line_work(n, real && n.is_multiple_of(2), radix_log2(n))
}

fn line_work(n: usize, real: bool, log2: f64) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    let c = 5.0 * n as f64 * log2;
    if real {
        c / 2.0
    } else {
        c
    }
}

/// `log2 n` with each prime factor weighted by how much slower its butterflies run than
/// radix 2 in rustfft (measured per point on lines of 24–144 with `examples/fft_lengths`: 32
/// and 36 run at ~0.4 ns, 28, 35 and 70 at ~1.5 ns): `Σ_p e_p · log2 p · weight_p` for `n = Π p^e_p`.
fn radix_log2(n: usize) -> f64 {
    let mut r = n;
    let mut l = 0.0;
    for (p, weight) in [(2usize, 1.0), (3, 2.0), (5, 2.5), (7, 3.0)] {
        while r.is_multiple_of(p) {
            r /= p;
            l += (p as f64).log2() * weight;
        }
    }
    l + (r as f64).log2() * 4.0
}

/// The smallest even length `>= n` whose half is a fast length (the complex line a real
/// transform of even length runs).
fn even_fast_len(n: usize) -> usize {
    2 * fast_len(n.div_ceil(2))
}

/// The smallest length `>= n` whose only prime factors are 2 and 3 (the fastest butterflies).
fn smooth23_len(n: usize) -> usize {
    let mut m = n.max(1);
    loop {
        let mut r = m;
        for p in [2, 3] {
            while r.is_multiple_of(p) {
                r /= p;
            }
        }
        if r == 1 {
            return m;
        }
        m += 1;
    }
}

impl Tiling {
    /// The tiling chosen by the cost model for a conv geometry (a transpose: pass it as is;
    /// its conv is taken).
    pub fn for_geometry(g: &Geometry) -> Self {
        Self::plan(&Layout::of(&g.as_conv()))
    }

    /// Number of tiles in all.
    pub fn tiles(&self) -> usize {
        self.axes.iter().map(|a| a.tiles).product()
    }

    /// The period of a tile.
    pub fn period(&self) -> [usize; 3] {
        self.axes.map(|a| a.period)
    }

    /// Bins of the half spectrum of one tile.
    pub fn bins(&self) -> usize {
        let [t0, t1, t2] = self.period();
        t0 * t1 * (t2 / 2 + 1)
    }

    /// One tile per axis.
    pub(crate) fn whole(lay: &Layout) -> Self {
        Tiling {
            axes: [0, 1, 2].map(|a| axis_with_block(lay, a, lay.output[a].max(1))),
        }
    }

    /// `blocks[a]` outputs per tile on axis `a` (clipped to `1 ..= output extent`).
    pub(crate) fn with_blocks(lay: &Layout, blocks: [usize; 3]) -> Self {
        Tiling {
            axes: [0, 1, 2]
                .map(|a| axis_with_block(lay, a, blocks[a].clamp(1, lay.output[a].max(1)))),
        }
    }

    /// The cheapest tiling by [`cost`](Self::cost) among, per axis, the smallest period for
    /// every tile count; searched once per layer shape and cached (the cost model, the memory
    /// guard and the layer all ask for it on every call).
    pub(crate) fn plan(lay: &Layout) -> Self {
        let key: Vec<usize> = [lay.n, lay.c_in, lay.c_out, lay.groups]
            .into_iter()
            .chain(lay.input)
            .chain(lay.output)
            .chain(lay.kernel)
            .chain(lay.dilation)
            .chain(lay.stride)
            .chain(lay.padded)
            .collect();
        *crate::fft::cached_plan(key, || Self::search(lay))
    }

    fn search(lay: &Layout) -> Self {
        let options: Vec<Vec<AxisTiling>> = (0..3).map(|a| candidates(lay, a)).collect();
        let mut best = Self::whole(lay);
        let mut best_cost = best.cost(lay);
        for &x in &options[0] {
            for &y in &options[1] {
                for &z in &options[2] {
                    let t = Tiling { axes: [x, y, z] };
                    let c = t.cost(lay);
                    if c < best_cost {
                        best = t;
                        best_cost = c;
                    }
                }
            }
        }
        best
    }

    /// Estimated cost (relative units ≈ FFT flops) of forward + `∂x` + `∂w` with this tiling.
    pub(crate) fn cost(&self, lay: &Layout) -> f64 {
        let (f, b) = self.work(lay);
        let w = f.add(b);
        w.fft_cost + LINE_OVERHEAD * w.lines + w.moves + CONTRACTION_WEIGHT * 8.0 * w.macs
    }

    /// The work of the forward pass and of the backward pass (`∂x` + `∂w`).
    pub(crate) fn work(&self, lay: &Layout) -> (Work, Work) {
        let [a0, a1, a2] = self.axes;
        let h = a2.period / 2 + 1;
        let k_eff = |a: usize| (lay.kernel[a] - 1) * lay.dilation[a] + 1;
        // A transform of a signal nonzero on e0 × e1 rows (an inverse computing r0 × r1 rows
        // does the same lines in reverse).
        let lines = |f: fn(usize, bool) -> f64, e0: usize, e1: usize| {
            (e0 * e1) as f64 * f(a2.period, true)
                + (e0 * h) as f64 * f(a1.period, false)
                + (h * a1.period) as f64 * f(a0.period, false)
        };
        let transform = |e0: usize, e1: usize| Work {
            fft_flops: lines(line_flops, e0, e1),
            fft_cost: lines(line_cost, e0, e1),
            lines: (e0 * e1 + e0 * h + h * a1.period) as f64,
            moves: (a0.period * a1.period * a2.period) as f64,
            macs: 0.0,
        };
        let window = |a: usize| self.axes[a].period.min(lay.padded[a]);
        let strided = |a: usize| (self.axes[a].block - 1) * lay.stride[a] + 1;
        let (n, ci, co, cg) = (
            (lay.n * self.tiles()) as f64,
            lay.c_in as f64,
            lay.c_out as f64,
            lay.cg as f64,
        );
        let x_side = transform(window(0), window(1));
        let y_side = transform(strided(0), strided(1));
        let w_side = transform(k_eff(0), k_eff(1));
        let contraction = Work {
            macs: (self.bins() as f64) * n * co * cg,
            ..Work::default()
        };
        // Forward: x and w in, y out. Backward: dy in, dx and dw out.
        let fwd = x_side
            .times(n * ci)
            .add(w_side.times(co * cg))
            .add(y_side.times(n * co))
            .add(contraction);
        let bwd = y_side
            .times(n * co)
            .add(x_side.times(n * ci))
            .add(w_side.times(co * cg))
            .add(contraction.times(2.0));
        (fwd, bwd)
    }
}

/// Axis `a` cut into tiles of `block` outputs, on the smallest fast period.
fn axis_with_block(lay: &Layout, a: usize, block: usize) -> AxisTiling {
    axis_with_period(lay, a, block, fast_len)
}

/// Axis `a` cut into tiles of `block` outputs, on the period `length(window)`.
fn axis_with_period(
    lay: &Layout,
    a: usize,
    block: usize,
    length: fn(usize) -> usize,
) -> AxisTiling {
    let out = lay.output[a].max(1);
    let k_eff = (lay.kernel[a] - 1) * lay.dilation[a] + 1;
    let need = (block - 1) * lay.stride[a] + k_eff;
    AxisTiling {
        period: if need > 1 { length(need) } else { 1 },
        block,
        tiles: out.div_ceil(block),
    }
}

/// Per tile count, the tiling of axis `a` with the fewest outputs per tile, on the smallest
/// fast period, on the smallest period of radices 2 and 3 (often faster though longer) and, on
/// the real axis, on the smallest even fast period; at most 64 tile counts (spread
/// geometrically beyond that).
fn candidates(lay: &Layout, a: usize) -> Vec<AxisTiling> {
    let out = lay.output[a].max(1);
    let mut blocks: Vec<usize> = Vec::new();
    let mut m = 1usize;
    while m <= out {
        let b = out.div_ceil(m);
        if blocks.last() != Some(&b) {
            blocks.push(b);
        }
        m = if m < 32 { m + 1 } else { m + m / 8 };
    }
    let mut all: Vec<AxisTiling> = Vec::new();
    for b in blocks {
        let mut options = vec![
            axis_with_block(lay, a, b),
            axis_with_period(lay, a, b, smooth23_len),
        ];
        if a == 2 {
            // The real axis: also the smallest even fast period (an odd one runs as a complex
            // line; see `line_cost`).
            options.push(axis_with_period(lay, a, b, even_fast_len));
        }
        for t in options {
            if !all.contains(&t) {
                all.push(t);
            }
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::{ConvSpec, Padding};

    #[test]
    fn every_candidate_covers_the_outputs_with_windows_that_fit() {
        let spec = ConvSpec::conv(&[2, 1], Padding::Same, &[1, 3]);
        let g = spec.geometry(&[1, 2, 37, 50], &[3, 2, 5, 4]).unwrap();
        let lay = Layout::of(&g);
        for a in 0..3 {
            for t in candidates(&lay, a) {
                let k_eff = (lay.kernel[a] - 1) * lay.dilation[a] + 1;
                assert!(
                    t.tiles * t.block >= lay.output[a],
                    "axis {a} {t:?} misses outputs"
                );
                assert!(
                    t.period >= (t.block - 1) * lay.stride[a] + k_eff,
                    "axis {a} {t:?}: window shorter than its outputs see"
                );
            }
        }
    }

    #[test]
    fn odd_real_lines_cost_as_complex_and_the_real_axis_gets_an_even_period() {
        assert_eq!(line_cost(75, true), line_cost(75, false));
        assert_eq!(2.0 * line_cost(80, true), line_cost(80, false));
        assert_eq!(even_fast_len(74), 80);
        assert_eq!(even_fast_len(71), 72);
        // 2d-k11: 64 wide, an 11-tap kernel, same padding: one tile needs 74 samples, whose
        // fast length (75) and radix-2/3 length (81) are both odd.
        let spec = ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1]);
        let g = spec.geometry(&[8, 16, 64, 64], &[16, 16, 11, 11]).unwrap();
        let lay = Layout::of(&g);
        let periods: Vec<usize> = candidates(&lay, 2).iter().map(|t| t.period).collect();
        assert!(
            periods.contains(&75) && periods.contains(&80),
            "{periods:?}"
        );
        assert_eq!(Tiling::plan(&lay).period()[2] % 2, 0);
    }
}
