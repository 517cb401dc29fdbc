//! The plan of a stride-1 conv geometry for the tiled direct kernels: the padded planes a sample
//! is copied into, the two kernel passes over them ([`Corr`], [`WeightGeom`]) and the
//! [`Engine`] that runs them, and the passes of a layer sample by sample ([`Plan`]).

use super::scratch;
use super::written::{par_written, written_spare, Written};
use super::{round_up, KB, MAX_V, MAX_W, R};
use crate::conv::fast::Layout;
use crate::conv::spec::Geometry;
use crate::op::PadMode;
use crate::tensor::Scalar;
use rayon::prelude::*;
use std::mem::MaybeUninit;

mod pad;
mod weight;

pub(super) use pad::Planes;
pub(super) use weight::{WeightGeom, WeightTask};

/// One correlation pass: `out[r, o] = Σ_c Σ_k wb[c, k, r] · src[c, o + origin + d·k]`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Corr {
    /// Extents of one source plane (the last is the row stride).
    pub(super) src_dims: [usize; 3],
    /// Source channels.
    pub(super) channels: usize,
    pub(super) kernel: [usize; 3],
    pub(super) dilation: [usize; 3],
    pub(super) origin: [usize; 3],
    /// Extents of one (dense) output plane.
    pub(super) out: [usize; 3],
    /// Output planes per block (3 or [`R`]; see [`block_rows`]): the packed weights are
    /// `[c][k][block]`.
    pub(super) block: usize,
}

/// The rows per correlation block for `rows` output planes: 3 when blocks of 3 waste fewer
/// rows than blocks of [`R`] (the 3 input channels of a stem's `∂x`), else `R`.
pub(super) fn block_rows(rows: usize) -> usize {
    if round_up(rows, 3) < round_up(rows, R) {
        3
    } else {
        R
    }
}

impl Corr {
    pub(super) fn plane(&self) -> usize {
        self.src_dims.iter().product()
    }
    pub(super) fn out_vol(&self) -> usize {
        self.out.iter().product()
    }
    /// Offset of the source row of every (channel, k0, k1), in the order of the packed weights.
    pub(super) fn rows_at(&self) -> Vec<usize> {
        let (pv, [_, s1, s2]) = (self.plane(), self.src_dims);
        let [k0n, k1n, _] = self.kernel;
        let [d0, d1, _] = self.dilation;
        (0..self.channels)
            .flat_map(|ch| {
                (0..k0n).flat_map(move |k0| {
                    (0..k1n).map(move |k1| ch * pv + (k0 * d0 * s1 + k1 * d1) * s2)
                })
            })
            .collect()
    }
    /// Offset of the first source element of output row `(o0, o1)`.
    pub(super) fn row_base(&self, o0: usize, o1: usize) -> usize {
        let [_, s1, s2] = self.src_dims;
        ((o0 + self.origin[0]) * s1 + o1 + self.origin[1]) * s2 + self.origin[2]
    }
}

/// One source of a correlation block: its pass, its source planes and the block's packed
/// weights `[c][k][R]`. A block may sum several sources of one output extent (the phase
/// classes of a polyphase split).
pub(super) struct Source<'a, T> {
    pub(super) corr: &'a Corr,
    pub(super) src: &'a [T],
    pub(super) wb: &'a [T],
}

