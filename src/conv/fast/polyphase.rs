//! Strided layers as stride-1 layers by the polyphase identity, run on the tiled direct path
//! ([`direct_simd`](super::direct_simd)).
//!
//! Per axis with stride `s` and dilation 1, padded input `x_p` and kernel `w` of extent `K`,
//! output extent `O`: write every tap `k = s·q + r` (`r < s`), then
//!
//! ```text
//! y[o] = Σ_k w[k] · x_p[s·o + k] = Σ_{r<s} Σ_q w[s·q + r] · x_p[s·(o + q) + r]
//!      = Σ_{r<s} Σ_q w_r[q] · x_r[o + q]
//! ```
//!
//! a stride-1, VALID, zero-padded conv of the **phases** `x_r[i] = x_p[s·i + r]` (extent
//! `E = O + ⌈K/s⌉ - 1`, zero beyond `x_p`) with the **phase kernels** `w_r[q] = w[s·q + r]`
//! (extent `⌈K/s⌉`, zero beyond `K`), summed over the phases: the phases become input channels.
//! On `D` axes a phase is a tuple `r = (r_0, …)`, `P = Π s_a` phases, and input channel `c`,
//! phase `r` becomes channel `c·P + r` (row-major `r`), so the channels of a group stay
//! contiguous and `groups` is unchanged. Axes with stride 1 are carried (`P` factor 1, `E` the
//! padded extent, their dilation kept by the inner conv).
//!
//! The layer is `y = Conv₁(S x, S_w w)` with two linear maps and their adjoints, side by side:
//!
//! ```text
//! split  S:   (S x)[n, c·P + r, i] = x[n, c, map(s·i + r)]   (0 where map is None or past x_p)
//! fold   Sᵀ:  (Sᵀ u)[n, c, j]     = Σ_{(r, i): map(s·i + r) = j} u[n, c·P + r, i]
//!
//! wsplit S_w:  (S_w w)[o, c·P + r, q] = w[o, c, s·q + r]   (0 where s·q + r ≥ K)
//! wfold  S_wᵀ: (S_wᵀ v)[o, c, k]      = v[o, c·P + (k mod s), k div s]
//! ```
//!
//! where `map` is the padding's index map of [`Layout`] (every padding mode: a reflected or
//! circular position reads, and in the fold adds onto, the input entry it came from). So
//! `∂x = Sᵀ ∂x₁`, `∂w = S_wᵀ ∂w₁` with `(∂x₁, ∂w₁)` the inner layer's gradients. A transpose
//! is `Sᵀ ∘ Conv₁ᵀ`: its output (its conv's input side) is folded, its cotangent split; its
//! weight has the layout of its conv's weight, so the weight maps are the same.
//!
//! The inner stride-1 layer runs on [`direct_simd`](super::direct_simd) (AVX2/FMA kernels when
//! the CPU has them, [`Kernels`]). The phase kernels are padded to `⌈K/s⌉` taps (for 7×7 at
//! stride 2: 4×4 per phase, 64 taps for 49), which costs multiply-adds but keeps the tiled
//! kernels' register blocking.
//!
//! ```
//! use fftconv::conv::{self, fast::polyphase, Algorithm, ConvSpec, Padding};
//! use fftconv::Tensor;
//! let spec = ConvSpec::conv(&[2, 2], Padding::Explicit(vec![(3, 3), (3, 3)]), &[1, 1]);
//! let x = Tensor::<f64>::randn(&[1, 3, 16, 16], 1);
//! let w = Tensor::<f64>::randn(&[8, 3, 7, 7], 2);
//! let y = polyphase::forward(&spec, &x, &w, None, Default::default()).unwrap();
//! let y_loops = conv::forward(&spec, &x, &w, None, Algorithm::Direct).unwrap();
//! assert_eq!(y.shape(), &[1, 8, 8, 8]);
//! assert!(y.sub(&y_loops).unwrap().max_abs() < 1e-12);
//! ```

use super::direct_simd::{self, Kernels};
use super::im2col::pad_tail;
use super::Layout;
use crate::conv::spec::{ConvKind, ConvSpec, Geometry, Padding};
use crate::conv::Grads;
use crate::error::{Error, Result};
use crate::op::PadMode;
use crate::tensor::{Scalar, Tensor};
use rayon::prelude::*;

/// Whether the polyphase split applies to `g`: its conv has a stride above 1 on some axis and
/// dilation 1 on every strided axis.
pub fn applies(g: &Geometry) -> bool {
    let c = g.as_conv();
    c.stride.iter().any(|&s| s > 1)
        && c.stride.iter().zip(&c.dilation).all(|(&s, &d)| s == 1 || d == 1)
}

