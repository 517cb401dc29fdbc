//! The layers a hunt sends: an edge grid that visits every corner of the semantic space on
//! purpose, then seeded random layers. Every layer is small (a case costs milliseconds) and,
//! unless asked for invalid ones, one that the frameworks accept.

use super::Scope;
use crate::case::LayerSpec;
use crate::conv::ConvKind;
use crate::op::PadMode;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A layer in the coordinates the generator and the shrinker move along: samples, groups,
/// channels per group on both sides, and per spatial axis extent, kernel, stride, dilation,
/// padding and output padding. [`Draft::spec`] turns it into a [`LayerSpec`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Draft {
    /// conv or conv_transpose.
    pub kind: ConvKind,
    /// Samples.
    pub n: usize,
    /// Channel groups.
    pub groups: usize,
    /// Input channels per group.
    pub cin_g: usize,
    /// Output channels per group.
    pub cout_g: usize,
    /// Input extent per axis.
    pub extent: Vec<usize>,
    /// Kernel extent per axis.
    pub kernel: Vec<usize>,
    /// Stride per axis.
    pub stride: Vec<usize>,
    /// Dilation per axis.
    pub dilation: Vec<usize>,
    /// `(lo, hi)` padding per axis.
    pub pads: Vec<(usize, usize)>,
    /// Output padding per axis (conv_transpose).
    pub output_padding: Vec<usize>,
    /// Padding mode.
    pub mode: PadMode,
    /// Bias on or off.
    pub bias: bool,
}

impl Draft {
    /// The smallest layer of rank `d`: one sample, one channel, extent 5, kernel 3.
    pub fn base(kind: ConvKind, d: usize) -> Draft {
        Draft {
            kind,
            n: 1,
            groups: 1,
            cin_g: 1,
            cout_g: 1,
            extent: vec![5; d],
            kernel: vec![3; d],
            stride: vec![1; d],
            dilation: vec![1; d],
            pads: vec![(0, 0); d],
            output_padding: vec![0; d],
            mode: PadMode::Zeros,
            bias: false,
        }
    }

    /// Number of spatial axes.
    pub fn rank(&self) -> usize {
        self.extent.len()
    }

    /// The layer with its shapes (x `(N, C_in, *S)`; w OIHW for conv, IOHW for the transpose).
    pub fn spec(&self) -> LayerSpec {
        let c_in = self.groups * self.cin_g;
        let w_head = match self.kind {
            ConvKind::Conv => vec![self.groups * self.cout_g, self.cin_g],
            ConvKind::ConvTranspose => vec![c_in, self.cout_g],
        };
        LayerSpec {
            kind: self.kind,
            x: [vec![self.n, c_in], self.extent.clone()].concat(),
            w: [w_head, self.kernel.clone()].concat(),
            stride: self.stride.clone(),
            padding: self.pads.clone(),
            dilation: self.dilation.clone(),
            groups: self.groups,
            padding_mode: self.mode,
            output_padding: self.output_padding.clone(),
            bias: self.bias,
        }
    }

    /// The draft of a layer with its shapes (the inverse of [`Draft::spec`]); `None` when the
    /// shapes do not split into groups and channels per group.
    pub fn from_spec(l: &LayerSpec) -> Option<Draft> {
        let d = l.rank();
        if l.groups == 0
            || l.x.len() != d + 2
            || l.w.len() != d + 2
            || !l.x[1].is_multiple_of(l.groups)
        {
            return None;
        }
        let cout_g = match l.kind {
            ConvKind::Conv => l.w[0] / l.groups,
            ConvKind::ConvTranspose => l.w[1],
        };
        Some(Draft {
            kind: l.kind,
            n: l.x[0],
            groups: l.groups,
            cin_g: l.x[1] / l.groups,
            cout_g,
            extent: l.x[2..].to_vec(),
            kernel: l.w[2..].to_vec(),
            stride: l.stride.clone(),
            dilation: l.dilation.clone(),
            pads: l.padding.clone(),
            output_padding: l.output_padding.clone(),
            mode: l.padding_mode,
            bias: l.bias,
        })
    }

    /// Whether the frameworks accept this layer (fftconv's geometry applies their rules).
    pub fn is_valid(&self) -> bool {
        self.spec().geometry().is_ok()
    }

