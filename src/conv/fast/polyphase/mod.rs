//! Strided layers as stride-1 layers by the polyphase identity, run on the tiled direct path
//! ([`direct_simd`]).
//!
//! Per axis with stride `s` and dilation 1, padded input `x_p` and kernel `w` of extent `K`,
//! output extent `O`: write every tap `k = s·q + r` (`r < s`), then
//!
//! ```text
//! y[o] = Σ_k w[k] · x_p[s·o + k] = Σ_{r<s} Σ_q w[s·q + r] · x_p[s·(o + q) + r]
//!      = Σ_{r<s} Σ_q w_r[q] · x_r[o + q]
//! ```
//!
//! a sum over the **phases** `r` of stride-1, VALID, zero-padded convs of `x_r[i] = x_p[s·i +
//! r]` with the **phase kernels** `w_r[q] = w[s·q + r]`. Phase `r` has exactly `K_r = ⌈(K -
//! r)/s⌉` taps (none when `r ≥ K`) and extent `E_r = O + K_r - 1` (zero beyond `x_p`). On `D`
//! axes a phase is a tuple `r = (r_0, …)` of `P = Π s_a`; the phases with the same tap counts
//! `(K_{r_0}, …)` form a **class** and become the input channels of one stride-1 layer: input
//! channel `c`, the `j`-th phase of the class, is its channel `c·P_class + j`, so the channels of
//! a group stay contiguous and `groups` is unchanged. The layer is the sum of its classes' layers
//! (for 7×7 at stride 2: 4×4, 4×3, 3×4 and 3×3 phase kernels, 49 taps in all: no zero taps;
//! phases without taps are skipped). Axes with stride 1 are carried (one phase, `E` the padded
//! extent, their dilation kept by the inner layer). Per class and axis only the phase positions
//! from the first to the last that reads an input entry are kept; the others (zeros of the
//! padding) become the inner layer's explicit zero padding, so its planes are as wide as the
//! input's phases (64 of 67 for the stem) and its `∂x` is computed on them only.
//!
//! With `Conv₁` the inner layer, `y = Σ_class Conv₁(S_c x, S_{w,c} w)`; the two linear maps and
//! their adjoints side by side:
//!
//! ```text
//! split  S_c:   (S_c x)[n, c·P_c + j, i] = x[n, c, map(s·i + r_j)]   (0 where map is None or
//!                                                                      past x_p)
//! fold   Σ S_cᵀ: (Sᵀ u)[n, c, m] = Σ_class Σ_{(j, i): map(s·i + r_j) = m} u_c[n, c·P_c + j, i]
//!
//! wsplit S_w,c:  (S_w,c w)[o, c·P_c + j, q] = w[o, c, s·q + r_j]
//! wfold  S_wᵀ:   (S_wᵀ v)[o, c, k] = v_class(k)[o, c·P_c + j(k), k div s]   (a permutation)
//! ```
//!
//! where `map` is the padding's index map of `Layout` (every padding mode: a reflected or
//! circular position reads, and in the fold adds onto, the input entry it came from). So
//! `∂x = Σ S_cᵀ ∂x_c`, `∂w = S_wᵀ (∂w_c)_c` with `(∂x_c, ∂w_c)` the gradients of the class
//! layers. A transpose is `Σ S_cᵀ ∘ Conv₁ᵀ`: its output (its conv's input side) is folded, its
//! cotangent split; its weight has the layout of its conv's weight, so the weight maps are the
//! same.
//!
//! The class layers run on [`direct_simd`] (AVX2/FMA kernels when the CPU
//! has them); `Algorithm::DirectSimd` routes a strided layer here when the split applies.
//! `Algorithm::Winograd` runs the **merged** split instead (`Polyphase::merged`: one class,
//! every phase kernel padded with zero taps to `⌈K/s⌉`) where that one layer is one of
//! [`winograd`]'s filterings (`winograd_plan`: stride 2 with 5×5 to 8×8 kernels).
//!
//! ```
//! use fftconv::conv::{self, Algorithm, ConvSpec, Padding};
//! use fftconv::Tensor;
//! let spec = ConvSpec::conv(&[2, 2], Padding::Explicit(vec![(3, 3), (3, 3)]), &[1, 1]);
//! let x = Tensor::<f64>::randn(&[1, 3, 16, 16], 1);
//! let w = Tensor::<f64>::randn(&[8, 3, 7, 7], 2);
//! let y = conv::forward(&spec, &x, &w, None, Algorithm::DirectSimd).unwrap(); // the split
//! let y_loops = conv::forward(&spec, &x, &w, None, Algorithm::Direct).unwrap();
//! assert_eq!(y.shape(), &[1, 8, 8, 8]);
//! assert!(y.sub(&y_loops).unwrap().max_abs() < 1e-12);
//! ```

