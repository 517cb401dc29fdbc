//! The kernels in portable Rust (any target; the compiler may vectorise them): what a CPU
//! without AVX2 runs, and what `Kernels::Portable` selects for testing.

use super::plan::{Engine, Source, WeightGeom, WeightTask};
use super::{KB, R};
use crate::tensor::Scalar;
use std::mem::MaybeUninit;

/// The kernels in portable Rust (any target; the compiler may vectorise them).
pub(super) struct Portable;

impl Portable {
    /// Writes every element of `dst`: every column of each of its rows.
    fn correlate_w<T: Scalar, const W: usize>(srcs: &[Source<'_, T>], dst: &mut [MaybeUninit<T>]) {
        let Some(first) = srcs.first() else {
            dst.fill(MaybeUninit::new(T::zero()));
            return;
        };
        let ov = first.corr.out_vol();
        let rows = dst.len() / ov;
        assert!(
            dst.len() == rows * ov && rows <= R,
            "whole output planes of one block"
        );
        let [o0n, o1n, o2n] = first.corr.out;
        let rows_at: Vec<Vec<usize>> = srcs.iter().map(|s| s.corr.rows_at()).collect();
        for o0 in 0..o0n {
            for o1 in 0..o1n {
                for t in (0..o2n).step_by(W) {
                    let mut acc = [[T::zero(); W]; R];
                    for (s, offs) in srcs.iter().zip(&rows_at) {
                        let (k2n, d2, rb) = (s.corr.kernel[2], s.corr.dilation[2], s.corr.block);
                        let span = (k2n - 1) * d2 + W;
                        let base = s.corr.row_base(o0, o1);
                        for (j, &off) in offs.iter().enumerate() {
                            let row = &s.src[base + off + t..][..span];
                            let wk = &s.wb[j * k2n * rb..][..k2n * rb];
                            for k2 in 0..k2n {
                                let xs = &row[k2 * d2..][..W];
                                for (a, &wr) in acc.iter_mut().zip(&wk[k2 * rb..][..rb]) {
                                    for (a, &x) in a.iter_mut().zip(xs) {
                                        *a = *a + x * wr;
                                    }
                                }
                            }
                        }
                    }
                    let len = W.min(o2n - t);
                    for (r, a) in acc.iter().enumerate().take(rows) {
                        let out = &mut dst[r * ov + (o0 * o1n + o1) * o2n + t..][..len];
                        for (o, &v) in out.iter_mut().zip(&a[..len]) {
                            o.write(v);
                        }
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
        let (segs, seg_len, seg_step) = geo.sweep(V);
        let len = geo.sweep_len(V);
        let mut out = vec![T::zero(); task.x.len() * R * kv];
        for (xp, out) in task.x.iter().zip(out.chunks_mut(R * kv)) {
            for k0 in 0..k0n {
                for k1 in 0..k1n {
                    for k2c in (0..k2n).step_by(KB) {
                        let mut acc = [[[T::zero(); V]; KB]; R];
                        for o0 in 0..o0n {
                            let (xo, qo) = geo.rows([o0, 0], [k0, k1, k2c]);
                            let xrow = &xp[xo..][..len + (KB - 1) * d2];
                            for (ar, dy) in acc.iter_mut().zip(&task.dy) {
                                let drow = &dy[qo..][..len];
                                for (kb, a) in ar.iter_mut().enumerate() {
                                    let xs = &xrow[kb * d2..][..len];
                                    for seg in 0..segs {
                                        let at = seg * seg_step;
                                        let (dseg, xseg) =
                                            (&drow[at..][..seg_len], &xs[at..][..seg_len]);
                                        for (dc, xc) in
                                            dseg.chunks_exact(V).zip(xseg.chunks_exact(V))
                                        {
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
        }
        out
    }
}

// SAFETY: `correlate_w` writes every element of `dst`.
unsafe impl<T: Scalar> Engine<T> for Portable {
    fn correlate(&self, srcs: &[Source<'_, T>], dst: &mut [MaybeUninit<T>]) {
        Self::correlate_w::<T, 16>(srcs, dst);
    }
    fn weight(&self, geo: &WeightGeom, task: &WeightTask<'_, T>) -> Vec<T> {
        Self::weight_v::<T, 8>(geo, task)
    }
}
