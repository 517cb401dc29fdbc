//! The direct path for small kernels at stride 1: register-tiled loops over the padded input,
//! vectorised over the output width, with no unrolled (im2col) matrix.
//!
//! Sample by sample, the padded input `x_p` (every padding mode, through the index maps of
//! `Layout`) and the cotangent `dy` zero-padded by `d·(K-1)` on each side are built once
//! (a few hundred KB: they stay in L2) and every pass is one of two kernels over them:
//!
//! - a **correlation** `out[r, o] = Σ_c Σ_k wb[c, k, r] · src[c, o + origin + d·k]`: a tile of
//!   [`R`] output channels × 2 SIMD vectors of consecutive outputs of one row is held in
//!   registers while every source channel and tap adds onto it (one vector load of `src` feeds
//!   `R` fused multiply-adds, one broadcast weight feeds 2);
//!   - forward: `y = corr(x_p, w)`;
//!   - `∂x`: the adjoint is the full correlation of the padded `dy` with the flipped,
//!     channel-transposed kernel `w'[ci, co, k] = w[co, ci, K-1-k]`, which is the cotangent of
//!     the padded input; it folds back onto the input (for zero padding only the interior is
//!     computed, straight into `dx`);
//! - a **reduction** for `∂w[co, ci, k] = Σ_n Σ_o dy[n, co, o] · x_p[n, ci, o + d·k]`: per
//!   (block of [`R`] output channels, input channel, kernel row, [`KB`] taps of the row),
//!   `R × KB` vector accumulators sweep the output rows back to back (both planes share one
//!   row stride; the columns between rows read zeros of the padded `dy`) and are summed
//!   horizontally once per sample.
//!
//! Samples run in parallel (rayon), and within a sample the output-channel blocks (∂w: block ×
//! input channel); each sample's `∂w` is added onto a per-thread sum. The kernels run through an
//! `Engine`: on x86-64 with AVX2 and FMA (checked at run time; [`Kernels`]) explicit 256-bit
//! vector kernels for `f32` and `f64`, elsewhere portable Rust loops. Strides above 1 run as
//! stride-1 layers over the phases of the input ([`polyphase`]) when every
//! strided axis has dilation 1, else fall back to [`im2col`]; a transpose is its conv's `∂x` (forward), forward (`∂x`) and
//! `∂w` with input and cotangent swapped, as in `im2col`.
//!
//! Non-finite inputs: the tiles also multiply padding zeros with neighbouring entries, so an
//! infinity may turn other entries of `∂w` into NaN (as on the FFT path).
//!
//! ```
//! use fftconv::conv::{fast::direct_simd, ConvSpec, Padding};
//! use fftconv::Tensor;
//! let spec = ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1]);
//! let x = Tensor::<f32>::randn(&[1, 2, 9, 7], 1);
//! let w = Tensor::<f32>::randn(&[3, 2, 3, 3], 2);
//! let y = direct_simd::forward(&spec, &x, &w, None).unwrap();
//! assert_eq!(y.shape(), &[1, 3, 9, 7]);
//! ```

use super::im2col::{self, pad_tail};
use super::polyphase;
use super::Layout;
use crate::conv::spec::{ConvKind, ConvSpec, Geometry};
use crate::conv::Grads;
use crate::error::Result;
use crate::op::PadMode;
use crate::tensor::{Scalar, Tensor};
use rayon::prelude::*;
use std::any::Any;

/// Output channels per register tile.
pub const R: usize = 4;
/// Kernel taps of one row per `∂w` register tile.
pub const KB: usize = 3;

/// The widest output tile of any engine (elements); planes are widened for it.
const MAX_W: usize = 16;
/// The widest `∂w` vector of any engine (elements).
const MAX_V: usize = 8;

/// Whether this path computes `g` itself: stride 1 on every axis of its conv, or strides that
/// the [`polyphase`] split turns into stride 1 (dilation 1 on every strided
/// axis); other geometries go to [`im2col`].
pub fn supports(g: &Geometry) -> bool {
    stride_one(g) || polyphase::applies(g)
}

/// Stride 1 on every axis of the layer's conv: the kernels run it as it is.
fn stride_one(g: &Geometry) -> bool {
    g.as_conv().stride.iter().all(|&s| s == 1)
}

fn round_up(v: usize, m: usize) -> usize {
    v.div_ceil(m) * m
}

/// One correlation pass: `out[r, o] = Σ_c Σ_k wb[c, k, r] · src[c, o + origin + d·k]`.
#[derive(Clone, Copy, Debug)]
struct Corr {
    /// Extents of one source plane (the last is the row stride).
    src_dims: [usize; 3],
    /// Source channels.
    channels: usize,
    kernel: [usize; 3],
    dilation: [usize; 3],
    origin: [usize; 3],
    /// Extents of one (dense) output plane.
    out: [usize; 3],
}

