//! The direct path for depthwise layers (one input channel per group, e.g. ConvNeXt's 7×7):
//! plane by plane, with no channel sum to tile over, so the register tile runs over output rows
//! and columns of one plane instead (the kernels in `depthwise_kernels.rs`).
//!
//! It runs convolutions (not transposes) at stride 1 whose groups have one input channel
//! (`C_out = m·C_in`, channel multiplier `m`), any dilation, every padding mode:
//!
//! - forward, per `(n, o)`: `y[n, o] = corr(x_p[n, o/m], w[o])` over the padded input plane;
//! - `∂x`, per `(n, c)`: the cotangent of the padded input is the full correlation of the
//!   cotangent planes `dy[n, c·m + j]`, zero-padded by `d·(K−1)`, with the flipped kernels,
//!   summed over `j`; with zero padding only the interior is computed (straight into `∂x`),
//!   else the whole padded plane is folded back through the padding maps (the adjoint of the
//!   gather that built `x_p`);
//! - `∂w`, per `o`: `∂w[o, k] = Σ_n Σ_i dy[n, o, i] · x_p[n, o/m, i + d·k]`.
//!
//! Planes run in parallel (rayon); a pass builds its padded planes in a per-task buffer a few
//! tens of KB long (they stay in L1/L2), and asks for the next plane's input while it
//! correlates the current one. On 2-D layers under zero padding the row-sharing kernels read
//! the input plane (forward) and the cotangent plane (`∂x`, channel multiplier 1) in place
//! instead, with the padding on the fly (`in_place.rs`): no copy at all. Output planes are
//! cleared by the task that writes them, or not at all where a kernel writes the whole plane
//! (the 2-D forward pass and `∂x`; `planes.rs`). Checked against the
//! loop witness by `conv::fast::tests::depthwise` (the detected, AVX2-only and portable
//! kernels, f32 and f64, and through `Algorithm::Auto`).

mod in_place;
mod planes;

#[cfg(target_arch = "x86_64")]
use super::depthwise_kernels::Avx2Dw;
use super::depthwise_kernels::{Corr2, DwEngine, Out, Portable, Red2, DY_ROWS_AROUND, MAX_KB};
use super::direct_simd::{downcast, upcast, with_engine, Kernels};
use super::Layout;
use crate::conv::driver::ConvCore;
use crate::conv::spec::{ConvKind, Geometry};
use crate::error::Result;
use crate::op::PadMode;
use crate::tensor::{Scalar, Tensor};
use in_place::InPlace;
use planes::{par_planes, prefetch};
use rayon::prelude::*;

/// Whether this path runs `g`: a convolution at stride 1 with one input channel per group.
pub(crate) fn applies(g: &Geometry) -> bool {
    g.kind == ConvKind::Conv
        && g.groups == g.c_in
        && g.c_in > 0
        && g.c_out.is_multiple_of(g.groups)
        && g.stride.iter().all(|&s| s == 1)
        && [g.x_shape(), g.w_shape(), g.y_shape()]
            .iter()
            .all(|s| !s.contains(&0))
}

fn round_up(v: usize, m: usize) -> usize {
    v.div_ceil(m) * m
}

/// Make `buf` a zero buffer of `len` unless it already has that length (then the caller's
/// writes land on the same positions as last time and the rest is still zero).
fn fresh<T: Scalar>(buf: &mut Vec<T>, len: usize) {
    if buf.len() != len {
        buf.clear();
        buf.resize(len, T::zero());
    }
}

/// A 3-D buffer: extents, the last the row stride.
#[derive(Clone, Copy, Debug)]
struct Dims([usize; 3]);

impl Dims {
    fn len(&self) -> usize {
        self.0.iter().product()
    }
    fn at(&self, a: usize, b: usize) -> usize {
        (a * self.0[1] + b) * self.0[2]
    }
}

