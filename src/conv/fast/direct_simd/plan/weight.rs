//! The weight gradient's tasks: a block of [`R`] output channels against up to
//! [`WEIGHT_CHANNELS`] input channels of one sample, and the extents they share.

use super::{Engine, Plan};
use crate::conv::fast::direct_simd::{round_up, R};
use crate::tensor::Scalar;
use rayon::prelude::*;

/// One `∂w` task of one sample: a block of output channels against a few input channels.
pub(in crate::conv::fast::direct_simd) struct WeightTask<'a, T> {
    /// Padded input plane of each of the task's input channels (extents `x_dims`; each slice
    /// runs on to the end of the sample's buffer, as the row sweep reads a little past the
    /// plane).
    pub(in crate::conv::fast::direct_simd) x: Vec<&'a [T]>,
    /// The [`R`] cotangent planes of the task's output block (repeated when the block is
    /// short; extents `q_dims`, `dy` at offset `e`; to the end of the buffer).
    pub(in crate::conv::fast::direct_simd) dy: [&'a [T]; R],
}

/// Input channels per `∂w` task at most: the kernels sweep each chunk of the block's `R`
/// cotangent planes for all of them while it is in L1 (3: a stem class's channels, whose
/// chunks then fit L1 with the cotangent's), rather than fetching it from L2 once per channel.
pub(in crate::conv::fast::direct_simd) const WEIGHT_CHANNELS: usize = 3;

/// Extents shared by all `∂w` tasks.
#[derive(Clone, Copy, Debug)]
pub(in crate::conv::fast::direct_simd) struct WeightGeom {
    pub(in crate::conv::fast::direct_simd) x_dims: [usize; 3],
    pub(in crate::conv::fast::direct_simd) q_dims: [usize; 3],
    /// Offset of `dy` in a cotangent plane.
    pub(in crate::conv::fast::direct_simd) dy_at: [usize; 3],
    pub(in crate::conv::fast::direct_simd) out: [usize; 3],
    pub(in crate::conv::fast::direct_simd) kernel: [usize; 3],
    pub(in crate::conv::fast::direct_simd) dilation: [usize; 3],
}

impl WeightGeom {
    /// Elements of one flattened `(o1, o2)` sweep in vectors of `v`: the output rows back to
    /// back at the common row stride (the columns between them read zeros of `dy`).
    pub(in crate::conv::fast::direct_simd) fn flat_len(&self, v: usize) -> usize {
        let [_, o1, o2] = self.out;
        round_up((o1 - 1) * self.x_dims[2] + o2, v)
    }
    /// The `∂w` sweep of one output slab in vectors of `v`: `(segments, elements per segment,
    /// offset between segments)`. Row by row when the rows' vectors are fewer than those of
    /// the flat sweep ([`flat_len`](Self::flat_len)), whose columns between rows multiply
    /// zeros (9 % of a stem's sweep); else the flat sweep as one segment. A row's last vector
    /// reads into the zero columns after `dy` in its row (the row stride leaves room for a
    /// whole vector), which may reach past the flat sweep's end: see
    /// [`sweep_len`](Self::sweep_len).
    pub(in crate::conv::fast::direct_simd) fn sweep(&self, v: usize) -> (usize, usize, usize) {
        let [_, o1, o2] = self.out;
        let flat = self.flat_len(v);
        if round_up(o2, v) * o1 < flat {
            (o1, round_up(o2, v), self.x_dims[2])
        } else {
            (1, flat, 0)
        }
    }
    /// Elements from the first to the last read of the sweep of [`sweep`](Self::sweep).
    pub(in crate::conv::fast::direct_simd) fn sweep_len(&self, v: usize) -> usize {
        let (segs, seg_len, step) = self.sweep(v);
        self.flat_len(v).max((segs - 1) * step + seg_len)
    }
    /// Row offsets `(x, dy)` of output row `(o0, o1)` for kernel row `(k0, k1)` and first tap
    /// `k2`.
    pub(in crate::conv::fast::direct_simd) fn rows(
        &self,
        o: [usize; 2],
        k: [usize; 3],
    ) -> (usize, usize) {
        let ([_, x1, x2], [_, q1, q2], [d0, d1, d2], e) =
            (self.x_dims, self.q_dims, self.dilation, self.dy_at);
        let x = ((o[0] + k[0] * d0) * x1 + o[1] + k[1] * d1) * x2 + k[2] * d2;
        let q = ((o[0] + e[0]) * q1 + o[1] + e[1]) * q2 + e[2];
        (x, q)
    }
}

