//! The plan of the polyphase split ([`Polyphase`]): the phase classes of a strided conv with
//! their inner stride-1 layers, and the split and fold of inputs and weights (the maps `S_c`,
//! `S_w,c` of the module page and their adjoints).

use super::applies;
use super::gather::Run;
use crate::conv::fast::direct_simd::SampleSplit;
use crate::conv::fast::memory::{assume_init, zeroed};
use crate::conv::fast::Layout;
use crate::conv::spec::{ConvSpec, Geometry, Padding};
use crate::error::{Error, Result};
use crate::op::PadMode;
use crate::tensor::{Scalar, Tensor};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// The phases with the same phase-kernel extents: the input of one stride-1 layer.
#[derive(Clone, Debug)]
pub(super) struct Class {
    /// Its phases `(r_0, r_1, r_2)` (lifted axes), in row-major order.
    phases: Vec<[usize; 3]>,
    /// Phase-kernel extents.
    kq: [usize; 3],
    /// Phase extents kept: the positions from `lo` that read an input entry (the others,
    /// zeros of the padding, are left to the inner layer's zero padding).
    ext: [usize; 3],
    /// First phase position kept.
    lo: [usize; 3],
    /// The inner stride-1 layer of the class (its zero padding: the positions not kept).
    pub(super) inner: ConvSpec,
}

impl Class {
    fn ext_vol(&self) -> usize {
        self.ext.iter().product()
    }
    fn k_vol(&self) -> usize {
        self.kq.iter().product()
    }
}

/// A class being collected: its phases, phase-kernel extents and full phase extents.
type Draft = (Vec<[usize; 3]>, [usize; 3], [usize; 3]);

/// The split of one layer: its phase classes (each with its inner stride-1 spec) and index
/// tables.
#[derive(Clone, Debug)]
pub(crate) struct Polyphase {
    pub(super) lay: Layout,
    rank: usize,
    /// Stride per lifted axis (= phases along it).
    s: [usize; 3],
    pub(super) classes: Vec<Class>,
    /// Per lifted axis and phase `r`: for each phase position `i`, the input position of
    /// `x_p[s·i + r]`.
    src: [Vec<Vec<Option<usize>>>; 3],
    /// Per class and phase, the [`Run`] of its kept positions along the last axis (one per
    /// plane, looked up by every row the split fills).
    runs: Vec<Vec<Run>>,
}

impl Polyphase {
    /// Plan the split of `g` (a conv or a transpose, through its conv).
    ///
    /// # Errors
    /// [`Error::Invalid`] when the split does not apply (see [`applies`]: a strided axis with
    /// dilation above 1, or no stride above 1).
    pub(crate) fn new(g: &Geometry) -> Result<Self> {
        Self::plan(g, false)
    }