/// The buffers and passes of one geometry.
struct Plan {
    lay: Layout,
    lo: [usize; 3],
    /// `d·(K − 1)` per axis.
    e: [usize; 3],
    zeros: bool,
    /// Padded input plane (read by the forward pass and `∂w`).
    xp: Dims,
    /// Forward output plane (rows and columns rounded to the tile).
    yp: Dims,
    /// `dy` zero-padded by `e` (read by `∂x`).
    q: Dims,
    /// `∂x` output: the interior (zero padding) or the whole padded plane.
    dxp: Dims,
    /// Where `∂x`'s output starts in padded coordinates (`lo` or 0).
    dx_origin: [usize; 3],
    /// `dy` with rows rounded to the lanes and `DY_ROWS_AROUND` zero rows above and below
    /// (read by `∂w`).
    dq: Dims,
    /// The forward pass reading each input plane in place (2-D layers, zero padding).
    in_place: Option<InPlace>,
    /// `∂x` reading each cotangent plane in place (likewise, padding within the reach).
    grad_in_place: Option<InPlace>,
}

impl Plan {
    fn new<T, E: DwEngine<T>>(g: &Geometry, eng: &E) -> Self {
        let lay = Layout::of(g);
        let d = g.rank();
        let mut lo = [0; 3];
        for (a, p) in g.pads.iter().enumerate() {
            lo[3 - d + a] = p.0;
        }
        let e = [0, 1, 2].map(|a| lay.dilation[a] * (lay.kernel[a] - 1));
        let zeros = g.padding_mode == PadMode::Zeros || g.pads.iter().all(|&p| p == (0, 0));
        let (tr, tc) = eng.tile(lay.output[1], lay.output[2], lay.kernel[1], lay.dilation[1]);
        let lanes = eng.lanes();
        let [o0, o1, o2] = lay.output;
        let [p0, p1, p2] = lay.padded;
        let d2 = lay.dilation[2];
        let yp = Dims([o0, round_up(o1, tr), round_up(o2, tc)]);
        let xp = Dims([
            p0,
            p1.max(yp.0[1] + e[1]),
            p2.max(yp.0[2] + e[2])
                .max(round_up(o2, lanes) + d2 * (round_up(lay.kernel[2], MAX_KB) - 1)),
        ]);
        let (dx_ext, dx_origin) = if zeros {
            (lay.input, lo)
        } else {
            (lay.padded, [0; 3])
        };
        let dxp = Dims([dx_ext[0], round_up(dx_ext[1], tr), round_up(dx_ext[2], tc)]);
        let q = Dims([
            o0 + 2 * e[0],
            (o1 + 2 * e[1]).max(dx_origin[1] + dxp.0[1] + e[1]),
            (o2 + 2 * e[2]).max(dx_origin[2] + dxp.0[2] + e[2]),
        ]);
        let dq = Dims([o0, o1 + 2 * DY_ROWS_AROUND, round_up(o2, lanes)]);
        let in_place = InPlace::new(&lay, lo, zeros);
        let grad_in_place = InPlace::for_grad(&lay, lo, zeros);
        Plan {
            lay,
            lo,
            e,
            zeros,
            xp,
            yp,
            q,
            dxp,
            dx_origin,
            dq,
            in_place,
            grad_in_place,
        }
    }

    /// The padded input plane of one input plane `x` (every padding mode, through the maps).
    /// A buffer of the right length is refilled in place: every call writes the same
    /// positions, and the rest (zero padding, the room for the tiles) stays zero.
    fn pad_input<T: Scalar>(&self, x: &[T], buf: &mut Vec<T>) {
        let lay = &self.lay;
        fresh(buf, self.xp.len());
        let [_, i1, i2] = lay.input;
        let lo2 = self.lo[2];
        for (p0, s0) in lay.maps[0].iter().enumerate() {
            for (p1, s1) in lay.maps[1].iter().enumerate() {
                let (Some(s0), Some(s1)) = (s0, s1) else {
                    continue;
                };
                let row = &mut buf[self.xp.at(p0, p1)..][..lay.padded[2]];
                let srow = &x[(s0 * i1 + s1) * i2..][..i2];
                lay.pad_row(row, srow, lo2, self.zeros);
            }
        }
    }

    /// One output plane `y` into a buffer of extents `dims` at offset `at` (zeros elsewhere
    /// are left as they are: the caller clears the buffer).
    fn embed<T: Scalar>(&self, y: &[T], buf: &mut [T], dims: Dims, at: [usize; 3]) {
        let [_, o1, o2] = self.lay.output;
        for (r, row) in y.chunks(o2).enumerate() {
            let (a, b) = (r / o1, r % o1);
            buf[dims.at(a + at[0], b + at[1]) + at[2]..][..o2].copy_from_slice(row);
        }
    }