    /// The same layer without spatial axis `a`.
    pub fn without_axis(&self, a: usize) -> Draft {
        let mut d = self.clone();
        d.extent.remove(a);
        d.kernel.remove(a);
        d.stride.remove(a);
        d.dilation.remove(a);
        d.pads.remove(a);
        d.output_padding.remove(a);
        d
    }

    fn elements(&self) -> usize {
        let sp: usize = self.extent.iter().product();
        self.n * self.groups * self.cin_g.max(self.cout_g) * sp
    }
}

/// One per-axis value for all axes, or the listed ones.
fn axes(d: usize, v: &[usize]) -> Vec<usize> {
    (0..d).map(|a| v[a % v.len()]).collect()
}

/// The edge grid: each variant moves one or two coordinates off the base layer, so together
/// they cover batch 1 and ≥ 2, channels 1 and ≥ 2 on both sides, groups 1, 2, depthwise and
/// C/g = 1, kernels 1 and as large as the padded input, strides 1–3 and stride > kernel,
/// dilation 1–3 (also with stride), symmetric and asymmetric padding, per-axis remainders
/// after striding, output extent 1, output padding up to `max(stride, dilation) − 1`, bias on
/// and off — for every op, rank and padding mode in scope.
pub fn grid(scope: &Scope) -> Vec<Draft> {
    type Variant = fn(&mut Draft);
    let variants: Vec<Variant> = vec![
        |_| {},
        |l| l.n = 2,
        |l| l.cin_g = 2,
        |l| l.cout_g = 3,
        |l| {
            l.groups = 2;
            l.cin_g = 2;
        },
        |l| l.groups = 3,
        |l| {
            l.groups = 2;
            l.cout_g = 2;
        },
        |l| l.kernel = axes(l.rank(), &[1]),
        |l| {
            l.pads = vec![(1, 1); l.rank()];
            l.kernel = l.extent.iter().map(|s| s + 2).collect();
        },
        |l| l.stride = axes(l.rank(), &[2]),
        |l| l.stride = axes(l.rank(), &[3]),
        |l| {
            l.stride = axes(l.rank(), &[3]);
            l.kernel = axes(l.rank(), &[2]);
        },
        |l| l.dilation = axes(l.rank(), &[2]),
        |l| {
            l.dilation = axes(l.rank(), &[3]);
            l.kernel = axes(l.rank(), &[2]);
        },
        |l| {
            l.dilation = axes(l.rank(), &[2]);
            l.stride = axes(l.rank(), &[2]);
        },
        |l| l.pads = vec![(1, 1); l.rank()],
        |l| {
            l.pads = axes(l.rank(), &[0, 2])
                .into_iter()
                .zip(axes(l.rank(), &[2, 1]))
                .collect()
        },
        |l| {
            l.extent = axes(l.rank(), &[7, 8, 9]);
            l.stride = axes(l.rank(), &[2, 3, 2]);
        },
        |l| l.kernel = l.extent.clone(),
        |l| {
            l.stride = axes(l.rank(), &[2]);
            l.output_padding = axes(l.rank(), &[1]);
        },
        |l| {
            l.stride = axes(l.rank(), &[3]);
            l.output_padding = axes(l.rank(), &[2, 1]);
        },
        |l| {
            l.dilation = axes(l.rank(), &[2]);
            l.output_padding = axes(l.rank(), &[1]);
        },
        |l| l.bias = true,
        |l| {
            l.bias = true;
            l.groups = 2;
            l.n = 2;
        },
        |l| {
            l.n = 2;
            l.groups = 2;
            l.cout_g = 2;
            l.stride = axes(l.rank(), &[2, 1]);
            l.dilation = axes(l.rank(), &[1, 2]);
            l.pads = axes(l.rank(), &[1, 0])
                .into_iter()
                .zip(axes(l.rank(), &[2, 1]))
                .collect();
            l.extent = axes(l.rank(), &[6, 7, 5]);
            l.bias = true;
        },
    ];
    let mut out = Vec::new();
    for v in &variants {
        for &kind in &scope.ops {
            for &d in &scope.dims {
                for &mode in &scope.modes {
                    if kind == ConvKind::ConvTranspose && mode != PadMode::Zeros {
                        continue;
                    }
                    let mut l = Draft::base(kind, d);
                    l.mode = mode;
                    v(&mut l);
                    if kind == ConvKind::Conv {
                        l.output_padding = vec![0; d];
                    }
                    if d == 3 {
                        // Keep 3-D cases at a few hundred elements.
                        l.extent.iter_mut().for_each(|s| *s = (*s).min(6));
                        if l.kernel.iter().zip(&l.extent).any(|(k, s)| k > s) {
                            l.kernel = l.kernel.iter().map(|&k| k.min(6)).collect();
                        }
                    }
                    if l.is_valid() && !out.contains(&l) {
                        out.push(l);
                    }
                }
            }
        }
    }
    out
}

