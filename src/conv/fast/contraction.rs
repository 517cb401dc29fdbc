//! The channel contraction of the FFT layer: per frequency, a small complex matrix product,
//! computed on spectra stored *planar* (real parts apart from imaginary parts) and
//! *frequency-block-major*, so that everything one block of frequencies needs is contiguous
//! and reused from L1/L2.
//!
//! A [`Planar`] holds `count` spectra of `bins` bins in blocks of [`LANES`] frequencies, a
//! block being `LANES` real parts then `LANES` imaginary parts. Blocks are grouped by up to
//! [`GROUP`] consecutive ones: a group holds, for every spectrum in turn, its blocks of that
//! group (the last group padded with zeros). A kernel call thus finds the operands of a block
//! close together, and a transform writing one spectrum writes runs of `GROUP` blocks. A [`Product`] names, per group `g`,
//! a matrix product over frequencies $f$
//!
//! $$ C_{g,i,j}(f) = \sum_{k} \operatorname{op}_A(A_{g,i,k}(f))\,\operatorname{op}_B(B_{g,k,j}(f)) $$
//!
//! where each of $A, B, C$ entries is a spectrum of a [`Planar`] picked by an index map, and
//! $\operatorname{op}$ is the identity or complex conjugation ([`Conj`]). The three products of
//! a conv layer are all of this form (see [`super::fft_conv`]).
//!
//! Work is split over ranges of blocks (rayon); inside a range, blocks are taken one at a time
//! (several for products with few terms) and the whole product is computed on them in 2×2
//! tiles of entries, the accumulators in registers. On x86-64 with AVX2 and FMA the same code is compiled a second
//! time with those features and chosen at run time.
//!
//! ```
//! use fftconv::conv::fast::contraction::{contract, Conj, Planar, Product};
//! let mut a = Planar::<f64>::zeros(1, 3);
//! let mut b = Planar::<f64>::zeros(1, 3);
//! a.set(0, 1, (1.0, 2.0));
//! b.set(0, 1, (3.0, 1.0));
//! let mut c = Planar::<f64>::zeros(1, 3);
//! let p = Product { groups: 1, rows: 1, cols: 1, depth: 1, conj: Conj::B };
//! contract(&p, &mut c, |_, _, _| 0, &a, |_, _, _| 0, &b, |_, _, _| 0);
//! assert_eq!(c.get(0, 1), (5.0, 5.0)); // (1+2i)·conj(3+i)
//! ```

use crate::tensor::Scalar;
use rayon::prelude::*;

/// Frequencies per block: the accumulator of one entry is `2·LANES` values in registers. Eight:
/// an `f32` block (real and imaginary parts) is one 64-byte cache line, so the operands of one
/// block of a 16×16×16 product (2 × 256 spectra) fill 32 KB and stay in L1 while the tiles
/// sweep them (16 lanes: 1.5× slower, the operands spilled to L2; `examples/contraction_rate`).
pub const LANES: usize = 8;

/// Blocks per group (at most).
pub const GROUP: usize = 8;

/// `count` complex spectra of `bins` bins each, planar, in blocks of [`LANES`] frequencies.
#[derive(Clone, Debug, Default)]
pub struct Planar<T: Scalar> {
    data: Vec<T>,
    count: usize,
    bins: usize,
    /// Blocks per group.
    group: usize,
    /// Number of groups.
    groups: usize,
}

/// One spectrum of a [`Planar`], for writing: its part (`group · 2·LANES` values) of every
/// group.
pub struct SignalMut<'a, T> {
    parts: Vec<&'a mut [T]>,
    bins: usize,
}

impl<T: Scalar> SignalMut<'_, T> {
    /// Write the spectrum (`bins` values; the block padding is set to zero).
    ///
    /// # Panics
    /// If `spec` is shorter than `bins`.
    pub fn store(&mut self, spec: &[num_complex::Complex<T>]) {
        let spec = &spec[..self.bins];
        #[cfg(target_arch = "x86_64")]
        let split_f32 = is_f32::<T>() && std::is_x86_feature_detected!("avx2");
        let mut chunks = spec.chunks(LANES);
        for part in self.parts.iter_mut() {
            for block in part.chunks_exact_mut(2 * LANES) {
                let chunk = chunks.next().unwrap_or(&[]);
                #[cfg(target_arch = "x86_64")]
                if split_f32 && chunk.len() == LANES {
                    // SAFETY: `T` is `f32` (same `TypeId`); `Complex<f32>` is `repr(C)`
                    // {re, im}, so a whole block of `LANES` values is `2·LANES` f32, as is
                    // `block`; AVX2 was detected above.
                    unsafe {
                        let src = &*(chunk.as_ptr() as *const [f32; 2 * LANES]);
                        let dst = &mut *(block.as_mut_ptr() as *mut [f32; 2 * LANES]);
                        split_block_f32(src, dst);
                    }
                    continue;
                }
                let (re, im) = block.split_at_mut(LANES);
                for ((r, i), v) in re.iter_mut().zip(im.iter_mut()).zip(chunk) {
                    *r = v.re;
                    *i = v.im;
                }
                re[chunk.len()..].fill(T::zero());
                im[chunk.len()..].fill(T::zero());
            }
        }
    }

    /// Set the spectrum to zero.
    pub fn zero(&mut self) {
        self.parts.iter_mut().for_each(|p| p.fill(T::zero()));
    }
}