    /// One plane kernel's pass from a buffer of extents `sd` onto one of `od`.
    fn corr2(&self, sd: Dims, od: Dims) -> Corr2 {
        let lay = &self.lay;
        Corr2 {
            src_stride: sd.0[2],
            out_stride: od.0[2],
            rows: od.0[1],
            cols: od.0[2],
            kernel: [lay.kernel[1], lay.kernel[2]],
            dilation: [lay.dilation[1], lay.dilation[2]],
        }
    }

    /// `out += corr(src, w)` over `out_ext` depth slices of `out` (extents `od`), reading `src`
    /// (extents `sd`) from `origin`.
    fn correlate<T: Scalar, E: DwEngine<T>>(
        &self,
        eng: &E,
        (src, sd): (&[T], Dims),
        origin: [usize; 3],
        w: &[T],
        (out, od): (&mut [T], Dims),
    ) {
        let lay = &self.lay;
        let [k0, k1, k2] = lay.kernel;
        let c = self.corr2(sd, od);
        for i0 in 0..od.0[0] {
            let dst = &mut out[od.at(i0, 0)..][..od.0[1] * od.0[2]];
            for a in 0..k0 {
                let s = &src[sd.at(i0 + origin[0] + lay.dilation[0] * a, origin[1]) + origin[2]..];
                eng.corr(&c, s, &w[a * k1 * k2..][..k1 * k2], dst);
            }
        }
    }

    fn forward<T: Scalar, E: DwEngine<T>>(&self, eng: &E, x: &[T], w: &[T]) -> Vec<T> {
        let lay = &self.lay;
        let (iv, ov, kv, m) = (lay.in_vol(), lay.out_vol(), lay.k_vol(), lay.og);
        let [_, o1, o2] = lay.output;
        par_planes(
            lay.n * lay.c_out,
            ov,
            || (Vec::new(), Vec::new()),
            |(xp, yp), plane, dst| {
                let (n, o) = (plane / lay.c_out, plane % lay.c_out);
                let xs = &x[(n * lay.c_in + o / m) * iv..][..iv];
                let next = plane + 1;
                if next < lay.n * lay.c_out && (next % lay.c_out).is_multiple_of(m) {
                    let (n, o) = (next / lay.c_out, next % lay.c_out);
                    prefetch(&x[(n * lay.c_in + o / m) * iv..][..iv]);
                }
                let wo = &w[o * kv..][..kv];
                let c = self.corr2(self.xp, self.yp);
                let dst = match &self.in_place {
                    Some(ip) => match dst.corr_in_place((eng, ip), &c, (xs, wo)) {
                        Ok(done) => return done,
                        Err(dst) => {
                            // Tiles past the plane: into `yp`, then the plane out of it.
                            yp.clear();
                            yp.resize(self.yp.len(), T::zero());
                            if ip.run(eng, &c, (xs, wo), Out::Add(yp)) {
                                let (dst, done) = dst.zeroed();
                                for (r, row) in dst.chunks_mut(o2).enumerate() {
                                    row.copy_from_slice(&yp[self.yp.at(r / o1, r % o1)..][..o2]);
                                }
                                return done;
                            }
                            dst
                        }
                    },
                    None => dst,
                };
                self.pad_input(xs, xp);
                // One kernel slice whose tiles cover the plane exactly (2-D layers): written
                // straight into `y`, no zeros first.
                let dst = if self.yp.len() == ov && lay.kernel[0] == 1 {
                    match dst.corr(eng, &self.corr2(self.xp, self.yp), xp, wo) {
                        Ok(done) => return done,
                        Err(dst) => dst,
                    }
                } else {
                    dst
                };
                let (dst, done) = dst.zeroed();
                if self.yp.len() == ov {
                    // The tiles cover the plane exactly: straight into `y` (zeros).
                    self.correlate(eng, (xp, self.xp), [0; 3], wo, (dst, self.yp));
                    return done;
                }
                yp.clear();
                yp.resize(self.yp.len(), T::zero());
                self.correlate(eng, (xp, self.xp), [0; 3], wo, (yp, self.yp));
                for (r, row) in dst.chunks_mut(o2).enumerate() {
                    row.copy_from_slice(&yp[self.yp.at(r / o1, r % o1)..][..o2]);
                }
                done
            },
        )
    }