impl Plan {
    /// Add the weight gradient of one sample (padded input `xp`, padded cotangent `q`) onto
    /// `dw` `(c_out, cg, k)`; tasks (block of [`R`] output channels, up to [`WEIGHT_CHANNELS`] input
    /// channels) in parallel.
    pub(in crate::conv::fast::direct_simd) fn weight_grad_sample<T: Scalar>(
        &self,
        eng: &impl Engine<T>,
        xp: &[T],
        q: &[T],
        dw: &mut [T],
    ) {
        let lay = &self.lay;
        let (kv, pv, qv) = (lay.k_vol(), self.x_plane(), self.q_plane());
        let nb = lay.og.div_ceil(R);
        let geo = WeightGeom {
            x_dims: self.x_dims,
            q_dims: self.q_dims,
            dy_at: self.q_off,
            out: lay.output,
            kernel: lay.kernel,
            dilation: lay.dilation,
        };
        let cs = WEIGHT_CHANNELS;
        let tasks: Vec<(usize, usize, usize)> = (0..lay.groups)
            .flat_map(|g| {
                (0..nb).flat_map(move |b| (0..lay.cg).step_by(cs).map(move |c| (g, b, c)))
            })
            .collect();
        let sums: Vec<Vec<T>> = tasks
            .par_iter()
            .map(|&(g, b, c0)| {
                let rows = R.min(lay.og - b * R);
                let task = WeightTask {
                    x: (c0..(c0 + cs).min(lay.cg))
                        .map(|c| &xp[(g * lay.cg + c) * pv..])
                        .collect(),
                    dy: std::array::from_fn(|r| {
                        let co = g * lay.og + b * R + r.min(rows - 1);
                        &q[co * qv..]
                    }),
                };
                eng.weight(&geo, &task)
            })
            .collect();
        for (&(g, b, c0), s) in tasks.iter().zip(&sums) {
            for (ci, c) in (c0..(c0 + cs).min(lay.cg)).enumerate() {
                for r in 0..R.min(lay.og - b * R) {
                    let co = g * lay.og + b * R + r;
                    let d = &mut dw[(co * lay.cg + c) * kv..][..kv];
                    d.iter_mut()
                        .zip(&s[(ci * R + r) * kv..])
                        .for_each(|(d, &v)| *d = *d + v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::WeightGeom;

    fn geom(out: [usize; 3], stride: usize) -> WeightGeom {
        WeightGeom {
            x_dims: [out[0], out[1] + 6, stride],
            q_dims: [out[0], out[1] + 6, stride],
            dy_at: [0, 3, 3],
            out,
            kernel: [1, 4, 4],
            dilation: [1, 1, 1],
        }
    }

    #[test]
    fn the_weight_sweep_skips_the_columns_between_rows_when_that_is_shorter() {
        // A stem's phase layer: 64 rows of 64 at a stride of 70 (flat: 63·70 + 64 = 4474).
        let stem = geom([1, 64, 64], 70);
        assert_eq!(stem.sweep(8), (64, 64, 70));
        assert_eq!(stem.sweep_len(8), 4480);
        // Rows of 20 at a stride of 22: 5 rows of 24 read more than the flat 112.
        let narrow = geom([1, 5, 20], 22);
        assert_eq!(narrow.sweep(8), (1, 112, 0));
        assert_eq!(narrow.sweep_len(8), 112);
        // The last row's vector may end past the flat sweep: 4 rows of 10 at a stride of 30.
        let tail = geom([1, 4, 10], 30);
        assert_eq!(tail.sweep(8), (4, 16, 30));
        assert_eq!(tail.sweep_len(8), 3 * 30 + 16);
    }
}
