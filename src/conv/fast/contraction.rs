//! The channel contraction of the FFT layer: per frequency, a small complex matrix product,
//! computed on spectra stored *planar* (real parts, then imaginary parts) and blocked over
//! frequencies so that every operand block is reused from L1/L2.
//!
//! A [`Planar`] holds `count` spectra of `bins` bins; signal `s` is `re[0..bins]` then
//! `im[0..bins]`, each padded to a multiple of [`LANES`]. A [`Product`] names, per group `g`,
//! a matrix product over frequencies $f$
//!
//! $$ C_{g,i,j}(f) = \sum_{k} \operatorname{op}_A(A_{g,i,k}(f))\,\operatorname{op}_B(B_{g,k,j}(f)) $$
//!
//! where each of $A, B, C$ entries is a spectrum of a [`Planar`] picked by an index map, and
//! $\operatorname{op}$ is the identity or complex conjugation ([`Conj`]). The three products of
//! a conv layer are all of this form (see [`super::fft_conv`]).
//!
//! Work is split over ranges of frequencies (rayon); inside a range, blocks of [`LANES`]
//! frequencies are taken one at a time and the whole product is computed on them, the
//! accumulator in registers. On x86-64 with AVX2 and FMA the same code is compiled a second
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

/// Frequencies per block: the accumulator of one entry is `2·LANES` values in registers.
pub const LANES: usize = 16;

/// `count` complex spectra of `bins` bins each, stored planar and padded to [`LANES`].
#[derive(Clone, Debug, Default)]
pub struct Planar<T: Scalar> {
    data: Vec<T>,
    count: usize,
    bins: usize,
    stride: usize,
}

impl<T: Scalar> Planar<T> {
    /// All-zero spectra.
    pub fn zeros(count: usize, bins: usize) -> Self {
        let stride = bins.div_ceil(LANES) * LANES;
        Planar {
            data: super::pool::take(count * 2 * stride),
            count,
            bins,
            stride,
        }
    }

    /// Spectra whose bins hold whatever an earlier use left (finite values; the padding past
    /// `bins` is zeroed): for callers that write every bin of every spectrum.
    pub fn dirty(count: usize, bins: usize) -> Self {
        let stride = bins.div_ceil(LANES) * LANES;
        let mut data = super::pool::take_dirty(count * 2 * stride);
        for part in data.chunks_mut(stride.max(1)) {
            part[bins..].fill(T::zero());
        }
        Planar {
            data,
            count,
            bins,
            stride,
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

    /// Bin `f` of spectrum `s` as `(re, im)`.
    ///
    /// # Panics
    /// If `s` or `f` is out of range.
    pub fn get(&self, s: usize, f: usize) -> (T, T) {
        assert!(s < self.count && f < self.bins, "spectrum {s} bin {f}");
        let base = s * 2 * self.stride;
        (self.data[base + f], self.data[base + self.stride + f])
    }

    /// Set bin `f` of spectrum `s`.
    ///
    /// # Panics
    /// If `s` or `f` is out of range.
    pub fn set(&mut self, s: usize, f: usize, v: (T, T)) {
        assert!(s < self.count && f < self.bins, "spectrum {s} bin {f}");
        let base = s * 2 * self.stride;
        self.data[base + f] = v.0;
        self.data[base + self.stride + f] = v.1;
    }

    /// The spectra as `(re, im)` slice pairs (each `bins` long), for parallel writing.
    pub fn signals_mut(&mut self) -> impl IndexedParallelIterator<Item = (&mut [T], &mut [T])> {
        let (stride, bins) = (self.stride, self.bins);
        self.data.par_chunks_mut(2 * stride.max(1)).map(move |sig| {
            let (re, im) = sig.split_at_mut(stride);
            (&mut re[..bins], &mut im[..bins])
        })
    }

    /// Spectrum `s` as `(re, im)` (each `bins` long).
    pub fn signal(&self, s: usize) -> (&[T], &[T]) {
        let sig = &self.data[s * 2 * self.stride..][..2 * self.stride];
        let (re, im) = sig.split_at(self.stride);
        (&re[..self.bins], &im[..self.bins])
    }

    /// Offset of spectrum `s` in the planar data.
    ///
    /// # Panics
    /// If `s` is out of range.
    fn offset(&self, s: usize) -> usize {
        assert!(s < self.count, "spectrum {s} of {}", self.count);
        s * 2 * self.stride
    }
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
        a.stride == out.stride && b.stride == out.stride,
        "contraction operands of different bin counts"
    );
    let stride = out.stride;
    let blocks = stride / LANES;
    let tasks = (4 * rayon::current_num_threads()).clamp(1, blocks.max(1));
    let per = blocks.div_ceil(tasks) * LANES;
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
            tab.c.extend((0..cols).map(|j| c(g, i, j)));
        }
        for k in 0..depth {
            tab.b.extend((0..cols).map(|j| b.offset(bi(g, k, j))));
        }
    }
    // Hand each task the slice of every output spectrum in its frequency range.
    let mut ranges: Vec<Vec<(&mut [T], &mut [T])>> = (0..tasks).map(|_| Vec::new()).collect();
    for sig in out.data.chunks_mut(2 * stride.max(1)) {
        let (re, im) = sig.split_at_mut(stride);
        for (r, pair) in re.chunks_mut(per).zip(im.chunks_mut(per)).enumerate() {
            ranges[r].push(pair);
        }
    }
    let simd = simd_available();
    ranges
        .into_par_iter()
        .enumerate()
        .for_each(|(r, mut outs)| {
            range(p, &tab, &mut outs, r * per, a, b, simd);
        });
}

