//! The Winograd correlation itself ([`super`]): the tiling of a channel-last input, per block
//! of tiles the input transform, the 36 channel products and the output transform into a band
//! of output rows, and the parallel driver over bands ([`Corr::run`]). The forward pass and
//! `∂x` run it; `∂w` reuses its tiling, input transform and block sizes.

#[cfg(target_arch = "x86_64")]
use super::avx512;
use super::copy::channels_last;
use super::fused::Direct;
use super::kernels::{input_tile, output_tile, products, Side, Tile, A, L, XI};
#[cfg(target_arch = "x86_64")]
use super::transforms512;
use super::{Isa, Variant, BLOCK_BYTES};
use crate::conv::fast::memory::zeroed;
use crate::tensor::{Scalar, TypedViews};
use rayon::prelude::*;
use std::mem::MaybeUninit;
use std::sync::Mutex;

/// A channel-last buffer from [`channels_last`] and the tiling of its planes; or, where the
/// fused input transform reads the planes themselves (`direct`), the tiling alone (`data`
/// empty).
pub(super) struct Tiled<'a, T> {
    pub(super) data: &'a [T],
    pub(super) direct: Option<Direct<'a, T>>,
    pub(super) ext: [usize; 2],
    pub(super) cp: usize,
    pub(super) tiles: [usize; 2],
    /// Positions from one tile to the next (the variant's outputs per tile).
    pub(super) step: usize,
}

impl<T: Scalar> Tiled<'_, T> {
    /// Sample, tile row and tile column of tile `t` (numbered across samples).
    pub(super) fn locate(&self, t: usize) -> (usize, usize, usize) {
        let per = self.tiles[0] * self.tiles[1];
        (t / per, (t % per) / self.tiles[1], t % self.tiles[1])
    }
    /// The `R×C` tile of lane vectors at channel `cb` of tile `t`.
    #[inline(always)]
    pub(super) fn tile<const R: usize, const C: usize>(
        &self,
        t: usize,
        cb: usize,
    ) -> Tile<T, R, C> {
        let (ni, r, c) = self.locate(t);
        let base =
            ((ni * self.ext[0] + r * self.step) * self.ext[1] + c * self.step) * self.cp + cb;
        let mut d = [[[T::zero(); L]; C]; R];
        for (i, row) in d.iter_mut().enumerate() {
            for (j, lanes) in row.iter_mut().enumerate() {
                lanes.copy_from_slice(&self.data[base + (i * self.ext[1] + j) * self.cp..][..L]);
            }
        }
        d
    }
}

/// Store a tile of lane vectors at position `ti` of `nt` in `[ξ][nt][cp]` at channel `cb`.
#[inline(always)]
pub(super) fn scatter<T: Scalar>(
    tile: &Tile<T, A, A>,
    dst: &mut [T],
    (ti, nt, cp, cb): (usize, usize, usize, usize),
) {
    for (xi, lanes) in tile.iter().flatten().enumerate() {
        dst[(xi * nt + ti) * cp + cb..][..L].copy_from_slice(lanes);
    }
}

/// Transform tiles `t0..t0+nt` of `src` into `v` (`[ξ][nt][cp]`).
#[inline(always)]
pub(super) fn transform_inputs<T: Scalar>(src: &Tiled<'_, T>, t0: usize, nt: usize, v: &mut [T]) {
    let cp = src.cp;
    for ti in 0..nt {
        for cb in (0..cp).step_by(L) {
            let vt = input_tile(&src.tile::<A, A>(t0 + ti, cb));
            scatter(&vt, v, (ti, nt, cp, cb));
        }
    }
}

/// The input transform on 512-bit vectors when `WIDE` (the AVX-512 builds) and the channels
/// fill them; `false` if it did not run.
#[inline(always)]
pub(super) fn wide_inputs<T: Scalar, const WIDE: bool>(
    src: &Tiled<'_, T>,
    range: (usize, usize),
    v: &mut [T],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if WIDE {
        // SAFETY: `WIDE` blocks run only inside functions the caller enters after `Isa::of`
        // found AVX-512 F.
        return unsafe { transforms512::inputs(src, range, v) };
    }
    let _ = (src, range, v);
    false
}

