//! Sums of stride-1 layers of one output shape on the tiled kernels ([`TiledSum`]): the phase
//! classes of a [`polyphase`](super::super::polyphase) split. The forward pass sums every
//! output tile over the layers in registers (no output per layer, no sum pass); the gradients
//! build each sample's padded cotangent once for all the layers (their plans share its layout:
//! [`Plan::shared`]) and fold each sample's input gradients as soon as they are computed. The
//! layers' inputs are never materialised: each sample's padded planes are filled row by row
//! from the outer layer's input ([`SampleSplit::split_row`]), one pass instead of a split, a
//! zeroing and a copy.

use super::plan::{block_rows, Corr, Engine, Plan, Planes, Source};
use super::portable::Portable;
use super::scratch;
use super::written::{par_written, written_spare, Written};
#[cfg(target_arch = "x86_64")]
use super::x86;
use super::{depthwise, downcast, stride_one, upcast, Kernels};
use crate::conv::spec::Geometry;
use crate::error::{Error, Result};
use crate::tensor::{Scalar, Tensor};
use rayon::prelude::*;

/// The map from one sample of the outer layer's input to the inputs of the summed layers (the
/// polyphase split of one sample) and its adjoint.
pub(crate) trait SampleSplit: Sync {
    /// Elements of one sample of the outer input (and of its gradient).
    fn sample_len(&self) -> usize;
    /// Write row `ab` (indices along the first two lifted axes) of channel `ch` of layer
    /// `layer`'s input, from the outer sample `x`, into `row` (the row's full width).
    fn split_row<T: Scalar>(&self, layer: usize, x: &[T], ch: usize, ab: [usize; 2], row: &mut [T]);
    /// Add `parts` (per layer, the sample's input-gradient planes) onto `dst`.
    fn fold_sample<T: Scalar>(&self, parts: &[&[T]], dst: &mut [T]);
}

/// Layers of one output shape, number of samples, output channels and groups, all on the
/// tiled kernels, whose outputs are summed.
pub(crate) struct TiledSum {
    convs: Vec<Geometry>,
    plans: Vec<Plan>,
    kernels: Kernels,
}

/// Per-layer gradients of a sum: the folded input gradient, and the weight gradient of each
/// layer.
type SumGrads<T> = (Option<Vec<T>>, Option<Vec<Vec<T>>>);

/// [`SumGrads`] with the weight gradients as tensors.
type TensorGrads<T> = (Option<Vec<T>>, Option<Vec<Tensor<T>>>);

impl TiledSum {
    /// The sum of the layers `gs` when every one of them runs on the tiled kernels (stride 1,
    /// not depthwise) and there is at least one.
    pub(crate) fn of(gs: &[Geometry], kernels: Kernels) -> Option<Self> {
        let tiled = gs.iter().all(|g| stride_one(g) && !depthwise::applies(g));
        let convs: Vec<Geometry> = gs.iter().map(Geometry::as_conv).collect();
        (tiled && !gs.is_empty()).then(|| TiledSum {
            plans: Plan::shared(&convs.iter().collect::<Vec<_>>()),
            convs,
            kernels,
        })
    }

    fn check<T: Scalar>(&self, ts: &[Tensor<T>], shape: fn(&Geometry) -> Vec<usize>) -> Result<()> {
        if ts.len() != self.convs.len() {
            return Err(Error::invalid(
                "direct_simd sum",
                "one input and one weight per summed layer",
            ));
        }
        for (t, g) in ts.iter().zip(&self.convs) {
            t.expect_shape(&shape(g), "direct_simd summed layer")?;
        }
        Ok(())
    }

    /// The outer input `x` holds `n` samples of the split's length.
    fn check_input<T: Scalar, S: SampleSplit>(&self, x: &Tensor<T>, split: &S) -> Result<()> {
        if x.data().len() != self.convs[0].n * split.sample_len() {
            return Err(Error::invalid(
                "direct_simd sum",
                "the input does not hold one split sample per sample of the summed layers",
            ));
        }
        Ok(())
    }

    /// The sum of the layers' outputs on the inputs `split` makes of `x` and the weights `ws`.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the lengths differ from the number of layers or `x` from the
    /// split's samples; a shape error when a weight does not fit its layer.
    pub(crate) fn forward<T: Scalar, S: SampleSplit>(
        &self,
        x: &Tensor<T>,
        split: &S,
        ws: &[Tensor<T>],
    ) -> Result<Tensor<T>> {
        self.check_input(x, split)?;
        self.check(ws, Geometry::w_shape)?;
        let shape = self.convs[0].y_shape();
        let plans: Vec<&Plan> = self.plans.iter().collect();
        #[cfg(target_arch = "x86_64")]
        if let Some(eng) = x86::Avx2::of(self.kernels) {
            if let Some(y) = forward_on::<T, f32, S>(&eng, &plans, x, split, ws) {
                return Tensor::new(shape, y);
            }
            if let Some(y) = forward_on::<T, f64, S>(&eng, &plans, x, split, ws) {
                return Tensor::new(shape, y);
            }
        }
        let y = forward_on::<T, T, S>(&Portable, &plans, x, split, ws)
            .ok_or_else(|| Error::invalid("direct_simd sum", "element type mismatch"))?;
        Tensor::new(shape, y)
    }