/// Whether `T` is `f32` itself (not merely named so: the block casts rely on it).
#[cfg(target_arch = "x86_64")]
fn is_f32<T: Scalar>() -> bool {
    std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
}

/// Eight interleaved complex `f32` (`re0 im0 re1 im1 …`) as one planar block (`re0…re7`
/// then `im0…im7`), in registers: two loads, two shuffles, two lane permutes, two stores
/// (the destination lines are cold; element-wise stores stall on them).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn split_block_f32(src: &[f32; 2 * LANES], dst: &mut [f32; 2 * LANES]) {
    use std::arch::x86_64::*;
    const _: () = assert!(
        LANES == 8,
        "a block of 8 complex f32 is two 256-bit registers"
    );
    let a = _mm256_loadu_ps(src.as_ptr());
    let b = _mm256_loadu_ps(src.as_ptr().add(8));
    // Per 128-bit lane: [r0 r1 r4 r5 | r2 r3 r6 r7] and the same for the imaginary parts.
    let re = _mm256_shuffle_ps::<0b10_00_10_00>(a, b);
    let im = _mm256_shuffle_ps::<0b11_01_11_01>(a, b);
    // 64-bit pairs in order 0, 2, 1, 3: [r0 r1 r2 r3 r4 r5 r6 r7].
    let order =
        |v: __m256| _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(v)));
    _mm256_storeu_ps(dst.as_mut_ptr(), order(re));
    _mm256_storeu_ps(dst.as_mut_ptr().add(8), order(im));
}

/// The inverse of [`split_block_f32`]: a planar block back to eight interleaved complex.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn merge_block_f32(src: &[f32; 2 * LANES], dst: &mut [f32; 2 * LANES]) {
    use std::arch::x86_64::*;
    let re = _mm256_loadu_ps(src.as_ptr());
    let im = _mm256_loadu_ps(src.as_ptr().add(8));
    // [r0 i0 r1 i1 | r4 i4 r5 i5] and [r2 i2 r3 i3 | r6 i6 r7 i7].
    let lo = _mm256_unpacklo_ps(re, im);
    let hi = _mm256_unpackhi_ps(re, im);
    _mm256_storeu_ps(dst.as_mut_ptr(), _mm256_permute2f128_ps::<0x20>(lo, hi));
    _mm256_storeu_ps(
        dst.as_mut_ptr().add(8),
        _mm256_permute2f128_ps::<0x31>(lo, hi),
    );
}

impl<T: Scalar> Planar<T> {
    /// All-zero spectra.
    pub fn zeros(count: usize, bins: usize) -> Self {
        let mut p = Self::dirty(count, bins);
        p.data.fill(T::zero());
        p
    }

    /// Spectra holding whatever an earlier use left (finite values): for callers that write
    /// every spectrum ([`signals_mut`](Self::signals_mut) or as the output of [`contract`]).
    pub fn dirty(count: usize, bins: usize) -> Self {
        let blocks = bins.div_ceil(LANES).max(1);
        let group = blocks.min(GROUP);
        let groups = blocks.div_ceil(group);
        Planar {
            data: super::pool::take_dirty(groups * count * part_len(group)),
            count,
            bins,
            group,
            groups,
        }
    }

    /// Number of spectra.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Bins per spectrum.
    pub fn bins(&self) -> usize {
        self.bins
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.data.len() * std::mem::size_of::<T>()
    }

    /// Whether no spectra are held.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Values per group.
    fn group_len(&self) -> usize {
        self.count * part_len(self.group)
    }

    /// Where bin `f` of spectrum `s` has its real part (the imaginary part is `LANES` on).
    fn at(&self, s: usize, f: usize) -> usize {
        assert!(s < self.count && f < self.bins, "spectrum {s} bin {f}");
        let b = f / LANES;
        (b / self.group) * self.group_len()
            + self.offset(s)
            + (b % self.group) * 2 * LANES
            + f % LANES
    }

    /// Bin `f` of spectrum `s` as `(re, im)`.
    ///
    /// # Panics
    /// If `s` or `f` is out of range.
    pub fn get(&self, s: usize, f: usize) -> (T, T) {
        let at = self.at(s, f);
        (self.data[at], self.data[at + LANES])
    }

    /// Set bin `f` of spectrum `s`.
    ///
    /// # Panics
    /// If `s` or `f` is out of range.
    pub fn set(&mut self, s: usize, f: usize, v: (T, T)) {
        let at = self.at(s, f);
        self.data[at] = v.0;
        self.data[at + LANES] = v.1;
    }