    fn input_grad<T: Scalar, E: DwEngine<T>>(&self, eng: &E, dy: &[T], w: &[T]) -> Vec<T> {
        let lay = &self.lay;
        let (iv, ov, kv, m) = (lay.in_vol(), lay.out_vol(), lay.k_vol(), lay.og);
        let [_, i1, i2] = lay.input;
        par_planes(
            lay.n * lay.c_in,
            iv,
            || (Vec::new(), Vec::new(), Vec::new()),
            |(q, acc, flipped), plane, mut dst| {
                let (n, c) = (plane / lay.c_in, plane % lay.c_in);
                if plane + 1 < lay.n * lay.c_in {
                    prefetch(&dy[(plane + 1) * m * ov..][..m * ov]);
                }
                // With zero padding and tiles covering the plane exactly, straight into `∂x`.
                let direct = self.zeros && self.dxp.len() == iv;
                // One cotangent plane (no channel multiplier), read in place.
                if let Some(ip) = self.grad_in_place.as_ref().filter(|_| direct && m == 1) {
                    flipped.clear();
                    flipped.extend(w[c * kv..][..kv].iter().rev());
                    let dyc = &dy[(n * lay.c_out + c) * ov..][..ov];
                    let corr = self.corr2(self.q, self.dxp);
                    match dst.corr_in_place((eng, ip), &corr, (dyc, flipped)) {
                        Ok(done) => return done,
                        Err(back) => dst = back,
                    }
                }
                let (dst, done) = dst.zeroed();
                if !direct {
                    acc.clear();
                    acc.resize(self.dxp.len(), T::zero());
                }
                for j in 0..m {
                    let o = c * m + j;
                    fresh(q, self.q.len());
                    self.embed(&dy[(n * lay.c_out + o) * ov..][..ov], q, self.q, self.e);
                    flipped.clear();
                    flipped.extend(w[o * kv..][..kv].iter().rev());
                    let out = if direct { &mut *dst } else { &mut acc[..] };
                    self.correlate(eng, (q, self.q), self.dx_origin, flipped, (out, self.dxp));
                }
                if direct {
                    return done;
                }
                if self.zeros {
                    for (r, row) in dst.chunks_mut(i2).enumerate() {
                        row.copy_from_slice(&acc[self.dxp.at(r / i1, r % i1)..][..i2]);
                    }
                } else {
                    self.fold(acc, dst);
                }
                done
            },
        )
    }

    /// The adjoint of [`Plan::pad_input`]: every entry of the padded-plane cotangent `src`
    /// added onto the input position it was read from.
    fn fold<T: Scalar>(&self, src: &[T], dst: &mut [T]) {
        let lay = &self.lay;
        let [_, i1, i2] = lay.input;
        for (a, s0) in lay.maps[0].iter().enumerate() {
            let Some(s0) = s0 else { continue };
            for (b, s1) in lay.maps[1].iter().enumerate() {
                let Some(s1) = s1 else { continue };
                let row = &src[self.dxp.at(a, b)..][..lay.padded[2]];
                let drow = &mut dst[(s0 * i1 + s1) * i2..][..i2];
                for (&v, s2) in row.iter().zip(&lay.maps[2]) {
                    if let Some(s) = s2 {
                        drow[*s] = drow[*s] + v;
                    }
                }
            }
        }
    }