impl Corr {
    fn plane(&self) -> usize {
        self.src_dims.iter().product()
    }
    fn out_vol(&self) -> usize {
        self.out.iter().product()
    }
    /// Offset of the source row of every (channel, k0, k1), in the order of the packed weights.
    fn rows_at(&self) -> Vec<usize> {
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
    fn row_base(&self, o0: usize, o1: usize) -> usize {
        let [_, s1, s2] = self.src_dims;
        ((o0 + self.origin[0]) * s1 + o1 + self.origin[1]) * s2 + self.origin[2]
    }
}

/// One `∂w` task: the planes it reads, per sample.
struct WeightTask<'a, T> {
    /// Padded input plane of the task's input channel, per sample (extents `x_dims`; the
    /// slice runs on to the end of the sample's buffer, as the row sweep reads a little past
    /// the plane).
    x: Vec<&'a [T]>,
    /// The [`R`] cotangent planes of the task's output block (repeated when the block is
    /// short), per sample (extents `q_dims`, `dy` at offset `e`; to the end of the buffer).
    dy: Vec<[&'a [T]; R]>,
}

/// Extents shared by all `∂w` tasks.
#[derive(Clone, Copy, Debug)]
struct WeightGeom {
    x_dims: [usize; 3],
    q_dims: [usize; 3],
    e: [usize; 3],
    out: [usize; 3],
    kernel: [usize; 3],
    dilation: [usize; 3],
}

impl WeightGeom {
    /// Elements of one flattened `(o1, o2)` sweep in vectors of `v`: the output rows back to
    /// back at the common row stride (the columns between them read zeros of `dy`).
    fn flat_len(&self, v: usize) -> usize {
        let [_, o1, o2] = self.out;
        round_up((o1 - 1) * self.x_dims[2] + o2, v)
    }
    /// Row offsets `(x, dy)` of output row `(o0, o1)` for kernel row `(k0, k1)` and first tap
    /// `k2`.
    fn rows(&self, o: [usize; 2], k: [usize; 3]) -> (usize, usize) {
        let ([_, x1, x2], [_, q1, q2], [d0, d1, d2], e) =
            (self.x_dims, self.q_dims, self.dilation, self.e);
        let x = ((o[0] + k[0] * d0) * x1 + o[1] + k[1] * d1) * x2 + k[2] * d2;
        let q = ((o[0] + e[0]) * q1 + o[1] + e[1]) * q2 + e[2];
        (x, q)
    }
}

/// The two kernels, for one element type.
trait Engine<T>: Sync {
    /// One correlation block: `dst` holds up to [`R`] output planes, `wb` the packed weights
    /// `[c][k][R]` of the block, `src` the `c.channels` source planes.
    fn correlate(&self, c: &Corr, src: &[T], wb: &[T], dst: &mut [T]);
    /// One `∂w` task: the `[R][K]` sums `Σ_n Σ_o dy_r[o] · x[o + d·k]`.
    fn weight(&self, geo: &WeightGeom, task: &WeightTask<'_, T>) -> Vec<T>;
}

/// The kernels in portable Rust (any target; the compiler may vectorise them).
struct Portable;

impl Portable {
    fn correlate_w<T: Scalar, const W: usize>(c: &Corr, src: &[T], wb: &[T], dst: &mut [T]) {
        let ov = c.out_vol();
        let rows = dst.len() / ov;
        let (k2n, d2) = (c.kernel[2], c.dilation[2]);
        let [o0n, o1n, o2n] = c.out;
        let rows_at = c.rows_at();
        let span = (k2n - 1) * d2 + W;
        for o0 in 0..o0n {
            for o1 in 0..o1n {
                let base = c.row_base(o0, o1);
                for t in (0..o2n).step_by(W) {
                    let mut acc = [[T::zero(); W]; R];
                    for (j, &off) in rows_at.iter().enumerate() {
                        let row = &src[base + off + t..][..span];
                        let wk = &wb[j * k2n * R..][..k2n * R];
                        for k2 in 0..k2n {
                            let xs = &row[k2 * d2..][..W];
                            for (a, &wr) in acc.iter_mut().zip(&wk[k2 * R..][..R]) {
                                for (a, &x) in a.iter_mut().zip(xs) {
                                    *a = *a + x * wr;
                                }
                            }
                        }
                    }
                    let len = W.min(o2n - t);
                    for (r, a) in acc.iter().enumerate().take(rows) {
                        dst[r * ov + (o0 * o1n + o1) * o2n + t..][..len].copy_from_slice(&a[..len]);
                    }
                }
            }
        }
    }