    /// Writers for every spectrum, in order (each owns its parts of all blocks), for writing
    /// the spectra in parallel.
    pub fn signals_mut(&mut self) -> Vec<SignalMut<'_, T>> {
        let (count, bins, groups) = (self.count, self.bins, self.groups);
        let mut out: Vec<SignalMut<'_, T>> = (0..count)
            .map(|_| SignalMut {
                parts: Vec::with_capacity(groups),
                bins,
            })
            .collect();
        let (group_len, part, blocks) = (
            self.group_len(),
            part_len(self.group),
            self.group * 2 * LANES,
        );
        for group in self.data.chunks_mut(group_len.max(1)) {
            for (sig, part) in out.iter_mut().zip(group.chunks_mut(part)) {
                sig.parts.push(&mut part[..blocks]);
            }
        }
        out
    }

    /// Copy spectrum `s` into `dst` (`bins` values).
    ///
    /// # Panics
    /// If `s` is out of range or `dst` is shorter than `bins`.
    pub fn load(&self, s: usize, dst: &mut [num_complex::Complex<T>]) {
        assert!(s < self.count, "spectrum {s} of {}", self.count);
        let dst = &mut dst[..self.bins];
        let (group_len, off) = (self.group_len(), self.offset(s));
        #[cfg(target_arch = "x86_64")]
        let merge_f32 = is_f32::<T>() && std::is_x86_feature_detected!("avx2");
        for (b, chunk) in dst.chunks_mut(LANES).enumerate() {
            let at = (b / self.group) * group_len + off + (b % self.group) * 2 * LANES;
            let block = &self.data[at..at + 2 * LANES];
            #[cfg(target_arch = "x86_64")]
            if merge_f32 && chunk.len() == LANES {
                // SAFETY: as in `SignalMut::store`: `T` is `f32`, `Complex<f32>` is
                // `repr(C)`, a whole block is `2·LANES` f32 on both sides; AVX2 detected.
                unsafe {
                    let src = &*(block.as_ptr() as *const [f32; 2 * LANES]);
                    let dst = &mut *(chunk.as_mut_ptr() as *mut [f32; 2 * LANES]);
                    merge_block_f32(src, dst);
                }
                continue;
            }
            let (re, im) = block.split_at(LANES);
            for ((d, &r), &i) in chunk.iter_mut().zip(re).zip(im) {
                d.re = r;
                d.im = i;
            }
        }
    }

    /// Offset of spectrum `s` inside a group.
    ///
    /// # Panics
    /// If `s` is out of range.
    fn offset(&self, s: usize) -> usize {
        assert!(s < self.count, "spectrum {s} of {}", self.count);
        s * part_len(self.group)
    }
}

/// Values between the parts of consecutive spectra in a group: the `group` blocks plus one
/// unused block when there are several, so that the operands of one block (one per spectrum)
/// do not all fall into the same few sets of the L1 cache (a stride of 8 blocks of `f32` is
/// 512 bytes: 8 of its 64 sets; measured 1.4× faster contraction with the skew).
fn part_len(group: usize) -> usize {
    (group + usize::from(group > 1)) * 2 * LANES
}

impl<T: Scalar> Drop for Planar<T> {
    fn drop(&mut self) {
        super::pool::give(std::mem::take(&mut self.data));
    }
}

/// Which factor of each term is conjugated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conj {
    /// `a · b`.
    None,
    /// `conj(a) · b`.
    A,
    /// `a · conj(b)`.
    B,
}

/// The extents of a grouped product `C[g,i,j] = Σ_k op(A[g,i,k]) op(B[g,k,j])`.
#[derive(Clone, Copy, Debug)]
pub struct Product {
    /// Number of independent groups.
    pub groups: usize,
    /// `i` extent.
    pub rows: usize,
    /// `j` extent.
    pub cols: usize,
    /// `k` extent (summed over).
    pub depth: usize,
    /// Conjugation of the terms.
    pub conj: Conj,
}

/// Compute `out[c(g,i,j)] = Σ_k op(a[ai(g,i,k)]) · op(b[bi(g,k,j)])` for every frequency.
/// Every `out` spectrum not named by `c` is left as it was.
///
/// # Panics
/// If the planar sets have different bin counts or an index map leaves its set.
pub fn contract<T: Scalar>(
    p: &Product,
    out: &mut Planar<T>,
    c: impl Fn(usize, usize, usize) -> usize + Sync,
    a: &Planar<T>,
    ai: impl Fn(usize, usize, usize) -> usize + Sync,
    b: &Planar<T>,
    bi: impl Fn(usize, usize, usize) -> usize + Sync,
) {
    assert!(
        (a.group, a.groups) == (out.group, out.groups)
            && (b.group, b.groups) == (out.group, out.groups),
        "contraction operands of different bin counts"
    );
    let groups = out.groups;
    let tasks = (4 * rayon::current_num_threads()).clamp(1, groups.max(1));
    let per = groups.div_ceil(tasks).max(1);
    // The index maps, tabulated once (the kernel then reads offsets, never divides).
    let (gs, rows, cols, depth) = (p.groups, p.rows, p.cols, p.depth);
    let mut tab = Tables {
        a: Vec::with_capacity(gs * rows * depth),
        b: Vec::with_capacity(gs * depth * cols),
        c: Vec::with_capacity(gs * rows * cols),
    };
    for g in 0..gs {
        for i in 0..rows {
            tab.a.extend((0..depth).map(|k| a.offset(ai(g, i, k))));
            tab.c.extend((0..cols).map(|j| out.offset(c(g, i, j))));
        }
        for k in 0..depth {
            tab.b.extend((0..cols).map(|j| b.offset(bi(g, k, j))));
        }
    }
    let engine = Engine::detect();
    let out_len = out.group_len();
    out.data
        .par_chunks_mut((per * out_len).max(1))
        .enumerate()
        .for_each(|(r, outs)| {
            range(p, &tab, outs, out_len, r * per, a, b, engine);
        });
}