    /// The input gradient of the sum (folded by `split`, with the weights `ws`) and the weight
    /// gradient of every layer (with the inputs `split` makes of `x`), from the cotangent `dy`
    /// of the sum.
    ///
    /// # Errors
    /// As [`forward`](Self::forward); a shape error when `dy` is not of the output shape.
    pub(crate) fn grads<T: Scalar, S: SampleSplit>(
        &self,
        x: Option<&Tensor<T>>,
        ws: Option<&[Tensor<T>]>,
        dy: &Tensor<T>,
        split: &S,
    ) -> Result<TensorGrads<T>> {
        if let Some(x) = x {
            self.check_input(x, split)?;
        }
        if let Some(ws) = ws {
            self.check(ws, Geometry::w_shape)?;
        }
        dy.expect_shape(&self.convs[0].y_shape(), "direct_simd summed cotangent")?;
        let (dx, dw) = self.grads_any(x, ws, dy, split)?;
        let dw = dw
            .map(|dw| {
                (dw.into_iter().zip(&self.convs))
                    .map(|(d, g)| Tensor::new(g.w_shape(), d))
                    .collect::<Result<Vec<_>>>()
            })
            .transpose()?;
        Ok((dx, dw))
    }

    fn grads_any<T: Scalar, S: SampleSplit>(
        &self,
        x: Option<&Tensor<T>>,
        ws: Option<&[Tensor<T>]>,
        dy: &Tensor<T>,
        split: &S,
    ) -> Result<SumGrads<T>> {
        let plans = &self.plans[..];
        #[cfg(target_arch = "x86_64")]
        if let Some(eng) = x86::Avx2::of(self.kernels) {
            if let Some(g) = grads_on::<T, f32, S>(&eng, plans, (x, ws, dy), split) {
                return Ok(g);
            }
            if let Some(g) = grads_on::<T, f64, S>(&eng, plans, (x, ws, dy), split) {
                return Ok(g);
            }
        }
        grads_on::<T, T, S>(&Portable, plans, (x, ws, dy), split)
            .ok_or_else(|| Error::invalid("direct_simd sum", "element type mismatch"))
    }
}

/// The data of every tensor as `U` values when `T` is `U`.
fn data_as<T: Scalar, U: Scalar>(ts: &[Tensor<T>]) -> Option<Vec<&[U]>> {
    ts.iter()
        .map(|t| downcast::<T, U>(t).map(|t| t.data()))
        .collect()
}

/// The padded planes of sample `i` of layer `c`, split from the outer input `x`.
fn split_planes<'a, U: Scalar, S: SampleSplit>(
    plans: &'a [&'a Plan],
    x: &'a [U],
    split: &'a S,
) -> impl Fn(usize, usize) -> Planes<U> + Sync + 'a {
    let len = split.sample_len();
    move |i, c| {
        let xn = &x[i * len..][..len];
        plans[c].pad_rows(|ch, ab, row| split.split_row(c, xn, ch, ab, row))
    }
}

/// [`Plan::forward_sum`] on the engine `eng` of `U` when `T` is `U`.
fn forward_on<T: Scalar, U: Scalar, S: SampleSplit>(
    eng: &impl Engine<U>,
    plans: &[&Plan],
    x: &Tensor<T>,
    split: &S,
    ws: &[Tensor<T>],
) -> Option<Vec<T>> {
    let (x, ws) = (downcast::<T, U>(x)?.data(), data_as::<T, U>(ws)?);
    let planes = split_planes(plans, x, split);
    Some(upcast(Plan::forward_sum(eng, plans, &planes, &ws)))
}

/// The input, weights and cotangent of [`Plan::grads_sum`].
type GradArgs<'a, T> = (
    Option<&'a Tensor<T>>,
    Option<&'a [Tensor<T>]>,
    &'a Tensor<T>,
);

/// [`Plan::grads_sum`] on the engine `eng` of `U` when `T` is `U`.
fn grads_on<T: Scalar, U: Scalar, S: SampleSplit>(
    eng: &impl Engine<U>,
    plans: &[Plan],
    (x, ws, dy): GradArgs<'_, T>,
    split: &S,
) -> Option<SumGrads<T>> {
    let x = x.map(downcast::<T, U>);
    let ws = ws.map(data_as::<T, U>);
    // `None` inside: the type is not `U`.
    let (x, ws) = (
        x.map(|v| v.ok_or(())).transpose().ok()?,
        ws.map(|v| v.ok_or(())).transpose().ok()?,
    );
    let dy = downcast::<T, U>(dy)?.data();
    let refs: Vec<&Plan> = plans.iter().collect();
    let planes = x.map(|x| split_planes(&refs, x.data(), split));
    let g = Plan::grads_sum(eng, plans, planes.as_ref(), ws.as_deref(), dy, split);
    Some(upcast(g))
}