    fn weight_v<T: Scalar, const V: usize>(geo: &WeightGeom, task: &WeightTask<'_, T>) -> Vec<T> {
        let [k0n, k1n, k2n] = geo.kernel;
        let o0n = geo.out[0];
        let d2 = geo.dilation[2];
        let kv = k0n * k1n * k2n;
        let len = geo.flat_len(V);
        let mut out = vec![T::zero(); R * kv];
        for k0 in 0..k0n {
            for k1 in 0..k1n {
                for k2c in (0..k2n).step_by(KB) {
                    let mut acc = [[[T::zero(); V]; KB]; R];
                    for (xp, dys) in task.x.iter().zip(&task.dy) {
                        for o0 in 0..o0n {
                            let (xo, qo) = geo.rows([o0, 0], [k0, k1, k2c]);
                            let xrow = &xp[xo..][..len + (KB - 1) * d2];
                            for (ar, dy) in acc.iter_mut().zip(dys) {
                                let drow = &dy[qo..][..len];
                                for (kb, a) in ar.iter_mut().enumerate() {
                                    let xs = &xrow[kb * d2..][..len];
                                    for (dc, xc) in drow.chunks_exact(V).zip(xs.chunks_exact(V)) {
                                        for l in 0..V {
                                            a[l] = a[l] + dc[l] * xc[l];
                                        }
                                    }
                                }
                            }
                        }
                    }
                    for (r, ar) in acc.iter().enumerate() {
                        for (kb, a) in ar.iter().enumerate().take(k2n - k2c) {
                            out[r * kv + (k0 * k1n + k1) * k2n + k2c + kb] =
                                a.iter().fold(T::zero(), |s, &v| s + v);
                        }
                    }
                }
            }
        }
        out
    }
}

impl<T: Scalar> Engine<T> for Portable {
    fn correlate(&self, c: &Corr, src: &[T], wb: &[T], dst: &mut [T]) {
        Self::correlate_w::<T, 16>(c, src, wb, dst);
    }
    fn weight(&self, geo: &WeightGeom, task: &WeightTask<'_, T>) -> Vec<T> {
        Self::weight_v::<T, 8>(geo, task)
    }
}

/// The kernels on AVX2 + FMA vectors (x86-64, checked at run time).
#[cfg(target_arch = "x86_64")]
pub(in crate::conv::fast) mod x86 {
    use super::{round_up, Corr, Engine, WeightGeom, WeightTask, KB, R};
    use std::arch::x86_64::*;

    /// Proof that the CPU has AVX2 and FMA: only [`Avx2::detect`] makes one.
    pub(in crate::conv::fast) struct Avx2(());

    impl Avx2 {
        pub(in crate::conv::fast) fn detect() -> Option<Avx2> {
            (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
                .then_some(Avx2(()))
        }
    }

    /// An element type with its AVX vector. Every method is only called from the
    /// `#[target_feature(enable = "avx2,fma")]` kernels below, which only run when an [`Avx2`]
    /// exists: that is the safety argument of each `unsafe` block here.
    pub(in crate::conv::fast) trait Lanes:
        Copy + Default + std::ops::Add<Output = Self> + 'static
    {
        type V: Copy;
        const N: usize;
        fn zero() -> Self::V;
        fn splat(v: Self) -> Self::V;
        /// `N` elements from `p`.
        ///
        /// # Safety
        /// `p..p+N` must be readable (inside one slice).
        unsafe fn load_ptr(p: *const Self) -> Self::V;
        /// Into the first `N` elements of `s` (panics when shorter).
        fn store(v: Self::V, s: &mut [Self]);
        fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    }

    impl Lanes for f32 {
        type V = __m256;
        const N: usize = 8;
        #[inline(always)]
        fn zero() -> __m256 {
            // SAFETY: AVX (see the trait).
            unsafe { _mm256_setzero_ps() }
        }
        #[inline(always)]
        fn splat(v: f32) -> __m256 {
            // SAFETY: AVX (see the trait).
            unsafe { _mm256_set1_ps(v) }
        }
        #[inline(always)]
        unsafe fn load_ptr(p: *const f32) -> __m256 {
            // SAFETY: readable per the caller; AVX (see the trait).
            unsafe { _mm256_loadu_ps(p) }
        }
        #[inline(always)]
        fn store(v: __m256, s: &mut [f32]) {
            let s = &mut s[..8];
            // SAFETY: `s` holds 8 floats (bounds-checked above); unaligned store; AVX.
            unsafe { _mm256_storeu_ps(s.as_mut_ptr(), v) }
        }
        #[inline(always)]
        fn fma(a: __m256, b: __m256, c: __m256) -> __m256 {
            // SAFETY: FMA (see the trait).
            unsafe { _mm256_fmadd_ps(a, b, c) }
        }
    }

    impl Lanes for f64 {
        type V = __m256d;
        const N: usize = 4;
        #[inline(always)]
        fn zero() -> __m256d {
            // SAFETY: AVX (see the trait).
            unsafe { _mm256_setzero_pd() }
        }
        #[inline(always)]
        fn splat(v: f64) -> __m256d {
            // SAFETY: AVX (see the trait).
            unsafe { _mm256_set1_pd(v) }
        }
        #[inline(always)]
        unsafe fn load_ptr(p: *const f64) -> __m256d {
            // SAFETY: readable per the caller; AVX (see the trait).
            unsafe { _mm256_loadu_pd(p) }
        }
        #[inline(always)]
        fn store(v: __m256d, s: &mut [f64]) {
            let s = &mut s[..4];
            // SAFETY: `s` holds 4 doubles (bounds-checked above); unaligned store; AVX.
            unsafe { _mm256_storeu_pd(s.as_mut_ptr(), v) }
        }
        #[inline(always)]
        fn fma(a: __m256d, b: __m256d, c: __m256d) -> __m256d {
            // SAFETY: FMA (see the trait).
            unsafe { _mm256_fmadd_pd(a, b, c) }
        }
    }

    /// Vectors per width tile of the correlation.
    const NV: usize = 2;

