//! The two plane kernels of [`depthwise`](super::depthwise): a 2-D correlation of one plane
//! with one kernel slice (accumulated onto an output plane) and the `∂w` reduction of one
//! cotangent plane against one input plane; portable loops and AVX2/FMA vector kernels.
//!
//! The general correlation holds a tile of `RT` output rows × `V` vectors in registers; per tap
//! one broadcast weight feeds `RT·V` fused multiply-adds, each with its input vector as a memory
//! operand: about one load per multiply-add, half of them split across cache lines, so the load
//! ports bound it. For kernels of 3, 5 or 7 rows at row dilation 1 (ConvNeXt's 7×7) a second
//! kernel shares the loads between output rows: per kernel column it holds that column's `K`
//! weights and `RT` accumulators in registers, and each input row, loaded once, feeds every
//! output row it reaches (row `t` feeds row `r` through kernel row `t − r`; the loops have
//! constant bounds, so the guards vanish when unrolled): `(RT + K − 1 + K) / (RT·K)` loads per
//! multiply-add, 0.41 at 7×7 with the 7 rows that AVX2's 16 registers hold. With AVX-512VL's
//! 32 registers (still 256-bit vectors) the tile is 14 rows: 0.28 loads per multiply-add, and
//! 14 independent sums instead of 7, which the two FMA pipes need to stay busy through the
//! 4-cycle FMA latency (7 left them waiting on their own sums). On a 2-D plane that such a
//! tile covers exactly, the kernel writes the output instead of adding onto it
//! ([`DwEngine::corr_fresh`]), so the forward pass neither clears the plane nor loads it back.
//!
//! Measured (ConvNeXt's 2d-convnext-dw7, f32, one thread, best of 30 `fftconv bench` runs on
//! a loaded 2-core Zen 4): forward 1.47–1.52 ms with the 7-row tiles, 1.27–1.29 ms with both
//! changes (about 80 % of the FMA peak on its 118 MFLOP); f64 unchanged at 3.5–3.6 ms. The rest
//! of the forward pass is mostly the row copies into the padded plane.

use crate::tensor::Scalar;
use std::mem::MaybeUninit;

/// One 2-D correlation: `out[i, j] += Σ_{a, b} w[a, b] · src[i + d0·a, j + d1·b]` for `i` below
/// `rows`, `j` below `cols` (multiples of the engine's tile).
#[derive(Clone, Copy, Debug)]
pub(super) struct Corr2 {
    pub src_stride: usize,
    pub out_stride: usize,
    pub rows: usize,
    pub cols: usize,
    pub kernel: [usize; 2],
    pub dilation: [usize; 2],
}

impl Corr2 {
    /// Elements of `src` the pass reads (from its start).
    pub fn src_len(&self) -> usize {
        let [k0, k1] = self.kernel;
        let [d0, d1] = self.dilation;
        (self.rows - 1 + d0 * (k0 - 1)) * self.src_stride + self.cols + d1 * (k1 - 1)
    }
    fn out_len(&self) -> usize {
        (self.rows - 1) * self.out_stride + self.cols
    }
}

/// One `∂w` reduction: `dw[a, b] += Σ_{i < rows, j < cols} dy[i, j] · x[i + d0·a, j + d1·b]`
/// (`cols` a multiple of the engine's lanes; `dy` is zero past the true width).
#[derive(Clone, Copy, Debug)]
pub(super) struct Red2 {
    pub x_stride: usize,
    pub dy_stride: usize,
    pub rows: usize,
    pub cols: usize,
    pub kernel: [usize; 2],
    pub dilation: [usize; 2],
}

/// At most this many taps of one kernel row per `∂w` register block: a kernel row of up to
/// `MAX_KB` taps is one block, longer rows run in blocks of `MAX_KB` whose last may run past
/// the kernel (buffers leave room for it; its extra sums are dropped).
pub(super) const MAX_KB: usize = 8;

/// Taps per `∂w` block for kernel rows of `k` taps.
fn taps_per_block(k: usize) -> usize {
    k.clamp(1, MAX_KB)
}