impl Plan {
    /// The sum of the outputs `(n, c_out, out)` of layers of one output shape, number of
    /// samples and groups (`plans`, padded input planes `planes(sample, layer)`, weights
    /// `ws`): every output tile sums all of them in registers, with no output per layer (the
    /// classes of a polyphase split).
    pub(super) fn forward_sum<T: Scalar>(
        eng: &impl Engine<T>,
        plans: &[&Plan],
        planes: &(impl Fn(usize, usize) -> Planes<T> + Sync),
        ws: &[&[T]],
    ) -> Vec<T> {
        let lay = &plans[0].lay;
        // Every layer has `og` output channels: one block size for all.
        let rb = block_rows(lay.og);
        let (ov, nb) = (lay.out_vol(), lay.og.div_ceil(rb));
        let setups: Vec<(Corr, Vec<T>)> = (plans.iter().zip(ws))
            .map(|(p, w)| p.forward_setup(w))
            .collect();
        par_written(lay.n, lay.c_out * ov, |i, yn| {
            let xps: Vec<Planes<T>> = (0..plans.len()).map(|c| planes(i, c)).collect();
            let blocks = yn
                .par_chunks_mut(lay.og * ov)
                .enumerate()
                .flat_map(|(g, dg)| {
                    dg.par_chunks_mut(rb * ov)
                        .enumerate()
                        .map(move |(b, db)| (g, b, db))
                });
            let written = blocks.map(|(g, b, db)| {
                let srcs: Vec<Source<'_, T>> = (plans.iter().zip(&setups).zip(&xps))
                    .map(|((p, (corr, wp)), xp)| {
                        let pv = corr.plane();
                        let wblock = p.lay.cg * p.lay.k_vol() * rb;
                        Source {
                            corr,
                            src: &xp[g * p.lay.cg * pv..][..p.lay.cg * pv],
                            wb: &wp[(g * nb + b) * wblock..][..wblock],
                        }
                    })
                    .collect();
                let n = db.len();
                Written::correlated(eng, &srcs, db).1.len(n)
            });
            Written::tiling(written.sum(), yn).1
        })
    }

    /// The input gradient of the sum of the layers `plans` (from [`Plan::shared`]), folded
    /// sample by sample by `fold`, when given their weights `ws`, and the weight gradient of
    /// each layer when given their padded input planes `planes(sample, layer)`, from the
    /// cotangent `dy` of the sum. Each sample's padded cotangent is built once for all the
    /// layers; samples and layers run in parallel.
    pub(super) fn grads_sum<T: Scalar, F: SampleSplit>(
        eng: &impl Engine<T>,
        plans: &[Plan],
        planes: Option<&(impl Fn(usize, usize) -> Planes<T> + Sync)>,
        ws: Option<&[&[T]]>,
        dy: &[T],
        fold: &F,
    ) -> SumGrads<T> {
        let lay = &plans[0].lay;
        let setups: Option<Vec<(Corr, Vec<T>)>> = ws.map(|ws| {
            (plans.iter().zip(ws))
                .map(|(p, w)| p.input_grad_setup(w))
                .collect()
        });
        // Without `ws`, one dummy element per sample.
        let dx_len = if ws.is_some() {
            fold.sample_len().max(1)
        } else {
            1
        };
        let mut dx = vec![T::zero(); lay.n * dx_len];
        let zero_dw = || -> Vec<Vec<T>> {
            (plans.iter())
                .map(|p| match planes {
                    Some(_) => vec![T::zero(); p.lay.c_out * p.lay.cg * p.lay.k_vol()],
                    None => vec![],
                })
                .collect()
        };
        let dw = (dx
            .par_chunks_mut(dx_len)
            .zip(dy.par_chunks(lay.c_out * lay.out_vol())))
        .enumerate()
        .fold(zero_dw, |mut dw, (i, (dxn, dyn_))| {
            // One layout for every plan (`Plan::shared`).
            let q = plans[0].pad_cotangent(dyn_);
            let parts: Vec<Vec<T>> = (plans.par_iter().zip(dw.par_iter_mut()))
                .enumerate()
                .map(|(c, (p, dwc))| {
                    let iv = p.lay.c_in * p.lay.in_vol();
                    if let Some(planes) = planes {
                        p.weight_grad_sample(eng, &planes(i, c), &q, dwc);
                    }
                    let Some(setups) = &setups else {
                        return vec![];
                    };
                    written_spare(iv, |d| p.input_grad_sample(eng, &setups[c], &q, d))
                })
                .collect();
            if setups.is_some() {
                let refs: Vec<&[T]> = parts.iter().map(Vec::as_slice).collect();
                fold.fold_sample(&refs, dxn);
            }
            parts.into_iter().for_each(scratch::give);
            dw
        })
        .reduce(zero_dw, |mut a, b| {
            for (a, b) in a.iter_mut().zip(&b) {
                a.iter_mut().zip(b).for_each(|(a, &b)| *a = *a + b);
            }
            a
        });
        (ws.is_some().then_some(dx), planes.is_some().then_some(dw))
    }
}