    /// The correlation with `R × NV` vector accumulators; `K2` is the kernel width when known
    /// at compile time (the tap loop unrolls), 0 otherwise.
    #[target_feature(enable = "avx2,fma")]
    fn correlate<L: Lanes, const K2: usize>(c: &Corr, src: &[L], wb: &[L], dst: &mut [L]) {
        let w = NV * L::N;
        let ov = c.out_vol();
        let rows = dst.len() / ov;
        let k2n = if K2 == 0 { c.kernel[2] } else { K2 };
        let d2 = c.dilation[2];
        let [o0n, o1n, o2n] = c.out;
        let rows_at = c.rows_at();
        let span = (k2n - 1) * d2 + w;
        let last = rows_at.last().copied().unwrap_or(0);
        assert!(
            wb.len() >= rows_at.len() * k2n * R,
            "packed weights too short"
        );
        let mut tile = vec![L::default(); R * w];
        for o0 in 0..o0n {
            for o1 in 0..o1n {
                let base = c.row_base(o0, o1);
                // Every read below is at `base + off + t + k2·d2 + v·N + (0..N)` with `off ≤
                // last`, `t + w ≤ round_up(o2n, w)`, `k2·d2 + v·N + N ≤ span`: in bounds.
                assert!(
                    base + last + round_up(o2n, w) - w + span <= src.len(),
                    "source planes too short"
                );
                for t in (0..o2n).step_by(w) {
                    let mut acc = [[L::zero(); NV]; R];
                    for (j, &off) in rows_at.iter().enumerate() {
                        let row = src[base + off + t..].as_ptr();
                        let wk = &wb[j * k2n * R..];
                        for k2 in 0..k2n {
                            // SAFETY: in bounds by the assertion above.
                            let xs: [L::V; NV] = std::array::from_fn(|v| unsafe {
                                L::load_ptr(row.add(k2 * d2 + v * L::N))
                            });
                            for (r, ar) in acc.iter_mut().enumerate() {
                                // SAFETY: `j·k2n·R + k2·R + r < rows_at.len()·k2n·R ≤ wb.len()`.
                                let wr = L::splat(unsafe { *wk.get_unchecked(k2 * R + r) });
                                for (a, &x) in ar.iter_mut().zip(&xs) {
                                    *a = L::fma(x, wr, *a);
                                }
                            }
                        }
                    }
                    let len = w.min(o2n - t);
                    for (r, ar) in acc.iter().enumerate().take(rows) {
                        let out = &mut dst[r * ov + (o0 * o1n + o1) * o2n + t..][..len];
                        if len == w {
                            for (v, &a) in ar.iter().enumerate() {
                                L::store(a, &mut out[v * L::N..]);
                            }
                        } else {
                            let tr = &mut tile[r * w..][..w];
                            for (v, &a) in ar.iter().enumerate() {
                                L::store(a, &mut tr[v * L::N..]);
                            }
                            out.copy_from_slice(&tr[..len]);
                        }
                    }
                }
            }
        }
    }

    /// The `∂w` task with `R × B` vector accumulators (`B` taps of a kernel row at a time:
    /// [`KB`], or 2 for rows of 2 or 4 taps, which `KB` would pad by half).
    #[target_feature(enable = "avx2,fma")]
    fn weight<L: Lanes, const B: usize>(geo: &WeightGeom, task: &WeightTask<'_, L>) -> Vec<L> {
        let n = L::N;
        let [k0n, k1n, k2n] = geo.kernel;
        let o0n = geo.out[0];
        let d2 = geo.dilation[2];
        let kv = k0n * k1n * k2n;
        let len = geo.flat_len(n);
        let mut out = vec![L::default(); R * kv];
        let mut lanes = vec![L::default(); n];
        for k0 in 0..k0n {
            for k1 in 0..k1n {
                for k2c in (0..k2n).step_by(B) {
                    let mut acc = [[L::zero(); B]; R];
                    for (xp, dys) in task.x.iter().zip(&task.dy) {
                        for o0 in 0..o0n {
                            let (xo, qo) = geo.rows([o0, 0], [k0, k1, k2c]);
                            let xs = &xp[xo..][..len + (B - 1) * d2];
                            let ds: [&[L]; R] = std::array::from_fn(|r| &dys[r][qo..][..len]);
                            let mut i = 0;
                            while i < len {
                                // SAFETY: `i + N ≤ len` (`len` is a multiple of N), the length
                                // of every `ds[r]`; `xs` holds `len + (B-1)·d2` elements.
                                let xv: [L::V; B] = std::array::from_fn(|kb| unsafe {
                                    L::load_ptr(xs.as_ptr().add(i + kb * d2))
                                });
                                for (ar, d) in acc.iter_mut().zip(&ds) {
                                    // SAFETY: as above.
                                    let dv = unsafe { L::load_ptr(d.as_ptr().add(i)) };
                                    for (a, &x) in ar.iter_mut().zip(&xv) {
                                        *a = L::fma(dv, x, *a);
                                    }
                                }
                                i += n;
                            }
                        }
                    }
                    for (r, ar) in acc.iter().enumerate() {
                        for (kb, &a) in ar.iter().enumerate().take(k2n - k2c) {
                            L::store(a, &mut lanes);
                            out[r * kv + (k0 * k1n + k1) * k2n + k2c + kb] =
                                lanes.iter().fold(L::default(), |s, &v| s + v);
                        }
                    }
                }
            }
        }
        out
    }