/// A seeded random valid layer in scope (small: at most a few thousand elements).
pub fn random(scope: &Scope, rng: &mut ChaCha8Rng) -> Draft {
    loop {
        let kind = scope.ops[rng.random_range(0..scope.ops.len())];
        let d = scope.dims[rng.random_range(0..scope.dims.len())];
        let modes: Vec<PadMode> = match kind {
            ConvKind::Conv => scope.modes.clone(),
            ConvKind::ConvTranspose => vec![PadMode::Zeros],
        };
        let mut l = Draft::base(kind, d);
        l.mode = modes[rng.random_range(0..modes.len())];
        let pick = |rng: &mut ChaCha8Rng, v: &[usize]| v[rng.random_range(0..v.len())];
        l.n = pick(rng, &[1, 1, 2, 3]);
        l.groups = pick(rng, &[1, 1, 2, 3]);
        l.cin_g = pick(rng, &[1, 2, 3]);
        l.cout_g = pick(rng, &[1, 2, 3]);
        let max_extent = [0, 16, 10, 6][d];
        for a in 0..d {
            l.kernel[a] = if rng.random_range(0..4) == 0 {
                rng.random_range(4..=7)
            } else {
                rng.random_range(1..=3)
            };
            l.stride[a] = pick(rng, &[1, 1, 2, 3]);
            l.dilation[a] = pick(rng, &[1, 1, 1, 2, 3]);
            let lo = pick(rng, &[0, 0, 1, 2, 3]);
            let hi = if rng.random_range(0..2) == 0 {
                lo
            } else {
                pick(rng, &[0, 1, 2, 3])
            };
            l.pads[a] = (lo, hi);
            l.extent[a] = rng.random_range(1..=max_extent);
            if kind == ConvKind::ConvTranspose && rng.random_range(0..3) == 0 {
                let m = l.stride[a].max(l.dilation[a]);
                l.output_padding[a] = rng.random_range(0..m);
            }
        }
        l.bias = rng.random_range(0..2) == 0;
        if l.elements() <= 3000 && l.is_valid() {
            return l;
        }
    }
}

/// A layer the frameworks refuse, made from a valid one by breaking one rule: reflect padding
/// as wide as the input, circular padding wider than it, output padding ≥ max(stride,
/// dilation), a dilated kernel larger than the padded input, or (conv_transpose) padding that
/// removes the whole output. `None` when the rule drawn does not apply to `valid`'s op and
/// scope.
pub fn invalid(valid: &Draft, scope: &Scope, rng: &mut ChaCha8Rng) -> Option<Draft> {
    let mut l = valid.clone();
    let a = rng.random_range(0..l.rank());
    match (rng.random_range(0..4), l.kind) {
        (0, ConvKind::Conv) if scope.modes.contains(&PadMode::Reflect) => {
            l.mode = PadMode::Reflect;
            l.pads[a].0 = l.extent[a];
        }
        (1, ConvKind::Conv) if scope.modes.contains(&PadMode::Circular) => {
            l.mode = PadMode::Circular;
            l.pads[a].1 = l.extent[a] + 1;
        }
        (_, ConvKind::Conv) => {
            l.kernel[a] = l.extent[a] + l.pads[a].0 + l.pads[a].1 + 1;
            l.dilation[a] = 1;
        }
        (0 | 1, ConvKind::ConvTranspose) => {
            l.output_padding[a] = l.stride[a].max(l.dilation[a]);
        }
        (_, ConvKind::ConvTranspose) => {
            let full = (l.extent[a] - 1) * l.stride[a]
                + l.dilation[a] * (l.kernel[a] - 1)
                + l.output_padding[a]
                + 1;
            l.pads[a] = (full / 2, full - full / 2);
        }
    }
    (!l.is_valid()).then_some(l)
}

/// The random-number generator of a hunt with seed `seed`.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}