impl Red2 {
    /// Elements of `x` the pass reads (from its start).
    pub fn x_len(&self) -> usize {
        let [k0, k1] = self.kernel;
        let [d0, d1] = self.dilation;
        let kb = taps_per_block(k1);
        (self.rows - 1 + d0 * (k0 - 1)) * self.x_stride
            + self.cols
            + d1 * (k1.div_ceil(kb) * kb - 1)
    }
    fn dy_len(&self) -> usize {
        (self.rows - 1) * self.dy_stride + self.cols
    }
}

/// The kernels for one element type.
///
/// # Safety
/// When [`DwEngine::corr_fresh`] returns true it has written every element of
/// `out[..rows·cols]` (callers then treat that memory as initialised).
pub(super) unsafe trait DwEngine<T>: Sync {
    /// `(rows, cols)` of the correlation's output tile for planes `height` × `width` and
    /// kernels of `kernel_rows` rows at row dilation `row_dilation`.
    fn tile(
        &self,
        height: usize,
        width: usize,
        kernel_rows: usize,
        row_dilation: usize,
    ) -> (usize, usize);
    /// Elements per vector of the `∂w` reduction.
    fn lanes(&self) -> usize;
    fn corr(&self, c: &Corr2, src: &[T], w: &[T], out: &mut [T]);
    /// `out = corr(src, w)` into memory not yet written, when a kernel of the engine covers
    /// `c` (`out_stride == cols`): returns whether it did, and then every element of
    /// `out[..rows·cols]` is written. Saves clearing an output plane that a single kernel
    /// slice fills (2-D layers), and loading the zeros back.
    fn corr_fresh(&self, c: &Corr2, src: &[T], w: &[T], out: &mut [MaybeUninit<T>]) -> bool;
    fn reduce(&self, r: &Red2, x: &[T], dy: &[T], dw: &mut [T]);
}

/// Plain loops (any target; what the vector kernels are tested against).
pub(super) struct Portable;