    impl<L: Lanes> Engine<L> for Avx2 {
        fn correlate(&self, c: &Corr, src: &[L], wb: &[L], dst: &mut [L]) {
            // SAFETY: an `Avx2` exists only when the CPU has AVX2 and FMA, the only
            // requirement of the `#[target_feature]` kernels (their bodies are safe Rust).
            unsafe {
                match c.kernel[2] {
                    1 => correlate::<L, 1>(c, src, wb, dst),
                    3 => correlate::<L, 3>(c, src, wb, dst),
                    // Phase kernels of 7- and 3-tap kernels at stride 2 (`polyphase`).
                    4 => correlate::<L, 4>(c, src, wb, dst),
                    2 => correlate::<L, 2>(c, src, wb, dst),
                    _ => correlate::<L, 0>(c, src, wb, dst),
                }
            }
        }
        fn weight(&self, geo: &WeightGeom, task: &WeightTask<'_, L>) -> Vec<L> {
            // SAFETY: as in `correlate`. (Taps 2 by 2 read no further than `KB` by `KB` for
            // rows of 2 or 4 taps, which the planes are sized for.)
            unsafe {
                match geo.kernel[2] {
                    2 | 4 => weight::<L, 2>(geo, task),
                    _ => weight::<L, KB>(geo, task),
                }
            }
        }
    }
}

/// Pack weights for a correlation: for each group and block of [`R`] rows, `[col][k][R]`
/// (`get(g, row, col, k)`, zero beyond `rows`).
fn pack<T: Scalar>(
    groups: usize,
    rows: usize,
    cols: usize,
    kv: usize,
    get: impl Fn(usize, usize, usize, usize) -> T,
) -> Vec<T> {
    let nb = rows.div_ceil(R);
    let mut p = vec![T::zero(); groups * nb * cols * kv * R];
    for g in 0..groups {
        for b in 0..nb {
            for c in 0..cols {
                for k in 0..kv {
                    for r in 0..R.min(rows - b * R) {
                        p[(((g * nb + b) * cols + c) * kv + k) * R + r] = get(g, b * R + r, c, k);
                    }
                }
            }
        }
    }
    p
}

/// The plan of a conv geometry (transposes through their conv).
struct Plan {
    lay: Layout,
    /// Padding before, per (lifted) axis.
    lo: [usize; 3],
    /// Extents of a padded input plane (row stride widened for the width tiles).
    x_dims: [usize; 3],
    /// Extents of a padded cotangent plane (`dy` at offset `e`).
    q_dims: [usize; 3],
    /// `d·(K-1)` per axis.
    e: [usize; 3],
    /// Zeros after the last plane of a sample (the `∂w` sweep reads past a plane's end).
    slack: usize,
    /// Zero padding (or none): `∂x` is computed on the interior only.
    zeros: bool,
}

impl Plan {
    fn new(g: &Geometry) -> Self {
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
        let q2 = (o2 + 2 * e[2])
            .max(e[2] + round_up(o2, v))
            .max(dx_read + e[2]);
        // One row stride for both: the `∂w` sweep runs over whole rows back to back (see
        // `WeightGeom::flat_len`), reading zeros of `dy` between them, and up to a vector past
        // the last row: into the zero rows below it when the kernel has more than one row,
        // else into room left at the end of the row.
        let tail = if e[1] == 0 { e[2] + o2 + v } else { 0 };
        let stride = x2.max(q2).max(tail);
        Plan {
            x_dims: [p0, p1, stride],
            q_dims: [o0 + 2 * e[0], o1 + 2 * e[1], stride],
            slack: stride + (round_up(lay.kernel[2], KB) + 1) * d2 + 2 * w_tile,
            lay,
            lo,
            e,
            zeros,
        }
    }

    fn x_plane(&self) -> usize {
        self.x_dims.iter().product()
    }
    fn q_plane(&self) -> usize {
        self.q_dims.iter().product()
    }

    /// The padded input planes of one sample (`c_in` planes of `x_dims`, zeros outside the
    /// padded box).
    fn pad_input<T: Scalar>(&self, x: &[T]) -> Vec<T> {
        let lay = &self.lay;
        let (iv, pv) = (lay.in_vol(), self.x_plane());
        let mut xp = vec![T::zero(); lay.c_in * pv + self.slack];
        let [_, i1, i2] = lay.input;
        let [_, x1, x2] = self.x_dims;
        let lo2 = self.lo[2];
        for (dst, src) in xp.chunks_mut(pv).zip(x.chunks(iv)) {
            for (p0, s0) in lay.maps[0].iter().enumerate() {
                for (p1, s1) in lay.maps[1].iter().enumerate() {
                    let (Some(s0), Some(s1)) = (s0, s1) else {
                        continue;
                    };
                    let row = &mut dst[(p0 * x1 + p1) * x2..][..lay.padded[2]];
                    let srow = &src[(s0 * i1 + s1) * i2..][..i2];
                    row[lo2..lo2 + i2].copy_from_slice(srow);
                    if !self.zeros {
                        for (p2, s2) in lay.maps[2].iter().enumerate() {
                            if p2 < lo2 || p2 >= lo2 + i2 {
                                row[p2] = s2.map_or(T::zero(), |s| srow[s]);
                            }
                        }
                    }
                }
            }
        }
        xp
    }