/// The split of one layer: its phases, extents and index tables, and the inner stride-1 spec.
#[derive(Clone, Debug)]
pub struct Polyphase {
    lay: Layout,
    rank: usize,
    /// Stride per lifted axis (= phases along it).
    s: [usize; 3],
    /// Phases `P = Π s`.
    phases: usize,
    /// Phase extents `E` per lifted axis.
    ext: [usize; 3],
    /// Phase kernel extents per lifted axis.
    kq: [usize; 3],
    /// Per lifted axis, phase `r` and phase position `i`: the input position of `x_p[s·i + r]`.
    src: [Vec<Vec<Option<usize>>>; 3],
    /// The inner stride-1 layer (same kind as the layer).
    inner: ConvSpec,
}

impl Polyphase {
    /// Plan the split of `g` (a conv or a transpose, through its conv).
    ///
    /// # Errors
    /// [`Error::Invalid`] when the split does not apply (see [`applies`]: a strided axis with
    /// dilation above 1, or no stride above 1).
    pub fn new(g: &Geometry) -> Result<Self> {
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
        let kq = [0, 1, 2].map(|a| lay.kernel[a].div_ceil(s[a]));
        let ext = [0, 1, 2].map(|a| lay.output[a] + lay.dilation[a] * (kq[a] - 1));
        let src = [0, 1, 2].map(|a| {
            (0..s[a])
                .map(|r| {
                    (0..ext[a])
                        .map(|i| lay.maps[a].get(s[a] * i + r).copied().flatten())
                        .collect()
                })
                .collect()
        });
        let inner = ConvSpec {
            kind: g.kind,
            stride: vec![1; rank],
            padding: Padding::Valid,
            dilation: (0..rank)
                .map(|a| if c.stride[a] > 1 { 1 } else { c.dilation[a] })
                .collect(),
            groups: c.groups,
            padding_mode: PadMode::Zeros,
            output_padding: vec![],
        };
        Ok(Polyphase {
            phases: s.iter().product(),
            lay,
            rank,
            s,
            ext,
            kq,
            src,
            inner,
        })
    }

    /// The inner stride-1 layer.
    pub fn inner(&self) -> &ConvSpec {
        &self.inner
    }

    /// Number of phases `P`.
    pub fn phases(&self) -> usize {
        self.phases
    }

    fn spatial(&self, v: [usize; 3]) -> Vec<usize> {
        v[3 - self.rank..].to_vec()
    }

    /// Shape of the split of a `(n, c, *input)` tensor of the conv's input side.
    pub fn split_shape(&self, n: usize, c: usize) -> Vec<usize> {
        [vec![n, c * self.phases], self.spatial(self.ext)].concat()
    }

    /// Shape of the split weight `(c_out, c_in/groups · P, *⌈K/s⌉)`.
    pub fn split_weight_shape(&self) -> Vec<usize> {
        [
            vec![self.lay.c_out, self.lay.cg * self.phases],
            self.spatial(self.kq),
        ]
        .concat()
    }

    fn input_shape(&self, n: usize, c: usize) -> Vec<usize> {
        [vec![n, c], self.spatial(self.lay.input)].concat()
    }

    fn weight_shape(&self) -> Vec<usize> {
        [
            vec![self.lay.c_out, self.lay.cg],
            self.spatial(self.lay.kernel),
        ]
        .concat()
    }

    /// The phase tuple `(r_0, r_1, r_2)` of phase channel offset `ph`.
    fn phase(&self, ph: usize) -> [usize; 3] {
        let [_, s1, s2] = self.s;
        [ph / (s1 * s2), ph / s2 % s1, ph % s2]
    }

    fn ext_vol(&self) -> usize {
        self.ext.iter().product()
    }