mod gather;
mod split;

pub(crate) use split::Polyphase;

use super::direct_simd::{self, Kernels, TiledSum};
use super::winograd::{self, Isa};
use crate::conv::driver::{self, ConvCore, Core};
use crate::conv::spec::{ConvSpec, Geometry};
use crate::conv::Grads;
#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::fft::try_cached_plan;
use crate::tensor::{Scalar, Tensor};
use rayon::prelude::*;
use std::sync::Arc;

/// Whether the polyphase split applies to `g`: its conv has a stride above 1 on some axis and
/// dilation 1 on every strided axis.
pub(crate) fn applies(g: &Geometry) -> bool {
    let c = g.as_conv();
    c.stride.iter().any(|&s| s > 1)
        && c.stride
            .iter()
            .zip(&c.dilation)
            .all(|(&s, &d)| s == 1 || d == 1)
}

/// The merged split of `g` ([`Polyphase::merged`]) and its one inner stride-1 geometry, when
/// the split applies to `g` and the inner layer is one Winograd's filterings compute
/// ([`winograd::variant`]: 2-D, 3×3 or 4×4 phase kernels, e.g. 5×5 to 8×8 kernels at stride 2).
pub(crate) fn winograd_plan(g: &Geometry) -> Option<(Polyphase, Geometry)> {
    let c = g.as_conv();
    if !applies(&c) || c.rank() != 2 {
        return None;
    }
    let split = Polyphase::merged(&c).ok()?;
    let [class] = split.classes.as_slice() else {
        return None;
    };
    let xs = split.split_shapes(c.n, c.c_in).pop()?;
    let ws = split.split_weight_shapes().pop()?;
    let inner = class.inner.geometry(&xs, &ws).ok()?;
    winograd::variant(&inner).map(|_| (split, inner))
}

/// The sum of the (equally shaped) class results; zeros of `shape` when there are none.
fn sum<T: Scalar>(parts: Vec<Tensor<T>>, shape: &[usize]) -> Tensor<T> {
    let mut parts = parts.into_iter();
    let Some(mut acc) = parts.next() else {
        return Tensor::zeros(shape);
    };
    for t in parts {
        acc.data_mut()
            .par_chunks_mut(1 << 14)
            .zip(t.data().par_chunks(1 << 14))
            .for_each(|(a, b)| a.iter_mut().zip(b).for_each(|(a, &b)| *a = *a + b));
    }
    acc
}

/// The plan of a split: the split, its class layers' (stride-1) geometries, and the class
/// layers on the tiled kernels when all of them are: the forward pass then sums the classes
/// tile by tile, and the gradients share each sample's padded cotangent and fold each sample
/// as it is done ([`TiledSum`]).
struct Planned {
    split: Polyphase,
    classes: Vec<Geometry>,
    tiled: Option<TiledSum>,
}

/// The key of a split's plan in the plan cache ([`try_cached_plan`]): the whole conv geometry
/// and the kernels, so a hit is the plan [`PolyphaseCore::new`] would build.
type PlanKey = (Geometry, Kernels);

/// The split as a core of the driver: the phase classes of a strided conv, each a stride-1
/// layer on the `DirectSimd` routing (the tiled kernels, or the depthwise ones when a class of
/// a depthwise layer holds one phase), classes in parallel (each also runs in parallel
/// inside).
pub(crate) struct PolyphaseCore<T: Scalar> {
    plan: Arc<Planned>,
    /// The class layers' cores; empty when the plan's `tiled` runs them.
    inner: Vec<Core<T>>,
}

impl<T: Scalar> PolyphaseCore<T> {
    /// Plan the split of the conv geometry `c` and its class layers.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the split does not apply ([`applies`]).
    ///
    /// The plan comes from the plan cache when this geometry was planned before: planning
    /// runs on the calling thread while the pool waits, twice per training step (~80 µs each
    /// on the stem, ~8 % of its two-thread wall time).
    pub(crate) fn new(c: &Geometry, kernels: Kernels) -> Result<Self> {
        let key: PlanKey = (c.clone(), kernels);
        let plan = try_cached_plan(key, || {
            let split = Polyphase::new(c)?;
            let classes = (split.classes.iter())
                .zip(split.split_shapes(c.n, c.c_in))
                .zip(split.split_weight_shapes())
                .map(|((k, xs), ws)| k.inner.geometry(&xs, &ws))
                .collect::<Result<Vec<_>>>()?;
            let tiled = TiledSum::of(&classes, kernels);
            Ok(Planned {
                split,
                classes,
                tiled,
            })
        })?;
        let inner = match plan.tiled {
            Some(_) => Vec::new(),
            None => (plan.classes.iter())
                .map(|g| direct_simd::core(g, kernels))
                .collect::<Result<_>>()?,
        };
        Ok(PolyphaseCore { plan, inner })
    }