    /// The adjoint of the padding of one plane: add every entry of `src` (dense, padded
    /// extents) onto the input position it was read from, in `dst` (one input plane).
    fn fold_plane<T: Scalar>(&self, src: &[T], dst: &mut [T]) {
        let lay = &self.lay;
        let [_, p1, p2] = lay.padded;
        let [_, i1, i2] = lay.input;
        for (a, s0) in lay.maps[0].iter().enumerate() {
            let Some(s0) = s0 else { continue };
            for (b, s1) in lay.maps[1].iter().enumerate() {
                let Some(s1) = s1 else { continue };
                let row = &src[(a * p1 + b) * p2..][..p2];
                let drow = &mut dst[(s0 * i1 + s1) * i2..][..i2];
                for (&v, s2) in row.iter().zip(&lay.maps[2]) {
                    if let Some(s) = s2 {
                        drow[*s] = drow[*s] + v;
                    }
                }
            }
        }
    }

    /// The cotangent planes of one sample (`c_out` planes of `q_dims`, `dy` at offset `e` in
    /// zeros).
    fn pad_cotangent<T: Scalar>(&self, dy: &[T]) -> Vec<T> {
        let lay = &self.lay;
        let (ov, qv) = (lay.out_vol(), self.q_plane());
        let mut q = vec![T::zero(); lay.c_out * qv + self.slack];
        let [_, o1, o2] = lay.output;
        let [_, q1, q2] = self.q_dims;
        let e = self.e;
        for (dst, src) in q.chunks_mut(qv).zip(dy.chunks(ov)) {
            for (r, srow) in src.chunks(o2).enumerate() {
                let (a, b) = (r / o1, r % o1);
                dst[((a + e[0]) * q1 + b + e[1]) * q2 + e[2]..][..o2].copy_from_slice(srow);
            }
        }
        q
    }

    /// Correlate the `groups × cols` source planes of one sample into its output (`groups ×
    /// rows` planes of `corr.out`), blocks of [`R`] rows in parallel; `wp` from [`pack`].
    fn correlate_sample<T: Scalar>(
        &self,
        eng: &impl Engine<T>,
        corr: &Corr,
        (rows, cols): (usize, usize),
        src: &[T],
        wp: &[T],
        dst: &mut [T],
    ) {
        let (pv, ov, nb) = (corr.plane(), corr.out_vol(), rows.div_ceil(R));
        let wblock = cols * self.lay.k_vol() * R;
        dst.par_chunks_mut(rows * ov)
            .enumerate()
            .for_each(|(g, dg)| {
                let src = &src[g * cols * pv..][..cols * pv];
                dg.par_chunks_mut(R * ov).enumerate().for_each(|(b, db)| {
                    eng.correlate(corr, src, &wp[(g * nb + b) * wblock..][..wblock], db);
                });
            });
    }

    /// The conv's output `(n, c_out, out)`.
    fn forward<T: Scalar>(&self, eng: &impl Engine<T>, x: &[T], w: &[T]) -> Vec<T> {
        let lay = &self.lay;
        let (ov, kv) = (lay.out_vol(), lay.k_vol());
        let mut y = vec![T::zero(); lay.n * lay.c_out * ov];
        let wp = pack(lay.groups, lay.og, lay.cg, kv, |g, r, c, k| {
            w[((g * lay.og + r) * lay.cg + c) * kv + k]
        });
        let corr = Corr {
            src_dims: self.x_dims,
            channels: lay.cg,
            kernel: lay.kernel,
            dilation: lay.dilation,
            origin: [0; 3],
            out: lay.output,
        };
        y.par_chunks_mut(lay.c_out * ov)
            .zip(x.par_chunks(lay.c_in * lay.in_vol()))
            .for_each(|(yn, xn)| {
                let xp = self.pad_input(xn);
                self.correlate_sample(eng, &corr, (lay.og, lay.cg), &xp, &wp, yn);
            });
        y
    }

    /// The `∂x` correlation and the packed flipped kernel.
    fn input_grad_setup<T: Scalar>(&self, w: &[T]) -> (Corr, Vec<T>) {
        let lay = &self.lay;
        let kv = lay.k_vol();
        let wq = pack(lay.groups, lay.cg, lay.og, kv, |g, r, c, k| {
            w[((g * lay.og + c) * lay.cg + r) * kv + (kv - 1 - k)]
        });
        let (origin, out) = if self.zeros {
            (self.lo, lay.input)
        } else {
            ([0; 3], lay.padded)
        };
        let corr = Corr {
            src_dims: self.q_dims,
            channels: lay.og,
            kernel: lay.kernel,
            dilation: lay.dilation,
            origin,
            out,
        };
        (corr, wq)
    }

    /// The input gradient of one sample into `dxn` from its padded cotangent `q`.
    fn input_grad_sample<T: Scalar>(
        &self,
        eng: &impl Engine<T>,
        (corr, wq): &(Corr, Vec<T>),
        q: &[T],
        dxn: &mut [T],
    ) {
        let lay = &self.lay;
        if self.zeros {
            self.correlate_sample(eng, corr, (lay.cg, lay.og), q, wq, dxn);
            return;
        }
        let ov = corr.out_vol();
        let mut full = vec![T::zero(); lay.c_in * ov];
        self.correlate_sample(eng, corr, (lay.cg, lay.og), q, wq, &mut full);
        for (d, f) in dxn.chunks_mut(lay.in_vol()).zip(full.chunks(ov)) {
            self.fold_plane(f, d);
        }
    }