/// The index maps of a product as tables: `a[(g·rows + i)·depth + k]` and
/// `b[(g·depth + k)·cols + j]` are offsets of spectra in their planar data, `c[(g·rows + i)·cols
/// + j]` output spectrum numbers.
struct Tables {
    a: Vec<usize>,
    b: Vec<usize>,
    c: Vec<usize>,
}

/// Whether the AVX2 + FMA kernels can run on this CPU.
fn simd_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Results of up to 2×2 entries on one block of frequencies: `[entry][re/im][lane]`, entry
/// `2·r + c` for row `i + r`, column `j + c`.
type Quad<T> = [[[T; LANES]; 2]; 4];

/// Where the terms of a 2×2 tile of entries `(i + r, j + c)` live at frequencies
/// `f .. f + LANES`: row `r`'s `a` spectra at offsets `a_offs[r][k]`, column `c`'s `b` spectra
/// at `b_offs[k·b_step + c]`.
struct Tile<'t> {
    a_offs: [&'t [usize]; 2],
    b_offs: &'t [usize],
    b_step: usize,
    f: usize,
    stride: usize,
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
    out: &mut Quad<T>,
) {
    let depth = t.a_offs[0].len();
    for r in 0..rows {
        for c in 0..cols {
            for l in 0..LANES {
                let f = t.f + l;
                let mut acc = (T::zero(), T::zero());
                for k in 0..depth {
                    let ao = t.a_offs[r][k];
                    let bo = t.b_offs[k * t.b_step + c];
                    let x = (a[ao + f], a[ao + t.stride + f]);
                    let y = (b[bo + f], b[bo + t.stride + f]);
                    term(conj, x, y, &mut acc);
                }
                out[2 * r + c][0][l] = acc.0;
                out[2 * r + c][1][l] = acc.1;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! The tile with AVX2 + FMA intrinsics: per vector of frequencies, up to 2×2 entries with
    //! their real and imaginary accumulators in registers (8), each term four fused
    //! multiply-adds on two loads of `a` and two of `b`.
    use super::{Conj, Quad, Tile, LANES};
    use std::arch::x86_64::*;

    macro_rules! tile_kernel {
        ($name:ident, $t:ty, $v:ty, $w:expr, $zero:ident, $load:ident, $store:ident,
         $fmadd:ident, $fnmadd:ident) => {
            /// # Safety
            /// The CPU must support AVX2 and FMA; every offset in `t` must be that of a whole
            /// spectrum (`re` and `im` parts, `t.stride` each) inside `a` or `b`, and
            /// `t.f + LANES ≤ t.stride`.
            #[target_feature(enable = "avx2,fma")]
            pub unsafe fn $name<const R: usize, const C: usize, const CJ: u8>(
                a: &[$t],
                b: &[$t],
                t: &Tile<'_>,
                out: &mut Quad<$t>,
            ) {
                // CJ: 0 = no conjugate, 1 = conj(a), 2 = conj(b) (a constant: no branch).
                let conj = [Conj::None, Conj::A, Conj::B][CJ as usize];
                let depth = t.a_offs[0].len();
                let (ap, bp) = (a.as_ptr(), b.as_ptr());
                for u in 0..LANES / $w {
                    let f = t.f + u * $w;
                    let mut acc: [[[$v; 2]; C]; R] = [[[$zero(); 2]; C]; R];
                    for k in 0..depth {
                        let mut y: [[$v; 2]; C] = [[$zero(); 2]; C];
                        for (c, y) in y.iter_mut().enumerate() {
                            let bo = t.b_offs[k * t.b_step + c] + f;
                            debug_assert!(bo + t.stride + $w <= b.len());
                            // SAFETY: the caller guarantees every offset names a whole
                            // spectrum of `b` and f + LANES ≤ stride.
                            *y = [$load(bp.add(bo)), $load(bp.add(bo + t.stride))];
                        }
                        for (r, acc) in acc.iter_mut().enumerate() {
                            let ao = t.a_offs[r][k] + f;
                            debug_assert!(ao + t.stride + $w <= a.len());
                            // SAFETY: as above, for `a`.
                            let (xr, xi) = ($load(ap.add(ao)), $load(ap.add(ao + t.stride)));
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
                            let o = &mut out[2 * r + c];
                            $store(o[0][u * $w..][..$w].as_mut_ptr(), acc[0]);
                            $store(o[1][u * $w..][..$w].as_mut_ptr(), acc[1]);
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

/// One 2×2 (or smaller, `rows × cols`) tile by the fastest kernel for `T` (`simd`: AVX2 and
/// FMA present).
#[inline]
#[allow(clippy::too_many_arguments)]
fn tile<T: Scalar>(
    a: &Planar<T>,
    b: &Planar<T>,
    t: &Tile<'_>,
    rows: usize,
    cols: usize,
    conj: Conj,
    out: &mut Quad<T>,
    simd: bool,
) {
    #[cfg(target_arch = "x86_64")]
    if simd {
        use std::any::Any;
        macro_rules! dispatch {
            ($t:ty, $f:ident) => {
                let (aa, bb): (&dyn Any, &dyn Any) = (a, b);
                if let (Some(a), Some(b)) = (
                    aa.downcast_ref::<Planar<$t>>(),
                    bb.downcast_ref::<Planar<$t>>(),
                ) {
                    if let Some(o) = (out as &mut dyn Any).downcast_mut::<Quad<$t>>() {
                        let (a, b) = (&a.data[..], &b.data[..]);
                        // SAFETY: `simd` says the CPU has AVX2 and FMA; the offsets come from
                        // `Planar::offset` (whole spectra) and `range` keeps f + LANES ≤ stride.
                        unsafe {
                            macro_rules! shape {
                                ($cj:expr) => {
                                    match (rows, cols) {
                                        (2, 2) => avx2::$f::<2, 2, $cj>(a, b, t, o),
                                        (2, _) => avx2::$f::<2, 1, $cj>(a, b, t, o),
                                        (_, 2) => avx2::$f::<1, 2, $cj>(a, b, t, o),
                                        _ => avx2::$f::<1, 1, $cj>(a, b, t, o),
                                    }
                                };
                            }
                            match conj {
                                Conj::None => shape!(0),
                                Conj::A => shape!(1),
                                Conj::B => shape!(2),
                            }
                        }
                        return;
                    }
                }
            };
        }
        dispatch!(f32, tile_f32);
        dispatch!(f64, tile_f64);
    }
    let _ = simd;
    tile_portable(&a.data, &b.data, t, rows, cols, conj, out);
}

/// The product on the frequencies `f0 ..` of the output slices `outs` (one per spectrum),
/// in 2×2 tiles of entries.
fn range<T: Scalar>(
    p: &Product,
    tab: &Tables,
    outs: &mut [(&mut [T], &mut [T])],
    f0: usize,
    a: &Planar<T>,
    b: &Planar<T>,
    simd: bool,
) {
    let len = outs.first().map_or(0, |o| o.0.len());
    let (rows, cols, depth) = (p.rows, p.cols, p.depth);
    let mut q: Quad<T> = [[[T::zero(); LANES]; 2]; 4];
    for off in (0..len).step_by(LANES) {
        for g in 0..p.groups {
            for i in (0..rows).step_by(2) {
                let nr = (rows - i).min(2);
                let row = |r: usize| {
                    let ii = (i + r).min(rows - 1);
                    &tab.a[(g * rows + ii) * depth..][..depth]
                };
                for j in (0..cols).step_by(2) {
                    let nc = (cols - j).min(2);
                    let t = Tile {
                        a_offs: [row(0), row(1)],
                        b_offs: &tab.b[g * depth * cols + j..],
                        b_step: cols,
                        f: f0 + off,
                        stride: a.stride,
                    };
                    tile(a, b, &t, nr, nc, p.conj, &mut q, simd);
                    for r in 0..nr {
                        for c in 0..nc {
                            let (ore, oim) = &mut outs[tab.c[(g * rows + i + r) * cols + j + c]];
                            ore[off..off + LANES].copy_from_slice(&q[2 * r + c][0]);
                            oim[off..off + LANES].copy_from_slice(&q[2 * r + c][1]);
                        }
                    }
                }
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

    /// All three conjugation modes, several groups, a bin count that is not a multiple of
    /// LANES, against a per-bin complex loop.
    #[test]
    fn matches_per_bin_loop() {
        let (groups, rows, cols, depth, bins) = (2, 3, 2, 4, 37);
        let na = groups * rows * depth;
        let nb = groups * depth * cols;
        let mut a = Planar::<f64>::zeros(na, bins);
        let mut b = Planar::<f64>::zeros(nb, bins);
        for f in 0..bins {
            (0..na).for_each(|s| a.set(s, f, value(s, f, 1)));
            (0..nb).for_each(|s| b.set(s, f, value(s, f, 2)));
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
            let mut out = Planar::<f64>::zeros(groups * rows * cols, bins);
            contract(&p, &mut out, ci, &a, ai, &b, bi);
            for g in 0..groups {
                for i in 0..rows {
                    for j in 0..cols {
                        for f in 0..bins {
                            let mut want = Complex::new(0.0, 0.0);
                            for k in 0..depth {
                                let (x, y) = (a.get(ai(g, i, k), f), b.get(bi(g, k, j), f));
                                let (mut x, mut y) =
                                    (Complex::new(x.0, x.1), Complex::new(y.0, y.1));
                                match conj {
                                    Conj::A => x = x.conj(),
                                    Conj::B => y = y.conj(),
                                    Conj::None => {}
                                }
                                want += x * y;
                            }
                            let got = out.get(ci(g, i, j), f);
                            assert!(
                                (got.0 - want.re).abs() < 1e-9 && (got.1 - want.im).abs() < 1e-9,
                                "{conj:?} group {g} entry ({i},{j}) bin {f}: {got:?} vs {want}"
                            );
                        }
                    }
                }
            }
        }
    }
}