// SAFETY: `corr_fresh` never returns true.
unsafe impl<T: Scalar> DwEngine<T> for Portable {
    fn tile(&self, _: usize, _: usize, _: usize, _: usize) -> (usize, usize) {
        (1, 1)
    }
    fn lanes(&self) -> usize {
        1
    }
    fn corr(&self, c: &Corr2, src: &[T], w: &[T], out: &mut [T]) {
        let ([k0, k1], [d0, d1]) = (c.kernel, c.dilation);
        for i in 0..c.rows {
            let orow = &mut out[i * c.out_stride..][..c.cols];
            for a in 0..k0 {
                let srow = &src[(i + d0 * a) * c.src_stride..];
                for b in 0..k1 {
                    let wv = w[a * k1 + b];
                    for (o, s) in orow.iter_mut().zip(&srow[d1 * b..]) {
                        *o = *o + wv * *s;
                    }
                }
            }
        }
    }
    fn corr_fresh(&self, _: &Corr2, _: &[T], _: &[T], _: &mut [MaybeUninit<T>]) -> bool {
        false
    }
    fn reduce(&self, r: &Red2, x: &[T], dy: &[T], dw: &mut [T]) {
        let ([k0, k1], [d0, d1]) = (r.kernel, r.dilation);
        for a in 0..k0 {
            for b in 0..k1 {
                let mut s = T::zero();
                for i in 0..r.rows {
                    let xr = &x[(i + d0 * a) * r.x_stride + d1 * b..];
                    let dr = &dy[i * r.dy_stride..][..r.cols];
                    s = s + dr.iter().zip(xr).map(|(&p, &q)| p * q).sum::<T>();
                }
                dw[a * k1 + b] = dw[a * k1 + b] + s;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) use x86::Avx2Dw;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{taps_per_block, Corr2, DwEngine, Red2};
    use crate::conv::fast::direct_simd::x86::{Avx2, Lanes};
    use crate::conv::fast::direct_simd::Kernels;
    use std::mem::MaybeUninit;

    /// The AVX2/FMA kernels; only [`Avx2Dw::of`] makes one (the CPU has AVX2 and FMA).
    /// `wide`: it also has AVX-512F and VL, whose 32 vector registers hold taller row-sharing
    /// tiles (still of 256-bit vectors).
    pub(in crate::conv::fast) struct Avx2Dw {
        /// The proof, held only to be owned.
        _cpu: Avx2,
        wide: bool,
    }

    impl Avx2Dw {
        /// The engine `kernels` selects: none for the portable kernels, the 16-register tiles
        /// only for [`Kernels::Avx2Only`].
        pub(in crate::conv::fast) fn of(kernels: Kernels) -> Option<Avx2Dw> {
            let wide = kernels == Kernels::Detect
                && is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512vl");
            Avx2::of(kernels).map(|cpu| Avx2Dw { _cpu: cpu, wide })
        }
    }

    /// `RT × V` accumulators.
    #[target_feature(enable = "avx2,fma")]
    fn corr<L: Lanes, const RT: usize, const V: usize>(
        c: &Corr2,
        src: &[L],
        w: &[L],
        out: &mut [L],
    ) {
        let ([k0, k1], [d0, d1]) = (c.kernel, c.dilation);
        assert!(src.len() >= c.src_len() && out.len() >= c.out_len() && w.len() >= k0 * k1);
        assert!(c.rows.is_multiple_of(RT) && c.cols.is_multiple_of(V * L::N));
        let (sp, wp, op) = (src.as_ptr(), w.as_ptr(), out.as_mut_ptr());
        for i0 in (0..c.rows).step_by(RT) {
            for j0 in (0..c.cols).step_by(V * L::N) {
                let mut acc = [[L::zero(); V]; RT];
                for (r, row) in acc.iter_mut().enumerate() {
                    for (v, a) in row.iter_mut().enumerate() {
                        // SAFETY: inside `out` (asserted `out_len`).
                        *a =
                            unsafe { L::load_ptr(op.add((i0 + r) * c.out_stride + j0 + v * L::N)) };
                    }
                }
                for a in 0..k0 {
                    for b in 0..k1 {
                        // SAFETY: `a < k0`, `b < k1`.
                        let wv = L::splat(unsafe { *wp.add(a * k1 + b) });
                        let base = (i0 + d0 * a) * c.src_stride + j0 + d1 * b;
                        for (r, row) in acc.iter_mut().enumerate() {
                            for (v, acc) in row.iter_mut().enumerate() {
                                // SAFETY: row below `rows + d0·(k0 − 1)`, column below
                                // `cols + d1·(k1 − 1)`: inside `src_len`.
                                let x = unsafe {
                                    L::load_ptr(sp.add(base + r * c.src_stride + v * L::N))
                                };
                                *acc = L::fma(x, wv, *acc);
                            }
                        }
                    }
                }
                for (r, row) in acc.iter().enumerate() {
                    for (v, a) in row.iter().enumerate() {
                        L::store(*a, &mut out[(i0 + r) * c.out_stride + j0 + v * L::N..]);
                    }
                }
            }
        }
    }

    /// Output rows per tile of the row-sharing kernel for kernels of `k` rows at row dilation
    /// `d` (`None`: it does not run them). `RT + K + 1` vector registers of 16: 7 rows at 7×7
    /// (ConvNeXt's 56, 28, 14 and 7 are multiples of 7), 8 below.
    fn shared_rows(k: usize, d: usize) -> Option<usize> {
        match (k, d) {
            (7, 1) => Some(7),
            (3 | 5, 1) => Some(8),
            _ => None,
        }
    }

    /// Output rows per tile of the row-sharing kernel with the 32 registers of AVX-512VL.
    /// 7 or 8 accumulators are fewer than the FMA latency (4 cycles) times the two FMA pipes,
    /// so the 16-register tiles wait on their own sums; 14 rows (`14 + K + 1 ≤ 22` registers)
    /// keep both pipes fed and load each input row for twice as many output rows. The taller
    /// tile runs when it pads `height` no more than the 16-register one (56, 28 and 14 at
    /// ConvNeXt's 7×7; 7 stays on 7-row tiles).
    const WIDE_ROWS: usize = 14;

    fn wide_rows(k: usize, d: usize, height: usize) -> Option<usize> {
        let narrow = shared_rows(k, d)?;
        let pad = |rt: usize| height.div_ceil(rt) * rt;
        (pad(WIDE_ROWS) <= pad(narrow)).then_some(WIDE_ROWS)
    }

    /// Input row `T` of a row-sharing tile (one kernel column): loaded once, it feeds output
    /// row `T − a` through kernel row `a`, for every such row inside the tile. Rows past
    /// `RT + K − 1` are no-ops.
    ///
    /// # Safety
    /// AVX2 and FMA; `p + T·ss .. + N` readable when `T < RT + K − 1`.
    #[inline(always)]
    unsafe fn row_step<L: Lanes, const K: usize, const RT: usize, const T: usize>(
        p: *const L,
        ss: usize,
        wv: &[L::V; K],
        acc: &mut [L::V; RT],
    ) {
        if T >= RT + K - 1 {
            return;
        }
        // SAFETY: per the caller.
        let x = unsafe { L::load_ptr(p.add(T * ss)) };
        for (a, wa) in wv.iter().enumerate() {
            if T >= a && T - a < RT {
                acc[T - a] = L::fma(x, *wa, acc[T - a]);
            }
        }
    }

    /// The output of a row-sharing pass: added onto (`Add`) or written into memory not yet
    /// written (`Fresh`), `out_len` elements either way.
    enum Out<'a, L> {
        Add(&'a mut [L]),
        Fresh(&'a mut [MaybeUninit<L>]),
    }

    impl<L> Out<'_, L> {
        fn len(&self) -> usize {
            match self {
                Out::Add(s) => s.len(),
                Out::Fresh(s) => s.len(),
            }
        }
        fn ptr(&mut self) -> *mut L {
            match self {
                Out::Add(s) => s.as_mut_ptr(),
                Out::Fresh(s) => s.as_mut_ptr().cast(),
            }
        }
    }

    /// `RT` output rows × one vector with the 16 registers of AVX2 (`RT + K ≤ 16`).
    #[target_feature(enable = "avx2,fma")]
    fn corr_rows<L: Lanes, const K: usize, const RT: usize>(
        c: &Corr2,
        src: &[L],
        w: &[L],
        out: Out<'_, L>,
    ) {
        assert!(RT + K <= 16);
        // SAFETY: AVX2 and FMA are enabled here.
        unsafe { corr_rows_body::<L, K, RT>(c, src, w, out) }
    }

    /// `RT` output rows × one vector with the 32 registers of AVX-512VL (`RT + K ≤ 30`).
    #[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
    fn corr_rows_wide<L: Lanes, const K: usize, const RT: usize>(
        c: &Corr2,
        src: &[L],
        w: &[L],
        out: Out<'_, L>,
    ) {
        assert!(RT + K <= 30);
        // SAFETY: AVX2 and FMA are enabled here.
        unsafe { corr_rows_body::<L, K, RT>(c, src, w, out) }
    }

    /// `RT` output rows × one vector; kernels of `K` rows at row dilation 1 (see the module
    /// notes); `RT + K − 1 ≤ 24`. Inlined into a caller that enables the registers it needs.
    ///
    /// # Safety
    /// AVX2 and FMA.
    #[inline(always)]
    unsafe fn corr_rows_body<L: Lanes, const K: usize, const RT: usize>(
        c: &Corr2,
        src: &[L],
        w: &[L],
        mut out: Out<'_, L>,
    ) {
        let ([k0, k1], [d0, d1]) = (c.kernel, c.dilation);
        assert!(k0 == K && d0 == 1 && RT + K <= 25);
        assert!(src.len() >= c.src_len() && out.len() >= c.out_len() && w.len() >= k0 * k1);
        assert!(c.rows.is_multiple_of(RT) && c.cols.is_multiple_of(L::N));
        let add = matches!(out, Out::Add(_));
        let (sp, wp, op) = (src.as_ptr(), w.as_ptr(), out.ptr());
        let ss = c.src_stride;
        for i0 in (0..c.rows).step_by(RT) {
            for j0 in (0..c.cols).step_by(L::N) {
                let mut acc = [L::zero(); RT];
                if add {
                    for (r, a) in acc.iter_mut().enumerate() {
                        // SAFETY: inside `out` (asserted `out_len`), initialised (`Add`).
                        *a = unsafe { L::load_ptr(op.add((i0 + r) * c.out_stride + j0)) };
                    }
                }
                for b in 0..k1 {
                    // SAFETY: `a < K = k0`, `b < k1`.
                    let wv: [L::V; K] =
                        std::array::from_fn(|a| L::splat(unsafe { *wp.add(a * k1 + b) }));
                    // SAFETY (each step): input rows `i0..i0 + RT + K − 1` (below
                    // `rows + K − 1`), column below `cols + d1·(k1 − 1)`: inside `src_len`.
                    let p = unsafe { sp.add(i0 * ss + j0 + d1 * b) };
                    // One call per input row, so that every index below is a constant (a loop
                    // over the rows is not unrolled, and the accumulators then live in memory).
                    macro_rules! rows {
                        ($($t:literal)*) => {$(
                            unsafe { row_step::<L, K, RT, $t>(p, ss, &wv, &mut acc) };
                        )*};
                    }
                    rows!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23);
                }
                for (r, a) in acc.iter().enumerate() {
                    // SAFETY: `N` elements inside `out` (asserted `out_len`); an unaligned
                    // write, which needs no initialised value there.
                    unsafe {
                        op.add((i0 + r) * c.out_stride + j0)
                            .cast::<L::V>()
                            .write_unaligned(*a)
                    };
                }
            }
        }
    }

    /// `KB` vector accumulators per block of taps of one kernel row.
    #[target_feature(enable = "avx2,fma")]
    fn reduce<L: Lanes, const KB: usize>(r: &Red2, x: &[L], dy: &[L], dw: &mut [L]) {
        let ([k0, k1], [d0, d1]) = (r.kernel, r.dilation);
        assert!(x.len() >= r.x_len() && dy.len() >= r.dy_len() && dw.len() >= k0 * k1);
        assert!(r.cols.is_multiple_of(L::N));
        let (xp, qp) = (x.as_ptr(), dy.as_ptr());
        for a in 0..k0 {
            for b0 in (0..k1).step_by(KB) {
                let mut acc = [L::zero(); KB];
                for i in 0..r.rows {
                    let (xrow, qrow) = ((i + d0 * a) * r.x_stride + d1 * b0, i * r.dy_stride);
                    for j in (0..r.cols).step_by(L::N) {
                        // SAFETY: inside `dy_len`.
                        let q = unsafe { L::load_ptr(qp.add(qrow + j)) };
                        for (t, acc) in acc.iter_mut().enumerate() {
                            // SAFETY: tap `b0 + t < ⌈k1/KB⌉·KB`: inside `x_len`.
                            let xv = unsafe { L::load_ptr(xp.add(xrow + j + d1 * t)) };
                            *acc = L::fma(q, xv, *acc);
                        }
                    }
                }
                for (t, acc) in acc.iter().enumerate() {
                    if b0 + t < k1 {
                        let mut lanes = [L::default(); 8];
                        L::store(*acc, &mut lanes);
                        let s = lanes[..L::N].iter().fold(L::default(), |s, &v| s + v);
                        dw[a * k1 + b0 + t] = dw[a * k1 + b0 + t] + s;
                    }
                }
            }
        }
    }

    impl Avx2Dw {
        /// `c` on a row-sharing kernel, when one runs it (else `out` back, untouched).
        fn rows<'a, L: Lanes>(
            &self,
            c: &Corr2,
            src: &[L],
            w: &[L],
            out: Out<'a, L>,
        ) -> Result<(), Out<'a, L>> {
            let (k, shared) = (c.kernel[0], shared_rows(c.kernel[0], c.dilation[0]));
            if !c.cols.is_multiple_of(L::N) {
                return Err(out);
            }
            // SAFETY (each call): an `Avx2Dw` exists only when the CPU has AVX2 and FMA, and
            // `wide` only when it has AVX-512F and VL too.
            unsafe {
                if self.wide && shared.is_some() && c.rows.is_multiple_of(WIDE_ROWS) {
                    match k {
                        7 => corr_rows_wide::<L, 7, WIDE_ROWS>(c, src, w, out),
                        5 => corr_rows_wide::<L, 5, WIDE_ROWS>(c, src, w, out),
                        3 => corr_rows_wide::<L, 3, WIDE_ROWS>(c, src, w, out),
                        _ => return Err(out),
                    }
                    return Ok(());
                }
                match (shared.filter(|&rt| c.rows.is_multiple_of(rt)), k) {
                    (Some(7), 7) => corr_rows::<L, 7, 7>(c, src, w, out),
                    (Some(8), 5) => corr_rows::<L, 5, 8>(c, src, w, out),
                    (Some(8), 3) => corr_rows::<L, 3, 8>(c, src, w, out),
                    _ => return Err(out),
                }
            }
            Ok(())
        }
    }

    // SAFETY: `corr_fresh` returns true only after a row-sharing kernel ran with `Out::Fresh`
    // on `rows × cols` with `out_stride == cols`: its tiles cover every row and column (both
    // multiples of the tile, asserted) and each writes its `RT × N` outputs.
    unsafe impl<L: Lanes + Sync> DwEngine<L> for Avx2Dw {
        fn tile(
            &self,
            height: usize,
            width: usize,
            kernel_rows: usize,
            row_dilation: usize,
        ) -> (usize, usize) {
            let wide = self
                .wide
                .then(|| wide_rows(kernel_rows, row_dilation, height))
                .flatten();
            if let Some(rt) = wide.or(shared_rows(kernel_rows, row_dilation)) {
                return (rt, L::N);
            }
            // Two vectors per row when that wastes no more columns than one.
            let (one, two) = (L::N, 2 * L::N);
            if width.div_ceil(two) * two == width.div_ceil(one) * one {
                (4, two)
            } else {
                (8, one)
            }
        }
        fn lanes(&self) -> usize {
            L::N
        }
        fn corr(&self, c: &Corr2, src: &[L], w: &[L], out: &mut [L]) {
            if self.rows(c, src, w, Out::Add(&mut *out)).is_ok() {
                return;
            }
            // SAFETY: an `Avx2Dw` exists only when the CPU has AVX2 and FMA.
            unsafe {
                if c.cols.is_multiple_of(2 * L::N) && c.rows.is_multiple_of(4) {
                    corr::<L, 4, 2>(c, src, w, out)
                } else {
                    corr::<L, 8, 1>(c, src, w, out)
                }
            }
        }
        fn corr_fresh(&self, c: &Corr2, src: &[L], w: &[L], out: &mut [MaybeUninit<L>]) -> bool {
            c.out_stride == c.cols && self.rows(c, src, w, Out::Fresh(out)).is_ok()
        }
        fn reduce(&self, r: &Red2, x: &[L], dy: &[L], dw: &mut [L]) {
            // SAFETY (each call): as above.
            unsafe {
                match taps_per_block(r.kernel[1]) {
                    1 => reduce::<L, 1>(r, x, dy, dw),
                    2 => reduce::<L, 2>(r, x, dy, dw),
                    3 => reduce::<L, 3>(r, x, dy, dw),
                    4 => reduce::<L, 4>(r, x, dy, dw),
                    5 => reduce::<L, 5>(r, x, dy, dw),
                    6 => reduce::<L, 6>(r, x, dy, dw),
                    7 => reduce::<L, 7>(r, x, dy, dw),
                    _ => reduce::<L, 8>(r, x, dy, dw),
                }
            }
        }
    }
}
