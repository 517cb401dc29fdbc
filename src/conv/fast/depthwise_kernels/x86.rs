use super::{taps_per_block, Corr2, DwEngine, Out, Red2, ZeroPadded};
use crate::conv::fast::direct_simd::x86::{Avx2, Lanes};
use crate::conv::fast::direct_simd::Kernels;
mod reduce;
mod rows;
mod vectors;

use reduce::{reduce, reduce_wide, reduce_zmm, row_blocks};
use rows::{shared_rows, wide_rows, Src, Width};
use std::mem::MaybeUninit;
use vectors::DwLanes;

/// The AVX2/FMA kernels; only [`Avx2Dw::of`] makes one (the CPU has AVX2 and FMA).
/// `width`: the row-sharing kernels' registers and vectors; anything but
/// [`Width::Narrow`] only when the CPU also has AVX-512F and VL (whose 32 registers also
/// hold the `∂w` reduction's taller blocks).
pub(in crate::conv::fast) struct Avx2Dw {
    /// The proof, held only to be owned.
    _cpu: Avx2,
    width: Width,
}

impl Avx2Dw {
    /// The engine `kernels` selects: none for the portable kernels; 512-bit vectors for
    /// [`Kernels::Detect`] where the CPU has AVX-512F and VL, 256-bit ones in its 32
    /// registers for [`Kernels::Avx512Ymm`], the 16-register tiles for
    /// [`Kernels::Avx2Only`] (or without AVX-512).
    pub(in crate::conv::fast) fn of(kernels: Kernels) -> Option<Avx2Dw> {
        let avx512 = is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vl");
        let width = match kernels {
            Kernels::Detect if avx512 => Width::Zmm,
            Kernels::Avx512Ymm if avx512 => Width::Wide,
            _ => Width::Narrow,
        };
        Avx2::of(kernels).map(|cpu| Avx2Dw { _cpu: cpu, width })
    }

    fn wide(&self) -> bool {
        self.width != Width::Narrow
    }
}

/// `RT × V` accumulators.
#[target_feature(enable = "avx2,fma")]
fn corr<L: Lanes, const RT: usize, const V: usize>(c: &Corr2, src: &[L], w: &[L], out: &mut [L]) {
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
                    *a = unsafe { L::load_ptr(op.add((i0 + r) * c.out_stride + j0 + v * L::N)) };
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
                            let x =
                                unsafe { L::load_ptr(sp.add(base + r * c.src_stride + v * L::N)) };
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

impl Avx2Dw {
    /// `c` on a row-sharing kernel, when one runs it (else `out` back, untouched).
    fn rows<'a, L: DwLanes>(
        &self,
        c: &Corr2,
        src: Src<'_, L>,
        w: &[L],
        out: Out<'a, L>,
    ) -> Result<(), Out<'a, L>> {
        // SAFETY: an `Avx2Dw` exists only when the CPU has AVX2 and FMA, and a `width`
        // other than `Narrow` only when it has AVX-512F and VL too.
        unsafe { rows::rows(self.width, c, src, w, out) }
    }

    /// The kernel rows `a0 .. a0 + a` of `r` in one block.
    fn reduce_block<L: DwLanes>(
        &self,
        r: &Red2,
        xq: (&[L], &[L]),
        dw: &mut [L],
        a: usize,
        a0: usize,
    ) {
        macro_rules! taps {
            ($f:ident, $a:literal) => {
                match taps_per_block(r.kernel[1]) {
                    1 => $f::<L, $a, 1>(r, xq, dw, a0),
                    2 => $f::<L, $a, 2>(r, xq, dw, a0),
                    3 => $f::<L, $a, 3>(r, xq, dw, a0),
                    4 => $f::<L, $a, 4>(r, xq, dw, a0),
                    5 => $f::<L, $a, 5>(r, xq, dw, a0),
                    6 => $f::<L, $a, 6>(r, xq, dw, a0),
                    7 => $f::<L, $a, 7>(r, xq, dw, a0),
                    _ => $f::<L, $a, 8>(r, xq, dw, a0),
                }
            };
        }
        // SAFETY (each call): an `Avx2Dw` exists only when the CPU has AVX2 and FMA, and a
        // `width` other than `Narrow` only when it has AVX-512F and VL too; blocks of more
        // than one row only come from `row_blocks` with such a width.
        unsafe {
            match (a, self.width) {
                (3, Width::Zmm) => taps!(reduce_zmm, 3),
                (2, Width::Zmm) => taps!(reduce_zmm, 2),
                (_, Width::Zmm) => taps!(reduce_zmm, 1),
                (3, Width::Wide) => taps!(reduce_wide, 3),
                (2, Width::Wide) => taps!(reduce_wide, 2),
                (_, Width::Wide) => taps!(reduce_wide, 1),
                _ => taps!(reduce, 1),
            }
        }
    }
}

// SAFETY: `corr_fresh` returns true only after a row-sharing kernel ran with `Out::Fresh`
// on `rows × cols` with `out_stride == cols`: its tiles cover every row and column (both
// multiples of the tile, asserted) and each writes its `RT × N` outputs; `corr_zero_padded`
// likewise, with `out_stride` as given.
unsafe impl<L: DwLanes + Sync> DwEngine<L> for Avx2Dw {
    fn tile(
        &self,
        height: usize,
        width: usize,
        kernel_rows: usize,
        row_dilation: usize,
    ) -> (usize, usize) {
        let wide = self
            .wide()
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
        if self
            .rows(c, Src::Padded(src), w, Out::Add(&mut *out))
            .is_ok()
        {
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
        c.out_stride == c.cols && self.rows(c, Src::Padded(src), w, Out::Fresh(out)).is_ok()
    }
    fn corr_zero_padded(
        &self,
        c: &Corr2,
        src: &ZeroPadded<'_, L>,
        w: &[L],
        out: Out<'_, L>,
    ) -> bool {
        self.rows(c, Src::Zeros(src), w, out).is_ok()
    }
    fn reduce(&self, r: &Red2, x: &[L], dy: &[L], dw: &mut [L]) {
        let mut a0 = 0;
        for a in row_blocks(r.kernel[0], self.wide() && r.dilation[0] == 1) {
            self.reduce_block(r, (x, dy), dw, a, a0);
            a0 += a;
        }
    }
}