/// The index maps of a product as tables: `a[(g·rows + i)·depth + k]`,
/// `b[(g·depth + k)·cols + j]` and `c[(g·rows + i)·cols + j]` are offsets of spectra inside a
/// group of their planar sets.
struct Tables {
    a: Vec<usize>,
    b: Vec<usize>,
    c: Vec<usize>,
}

/// The tile kernels this CPU runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    /// Plain Rust loops.
    Portable,
    /// AVX2 + FMA: 2×2 tiles.
    Avx2,
    /// AVX-512 (F, DQ) as well: `f32` in 4×3 tiles, a block (8 real then 8 imaginary parts)
    /// one 512-bit register; `f64` as `Avx2`.
    Avx512,
}

impl Engine {
    fn detect() -> Engine {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                if std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512dq")
                {
                    return Engine::Avx512;
                }
                return Engine::Avx2;
            }
        }
        Engine::Portable
    }

    /// Rows and columns of the tiles it computes for `T`.
    fn tile_dims<T: Scalar>(self) -> (usize, usize) {
        match self {
            Engine::Avx512 if T::NAME == "f32" => (TILE_R, TILE_C),
            _ => (2, 2),
        }
    }
}

/// Rows of the largest tile (the AVX-512 `f32` kernel's).
const TILE_R: usize = 4;
/// Columns of the largest tile.
const TILE_C: usize = 2;

/// Where the terms of a tile of up to `TILE_R × TILE_C` entries `(i + r, j + c)` live in `nblk` consecutive
/// blocks starting at offsets `a_base`, `b_base` (blocks `a_blk`, `b_blk` values apart): row
/// `r`'s `a` spectra at in-block offsets `a_offs[r][k]`, column `c`'s `b` spectra at
/// `b_offs[k·b_step + c]`.
/// Entry `(i + r, j + c)` is written at `out_base + out_offs[r][c]` of the output slice, its blocks
/// `out_blk` values apart.
struct Tile<'t> {
    a_offs: [&'t [usize]; TILE_R],
    b_offs: &'t [usize],
    b_step: usize,
    a_base: usize,
    a_blk: usize,
    b_base: usize,
    b_blk: usize,
    nblk: usize,
    out_offs: [[usize; TILE_C]; TILE_R],
    out_base: usize,
    out_blk: usize,
}

/// `op(a)·op(b)` accumulated into `(re, im)` for one term, per the conjugation.
#[inline(always)]
fn term<T: Scalar>(conj: Conj, (ar, ai): (T, T), (br, bi): (T, T), (re, im): &mut (T, T)) {
    match conj {
        Conj::None => {
            *re = *re + ar * br - ai * bi;
            *im = *im + ar * bi + ai * br;
        }
        Conj::A => {
            *re = *re + ar * br + ai * bi;
            *im = *im + ar * bi - ai * br;
        }
        Conj::B => {
            *re = *re + ar * br + ai * bi;
            *im = *im + ai * br - ar * bi;
        }
    }
}