    /// The split `S x`: `(n, c, *input)` → `(n, c·P, *E)`.
    ///
    /// # Errors
    /// [`Error::Shape`] when `x` is not `(n, c, *input)` of the conv's input side.
    pub fn split<T: Scalar>(&self, x: &Tensor<T>) -> Result<Tensor<T>> {
        let (n, c) = lead(x, self.rank + 2, "polyphase split input")?;
        x.expect_shape(&self.input_shape(n, c), "polyphase split input")?;
        let (iv, ev, p) = (self.lay.in_vol(), self.ext_vol(), self.phases);
        let [_, i1, i2] = self.lay.input;
        let [_, e1, e2] = self.ext;
        let mut out = vec![T::zero(); n * c * p * ev];
        out.par_chunks_mut(p * ev)
            .zip(x.data().par_chunks(iv))
            .for_each(|(dst, xs)| {
                for (ph, plane) in dst.chunks_mut(ev).enumerate() {
                    let [r0, r1, r2] = self.phase(ph);
                    let map2 = &self.src[2][r2];
                    for (a, s0) in self.src[0][r0].iter().enumerate() {
                        let Some(s0) = s0 else { continue };
                        for (b, s1) in self.src[1][r1].iter().enumerate() {
                            let Some(s1) = s1 else { continue };
                            let srow = &xs[(s0 * i1 + s1) * i2..][..i2];
                            let row = &mut plane[(a * e1 + b) * e2..][..e2];
                            for (v, s2) in row.iter_mut().zip(map2) {
                                if let Some(s2) = s2 {
                                    *v = srow[*s2];
                                }
                            }
                        }
                    }
                }
            });
        Tensor::new(self.split_shape(n, c), out)
    }

    /// The fold `Sᵀ u`, the adjoint of [`split`](Self::split): `(n, c·P, *E)` → `(n, c,
    /// *input)`, every phase entry added onto the input entry it was read from.
    ///
    /// # Errors
    /// [`Error::Shape`] when `u` is not `(n, c·P, *E)`.
    pub fn fold<T: Scalar>(&self, u: &Tensor<T>) -> Result<Tensor<T>> {
        let (n, cp) = lead(u, self.rank + 2, "polyphase fold input")?;
        let c = cp / self.phases;
        u.expect_shape(&self.split_shape(n, c), "polyphase fold input")?;
        let (iv, ev, p) = (self.lay.in_vol(), self.ext_vol(), self.phases);
        let [_, i1, i2] = self.lay.input;
        let [_, e1, e2] = self.ext;
        let mut out = vec![T::zero(); n * c * iv];
        out.par_chunks_mut(iv)
            .zip(u.data().par_chunks(p * ev))
            .for_each(|(dst, us)| {
                for (ph, plane) in us.chunks(ev).enumerate() {
                    let [r0, r1, r2] = self.phase(ph);
                    let map2 = &self.src[2][r2];
                    for (a, s0) in self.src[0][r0].iter().enumerate() {
                        let Some(s0) = s0 else { continue };
                        for (b, s1) in self.src[1][r1].iter().enumerate() {
                            let Some(s1) = s1 else { continue };
                            let drow = &mut dst[(s0 * i1 + s1) * i2..][..i2];
                            let row = &plane[(a * e1 + b) * e2..][..e2];
                            for (&v, s2) in row.iter().zip(map2) {
                                if let Some(s2) = s2 {
                                    drow[*s2] = drow[*s2] + v;
                                }
                            }
                        }
                    }
                }
            });
        Tensor::new(self.input_shape(n, c), out)
    }

    /// The tap `k` of phase `ph`, phase-kernel position `q` (flat), if inside the kernel.
    fn tap(&self, ph: usize, q: usize) -> Option<usize> {
        let r = self.phase(ph);
        let [_, q1, q2] = self.kq;
        let qs = [q / (q1 * q2), q / q2 % q1, q % q2];
        let k = [0, 1, 2].map(|a| self.s[a] * qs[a] + r[a]);
        let [k0, k1, k2] = self.lay.kernel;
        (k[0] < k0 && k[1] < k1 && k[2] < k2).then(|| (k[0] * k1 + k[1]) * k2 + k[2])
    }

    /// The weight split `S_w w`: `(c_out, c_in/groups, *K)` → `(c_out, c_in/groups·P,
    /// *⌈K/s⌉)`, zero where a phase kernel runs past `K`. (A transpose's weight has its conv's
    /// layout.)
    ///
    /// # Errors
    /// [`Error::Shape`] when `w` has not the layer's weight shape.
    pub fn split_weight<T: Scalar>(&self, w: &Tensor<T>) -> Result<Tensor<T>> {
        w.expect_shape(&self.weight_shape(), "polyphase weight")?;
        let (kv, qv) = (self.lay.k_vol(), self.kq.iter().product::<usize>());
        let taps: Vec<Option<usize>> = (0..self.phases)
            .flat_map(|ph| (0..qv).map(move |q| (ph, q)))
            .map(|(ph, q)| self.tap(ph, q))
            .collect();
        let mut out = Vec::with_capacity(self.lay.c_out * self.lay.cg * taps.len());
        for wk in w.data().chunks(kv) {
            out.extend(taps.iter().map(|t| t.map_or(T::zero(), |k| wk[k])));
        }
        Tensor::new(self.split_weight_shape(), out)
    }