    fn weight_grad<T: Scalar, E: DwEngine<T>>(&self, eng: &E, x: &[T], dy: &[T]) -> Vec<T> {
        let lay = &self.lay;
        let (iv, ov, kv, m) = (lay.in_vol(), lay.out_vol(), lay.k_vol(), lay.og);
        let [k0, k1, k2] = lay.kernel;
        let r = Red2 {
            x_stride: self.xp.0[2],
            dy_stride: self.dq.0[2],
            rows: lay.output[1],
            cols: self.dq.0[2],
            kernel: [k1, k2],
            dilation: [lay.dilation[1], lay.dilation[2]],
        };
        let mut dw = vec![T::zero(); lay.c_out * kv];
        dw.par_chunks_mut(kv).enumerate().for_each_init(
            || (Vec::new(), Vec::new()),
            |(xp, q), (o, dst)| {
                for n in 0..lay.n {
                    if n + 1 < lay.n {
                        prefetch(&x[((n + 1) * lay.c_in + o / m) * iv..][..iv]);
                        prefetch(&dy[((n + 1) * lay.c_out + o) * ov..][..ov]);
                    }
                    self.pad_input(&x[(n * lay.c_in + o / m) * iv..][..iv], xp);
                    fresh(q, self.dq.len());
                    let at = [0, DY_ROWS_AROUND, 0];
                    self.embed(&dy[(n * lay.c_out + o) * ov..][..ov], q, self.dq, at);
                    for i0 in 0..lay.output[0] {
                        for a in 0..k0 {
                            let xs = &xp[self.xp.at(i0 + lay.dilation[0] * a, 0)..];
                            let qs = &q[self.dq.at(i0, 0)..];
                            eng.reduce(&r, xs, qs, &mut dst[a * k1 * k2..][..k1 * k2]);
                        }
                    }
                }
            },
        );
        dw
    }
}

/// The depthwise kernels as a core of the driver: a conv geometry for which [`applies`] holds,
/// with the kernels to run it on.
pub(crate) struct Depthwise {
    conv: Geometry,
    kernels: Kernels,
}

impl Depthwise {
    /// For the conv geometry `c` ([`applies`] must hold).
    pub(crate) fn new(c: &Geometry, kernels: Kernels) -> Self {
        Depthwise {
            conv: c.clone(),
            kernels,
        }
    }
}

/// One pass of the plan of `g` on the engine `e` (the plan is typed by the element, which
/// the portable engine does not fix).
fn pass<T: Scalar, E: DwEngine<T>, R>(
    g: &Geometry,
    e: &E,
    run: impl FnOnce(&Plan, &E) -> R,
    _element: &Tensor<T>,
) -> R {
    run(&Plan::new::<T, E>(g, e), e)
}

impl<T: Scalar> ConvCore<T> for Depthwise {
    fn forward(&self, x: &Tensor<T>, w: &Tensor<T>) -> Result<Tensor<T>> {
        let g = &self.conv;
        with_engine!(
            self.kernels,
            Avx2Dw::of(self.kernels),
            Portable,
            (x, w),
            |eng| {
                let y = pass(g, &eng, |p, e| p.forward(e, x.data(), w.data()), x);
                Tensor::new(g.y_shape(), y)?
            }
        )
    }

    fn grad_x(&self, dy: &Tensor<T>, w: &Tensor<T>) -> Result<Tensor<T>> {
        let g = &self.conv;
        with_engine!(
            self.kernels,
            Avx2Dw::of(self.kernels),
            Portable,
            (dy, w),
            |eng| {
                let dx = pass(g, &eng, |p, e| p.input_grad(e, dy.data(), w.data()), dy);
                Tensor::new(g.x_shape(), dx)?
            }
        )
    }

    fn grad_w(&self, x: &Tensor<T>, dy: &Tensor<T>) -> Result<Tensor<T>> {
        let g = &self.conv;
        with_engine!(
            self.kernels,
            Avx2Dw::of(self.kernels),
            Portable,
            (x, dy),
            |eng| {
                let dw = pass(g, &eng, |p, e| p.weight_grad(e, x.data(), dy.data()), x);
                Tensor::new(g.w_shape(), dw)?
            }
        )
    }

    /// Both on one plan, side by side.
    fn grads(
        &self,
        x: &Tensor<T>,
        w: &Tensor<T>,
        dy: &Tensor<T>,
    ) -> Result<(Tensor<T>, Tensor<T>)> {
        let g = &self.conv;
        with_engine!(
            self.kernels,
            Avx2Dw::of(self.kernels),
            Portable,
            (x, w, dy),
            |eng| {
                let (dx, dw) = pass(
                    g,
                    &eng,
                    |p, e| {
                        rayon::join(
                            || p.input_grad(e, dy.data(), w.data()),
                            || p.weight_grad(e, x.data(), dy.data()),
                        )
                    },
                    x,
                );
                (Tensor::new(g.x_shape(), dx)?, Tensor::new(g.w_shape(), dw)?)
            }
        )
    }
}
