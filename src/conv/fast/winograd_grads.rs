//! The gradients of the Winograd path ([`super`]): `∂x` as one more Winograd correlation (the
//! flipped, channel-transposed kernel over the cotangent padded by 2), `∂w` as the adjoint of
//! the three steps, one product `V[ξ]ᵀ · (A ∂Y Aᵀ)[ξ]` per transform point summed over tiles.

#[cfg(target_arch = "x86_64")]
use super::avx512;
use super::kernels::{cotangent_tile, A, L, XI};
use super::{
    block_tiles, channels_last, plane, scatter, source, transform_inputs, transform_weights,
    wide_inputs, Corr, Isa, Side, Tiled, Variant,
};
use crate::conv::fast::gemm::{gemm, Mat, MatMut};
use crate::conv::fast::Layout;
use crate::conv::spec::Geometry;
use crate::op::PadMode;
use crate::tensor::{Scalar, TypedViews};
use rayon::prelude::*;
use std::array::from_fn;

/// `∂k(g, s, d, a, b) = (Kᵀ ∂U K)_{ab}` (`K` the variant's kernel transform): the adjoint of
/// [`transform_weights`], written through `put`.
fn untransform_weights<T: Scalar>(
    variant: Variant,
    du: &[T],
    src: Side,
    dst: Side,
    mut put: impl FnMut(usize, usize, usize, usize, usize, T),
) {
    let (km, r) = (variant.kernel_matrix(), variant.r());
    for g in 0..src.groups {
        for s in 0..src.per {
            // The 36 rows `∂U[g][ξ][s][·]`, read in step over `d` (not 36 entries a plane apart).
            let rows: [&[T]; XI] =
                from_fn(|xi| &du[((g * XI + xi) * src.padded + s) * dst.padded..][..dst.per]);
            // `d` indexes all 36 rows at once: no single iterator to take it from.
            #[allow(clippy::needless_range_loop)]
            for d in 0..dst.per {
                let at = |xi: usize| rows[xi][d].as_f64();
                // Separably: `Kᵀ ∂U` (r×6), then `· K` (r×r).
                let mut left = [[0.0f64; A]; 4];
                for (a, row) in left.iter_mut().enumerate().take(r) {
                    for (j, v) in row.iter_mut().enumerate() {
                        *v = (0..A).map(|i| km[i][a] * at(i * A + j)).sum();
                    }
                }
                for (a, row) in left.iter().enumerate().take(r) {
                    for b in 0..r {
                        let v: f64 = row.iter().zip(&km).map(|(l, kj)| l * kj[b]).sum();
                        put(g, s, d, a, b, T::of(v));
                    }
                }
            }
        }
    }
}