    /// The conv's input gradient `(n, c_in, in)`.
    fn input_grad<T: Scalar>(&self, eng: &impl Engine<T>, dy: &[T], w: &[T]) -> Vec<T> {
        let lay = &self.lay;
        let setup = self.input_grad_setup(w);
        let mut dx = vec![T::zero(); lay.n * lay.c_in * lay.in_vol()];
        dx.par_chunks_mut(lay.c_in * lay.in_vol())
            .zip(dy.par_chunks(lay.c_out * lay.out_vol()))
            .for_each(|(dxn, dyn_)| {
                self.input_grad_sample(eng, &setup, &self.pad_cotangent(dyn_), dxn);
            });
        dx
    }

    /// Add the weight gradient of one sample (padded input `xp`, padded cotangent `q`) onto
    /// `dw` `(c_out, cg, k)`; tasks (block of [`R`] output channels, input channel) in
    /// parallel.
    fn weight_grad_sample<T: Scalar>(&self, eng: &impl Engine<T>, xp: &[T], q: &[T], dw: &mut [T]) {
        let lay = &self.lay;
        let (kv, pv, qv) = (lay.k_vol(), self.x_plane(), self.q_plane());
        let nb = lay.og.div_ceil(R);
        let geo = WeightGeom {
            x_dims: self.x_dims,
            q_dims: self.q_dims,
            e: self.e,
            out: lay.output,
            kernel: lay.kernel,
            dilation: lay.dilation,
        };
        let tasks: Vec<(usize, usize, usize)> = (0..lay.groups)
            .flat_map(|g| (0..nb).flat_map(move |b| (0..lay.cg).map(move |c| (g, b, c))))
            .collect();
        let sums: Vec<Vec<T>> = tasks
            .par_iter()
            .map(|&(g, b, c)| {
                let rows = R.min(lay.og - b * R);
                let task = WeightTask {
                    x: vec![&xp[(g * lay.cg + c) * pv..]],
                    dy: vec![std::array::from_fn(|r| {
                        let co = g * lay.og + b * R + r.min(rows - 1);
                        &q[co * qv..]
                    })],
                };
                eng.weight(&geo, &task)
            })
            .collect();
        for (&(g, b, c), s) in tasks.iter().zip(&sums) {
            for r in 0..R.min(lay.og - b * R) {
                let co = g * lay.og + b * R + r;
                let d = &mut dw[(co * lay.cg + c) * kv..][..kv];
                d.iter_mut()
                    .zip(&s[r * kv..])
                    .for_each(|(d, &v)| *d = *d + v);
            }
        }
    }

    /// The conv's weight gradient `(c_out, cg, k)` and, with `w`, its input gradient, sample
    /// by sample (each sample's padded planes are built once and stay in cache).
    fn grads<T: Scalar>(
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
        // Without `w`, one dummy element per sample.
        let dx_chunk = if w.is_some() { iv } else { 1 };
        let mut dx = vec![T::zero(); lay.n * dx_chunk];
        let dw = dx
            .par_chunks_mut(dx_chunk)
            .zip(x.par_chunks(iv).zip(dy.par_chunks(ov)))
            .fold(
                || vec![T::zero(); wlen],
                |mut dw, (dxn, (xn, dyn_))| {
                    let q = self.pad_cotangent(dyn_);
                    if let Some(setup) = &setup {
                        self.input_grad_sample(eng, setup, &q, dxn);
                    }
                    self.weight_grad_sample(eng, &self.pad_input(xn), &q, &mut dw);
                    dw
                },
            )
            .reduce(
                || vec![T::zero(); wlen],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(a, &b)| *a = *a + b);
                    a
                },
            );
        (w.is_some().then_some(dx), dw)
    }
}

/// Whether a tensor of the layer has no elements (left to `im2col`).
fn empty(g: &Geometry) -> bool {
    [g.x_shape(), g.w_shape(), g.y_shape()]
        .iter()
        .any(|s| s.contains(&0))
}

/// Which kernels run the layer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kernels {
    /// AVX2 + FMA when the CPU has them (checked at run time), else portable.
    #[default]
    Detect,
    /// The portable Rust kernels (what a CPU without AVX2 runs; for testing).
    Portable,
}

/// `t` as a `Tensor<U>` when `T` is `U`.
pub(super) fn downcast<T: Scalar, U: Scalar>(t: &Tensor<T>) -> Option<&Tensor<U>> {
    (t as &dyn Any).downcast_ref::<Tensor<U>>()
}

/// `v` back as a `T` value (`U` is `T`: checked by the caller's downcast).
pub(super) fn upcast<T: 'static, U: 'static>(v: U) -> T {
    *(Box::new(v) as Box<dyn Any>)
        .downcast::<T>()
        .expect("upcast to the type that was downcast")
}

/// Forward pass by the tiled direct kernels (strides above 1: through the
/// [`polyphase`] split when it applies, else [`im2col::forward`]).
///
/// # Errors
/// Spec and shape errors of [`ConvSpec::geometry`]; a bias not of shape `(c_out,)`.
pub fn forward<T: Scalar>(
    spec: &ConvSpec,
    x: &Tensor<T>,
    w: &Tensor<T>,
    b: Option<&Tensor<T>>,
) -> Result<Tensor<T>> {
    forward_using(spec, x, w, b, Kernels::Detect)
}