/// Portable tile (also the reference the SIMD kernels are tested against).
fn tile_portable<T: Scalar>(
    a: &[T],
    b: &[T],
    t: &Tile<'_>,
    rows: usize,
    cols: usize,
    conj: Conj,
    out: &mut [T],
) {
    let depth = t.a_offs[0].len();
    for r in 0..rows {
        for c in 0..cols {
            for blk in 0..t.nblk {
                for l in 0..LANES {
                    let mut acc = (T::zero(), T::zero());
                    for k in 0..depth {
                        let ao = t.a_base + blk * t.a_blk + t.a_offs[r][k] + l;
                        let bo = t.b_base + blk * t.b_blk + t.b_offs[k * t.b_step + c] + l;
                        let x = (a[ao], a[ao + LANES]);
                        let y = (b[bo], b[bo + LANES]);
                        term(conj, x, y, &mut acc);
                    }
                    let o = t.out_base + t.out_offs[r][c] + blk * t.out_blk + l;
                    out[o] = acc.0;
                    out[o + LANES] = acc.1;
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! The tile with AVX2 + FMA intrinsics: per vector of frequencies, up to 2×2 entries with
    //! their real and imaginary accumulators in registers (8), each term four fused
    //! multiply-adds on two loads of `a` and two of `b`.
    use super::{Conj, Tile, LANES};
    use std::arch::x86_64::*;

    macro_rules! tile_kernel {
        ($name:ident, $t:ty, $v:ty, $w:expr, $zero:ident, $load:ident, $store:ident,
         $fmadd:ident, $fnmadd:ident) => {
            /// # Safety
            /// The CPU must support AVX2 and FMA; every offset in `t` must be that of a whole
            /// spectrum part (`2·LANES` values) inside the `nblk` blocks of `a` or `b`.
            #[target_feature(enable = "avx2,fma")]
            pub unsafe fn $name<const R: usize, const C: usize, const CJ: u8>(
                a: &[$t],
                b: &[$t],
                t: &Tile<'_>,
                out: &mut [$t],
            ) {
                // CJ: 0 = no conjugate, 1 = conj(a), 2 = conj(b) (a constant: no branch).
                let conj = [Conj::None, Conj::A, Conj::B][CJ as usize];
                let depth = t.a_offs[0].len();
                let span = t.nblk * LANES;
                // Vectors per block: 1 for f32 (then `u % 1` is 0: fine), 2 for f64.
                let per_block = LANES / $w;
                let (ap, bp) = (a.as_ptr(), b.as_ptr());
                debug_assert!(t
                    .a_offs
                    .iter()
                    .flat_map(|o| o.iter())
                    .all(|&o| { t.a_base + (t.nblk - 1) * t.a_blk + o + 2 * LANES <= a.len() }));
                for u in 0..span / $w {
                    let (blk, lane) = (u / per_block, (u % per_block) * $w);
                    let a0 = t.a_base + blk * t.a_blk + lane;
                    let b0 = t.b_base + blk * t.b_blk + lane;
                    let mut acc: [[[$v; 2]; C]; R] = [[[$zero(); 2]; C]; R];
                    for k in 0..depth {
                        let mut y: [[$v; 2]; C] = [[$zero(); 2]; C];
                        for (c, y) in y.iter_mut().enumerate() {
                            let bo = b0 + t.b_offs[k * t.b_step + c];
                            debug_assert!(bo + LANES + $w <= b.len());
                            // SAFETY: the caller guarantees every offset names a whole
                            // spectrum part inside `b`.
                            *y = [$load(bp.add(bo)), $load(bp.add(bo + LANES))];
                        }
                        for (r, acc) in acc.iter_mut().enumerate() {
                            let ao = a0 + t.a_offs[r][k];
                            debug_assert!(ao + LANES + $w <= a.len());
                            // SAFETY: as above, for `a`.
                            let (xr, xi) = ($load(ap.add(ao)), $load(ap.add(ao + LANES)));
                            for (acc, y) in acc.iter_mut().zip(&y) {
                                let [yr, yi] = *y;
                                match conj {
                                    Conj::None => {
                                        acc[0] = $fmadd(xr, yr, acc[0]);
                                        acc[0] = $fnmadd(xi, yi, acc[0]);
                                        acc[1] = $fmadd(xr, yi, acc[1]);
                                        acc[1] = $fmadd(xi, yr, acc[1]);
                                    }
                                    Conj::A => {
                                        acc[0] = $fmadd(xr, yr, acc[0]);
                                        acc[0] = $fmadd(xi, yi, acc[0]);
                                        acc[1] = $fmadd(xr, yi, acc[1]);
                                        acc[1] = $fnmadd(xi, yr, acc[1]);
                                    }
                                    Conj::B => {
                                        acc[0] = $fmadd(xr, yr, acc[0]);
                                        acc[0] = $fmadd(xi, yi, acc[0]);
                                        acc[1] = $fmadd(xi, yr, acc[1]);
                                        acc[1] = $fnmadd(xr, yi, acc[1]);
                                    }
                                }
                            }
                        }
                    }
                    for (r, acc) in acc.iter().enumerate() {
                        for (c, acc) in acc.iter().enumerate() {
                            let o = t.out_base + t.out_offs[r][c] + blk * t.out_blk + lane;
                            // Bounds-checked slices of one vector each.
                            $store(out[o..][..$w].as_mut_ptr(), acc[0]);
                            $store(out[o + LANES..][..$w].as_mut_ptr(), acc[1]);
                        }
                    }
                }
            }
        };
    }

    tile_kernel!(
        tile_f32,
        f32,
        __m256,
        8,
        _mm256_setzero_ps,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_fmadd_ps,
        _mm256_fnmadd_ps
    );
    tile_kernel!(
        tile_f64,
        f64,
        __m256d,
        4,
        _mm256_setzero_pd,
        _mm256_loadu_pd,
        _mm256_storeu_pd,
        _mm256_fmadd_pd,
        _mm256_fnmadd_pd
    );
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    //! The `f32` tile with AVX-512: a block of [`LANES`] = 8 frequencies (8 real parts, then 8
    //! imaginary parts) is one 512-bit register `x = [xr | xi]`. With `y = [yr | yi]` and its
    //! halves swapped `ỹ = [yi | yr]`, two fused multiply-adds per term accumulate
    //! `P = Σ [xr·yr | xi·yi]` and `Q = Σ [xr·yi | xi·yr]`; the conjugations only change how
    //! the halves combine at the end:
    //!
    //! | terms | real part | imaginary part |
    //! |---|---|---|
    //! | `x·y` | `P.lo − P.hi` | `Q.lo + Q.hi` |
    //! | `conj(x)·y` | `P.lo + P.hi` | `Q.lo − Q.hi` |
    //! | `x·conj(y)` | `P.lo + P.hi` | `Q.hi − Q.lo` |
    //!
    //! Up to 4×3 entries: 24 accumulators, 3 `y` and 3 `ỹ`, one `x` (31 of 32 registers); per
    //! term 7 loads and 3 shuffles feed 24 multiply-adds.
    use super::{Tile, LANES};
    use std::arch::x86_64::*;

    const _: () = assert!(LANES == 8, "an f32 block must be one 512-bit register");

    /// # Safety
    /// The CPU must support AVX-512 F and DQ; every offset in `t` must be that of a whole
    /// spectrum part (`2·LANES` values) inside the `nblk` blocks of `a` or `b`.
    #[target_feature(enable = "avx512f,avx512dq")]
    pub unsafe fn tile_f32<const R: usize, const C: usize, const CJ: u8>(
        a: &[f32],
        b: &[f32],
        t: &Tile<'_>,
        out: &mut [f32],
    ) {
        let depth = t.a_offs[0].len();
        let (ap, bp) = (a.as_ptr(), b.as_ptr());
        for blk in 0..t.nblk {
            let a0 = t.a_base + blk * t.a_blk;
            let b0 = t.b_base + blk * t.b_blk;
            let mut p = [[_mm512_setzero_ps(); C]; R];
            let mut q = [[_mm512_setzero_ps(); C]; R];
            for k in 0..depth {
                let mut y = [_mm512_setzero_ps(); C];
                let mut ys = [_mm512_setzero_ps(); C];
                for c in 0..C {
                    let bo = b0 + t.b_offs[k * t.b_step + c];
                    debug_assert!(bo + 2 * LANES <= b.len());
                    // SAFETY: the caller guarantees every offset names a whole spectrum part
                    // inside `b`.
                    y[c] = _mm512_loadu_ps(bp.add(bo));
                    ys[c] = _mm512_shuffle_f32x4::<0b01_00_11_10>(y[c], y[c]);
                }
                for r in 0..R {
                    let ao = a0 + t.a_offs[r][k];
                    debug_assert!(ao + 2 * LANES <= a.len());
                    // SAFETY: as above, for `a`.
                    let x = _mm512_loadu_ps(ap.add(ao));
                    for c in 0..C {
                        p[r][c] = _mm512_fmadd_ps(x, y[c], p[r][c]);
                        q[r][c] = _mm512_fmadd_ps(x, ys[c], q[r][c]);
                    }
                }
            }
            for r in 0..R {
                for c in 0..C {
                    let (plo, phi) = (
                        _mm512_castps512_ps256(p[r][c]),
                        _mm512_extractf32x8_ps::<1>(p[r][c]),
                    );
                    let (qlo, qhi) = (
                        _mm512_castps512_ps256(q[r][c]),
                        _mm512_extractf32x8_ps::<1>(q[r][c]),
                    );
                    let (re, im) = match CJ {
                        0 => (_mm256_sub_ps(plo, phi), _mm256_add_ps(qlo, qhi)),
                        1 => (_mm256_add_ps(plo, phi), _mm256_sub_ps(qlo, qhi)),
                        _ => (_mm256_add_ps(plo, phi), _mm256_sub_ps(qhi, qlo)),
                    };
                    let o = t.out_base + t.out_offs[r][c] + blk * t.out_blk;
                    // Bounds-checked slices of one vector each.
                    _mm256_storeu_ps(out[o..][..LANES].as_mut_ptr(), re);
                    _mm256_storeu_ps(out[o + LANES..][..LANES].as_mut_ptr(), im);
                }
            }
        }
    }
}

/// One tile of `rows × cols` entries (at most the engine's [`Engine::tile_dims`]) by the
/// engine's kernel for `T`, written into `out`.
#[inline]
#[allow(clippy::too_many_arguments)]
fn tile<T: Scalar>(
    a: &[T],
    b: &[T],
    t: &Tile<'_>,
    rows: usize,
    cols: usize,
    conj: Conj,
    out: &mut [T],
    engine: Engine,
) {
    #[cfg(target_arch = "x86_64")]
    if engine != Engine::Portable {
        let cj = match conj {
            Conj::None => 0,
            Conj::A => 1,
            Conj::B => 2,
        };
        macro_rules! shapes {
            ($m:ident :: $f:ident, $a:expr, $b:expr, $o:expr; $(($r:literal, $c:literal)),*) => {
                // SAFETY: `engine` says the CPU has the kernel's features; the offsets come
                // from `Planar::offset` (whole parts of a group) and `range` keeps the blocks
                // inside the sets.
                unsafe {
                    match (rows, cols, cj) {
                        $(
                            ($r, $c, 0) => $m::$f::<$r, $c, 0>($a, $b, t, $o),
                            ($r, $c, 1) => $m::$f::<$r, $c, 1>($a, $b, t, $o),
                            ($r, $c, _) => $m::$f::<$r, $c, 2>($a, $b, t, $o),
                        )*
                        _ => unreachable!("tile of {rows}x{cols} entries"),
                    }
                }
            };
        }
        match T::views(a, b, out) {
            crate::tensor::TypedViews::F32(a, b, o) if engine == Engine::Avx512 => {
                shapes!(avx512::tile_f32, a, b, o;
                    (1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3),
                    (3, 1), (3, 2), (3, 3), (4, 1), (4, 2), (4, 3));
            }
            crate::tensor::TypedViews::F32(a, b, o) => {
                shapes!(avx2::tile_f32, a, b, o; (1, 1), (1, 2), (2, 1), (2, 2));
            }
            crate::tensor::TypedViews::F64(a, b, o) => {
                shapes!(avx2::tile_f64, a, b, o; (1, 1), (1, 2), (2, 1), (2, 2));
            }
            crate::tensor::TypedViews::Other => unreachable!("Scalar is f32 or f64"),
        }
        return;
    }
    let _ = engine;
    tile_portable(a, b, t, rows, cols, conj, out);
}

/// The product on the output groups `outs` (`out_len` values each), the first of which is
/// group `g0` of the sets, in tiles of the engine's size.
#[allow(clippy::too_many_arguments)]
fn range<T: Scalar>(
    p: &Product,
    tab: &Tables,
    outs: &mut [T],
    out_len: usize,
    g0: usize,
    a: &Planar<T>,
    b: &Planar<T>,
    engine: Engine,
) {
    let (rows, cols, depth) = (p.rows, p.cols, p.depth);
    let (tr, tc) = engine.tile_dims::<T>();
    let group = a.group;
    // Blocks per kernel call: one when each entry has many terms (the operands of a block
    // stay in L1 across entries), the whole group when it has few (depthwise layers), so
    // that the call overhead is spread.
    let step = if depth * cols.min(2) >= 8 { 1 } else { group };
    let (a_len, b_len) = (a.group_len(), b.group_len());
    // The tiles, laid out once (offsets inside a group); per block only the bases move.
    let mut tiles: Vec<(Tile<'_>, usize, usize)> = Vec::new();
    for g in 0..p.groups {
        for i in (0..rows).step_by(tr) {
            let nr = (rows - i).min(tr);
            let row = |r: usize| {
                let ii = (i + r).min(rows - 1);
                &tab.a[(g * rows + ii) * depth..][..depth]
            };
            for j in (0..cols).step_by(tc) {
                let nc = (cols - j).min(tc);
                let out_at = |r: usize, c: usize| {
                    let (ii, jj) = ((i + r).min(rows - 1), (j + c).min(cols - 1));
                    tab.c[(g * rows + ii) * cols + jj]
                };
                let t = Tile {
                    a_offs: std::array::from_fn(row),
                    b_offs: &tab.b[g * depth * cols + j..],
                    b_step: cols,
                    a_base: 0,
                    a_blk: 2 * LANES,
                    b_base: 0,
                    b_blk: 2 * LANES,
                    nblk: 0,
                    out_offs: std::array::from_fn(|r| std::array::from_fn(|c| out_at(r, c))),
                    out_base: 0,
                    out_blk: 2 * LANES,
                };
                tiles.push((t, nr, nc));
            }
        }
    }
    if step == group && group == 1 {
        // Few terms and one block per group: each kernel call strides over all the groups of
        // this range at once.
        let ngroups = outs.len() / out_len.max(1);
        for (t, nr, nc) in tiles.iter_mut() {
            (t.a_base, t.a_blk) = (g0 * a_len, a_len);
            (t.b_base, t.b_blk) = (g0 * b_len, b_len);
            (t.out_base, t.out_blk) = (0, out_len);
            t.nblk = ngroups;
            tile(&a.data, &b.data, t, *nr, *nc, p.conj, outs, engine);
        }
        return;
    }
    for (gi, outs) in outs.chunks_exact_mut(out_len.max(1)).enumerate() {
        let (a_grp, b_grp) = ((g0 + gi) * a_len, (g0 + gi) * b_len);
        for first in (0..group).step_by(step) {
            let nblk = step.min(group - first);
            for (t, nr, nc) in tiles.iter_mut() {
                t.a_base = a_grp + first * 2 * LANES;
                t.b_base = b_grp + first * 2 * LANES;
                t.out_base = first * 2 * LANES;
                t.nblk = nblk;
                tile(&a.data, &b.data, t, *nr, *nc, p.conj, outs, engine);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_complex::Complex;

    fn value(s: usize, f: usize, salt: usize) -> (f64, f64) {
        let h = (s * 131 + f * 17 + salt * 7) % 23;
        (h as f64 - 11.0, ((h * 5) % 13) as f64 - 6.0)
    }

    /// All three conjugation modes against a per-bin complex loop, for one shape. The values
    /// are small integers, so every sum is exact in f32 too.
    fn check<T: Scalar>(groups: usize, rows: usize, cols: usize, depth: usize, bins: usize) {
        let na = groups * rows * depth;
        let nb = groups * depth * cols;
        let mut a = Planar::<T>::dirty(na, bins);
        let mut b = Planar::<T>::dirty(nb, bins);
        for f in 0..bins {
            let of = |v: (f64, f64)| (T::of(v.0), T::of(v.1));
            (0..na).for_each(|s| a.set(s, f, of(value(s, f, 1))));
            (0..nb).for_each(|s| b.set(s, f, of(value(s, f, 2))));
        }
        let ai = |g: usize, i: usize, k: usize| (g * rows + i) * depth + k;
        let bi = |g: usize, k: usize, j: usize| (g * depth + k) * cols + j;
        let ci = |g: usize, i: usize, j: usize| (g * rows + i) * cols + j;
        for conj in [Conj::None, Conj::A, Conj::B] {
            let p = Product {
                groups,
                rows,
                cols,
                depth,
                conj,
            };
            let mut out = Planar::<T>::dirty(groups * rows * cols, bins);
            contract(&p, &mut out, ci, &a, ai, &b, bi);
            for g in 0..groups {
                for i in 0..rows {
                    for j in 0..cols {
                        for f in 0..bins {
                            let mut want = Complex::new(0.0, 0.0);
                            for k in 0..depth {
                                let (x, y) = (a.get(ai(g, i, k), f), b.get(bi(g, k, j), f));
                                let mut x = Complex::new(x.0.as_f64(), x.1.as_f64());
                                let mut y = Complex::new(y.0.as_f64(), y.1.as_f64());
                                match conj {
                                    Conj::A => x = x.conj(),
                                    Conj::B => y = y.conj(),
                                    Conj::None => {}
                                }
                                want += x * y;
                            }
                            let got = out.get(ci(g, i, j), f);
                            let got = (got.0.as_f64(), got.1.as_f64());
                            assert!(
                                got.0 == want.re && got.1 == want.im,
                                "{} {conj:?} {groups}x{rows}x{cols}x{depth} over {bins} bins: \
                                 group {g} entry ({i},{j}) bin {f}: {got:?} vs {want}",
                                T::NAME
                            );
                        }
                    }
                }
            }
        }
    }

    /// Odd entry counts (tails of the 2×2 tiles), bin counts that leave the last block and the
    /// last group part-filled, few terms (several blocks per kernel call) and many; f32 and
    /// f64 (the SIMD kernels where the CPU has them, else the portable one).
    #[test]
    fn matches_per_bin_loop() {
        for (groups, rows, cols, depth, bins) in [
            (2, 3, 2, 4, 37),
            (1, 5, 3, 16, 300),
            (4, 3, 1, 1, 200),
            (1, 2, 2, 2, 5),
        ] {
            check::<f64>(groups, rows, cols, depth, bins);
            check::<f32>(groups, rows, cols, depth, bins);
        }
    }

    /// `store` then `load` gives every spectrum back, and `get` sees what `store` wrote, for
    /// bin counts with and without a part-filled last block and group, in f64 and f32 (whose
    /// whole blocks take the AVX2 path where the CPU has it).
    fn round_trip<T: Scalar>() {
        for (count, bins) in [
            (3, 1),
            (2, LANES),
            (5, 37),
            (2, GROUP * LANES + 3),
            (1, 300),
        ] {
            let mut p = Planar::<T>::dirty(count, bins);
            let spectra: Vec<Vec<Complex<T>>> = (0..count)
                .map(|s| {
                    (0..bins)
                        .map(|f| Complex::new(T::of(value(s, f, 1).0), T::of(value(s, f, 1).1)))
                        .collect()
                })
                .collect();
            for (mut sig, spec) in p.signals_mut().into_iter().zip(&spectra) {
                sig.store(spec);
            }
            for (s, spec) in spectra.iter().enumerate() {
                let mut back = vec![Complex::new(T::of(f64::NAN), T::of(f64::NAN)); bins];
                p.load(s, &mut back);
                assert_eq!(
                    &back,
                    spec,
                    "{} {count} spectra of {bins} bins: spectrum {s}",
                    T::NAME
                );
                for (f, v) in spec.iter().enumerate() {
                    assert_eq!(
                        p.get(s, f),
                        (v.re, v.im),
                        "{} spectrum {s} bin {f}",
                        T::NAME
                    );
                }
            }
        }
    }

    #[test]
    fn store_and_load_round_trip() {
        round_trip::<f64>();
        round_trip::<f32>();
    }

    /// The portable tile equals the SIMD tiles of every engine this CPU has, bit for bit on
    /// integers, on every tile shape the engine computes.
    #[test]
    fn portable_and_simd_tiles_agree() {
        let (rows, cols, depth, bins) = (TILE_R, TILE_C, 3, 64);
        let mut a = Planar::<f32>::dirty(rows * depth, bins);
        let mut b = Planar::<f32>::dirty(depth * cols, bins);
        for f in 0..bins {
            let of = |v: (f64, f64)| (v.0 as f32, v.1 as f32);
            (0..rows * depth).for_each(|s| a.set(s, f, of(value(s, f, 3))));
            (0..depth * cols).for_each(|s| b.set(s, f, of(value(s, f, 4))));
        }
        let a_offs: Vec<usize> = (0..rows * depth).map(|s| a.offset(s)).collect();
        let b_offs: Vec<usize> = (0..depth * cols).map(|s| b.offset(s)).collect();
        let nblk = 4;
        // The entries side by side, each `nblk` blocks of re/im.
        let entry = nblk * 2 * LANES;
        let t = Tile {
            a_offs: [0, 1, 2, 3].map(|r| &a_offs[r * depth..][..depth]),
            b_offs: &b_offs,
            b_step: cols,
            a_base: 0,
            a_blk: 2 * LANES,
            b_base: 0,
            b_blk: 2 * LANES,
            nblk,
            out_offs: std::array::from_fn(|r| std::array::from_fn(|c| (r * cols + c) * 2 * LANES)),
            out_base: 0,
            out_blk: rows * cols * 2 * LANES,
        };
        let mut engines = vec![Engine::detect()];
        if engines[0] == Engine::Avx512 {
            engines.push(Engine::Avx2);
        }
        for engine in engines {
            let (tr, tc) = engine.tile_dims::<f32>();
            for (nr, nc) in (1..=tr).flat_map(|r| (1..=tc).map(move |c| (r, c))) {
                for conj in [Conj::None, Conj::A, Conj::B] {
                    let mut portable = vec![0.0f32; rows * cols * entry];
                    let mut fast = portable.clone();
                    tile_portable(&a.data, &b.data, &t, nr, nc, conj, &mut portable);
                    tile(&a.data, &b.data, &t, nr, nc, conj, &mut fast, engine);
                    assert_eq!(portable, fast, "{engine:?} {nr}x{nc} {conj:?}");
                }
            }
        }
    }
}