/// The tiles `t0..t0+nt` of the weight gradient: `du[g][ξ] += V[ξ]ᵀ · (A ∂Y Aᵀ)[ξ]`.
#[inline(always)]
fn weight_block<T: Scalar, const WIDE: bool, const MO: usize>(
    (xs, src): (&Tiled<'_, T>, Side),
    (qs, dst): (&Tiled<'_, T>, Side),
    (t0, nt): (usize, usize),
    du: &mut [T],
    (v, dm): (&mut Vec<T>, &mut Vec<T>),
) {
    let (csp, cdp) = (src.total_padded(), dst.total_padded());
    // Every entry is written before it is read: no clearing between blocks.
    v.resize(XI * nt * csp, T::zero());
    dm.resize(XI * nt * cdp, T::zero());
    if !wide_inputs::<T, WIDE>(xs, (t0, nt), v) {
        transform_inputs(xs, t0, nt, v);
    }
    for ti in 0..nt {
        for cb in (0..cdp).step_by(L) {
            let mt = cotangent_tile::<T, MO>(&qs.tile::<MO, MO>(t0 + ti, cb));
            scatter(&mt, dm, (ti, nt, cdp, cb));
        }
    }
    let (sp, dp) = (src.padded, dst.padded);
    for g in 0..src.groups {
        for xi in 0..XI {
            let (vx, qx) = (&v[xi * nt * csp + g * sp..], &dm[xi * nt * cdp + g * dp..]);
            let dux = &mut du[(g * XI + xi) * sp * dp..][..sp * dp];
            #[cfg(target_arch = "x86_64")]
            if WIDE {
                // SAFETY (both): `WIDE` runs only inside `weight_block_avx512`, which the
                // caller enters after `Isa::of` found AVX-512 F.
                match T::views(vx, qx, dux) {
                    TypedViews::F32(vx, qx, dux) => unsafe {
                        avx512::tile_sums_f32((vx, csp), (qx, cdp, nt, dp), (dux, dp), sp)
                    },
                    TypedViews::F64(vx, qx, dux) => unsafe {
                        avx512::tile_sums_f64((vx, csp), (qx, cdp, nt, dp), (dux, dp), sp)
                    },
                    TypedViews::Other => gemm(
                        Mat::strided(vx, nt, sp, csp).t(),
                        Mat::strided(qx, nt, dp, cdp),
                        MatMut::row_major(dux, sp, dp),
                        T::one(),
                    ),
                }
                continue;
            }
            gemm(
                Mat::strided(vx, nt, sp, csp).t(),
                Mat::strided(qx, nt, dp, cdp),
                MatMut::row_major(dux, sp, dp),
                T::one(),
            );
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn weight_block_avx2<T: Scalar, const MO: usize>(
    x: (&Tiled<'_, T>, Side),
    q: (&Tiled<'_, T>, Side),
    range: (usize, usize),
    du: &mut [T],
    scratch: (&mut Vec<T>, &mut Vec<T>),
) {
    weight_block::<T, false, MO>(x, q, range, du, scratch);
}

/// The AVX2 build with AVX-512 sums over tiles ([`avx512`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn weight_block_avx512<T: Scalar, const MO: usize>(
    x: (&Tiled<'_, T>, Side),
    q: (&Tiled<'_, T>, Side),
    range: (usize, usize),
    du: &mut [T],
    scratch: (&mut Vec<T>, &mut Vec<T>),
) {
    weight_block::<T, true, MO>(x, q, range, du, scratch);
}

/// One block of the weight gradient on the build `isa`, with `MO` outputs per tile and axis.
#[inline(always)]
fn weight_block_on<T: Scalar, const MO: usize>(
    isa: Isa,
    x: (&Tiled<'_, T>, Side),
    q: (&Tiled<'_, T>, Side),
    range: (usize, usize),
    du: &mut [T],
    scratch: (&mut Vec<T>, &mut Vec<T>),
) {
    match isa {
        // SAFETY (both): `Isa::of` found the features the build enables.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { weight_block_avx512::<T, MO>(x, q, range, du, scratch) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { weight_block_avx2::<T, MO>(x, q, range, du, scratch) },
        _ => weight_block::<T, false, MO>(x, q, range, du, scratch),
    }
}

/// `∂x` `(n, c_in, in)`: the correlation of `∂y` zero-padded by `r − 1` with the flipped,
/// channel-transposed kernel, on the interior (zero padding) or on the whole padded grid,
/// folded back through the padding maps.
pub(super) fn input_grad<T: Scalar>(
    g: &Geometry,
    lay: &Layout,
    variant: Variant,
    w: &[T],
    dy: &[T],
    isa: Isa,
) -> Vec<T> {
    let (cg, og) = (lay.cg, lay.og);
    let (src, dst) = (Side::new(g.groups, og), Side::new(g.groups, cg));
    let r = variant.r();
    let u = transform_weights(variant, src, dst, |gr, s, d, a, b| {
        w[(((gr * og + s) * cg + d) * r + r - 1 - a) * r + r - 1 - b]
    });
    let zeros = g.padding_mode == PadMode::Zeros || g.pads.iter().all(|&p| p == (0, 0));
    let o = plane(lay.output);
    let (out, origin) = if zeros {
        (plane(lay.input), [g.pads[0].0, g.pads[1].0])
    } else {
        (plane(lay.padded), [0, 0])
    };
    let maps: [Vec<Option<usize>>; 2] = from_fn(|a| {
        (0..out[a] + r - 1)
            .map(|p| (p + origin[a]).checked_sub(r - 1).filter(|&q| q < o[a]))
            .collect()
    });
    let corr = Corr {
        variant,
        n: g.n,
        src,
        dst,
        extent: o,
        maps: [&maps[0], &maps[1]],
        out,
    };
    let full = corr.run(dy, &u, isa);
    if zeros {
        return full;
    }
    let (iv, pv) = (lay.in_vol(), out[0] * out[1]);
    let i2 = lay.input[2];
    let mut dx = vec![T::zero(); g.n * g.c_in * iv];
    dx.par_chunks_mut(iv)
        .zip(full.par_chunks(pv))
        .for_each(|(d, f)| {
            for (a, s0) in lay.maps[1].iter().enumerate() {
                let Some(s0) = s0 else { continue };
                let drow = &mut d[s0 * i2..][..i2];
                for (&v, s1) in f[a * out[1]..][..out[1]].iter().zip(&lay.maps[2]) {
                    if let Some(s) = s1 {
                        drow[*s] = drow[*s] + v;
                    }
                }
            }
        });
    dx
}

/// `∂w` `(c_out, c_in / groups, r, r)`.
pub(super) fn weight_grad<T: Scalar>(
    g: &Geometry,
    lay: &Layout,
    variant: Variant,
    x: &[T],
    dy: &[T],
    isa: Isa,
) -> Vec<T> {
    let (cg, og, r) = (lay.cg, lay.og, variant.r());
    let (src, dst) = (Side::new(g.groups, cg), Side::new(g.groups, og));
    let o = plane(lay.output);
    let m = variant.m();
    let tiles = o.map(|v| v.div_ceil(m));
    let (xs, direct) = source(
        x,
        g.n,
        src,
        plane(lay.input),
        [&lay.maps[1], &lay.maps[2]],
        (tiles.map(|t| t * m + A - m), tiles, m),
        isa,
    );
    let ident: [Vec<Option<usize>>; 2] = from_fn(|a| (0..o[a]).map(Some).collect());
    let qs = channels_last(
        dy,
        g.n,
        dst,
        o,
        [&ident[0], &ident[1]],
        tiles.map(|t| t * m),
        isa,
    );
    let xt = Tiled {
        data: &xs,
        direct,
        ext: tiles.map(|t| t * m + A - m),
        cp: src.total_padded(),
        tiles,
        step: m,
    };
    let qt = Tiled {
        data: &qs,
        direct: None,
        ext: tiles.map(|t| t * m),
        cp: dst.total_padded(),
        tiles,
        step: m,
    };
    let total = g.n * tiles[0] * tiles[1];
    let tb = block_tiles::<T>(total, src.total_padded() + dst.total_padded());
    let du_len = g.groups * XI * src.padded * dst.padded;
    // One sum of `∂U` (and one pair of scratch buffers) per thread's share of the blocks,
    // not per piece rayon splits off: each is `36·c_in·c_out` values to clear and add.
    let blocks = total.div_ceil(tb);
    let per = blocks.div_ceil(rayon::current_num_threads().max(1));
    let du = (0..blocks.div_ceil(per))
        .into_par_iter()
        .map(|p| {
            let mut du = vec![T::zero(); du_len];
            let (mut v, mut dm) = (Vec::new(), Vec::new());
            for b in p * per..((p + 1) * per).min(blocks) {
                let range = (b * tb, tb.min(total - b * tb));
                let (x, q, scratch) = ((&xt, src), (&qt, dst), (&mut v, &mut dm));
                match variant {
                    Variant::F4x3 => weight_block_on::<T, 4>(isa, x, q, range, &mut du, scratch),
                    Variant::F3x4 => weight_block_on::<T, 3>(isa, x, q, range, &mut du, scratch),
                }
            }
            du
        })
        .reduce_with(|mut a, b| {
            a.iter_mut().zip(&b).for_each(|(a, &b)| *a = *a + b);
            a
        })
        .unwrap_or_else(|| vec![T::zero(); du_len]);
    let mut dw = vec![T::zero(); g.c_out * cg * r * r];
    untransform_weights(variant, &du, src, dst, |gr, s, d, a, b, v| {
        dw[(((gr * og + d) * cg + s) * r + a) * r + b] = v;
    });
    dw
}