    /// The split.
    fn split(&self) -> &Polyphase {
        &self.plan.split
    }

    /// Whether the class layers run on the tiled kernels as one [`TiledSum`].
    #[cfg(test)]
    pub(crate) fn is_tiled(&self) -> bool {
        self.plan.tiled.is_some()
    }

    /// Plan the merged split of the conv geometry `c` ([`winograd_plan`]) with its one layer
    /// on Winograd's path (the build `isa`, or the best this CPU runs if less).
    ///
    /// # Errors
    /// [`Error::Invalid`] when [`winograd_plan`] has no plan for `c`.
    pub(crate) fn winograd(c: &Geometry, isa: Isa) -> Result<Self> {
        let (split, inner) = winograd_plan(c).ok_or_else(|| {
            crate::Error::invalid(
                "polyphase",
                "the merged split of this layer is no Winograd layer; use DirectSimd",
            )
        })?;
        let core = winograd::core_on(&inner, isa)?;
        Ok(PolyphaseCore {
            plan: Arc::new(Planned {
                split,
                classes: vec![inner],
                tiled: None,
            }),
            inner: vec![core],
        })
    }

    /// The folded input gradient of [`TiledSum::grads`] as a tensor.
    fn folded(&self, dx: Option<Vec<T>>) -> Result<Tensor<T>> {
        let dx = dx.ok_or_else(|| {
            crate::Error::invalid("polyphase", "the summed classes returned no ∂x")
        })?;
        Tensor::new(self.input_shape(), dx)
    }

    fn input_shape(&self) -> Vec<usize> {
        let split = self.split();
        split.input_shape(split.lay.n, split.lay.c_in)
    }
}

impl<T: Scalar> ConvCore<T> for PolyphaseCore<T> {
    fn forward(&self, x: &Tensor<T>, w: &Tensor<T>) -> Result<Tensor<T>> {
        let lay = &self.split().lay;
        if let Some(tiled) = &self.plan.tiled {
            return tiled.forward(x, self.split(), &self.split().split_weight(w)?);
        }
        let parts = (self.inner.par_iter().zip(self.split().split(x)?))
            .zip(self.split().split_weight(w)?)
            .map(|((core, xc), wc)| core.forward(&xc, &wc))
            .collect::<Result<Vec<_>>>()?;
        let shape = [vec![lay.n, lay.c_out], self.split().spatial(lay.output)].concat();
        Ok(sum(parts, &shape))
    }

    fn grad_x(&self, dy: &Tensor<T>, w: &Tensor<T>) -> Result<Tensor<T>> {
        if let Some(tiled) = &self.plan.tiled {
            let ws = self.split().split_weight(w)?;
            let (dx, _) = tiled.grads(None, Some(&ws), dy, self.split())?;
            return self.folded(dx);
        }
        let u = (self.inner.par_iter().zip(self.split().split_weight(w)?))
            .map(|(core, wc)| core.grad_x(dy, &wc))
            .collect::<Result<Vec<_>>>()?;
        if u.is_empty() {
            return Ok(Tensor::zeros(&self.input_shape()));
        }
        self.split().fold(&u)
    }

    fn grad_w(&self, x: &Tensor<T>, dy: &Tensor<T>) -> Result<Tensor<T>> {
        if let Some(tiled) = &self.plan.tiled {
            let (_, dw) = tiled.grads(Some(x), None, dy, self.split())?;
            return self.split().fold_weight(&dw.unwrap_or_default());
        }
        let dw = (self.inner.par_iter().zip(self.split().split(x)?))
            .map(|(core, xc)| core.grad_w(&xc, dy))
            .collect::<Result<Vec<_>>>()?;
        self.split().fold_weight(&dw)
    }

    fn grads(
        &self,
        x: &Tensor<T>,
        w: &Tensor<T>,
        dy: &Tensor<T>,
    ) -> Result<(Tensor<T>, Tensor<T>)> {
        if let Some(tiled) = &self.plan.tiled {
            let ws = self.split().split_weight(w)?;
            let (dx, dw) = tiled.grads(Some(x), Some(&ws), dy, self.split())?;
            return Ok((
                self.folded(dx)?,
                self.split().fold_weight(&dw.unwrap_or_default())?,
            ));
        }
        let (dx, dw): (Vec<_>, Vec<_>) = (self.inner.par_iter().zip(self.split().split(x)?))
            .zip(self.split().split_weight(w)?)
            .map(|((core, xc), wc)| core.grads(&xc, &wc, dy))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .unzip();
        let dx = if dx.is_empty() {
            Tensor::zeros(&self.input_shape())
        } else {
            self.split().fold(&dx)?
        };
        Ok((dx, self.split().fold_weight(&dw)?))
    }