    /// Plan the split of `g` into one class holding every phase, phase kernels padded with
    /// zero taps to `⌈K/s⌉` (more multiply-adds, but `c·P` channels in one layer: the shape
    /// Winograd's filterings take).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub(crate) fn merged(g: &Geometry) -> Result<Self> {
        Self::plan(g, true)
    }

    fn plan(g: &Geometry, merged: bool) -> Result<Self> {
        if !applies(g) {
            return Err(Error::invalid(
                "polyphase",
                format!(
                    "needs a stride above 1 and dilation 1 on every strided axis, got stride {:?} \
                     dilation {:?}; use another algorithm",
                    g.stride, g.dilation
                ),
            ));
        }
        let c = g.as_conv();
        let lay = Layout::of(&c);
        let rank = c.rank();
        let s = lay.stride;
        // Taps of phase r along axis a, and its extent.
        let taps = |a: usize, r: usize| lay.kernel[a].saturating_sub(r).div_ceil(s[a]);
        let extent = |a: usize, r: usize| lay.output[a] + lay.dilation[a] * (taps(a, r) - 1);
        // Long enough for the longest phase (phase 0), read up to each class's extent.
        let src: [Vec<Vec<Option<usize>>>; 3] = [0, 1, 2].map(|a| {
            (0..s[a])
                .map(|r| {
                    (0..extent(a, 0))
                        .map(|i| lay.maps[a].get(s[a] * i + r).copied().flatten())
                        .collect()
                })
                .collect()
        });
        let mut classes: Vec<Draft> = vec![];
        for r0 in 0..s[0] {
            for r1 in 0..s[1] {
                for r2 in 0..s[2] {
                    let r = [r0, r1, r2];
                    let kq = [0, 1, 2].map(|a| taps(a, if merged { 0 } else { r[a] }));
                    if (0..3).any(|a| taps(a, r[a]) == 0) {
                        continue;
                    }
                    match classes.iter_mut().find(|c| c.1 == kq) {
                        Some(c) => c.0.push(r),
                        None => classes.push((
                            vec![r],
                            kq,
                            [0, 1, 2].map(|a| extent(a, if merged { 0 } else { r[a] })),
                        )),
                    }
                }
            }
        }
        // Per class and axis, keep the phase positions from the first to the last that reads an
        // input entry; a class none of whose positions does contributes nothing.
        let classes = classes
            .into_iter()
            .filter_map(|(phases, kq, full)| {
                let mut lo = [0; 3];
                let mut ext = [0; 3];
                for a in 0..3 {
                    let read = |i: usize| phases.iter().any(|r| src[a][r[a]][i].is_some());
                    let first = (0..full[a]).find(|&i| read(i))?;
                    let last = (0..full[a]).rev().find(|&i| read(i))?;
                    (lo[a], ext[a]) = (first, last + 1 - first);
                }
                let inner = ConvSpec {
                    kind: g.kind,
                    stride: vec![1; rank],
                    padding: Padding::Explicit(
                        (3 - rank..3)
                            .map(|a| (lo[a], full[a] - lo[a] - ext[a]))
                            .collect(),
                    ),
                    dilation: (0..rank)
                        .map(|a| if c.stride[a] > 1 { 1 } else { c.dilation[a] })
                        .collect(),
                    groups: c.groups,
                    padding_mode: PadMode::Zeros,
                    output_padding: vec![],
                };
                Some(Class {
                    phases,
                    kq,
                    ext,
                    lo,
                    inner,
                })
            })
            .collect();
        let mut split = Polyphase {
            lay,
            rank,
            s,
            classes,
            src,
            runs: vec![],
        };
        split.runs = (split.classes.iter())
            .map(|k| {
                (k.phases.iter())
                    .map(|&r| Run::of(split.kept(k, r)[2]))
                    .collect()
            })
            .collect();
        Ok(split)
    }

    #[cfg(test)]
    /// Number of classes (stride-1 layers the layer is the sum of; 0 when no output reads an
    /// input entry).
    pub(crate) fn classes(&self) -> usize {
        self.classes.len()
    }

    pub(super) fn spatial(&self, v: [usize; 3]) -> Vec<usize> {
        v[3 - self.rank..].to_vec()
    }

    /// Shapes of the split of a `(n, c, *input)` tensor of the conv's input side, per class:
    /// `(n, c·P_class, *E_class)`.
    pub(crate) fn split_shapes(&self, n: usize, c: usize) -> Vec<Vec<usize>> {
        self.classes
            .iter()
            .map(|k| [vec![n, c * k.phases.len()], self.spatial(k.ext)].concat())
            .collect()
    }

    /// Shapes of the split weight per class: `(c_out, c_in/groups · P_class, *K_class)`.
    pub(crate) fn split_weight_shapes(&self) -> Vec<Vec<usize>> {
        self.classes
            .iter()
            .map(|k| {
                [
                    vec![self.lay.c_out, self.lay.cg * k.phases.len()],
                    self.spatial(k.kq),
                ]
                .concat()
            })
            .collect()
    }

    /// The index maps of the positions of phase `r` that class `k` keeps, per axis.
    fn kept(&self, k: &Class, r: [usize; 3]) -> [&[Option<usize>]; 3] {
        [0, 1, 2].map(|a| &self.src[a][r[a]][k.lo[a]..][..k.ext[a]])
    }

    pub(super) fn input_shape(&self, n: usize, c: usize) -> Vec<usize> {
        [vec![n, c], self.spatial(self.lay.input)].concat()
    }

    fn weight_shape(&self) -> Vec<usize> {
        [
            vec![self.lay.c_out, self.lay.cg],
            self.spatial(self.lay.kernel),
        ]
        .concat()
    }

    /// The split `(S_c x)_c`: `(n, c, *input)` → per class `(n, c·P_c, *E_c)`.
    ///
    /// # Errors
    /// [`Error::Shape`] when `x` is not `(n, c, *input)` of the conv's input side.
    pub(crate) fn split<T: Scalar>(&self, x: &Tensor<T>) -> Result<Vec<Tensor<T>>> {
        let (n, c) = lead(x, self.rank + 2, "polyphase split input")?;
        x.expect_shape(&self.input_shape(n, c), "polyphase split input")?;
        let iv = self.lay.in_vol();
        let [_, i1, i2] = self.lay.input;
        // Uninitialised: each task clears the planes it fills just before filling them (in its
        // core's cache) instead of one thread clearing them all up front.
        let mut outs: Vec<Vec<MaybeUninit<T>>> = (self.classes.iter())
            .map(|k| {
                let len = n * c * k.phases.len() * k.ext_vol();
                let mut v = Vec::with_capacity(len);
                v.resize_with(len, MaybeUninit::uninit);
                v
            })
            .collect();
        // Plane by plane of `x`, every class from it while it is in cache.
        let mut planes: Vec<Vec<&mut [MaybeUninit<T>]>> = (0..n * c).map(|_| vec![]).collect();
        for (k, out) in self.classes.iter().zip(&mut outs) {
            let len = (k.phases.len() * k.ext_vol()).max(1);
            for (dsts, chunk) in planes.iter_mut().zip(out.chunks_mut(len)) {
                dsts.push(chunk);
            }
        }
        (planes.into_par_iter())
            .zip(x.data().par_chunks(iv.max(1)))
            .for_each(|(dsts, xs)| {
                for (k, dst) in self.classes.iter().zip(dsts) {
                    let dst = zeroed(dst);
                    let ev = k.ext_vol();
                    let [_, e1, e2] = k.ext;
                    for (plane, &[r0, r1, r2]) in dst.chunks_mut(ev).zip(&k.phases) {
                        let [map0, map1, map2] = self.kept(k, [r0, r1, r2]);
                        let run = Run::of(map2);
                        for (a, s0) in map0.iter().enumerate() {
                            let Some(s0) = s0 else { continue };
                            for (b, s1) in map1.iter().enumerate() {
                                let Some(s1) = s1 else { continue };
                                let srow = &xs[(s0 * i1 + s1) * i2..][..i2];
                                let row = &mut plane[(a * e1 + b) * e2..][..e2];
                                run.gather(row, srow);
                                for i in run.outside(map2.len()) {
                                    if let Some(s2) = map2[i] {
                                        row[i] = srow[s2];
                                    }
                                }
                            }
                        }
                    }
                }
            });
        // The tasks cover every plane of every class (`n·c` of them, each class's planes of one
        // `x` plane in one chunk).
        (outs.into_iter().zip(self.split_shapes(n, c)))
            // SAFETY: every chunk was zeroed by its task (a panic in one never reaches here).
            .map(|(out, shape)| Tensor::new(shape, unsafe { assume_init(out) }))
            .collect()
    }

    /// The fold `Σ_c S_cᵀ u_c`, the adjoint of [`split`](Self::split): per class `(n, c·P_c,
    /// *E_c)` → `(n, c, *input)`, every phase entry added onto the input entry it was read
    /// from.
    ///
    /// # Errors
    /// [`Error::Shape`] when `u` does not hold one tensor of the split shape per class.
    pub(crate) fn fold<T: Scalar>(&self, u: &[Tensor<T>]) -> Result<Tensor<T>> {
        if u.len() != self.classes.len() || u.is_empty() {
            return Err(Error::invalid(
                "polyphase fold input",
                format!(
                    "has {} tensors, expected one per class ({})",
                    u.len(),
                    self.classes.len()
                ),
            ));
        }
        let (n, cp) = lead(&u[0], self.rank + 2, "polyphase fold input")?;
        let c = cp / self.classes[0].phases.len();
        for (t, shape) in u.iter().zip(self.split_shapes(n, c)) {
            t.expect_shape(&shape, "polyphase fold input")?;
        }
        let iv = self.lay.in_vol();
        let mut out = vec![T::zero(); n * c * iv];
        out.par_chunks_mut((c * iv).max(1))
            .enumerate()
            .for_each(|(i, dst)| {
                let parts: Vec<&[T]> = (self.classes.iter().zip(u))
                    .map(|(k, uk)| {
                        let len = c * k.phases.len() * k.ext_vol();
                        &uk.data()[i * len..][..len]
                    })
                    .collect();
                self.fold_planes(&parts, dst);
            });
        Tensor::new(self.input_shape(n, c), out)
    }

    /// The fold of one sample: `parts` holds each class's `(c·P_c, *E_c)` planes of the
    /// sample, `dst` its `(c, *input)` planes.
    fn fold_planes<T: Scalar>(&self, parts: &[&[T]], dst: &mut [T]) {
        let iv = self.lay.in_vol();
        let [_, i1, i2] = self.lay.input;
        for (ch, dst) in dst.chunks_mut(iv).enumerate() {
            for (k, uk) in self.classes.iter().zip(parts) {
                let (ev, p) = (k.ext_vol(), k.phases.len());
                let [_, e1, e2] = k.ext;
                let us = &uk[ch * p * ev..][..p * ev];
                for (plane, &[r0, r1, r2]) in us.chunks(ev).zip(&k.phases) {
                    let [map0, map1, map2] = self.kept(k, [r0, r1, r2]);
                    let run = Run::of(map2);
                    for (a, s0) in map0.iter().enumerate() {
                        let Some(s0) = s0 else { continue };
                        for (b, s1) in map1.iter().enumerate() {
                            let Some(s1) = s1 else { continue };
                            let drow = &mut dst[(s0 * i1 + s1) * i2..][..i2];
                            let row = &plane[(a * e1 + b) * e2..][..e2];
                            run.scatter_add(row, drow);
                            for i in run.outside(map2.len()) {
                                if let Some(s2) = map2[i] {
                                    drow[s2] = drow[s2] + row[i];
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Per class, for each (phase `j`, phase-kernel position `q`) in the order of the split
    /// weight: the flat tap `k = s·q + r_j` of the kernel (`None`: a zero tap, past `K`).
    fn tap_tables(&self) -> Vec<Vec<Option<usize>>> {
        let [_, k1, k2] = self.lay.kernel;
        self.classes
            .iter()
            .map(|k| {
                let [_, q1, q2] = k.kq;
                k.phases
                    .iter()
                    .flat_map(|r| {
                        (0..k.k_vol()).map(move |q| {
                            let qs = [q / (q1 * q2), q / q2 % q1, q % q2];
                            let t = [0, 1, 2].map(|a| self.s[a] * qs[a] + r[a]);
                            let inside = (0..3).all(|a| t[a] < self.lay.kernel[a]);
                            inside.then_some((t[0] * k1 + t[1]) * k2 + t[2])
                        })
                    })
                    .collect()
            })
            .collect()
    }

    /// The weight split `(S_w,c w)_c`: `(c_out, c_in/groups, *K)` → per class `(c_out,
    /// c_in/groups·P_c, *K_c)` (a permutation of the taps: every tap in exactly one place;
    /// [`merged`](Self::merged) adds zero taps).
    /// (A transpose's weight has its conv's layout.)
    ///
    /// # Errors
    /// [`Error::Shape`] when `w` has not the layer's weight shape.
    pub(crate) fn split_weight<T: Scalar>(&self, w: &Tensor<T>) -> Result<Vec<Tensor<T>>> {
        w.expect_shape(&self.weight_shape(), "polyphase weight")?;
        let kv = self.lay.k_vol();
        self.tap_tables()
            .iter()
            .zip(self.split_weight_shapes())
            .map(|(taps, shape)| {
                let mut out = Vec::with_capacity(self.lay.c_out * self.lay.cg * taps.len());
                for wk in w.data().chunks(kv) {
                    out.extend(taps.iter().map(|k| k.map_or(T::zero(), |k| wk[k])));
                }
                Tensor::new(shape, out)
            })
            .collect()
    }

    /// The weight fold `S_wᵀ (v_c)_c`, the adjoint (and inverse) of
    /// [`split_weight`](Self::split_weight): every tap read back from its phase kernel (the
    /// zero taps of [`merged`](Self::merged) dropped).
    ///
    /// # Errors
    /// [`Error::Shape`] when `v` does not hold one tensor of the split weight shape per class.
    pub(crate) fn fold_weight<T: Scalar>(&self, v: &[Tensor<T>]) -> Result<Tensor<T>> {
        let shapes = self.split_weight_shapes();
        if v.len() != shapes.len() {
            return Err(Error::invalid(
                "polyphase weight gradient",
                format!(
                    "has {} tensors, expected one per class ({})",
                    v.len(),
                    shapes.len()
                ),
            ));
        }
        for (t, shape) in v.iter().zip(&shapes) {
            t.expect_shape(shape, "polyphase weight gradient")?;
        }
        let kv = self.lay.k_vol();
        let rows = self.lay.c_out * self.lay.cg;
        let mut out = vec![T::zero(); rows * kv];
        for (taps, vk) in self.tap_tables().iter().zip(v) {
            for (dst, src) in out.chunks_mut(kv).zip(vk.data().chunks(taps.len())) {
                for (k, &val) in taps.iter().zip(src) {
                    if let Some(k) = k {
                        dst[*k] = val;
                    }
                }
            }
        }
        Tensor::new(self.weight_shape(), out)
    }
}

impl SampleSplit for Polyphase {
    fn sample_len(&self) -> usize {
        self.lay.c_in * self.lay.in_vol()
    }

    /// Row `[a, b]` of the inner channel `ch` (input channel `ch / P`, phase `ch % P`) of
    /// class `class`: the row of [`split`](Self::split), read from the sample `x`.
    fn split_row<T: Scalar>(
        &self,
        class: usize,
        x: &[T],
        ch: usize,
        [a, b]: [usize; 2],
        row: &mut [T],
    ) {
        let k = &self.classes[class];
        let p = k.phases.len();
        let [map0, map1, map2] = self.kept(k, k.phases[ch % p]);
        let (Some(s0), Some(s1)) = (map0[a], map1[b]) else {
            row.fill(T::zero());
            return;
        };
        let [_, i1, i2] = self.lay.input;
        let srow = &x[(ch / p) * self.lay.in_vol() + (s0 * i1 + s1) * i2..][..i2];
        let run = self.runs[class][ch % p];
        run.gather(row, srow);
        for i in run.outside(map2.len()) {
            row[i] = map2[i].map_or(T::zero(), |s| srow[s]);
        }
    }

    fn fold_sample<T: Scalar>(&self, parts: &[&[T]], dst: &mut [T]) {
        self.fold_planes(parts, dst);
    }
}

/// The leading `(n, c)` of a tensor of the given rank.
fn lead<T: Scalar>(t: &Tensor<T>, rank: usize, ctx: &str) -> Result<(usize, usize)> {
    if t.shape().len() != rank {
        return Err(Error::invalid(
            ctx,
            format!(
                "has rank {}, expected {rank}; pass (n, c, *spatial)",
                t.shape().len()
            ),
        ));
    }
    Ok((t.shape()[0], t.shape()[1]))
}