    /// The weight fold `S_wᵀ v`, the adjoint of [`split_weight`](Self::split_weight): every
    /// tap read back from its phase kernel (the zero-filled taps are dropped).
    ///
    /// # Errors
    /// [`Error::Shape`] when `v` has not the split weight shape.
    pub fn fold_weight<T: Scalar>(&self, v: &Tensor<T>) -> Result<Tensor<T>> {
        v.expect_shape(&self.split_weight_shape(), "polyphase weight gradient")?;
        let (kv, qv) = (self.lay.k_vol(), self.kq.iter().product::<usize>());
        let mut pos = vec![0; kv];
        for ph in 0..self.phases {
            for q in 0..qv {
                if let Some(k) = self.tap(ph, q) {
                    pos[k] = ph * qv + q;
                }
            }
        }
        let mut out = Vec::with_capacity(self.lay.c_out * self.lay.cg * kv);
        for vk in v.data().chunks(self.phases * qv) {
            out.extend(pos.iter().map(|&p| vk[p]));
        }
        Tensor::new(self.weight_shape(), out)
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

/// Add the bias `b` (one value per channel) onto `y` `(n, c, spatial)`.
fn add_bias<T: Scalar>(y: &mut Tensor<T>, b: &Tensor<T>) {
    let c = b.data().len();
    let per = y.data().len() / (y.shape()[0] * c).max(1);
    if per == 0 {
        return;
    }
    for (r, row) in y.data_mut().chunks_mut(per).enumerate() {
        let bv = b.data()[r % c];
        row.iter_mut().for_each(|v| *v = *v + bv);
    }
}

/// Forward pass of a strided layer through the split and the stride-1 tiled direct kernels.
///
/// # Errors
/// Spec and shape errors of [`ConvSpec::geometry`]; a bias not of shape `(c_out,)`;
/// [`Error::Invalid`] when the split does not apply ([`applies`]).
pub fn forward<T: Scalar>(
    spec: &ConvSpec,
    x: &Tensor<T>,
    w: &Tensor<T>,
    b: Option<&Tensor<T>>,
    kernels: Kernels,
) -> Result<Tensor<T>> {
    let g = spec.geometry(x.shape(), w.shape())?;
    if let Some(b) = b {
        b.expect_shape(&g.b_shape(), "bias b")?;
    }
    let plan = Polyphase::new(&g)?;
    let ws = plan.split_weight(w)?;
    match g.kind {
        ConvKind::Conv => direct_simd::forward_using(&plan.inner, &plan.split(x)?, &ws, b, kernels),
        ConvKind::ConvTranspose => {
            let xt = pad_tail(x, &g.as_conv().output);
            let u = direct_simd::forward_using(&plan.inner, &xt, &ws, None, kernels)?;
            let mut y = plan.fold(&u)?;
            if let Some(b) = b {
                add_bias(&mut y, b);
            }
            Ok(y)
        }
    }
}

/// Gradients of a strided layer through the split and the stride-1 tiled direct kernels.
///
/// # Errors
/// Spec and shape errors of [`ConvSpec::geometry`]; `dy` must have the output shape;
/// [`Error::Invalid`] when the split does not apply ([`applies`]).
pub fn backward<T: Scalar>(
    spec: &ConvSpec,
    x: &Tensor<T>,
    w: &Tensor<T>,
    dy: &Tensor<T>,
    with_bias: bool,
    kernels: Kernels,
) -> Result<Grads<T>> {
    let g = spec.geometry(x.shape(), w.shape())?;
    dy.expect_shape(&g.y_shape(), "upstream gradient dy")?;
    let plan = Polyphase::new(&g)?;
    let ws = plan.split_weight(w)?;
    let (dx, dw) = match g.kind {
        ConvKind::Conv => {
            let inner =
                direct_simd::backward_using(&plan.inner, &plan.split(x)?, &ws, dy, false, kernels)?;
            (plan.fold(&inner.dx)?, inner.dw)
        }
        ConvKind::ConvTranspose => {
            let xt = pad_tail(x, &g.as_conv().output);
            let dys = plan.split(dy)?;
            let inner = direct_simd::backward_using(&plan.inner, &xt, &ws, &dys, false, kernels)?;
            let dx = if xt.shape() == x.shape() {
                inner.dx
            } else {
                Tensor::from_fn(x.shape(), |idx| inner.dx.get(idx))
            };
            (dx, inner.dw)
        }
    };
    Ok(Grads {
        dx,
        dw: plan.fold_weight(&dw)?,
        db: with_bias.then(|| super::bias_grad(dy)),
    })
}