    fn forward_and_grad_w(
        &self,
        x: &Tensor<T>,
        w: &Tensor<T>,
        dy: &Tensor<T>,
    ) -> Result<(Tensor<T>, Tensor<T>)> {
        let lay = &self.split().lay;
        if let Some(tiled) = &self.plan.tiled {
            let ws = self.split().split_weight(w)?;
            let y = tiled.forward(x, self.split(), &ws)?;
            let (_, dw) = tiled.grads(Some(x), None, dy, self.split())?;
            return Ok((y, self.split().fold_weight(&dw.unwrap_or_default())?));
        }
        let (y, dw): (Vec<_>, Vec<_>) = (self.inner.par_iter().zip(self.split().split(x)?))
            .zip(self.split().split_weight(w)?)
            .map(|((core, xc), wc)| core.forward_and_grad_w(&xc, &wc, dy))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .unzip();
        let shape = [vec![lay.n, lay.c_out], self.split().spatial(lay.output)].concat();
        Ok((sum(y, &shape), self.split().fold_weight(&dw)?))
    }
}

/// Forward pass of a strided layer through the split (the `DirectSimd` path of such a layer,
/// with the given kernels).
///
/// # Errors
/// As [`crate::conv::forward`]; [`Error::Invalid`] when the split does not apply
/// ([`applies`]).
pub(crate) fn forward<T: Scalar>(
    spec: &ConvSpec,
    x: &Tensor<T>,
    w: &Tensor<T>,
    b: Option<&Tensor<T>>,
    kernels: Kernels,
) -> Result<Tensor<T>> {
    driver::forward(spec, x, w, b, |g| {
        Ok(Box::new(PolyphaseCore::new(&g.as_conv(), kernels)?) as Core<T>)
    })
}

/// Gradients of a strided layer through the split.
///
/// # Errors
/// As [`crate::conv::backward`]; [`Error::Invalid`] when the split does not apply
/// ([`applies`]).
pub(crate) fn backward<T: Scalar>(
    spec: &ConvSpec,
    x: &Tensor<T>,
    w: &Tensor<T>,
    dy: &Tensor<T>,
    with_bias: bool,
    kernels: Kernels,
) -> Result<Grads<T>> {
    driver::backward(spec, x, w, dy, with_bias, |g| {
        Ok(Box::new(PolyphaseCore::new(&g.as_conv(), kernels)?) as Core<T>)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::{ConvSpec, Padding};
    use crate::fft::PLANS_KEPT;
    use crate::op::PadMode;

    fn stem(n: usize, mode: PadMode) -> Geometry {
        let spec = ConvSpec {
            padding_mode: mode,
            ..ConvSpec::conv(&[2, 2], Padding::Explicit(vec![(3, 3), (3, 3)]), &[1, 1])
        };
        let g = spec.geometry(&[n, 3, 20, 18], &[8, 3, 7, 7]);
        g.expect("a valid stem geometry").as_conv()
    }

    fn plan(c: &Geometry, kernels: Kernels) -> Arc<Planned> {
        PolyphaseCore::<f32>::new(c, kernels)
            .expect("a split of a strided geometry")
            .plan
    }

    #[test]
    fn a_kept_plan_is_found_by_its_whole_key_only() {
        use Kernels::{Avx2Only, Portable};
        let one = plan(&stem(1, PadMode::Zeros), Portable);
        assert!(Arc::ptr_eq(&one, &plan(&stem(1, PadMode::Zeros), Portable)));
        // The element type does not enter the plan.
        let f64_core = PolyphaseCore::<f64>::new(&stem(1, PadMode::Zeros), Portable);
        assert!(f64_core.is_ok_and(|core| Arc::ptr_eq(&one, &core.plan)));
        for other in [
            plan(&stem(2, PadMode::Zeros), Portable),
            plan(&stem(1, PadMode::Zeros), Avx2Only),
            plan(&stem(1, PadMode::Reflect), Portable),
        ] {
            assert!(!Arc::ptr_eq(&one, &other));
        }
    }

    /// Past the shared cache's bound the oldest split is planned again. (Other tests may only
    /// drop more of these plans, never keep the first: its geometry is this test's own.)
    #[test]
    fn the_oldest_plan_goes_first_past_the_bound() {
        let spec = ConvSpec::conv(&[2, 2], Padding::Valid, &[1, 1]);
        let geometry = |i: usize| {
            let g = spec.geometry(&[1, 2, 9, 9 + i], &[5, 2, 3, 3]);
            g.expect("a valid geometry").as_conv()
        };
        let first = plan(&geometry(0), Kernels::Detect);
        for i in 1..=PLANS_KEPT {
            plan(&geometry(i), Kernels::Detect);
        }
        assert!(!Arc::ptr_eq(&first, &plan(&geometry(0), Kernels::Detect)));
    }
}