/// The two kernels, for one element type.
///
/// # Safety
/// [`Engine::correlate`] writes every element of `dst` (callers then treat it as initialised).
pub(super) unsafe trait Engine<T>: Sync {
    /// One correlation block: `dst` holds up to `block` whole output planes (extents `out`;
    /// both the same for every source), written (not added onto) with the sum of the
    /// correlations of the sources.
    fn correlate(&self, srcs: &[Source<'_, T>], dst: &mut [MaybeUninit<T>]);
    /// One `∂w` task: the `[C][R][K]` sums `Σ_o dy_r[o] · x_c[o + d·k]` (`C` the task's
    /// input channels).
    fn weight(&self, geo: &WeightGeom, task: &WeightTask<'_, T>) -> Vec<T>;
}

/// Pack weights for a correlation: for each group and block of `rb` rows, `[col][k][rb]`
/// (`get(g, row, col, k)`, zero beyond `rows`).
fn pack<T: Scalar>(
    groups: usize,
    (rows, rb): (usize, usize),
    cols: usize,
    kv: usize,
    get: impl Fn(usize, usize, usize, usize) -> T,
) -> Vec<T> {
    let nb = rows.div_ceil(rb);
    let mut p = vec![T::zero(); groups * nb * cols * kv * rb];
    for g in 0..groups {
        for b in 0..nb {
            for c in 0..cols {
                for k in 0..kv {
                    for r in 0..rb.min(rows - b * rb) {
                        p[(((g * nb + b) * cols + c) * kv + k) * rb + r] = get(g, b * rb + r, c, k);
                    }
                }
            }
        }
    }
    p
}

/// The plan of a conv geometry (transposes through their conv).
pub(super) struct Plan {
    pub(super) lay: Layout,
    /// Padding before, per (lifted) axis.
    lo: [usize; 3],
    /// Extents of a padded input plane (row stride widened for the width tiles).
    x_dims: [usize; 3],
    /// Extents of a padded cotangent plane (`dy` at offset `q_off`).
    q_dims: [usize; 3],
    /// `d·(K-1)` per axis.
    e: [usize; 3],
    /// Offset of `dy` in a padded cotangent plane: `e`, or more when the plan shares its
    /// cotangent planes with other layers ([`Plan::shared`]).
    q_off: [usize; 3],
    /// Zeros after the last plane of a sample (the `∂w` sweep reads past a plane's end).
    slack: usize,
    /// Zero padding (or none): `∂x` is computed on the interior only.
    zeros: bool,
}

impl Plan {
    pub(super) fn new(g: &Geometry) -> Self {
        let c = g.as_conv();
        let lay = Layout::of(&c);
        let e = [0, 1, 2].map(|a| lay.dilation[a] * (lay.kernel[a] - 1));
        Self::build(g, e, 0)
    }

    /// The plans of layers of one output shape and number of output channels (the classes of
    /// a polyphase split) that share one padded cotangent: `dy` at the largest `e` of them
    /// (each `∂x` correlation starts that much later) and one row stride for all.
    pub(super) fn shared(gs: &[&Geometry]) -> Vec<Plan> {
        let first: Vec<Plan> = gs.iter().map(|g| Plan::new(g)).collect();
        let off = [0, 1, 2].map(|a| first.iter().map(|p| p.e[a]).max().unwrap_or(0));
        let stride = (gs.iter())
            .map(|g| Self::build(g, off, 0).x_dims[2])
            .max()
            .unwrap_or(0);
        let slack = (gs.iter())
            .map(|g| Self::build(g, off, stride).slack)
            .max()
            .unwrap_or(0);
        (gs.iter())
            .map(|g| Plan {
                slack,
                ..Self::build(g, off, stride)
            })
            .collect()
    }

    /// The plan with `dy` at offset `q_off` (at least `e`) in its cotangent planes and a row
    /// stride of at least `min_stride`.
    fn build(g: &Geometry, q_off: [usize; 3], min_stride: usize) -> Self {
        let c = g.as_conv();
        let lay = Layout::of(&c);
        let d = c.rank();
        let mut lo = [0; 3];
        for (a, p) in c.pads.iter().enumerate() {
            lo[3 - d + a] = p.0;
        }
        let (v, w_tile) = (MAX_V, MAX_W);
        let e = [0, 1, 2].map(|a| lay.dilation[a] * (lay.kernel[a] - 1));
        let [o0, o1, o2] = lay.output;
        let [p0, p1, p2] = lay.padded;
        let d2 = lay.dilation[2];
        let x2 = p2
            .max(round_up(o2, w_tile) + e[2])
            .max(round_up(o2, v) + (round_up(lay.kernel[2], KB) - 1) * d2);
        // ∂x reads from origin (lo or 0) over the input or padded width, plus the taps.
        let zeros = c.padding_mode == PadMode::Zeros || c.pads.iter().all(|&p| p == (0, 0));
        let dx_read = if zeros {
            lo[2] + round_up(lay.input[2], w_tile)
        } else {
            round_up(p2, w_tile)
        };
        let q2 = (o2 + 2 * q_off[2])
            .max(q_off[2] + round_up(o2, v))
            .max(dx_read + q_off[2]);
        // One row stride for both: the `∂w` sweep runs over whole rows back to back (see
        // `WeightGeom::flat_len`), reading zeros of `dy` between them, and up to a vector past
        // the last row: into the zero rows below it when the kernel has more than one row,
        // else into room left at the end of the row.
        let tail = if e[1] == 0 { q_off[2] + o2 + v } else { 0 };
        let stride = x2.max(q2).max(tail).max(min_stride);
        // Wide rows at a multiple of 16 elements (at most a quarter longer): with the planes'
        // alignment (`Planes`) every row's `dy` and first input column start a cache line.
        let stride = if stride >= 64 {
            round_up(stride, 16)
        } else {
            stride
        };
        Plan {
            x_dims: [p0, p1, stride],
            q_dims: [o0 + 2 * q_off[0], o1 + 2 * q_off[1], stride],
            slack: stride + (round_up(lay.kernel[2], KB) + 1) * d2 + 2 * w_tile,
            lay,
            lo,
            e,
            q_off,
            zeros,
        }
    }

    fn x_plane(&self) -> usize {
        self.x_dims.iter().product()
    }
    fn q_plane(&self) -> usize {
        self.q_dims.iter().product()
    }

    /// Correlate the `groups × cols` source planes of one sample into its output (`groups ×
    /// rows` planes of `corr.out`), blocks of `corr.block` rows in parallel; `wp` from [`pack`].
    fn correlate_sample<'a, T: Scalar>(
        &self,
        eng: &impl Engine<T>,
        corr: &Corr,
        (rows, cols): (usize, usize),
        src: &[T],
        wp: &[T],
        dst: &'a mut [MaybeUninit<T>],
    ) -> (&'a mut [T], Written) {
        let rb = corr.block;
        let (pv, ov, nb) = (corr.plane(), corr.out_vol(), rows.div_ceil(rb));
        let wblock = cols * self.lay.k_vol() * rb;
        let blocks: usize = dst
            .par_chunks_mut(rows * ov)
            .enumerate()
            .map(|(g, dg)| {
                let src = &src[g * cols * pv..][..cols * pv];
                dg.par_chunks_mut(rb * ov)
                    .enumerate()
                    .map(|(b, db)| {
                        let wb = &wp[(g * nb + b) * wblock..][..wblock];
                        let n = db.len();
                        Written::correlated(eng, &[Source { corr, src, wb }], db)
                            .1
                            .len(n)
                    })
                    .sum::<usize>()
            })
            .sum();
        Written::tiling(blocks, dst)
    }

    /// The forward correlation and the packed kernel.
    pub(super) fn forward_setup<T: Scalar>(&self, w: &[T]) -> (Corr, Vec<T>) {
        let lay = &self.lay;
        let kv = lay.k_vol();
        let block = block_rows(lay.og);
        let wp = pack(lay.groups, (lay.og, block), lay.cg, kv, |g, r, c, k| {
            w[((g * lay.og + r) * lay.cg + c) * kv + k]
        });
        let corr = Corr {
            src_dims: self.x_dims,
            channels: lay.cg,
            kernel: lay.kernel,
            dilation: lay.dilation,
            origin: [0; 3],
            out: lay.output,
            block,
        };
        (corr, wp)
    }

    /// The conv's output `(n, c_out, out)`.
    pub(super) fn forward<T: Scalar>(&self, eng: &impl Engine<T>, x: &[T], w: &[T]) -> Vec<T> {
        let lay = &self.lay;
        let (iv, ov) = (lay.c_in * lay.in_vol(), lay.c_out * lay.out_vol());
        let (corr, wp) = self.forward_setup(w);
        par_written(lay.n, ov, |i, yn| {
            let xp = self.pad_input(&x[i * iv..][..iv]);
            self.correlate_sample(eng, &corr, (lay.og, lay.cg), &xp, &wp, yn)
                .1
        })
    }

    /// The `∂x` correlation and the packed flipped kernel.
    pub(super) fn input_grad_setup<T: Scalar>(&self, w: &[T]) -> (Corr, Vec<T>) {
        let lay = &self.lay;
        let kv = lay.k_vol();
        let block = block_rows(lay.cg);
        let wq = pack(lay.groups, (lay.cg, block), lay.og, kv, |g, r, c, k| {
            w[((g * lay.og + c) * lay.cg + r) * kv + (kv - 1 - k)]
        });
        let (origin, out) = if self.zeros {
            (self.lo, lay.input)
        } else {
            ([0; 3], lay.padded)
        };
        // `dy` sits `q_off - e` further into the cotangent planes than the full correlation
        // needs.
        let origin = [0, 1, 2].map(|a| origin[a] + self.q_off[a] - self.e[a]);
        let corr = Corr {
            src_dims: self.q_dims,
            channels: lay.og,
            kernel: lay.kernel,
            dilation: lay.dilation,
            origin,
            out,
            block,
        };
        (corr, wq)
    }

    /// The input gradient of one sample into `dxn` from its padded cotangent `q`.
    pub(super) fn input_grad_sample<T: Scalar>(
        &self,
        eng: &impl Engine<T>,
        (corr, wq): &(Corr, Vec<T>),
        q: &[T],
        dxn: &mut [MaybeUninit<T>],
    ) -> Written {
        let lay = &self.lay;
        if self.zeros {
            return self
                .correlate_sample(eng, corr, (lay.cg, lay.og), q, wq, dxn)
                .1;
        }
        let ov = corr.out_vol();
        let full = written_spare(lay.c_in * ov, |spare| {
            (self.correlate_sample(eng, corr, (lay.cg, lay.og), q, wq, spare)).1
        });
        let (dxn, done) = Written::zeroed(dxn);
        for (d, f) in dxn.chunks_mut(lay.in_vol()).zip(full.chunks(ov)) {
            self.fold_plane(f, d);
        }
        scratch::give(full);
        done
    }

    /// The conv's input gradient `(n, c_in, in)`.
    pub(super) fn input_grad<T: Scalar>(&self, eng: &impl Engine<T>, dy: &[T], w: &[T]) -> Vec<T> {
        let lay = &self.lay;
        let setup = self.input_grad_setup(w);
        let ov = lay.c_out * lay.out_vol();
        par_written(lay.n, lay.c_in * lay.in_vol(), |i, dxn| {
            let q = self.pad_cotangent(&dy[i * ov..][..ov]);
            self.input_grad_sample(eng, &setup, &q, dxn)
        })
    }

    /// The conv's weight gradient `(c_out, cg, k)` and, with `w`, its input gradient, sample
    /// by sample (each sample's padded planes are built once and stay in cache).
    pub(super) fn grads<T: Scalar>(
        &self,
        eng: &impl Engine<T>,
        x: &[T],
        dy: &[T],
        w: Option<&[T]>,
    ) -> (Option<Vec<T>>, Vec<T>) {
        let lay = &self.lay;
        let (iv, ov) = (lay.c_in * lay.in_vol(), lay.c_out * lay.out_vol());
        let wlen = lay.c_out * lay.cg * lay.k_vol();
        let setup = w.map(|w| self.input_grad_setup(w));
        // Without `w`, one dummy element per sample, never written.
        let dx_chunk = if w.is_some() { iv } else { 1 };
        let mut dx = Vec::with_capacity(lay.n * dx_chunk);
        let (dw, written) = dx.spare_capacity_mut()[..lay.n * dx_chunk]
            .par_chunks_mut(dx_chunk)
            .zip(x.par_chunks(iv).zip(dy.par_chunks(ov)))
            .fold(
                || (vec![T::zero(); wlen], 0),
                |(mut dw, mut written), (dxn, (xn, dyn_))| {
                    let q = self.pad_cotangent(dyn_);
                    if let Some(setup) = &setup {
                        let _token: Written = self.input_grad_sample(eng, setup, &q, dxn);
                        written += 1;
                    }
                    self.weight_grad_sample(eng, &self.pad_input(xn), &q, &mut dw);
                    (dw, written)
                },
            )
            .reduce(
                || (vec![T::zero(); wlen], 0),
                |(mut a, na), (b, nb)| {
                    a.iter_mut().zip(&b).for_each(|(a, &b)| *a = *a + b);
                    (a, na + nb)
                },
            );
        let dx = setup.is_some().then(|| {
            // Every sample's chunk handed out once, each written (a `Written` counted).
            assert_eq!(written, lay.n, "every sample's input gradient written");
            // SAFETY: the `n` chunks of `dx_chunk` elements (all of them, asserted) were
            // written in full.
            unsafe { dx.set_len(lay.n * dx_chunk) };
            dx
        });
        (dx, dw)
    }
}