/// What the input transform reads `src` (`(n, side.total(), extent)`, through `maps`) from:
/// its planes (the fused transform, [`Direct`]: no copy) or a channel-last copy.
#[allow(clippy::type_complexity)]
pub(super) fn source<'a, T: Scalar>(
    src: &'a [T],
    n: usize,
    side: Side,
    extent: [usize; 2],
    maps: [&[Option<usize>]; 2],
    grid: ([usize; 2], [usize; 2], usize),
    isa: Isa,
) -> (Vec<T>, Option<Direct<'a, T>>) {
    match Direct::new(src, n, side, extent, maps, grid, isa) {
        Some(d) => (Vec::new(), Some(d)),
        None => (channels_last(src, n, side, extent, maps, grid.0, isa), None),
    }
}

/// One Winograd correlation of 3×3 kernels:
/// `dst[n, g·cd + d] = Σ_s corr(src_p[n, g·cs + s], k[g, s, d])`, where `src_p` is the
/// source plane read through per-axis maps, on an `out` grid.
pub(super) struct Corr<'a> {
    pub(super) variant: Variant,
    pub(super) n: usize,
    pub(super) src: Side,
    pub(super) dst: Side,
    /// Extents of a source plane.
    pub(super) extent: [usize; 2],
    /// Per axis, for each position the correlation reads, the source position (`None`: 0).
    pub(super) maps: [&'a [Option<usize>]; 2],
    pub(super) out: [usize; 2],
}

/// Tiles per block: the block's `V` and `M` within [`BLOCK_BYTES`], and at least four blocks
/// per thread when there are enough tiles.
pub(super) fn block_tiles<T>(total: usize, channels: usize) -> usize {
    let fit = BLOCK_BYTES / (XI * channels * size_of::<T>()).max(1);
    let spread = total.div_ceil(4 * rayon::current_num_threads());
    fit.min(spread).max(1)
}

/// Scratch buffers per worker thread of the current pool, kept across the tasks of one pass
/// (`for_each_init` would make, and zero, new ones for every piece rayon splits off: most of
/// the time of a pass went to clearing them).
struct Scratch<T>(Vec<Mutex<(Vec<T>, Vec<T>)>>);

impl<T> Scratch<T> {
    fn new() -> Self {
        Scratch(
            (0..=rayon::current_num_threads())
                .map(|_| Mutex::default())
                .collect(),
        )
    }

    /// Run `f` on this thread's buffers (fresh ones if they are in use or poisoned).
    fn with<R>(&self, f: impl FnOnce(&mut Vec<T>, &mut Vec<T>) -> R) -> R {
        let last = self.0.len() - 1;
        let slot = rayon::current_thread_index().map_or(last, |i| i.min(last));
        match self.0[slot].try_lock() {
            Ok(mut pair) => {
                let (a, b) = &mut *pair;
                f(a, b)
            }
            Err(_) => f(&mut Vec::new(), &mut Vec::new()),
        }
    }
}

/// The output rows `row0..` of every destination plane of one sample (a band of tile rows).
pub(super) struct Band<'a, 'b, T> {
    pub(super) planes: &'a mut [&'b mut [T]],
    pub(super) row0: usize,
}