/// [`forward`] with the given kernels.
///
/// # Errors
/// As [`forward`].
pub fn forward_using<T: Scalar>(
    spec: &ConvSpec,
    x: &Tensor<T>,
    w: &Tensor<T>,
    b: Option<&Tensor<T>>,
    kernels: Kernels,
) -> Result<Tensor<T>> {
    let g = spec.forward_geometry(x, w, b)?;
    if super::depthwise::applies(&g) {
        return super::depthwise::forward_tensor(&g, x, w, b, kernels);
    }
    if !supports(&g) || empty(&g) {
        return im2col::forward(spec, x, w, b);
    }
    if !stride_one(&g) {
        return polyphase::forward(spec, x, w, b, kernels);
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(avx) = x86::Avx2::detect().filter(|_| kernels == Kernels::Detect) {
        if let (Some(x), Some(w)) = (downcast::<T, f32>(x), downcast::<T, f32>(w)) {
            return Ok(upcast(forward_with(&avx, &g, x, w, b.and_then(downcast))?));
        }
        if let (Some(x), Some(w)) = (downcast::<T, f64>(x), downcast::<T, f64>(w)) {
            return Ok(upcast(forward_with(&avx, &g, x, w, b.and_then(downcast))?));
        }
    }
    forward_with(&Portable, &g, x, w, b)
}

fn forward_with<T: Scalar>(
    eng: &impl Engine<T>,
    g: &Geometry,
    x: &Tensor<T>,
    w: &Tensor<T>,
    b: Option<&Tensor<T>>,
) -> Result<Tensor<T>> {
    let c = g.as_conv();
    let plan = Plan::new(g);
    let data = match g.kind {
        ConvKind::Conv => plan.forward(eng, x.data(), w.data()),
        ConvKind::ConvTranspose => plan.input_grad(eng, pad_tail(x, &c.output).data(), w.data()),
    };
    let mut y = Tensor::new(g.y_shape(), data)?;
    if let Some(b) = b {
        super::add_bias(&mut y, b);
    }
    Ok(y)
}

/// Gradients by the tiled direct kernels (strides above 1: through the
/// [`polyphase`] split when it applies, else [`im2col::backward`]).
///
/// # Errors
/// Spec and shape errors of [`ConvSpec::geometry`]; `dy` must have the output shape.
pub fn backward<T: Scalar>(
    spec: &ConvSpec,
    x: &Tensor<T>,
    w: &Tensor<T>,
    dy: &Tensor<T>,
    with_bias: bool,
) -> Result<Grads<T>> {
    backward_using(spec, x, w, dy, with_bias, Kernels::Detect)
}

/// [`backward`] with the given kernels.
///
/// # Errors
/// As [`backward`].
pub fn backward_using<T: Scalar>(
    spec: &ConvSpec,
    x: &Tensor<T>,
    w: &Tensor<T>,
    dy: &Tensor<T>,
    with_bias: bool,
    kernels: Kernels,
) -> Result<Grads<T>> {
    let g = spec.backward_geometry(x, w, dy)?;
    if super::depthwise::applies(&g) {
        return super::depthwise::backward_tensor(&g, x, w, dy, with_bias, kernels);
    }
    if !supports(&g) || empty(&g) {
        return im2col::backward(spec, x, w, dy, with_bias);
    }
    if !stride_one(&g) {
        return polyphase::backward(spec, x, w, dy, with_bias, kernels);
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(avx) = x86::Avx2::detect().filter(|_| kernels == Kernels::Detect) {
        if let (Some(x), Some(w), Some(dy)) = (downcast(x), downcast(w), downcast(dy)) {
            return Ok(upcast(backward_with::<f32>(&avx, &g, x, w, dy, with_bias)?));
        }
        if let (Some(x), Some(w), Some(dy)) = (downcast(x), downcast(w), downcast(dy)) {
            return Ok(upcast(backward_with::<f64>(&avx, &g, x, w, dy, with_bias)?));
        }
    }
    backward_with(&Portable, &g, x, w, dy, with_bias)
}

fn backward_with<T: Scalar>(
    eng: &impl Engine<T>,
    g: &Geometry,
    x: &Tensor<T>,
    w: &Tensor<T>,
    dy: &Tensor<T>,
    with_bias: bool,
) -> Result<Grads<T>> {
    let c = g.as_conv();
    let plan = Plan::new(g);
    let (dx, dw) = match g.kind {
        ConvKind::Conv => {
            let (dx, dw) = plan.grads(eng, x.data(), dy.data(), Some(w.data()));
            (dx.expect("input gradient requested"), dw)
        }
        ConvKind::ConvTranspose => {
            // The transpose's input is its conv's cotangent and vice versa.
            let full = Tensor::new(c.y_shape(), plan.forward(eng, dy.data(), w.data()))?;
            let dx = Tensor::from_fn(&g.x_shape(), |idx| full.get(idx)).into_data();
            let xt = pad_tail(x, &c.output);
            (dx, plan.grads(eng, dy.data(), xt.data(), None).1)
        }
    };
    let db = with_bias.then(|| super::bias_grad(dy));
    Ok(Grads {
        dx: Tensor::new(g.x_shape(), dx)?,
        dw: Tensor::new(g.w_shape(), dw)?,
        db,
    })
}