/// The tiles `t0..t0+nt` of a correlation (in one band): input transform, products, output
/// transform into the band; `v` and `m` are scratch (reused between blocks).
#[inline(always)]
fn correlate_block<T: Scalar, const FUSED: bool, const WIDE: bool, const MO: usize>(
    c: &Corr<'_>,
    (src, u): (&Tiled<'_, T>, &[T]),
    (t0, nt): (usize, usize),
    out: &mut Band<'_, '_, T>,
    (v, m): (&mut Vec<T>, &mut Vec<T>),
) {
    let (csp, cdp) = (c.src.total_padded(), c.dst.total_padded());
    // Every entry is written before it is read: no clearing between blocks.
    v.resize(XI * nt * csp, T::zero());
    m.resize(XI * nt * cdp, T::zero());
    if !wide_inputs::<T, WIDE>(src, (t0, nt), v) {
        transform_inputs(src, t0, nt, v);
    }
    let (sp, dp) = (c.src.padded, c.dst.padded);
    for g in 0..c.src.groups {
        for xi in 0..XI {
            let args = (
                (&v[xi * nt * csp + g * sp..], csp),
                (&u[(g * XI + xi) * sp * dp..][..sp * dp], sp, dp),
                (&mut m[xi * nt * cdp + g * dp..], cdp),
            );
            #[cfg(target_arch = "x86_64")]
            if WIDE {
                let ((v, vs), (u, k, n), (m, ms)) = args;
                // SAFETY (both): `WIDE` runs only inside `correlate_block_avx512`, which the
                // caller enters after `Isa::of` found AVX-512 F.
                match T::views(v, u, m) {
                    TypedViews::F32(v, u, m) => unsafe {
                        avx512::products_f32((v, vs), (u, k, n), (m, ms), nt)
                    },
                    TypedViews::F64(v, u, m) => unsafe {
                        avx512::products_f64((v, vs), (u, k, n), (m, ms), nt)
                    },
                    TypedViews::Other => products::<T, FUSED, 3>((v, vs), (u, k, n), (m, ms), nt),
                }
                continue;
            }
            if size_of::<T>() == 4 {
                products::<T, FUSED, 6>(args.0, args.1, args.2, nt);
            } else {
                products::<T, FUSED, 3>(args.0, args.1, args.2, nt);
            }
        }
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `WIDE` runs only inside `correlate_block_avx512` (AVX-512 F, as above).
    if WIDE && MO == 4 && unsafe { transforms512::outputs(c, src, (t0, nt), m, out) } {
        return;
    }
    let mut mt = [[[T::zero(); L]; A]; A];
    for ti in 0..nt {
        for cb in (0..cdp).step_by(L) {
            for (xi, lanes) in mt.iter_mut().flatten().enumerate() {
                lanes.copy_from_slice(&m[(xi * nt + ti) * cdp + cb..][..L]);
            }
            let y = output_tile::<T, MO>(&mt);
            let (_, r, col) = src.locate(t0 + ti);
            let rows = MO.min(c.out[0] - r * MO);
            let cols = MO.min(c.out[1] - col * MO);
            let at = (r * MO - out.row0) * c.out[1] + col * MO;
            let (g, k0) = (cb / dp, cb % dp);
            for l in 0..L.min(c.dst.per.saturating_sub(k0)) {
                let plane = &mut out.planes[g * c.dst.per + k0 + l];
                for (a, ya) in y.iter().enumerate().take(rows) {
                    let row = &mut plane[at + a * c.out[1]..][..cols];
                    for (o, yv) in row.iter_mut().zip(ya) {
                        *o = yv[l];
                    }
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn correlate_block_avx2<T: Scalar, const MO: usize>(
    c: &Corr<'_>,
    src: (&Tiled<'_, T>, &[T]),
    range: (usize, usize),
    out: &mut Band<'_, '_, T>,
    scratch: (&mut Vec<T>, &mut Vec<T>),
) {
    correlate_block::<T, true, false, MO>(c, src, range, out, scratch);
}

/// The AVX2 build with AVX-512 products (`products_f32` / `_f64`, called per transform
/// point) and, where the channels fill 512-bit vectors, `transforms512`'s transforms (written
/// with intrinsics: under AVX-512 the compiler turns the portable transforms' lane moves into
/// gathers and scatters, so this build's portable fallback stays at AVX2).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn correlate_block_avx512<T: Scalar, const MO: usize>(
    c: &Corr<'_>,
    src: (&Tiled<'_, T>, &[T]),
    range: (usize, usize),
    out: &mut Band<'_, '_, T>,
    scratch: (&mut Vec<T>, &mut Vec<T>),
) {
    correlate_block::<T, true, true, MO>(c, src, range, out, scratch);
}

impl Corr<'_> {
    /// One block of tiles on the build `isa`, with `MO` outputs per tile and axis.
    #[inline(always)]
    fn block<T: Scalar, const MO: usize>(
        &self,
        isa: Isa,
        src: (&Tiled<'_, T>, &[T]),
        range: (usize, usize),
        out: &mut Band<'_, '_, T>,
        scratch: (&mut Vec<T>, &mut Vec<T>),
    ) {
        match isa {
            // SAFETY (both): `Isa::of` found the features the build enables.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe {
                correlate_block_avx512::<T, MO>(self, src, range, out, scratch)
            },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { correlate_block_avx2::<T, MO>(self, src, range, out, scratch) },
            _ => correlate_block::<T, false, false, MO>(self, src, range, out, scratch),
        }
    }

    fn tiles(&self) -> [usize; 2] {
        let m = self.variant.m();
        self.out.map(|o| o.div_ceil(m))
    }

    /// `dst` `(n, dst.total(), out)` from `src` `(n, src.total(), extent)` and `u` from
    /// [`transform_weights`].
    pub(super) fn run<T: Scalar>(&self, src: &[T], u: &[T], isa: Isa) -> Vec<T> {
        let (tiles, m) = (self.tiles(), self.variant.m());
        let ext = tiles.map(|t| t * m + A - m);
        let (xs, direct) = source(
            src,
            self.n,
            self.src,
            self.extent,
            self.maps,
            (ext, tiles, m),
            isa,
        );
        let tiled = Tiled {
            data: &xs,
            direct,
            ext,
            cp: self.src.total_padded(),
            tiles,
            step: m,
        };
        let per_sample = tiles[0] * tiles[1];
        let tb = block_tiles::<T>(
            self.n * per_sample,
            self.src.total_padded() + self.dst.total_padded(),
        );
        let cd = self.dst.total();
        let [o0, o1] = self.out;
        let len = self.n * cd * o0 * o1;
        // Every output is written by the output transform, but safe Rust needs it initialised
        // first: each task clears its own rows just before writing them (in its core's cache,
        // and on both cores) instead of one thread clearing megabytes up front.
        let mut y: Vec<T> = Vec::with_capacity(len);
        // Tasks own bands of tile rows of one sample (the rows of every output plane), so the
        // output transform writes `y` in place; within a band, blocks of `tb` tiles.
        let spread = (self.n * tiles[0]).div_ceil(4 * rayon::current_num_threads());
        let band = tb.div_ceil(tiles[1]).min(spread).max(1);
        let bands = tiles[0].div_ceil(band);
        let mut tasks = Vec::with_capacity(self.n * bands);
        for (ni, sample) in y.spare_capacity_mut()[..len]
            .chunks_mut(cd * o0 * o1)
            .enumerate()
        {
            let mut per_band: Vec<Vec<&mut [MaybeUninit<T>]>> =
                (0..bands).map(|_| Vec::new()).collect();
            for plane in sample.chunks_mut(o0 * o1) {
                for (b, rows) in plane.chunks_mut(band * m * o1).enumerate() {
                    per_band[b].push(rows);
                }
            }
            tasks.extend(per_band.into_iter().enumerate().map(|(b, p)| (ni, b, p)));
        }
        let scratch = Scratch::new();
        tasks.into_par_iter().for_each(|(ni, b, planes)| {
            let mut planes: Vec<&mut [T]> = planes.into_iter().map(zeroed).collect();
            scratch.with(|v, mb| {
                let first = ni * per_sample + b * band * tiles[1];
                let end = ni * per_sample + ((b + 1) * band).min(tiles[0]) * tiles[1];
                let mut out = Band {
                    planes: &mut planes,
                    row0: b * band * m,
                };
                for t0 in (first..end).step_by(tb) {
                    let range = (t0, tb.min(end - t0));
                    let (src, scratch) = ((&tiled, u), (&mut *v, &mut *mb));
                    match self.variant {
                        Variant::F4x3 => self.block::<T, 4>(isa, src, range, &mut out, scratch),
                        Variant::F3x4 => self.block::<T, 3>(isa, src, range, &mut out, scratch),
                    }
                }
            })
        });
        // SAFETY: the tasks cover `y`'s first `len` elements (every band of every plane of
        // every sample) and each zeroed its part (a panic in one never reaches this line).
        unsafe { y.set_len(len) };
        y
    }
}
