//! The padded planes of a [`Plan`]: a sample's input and cotangent copied into planes with
//! the plan's row stride and zeros around them, and the adjoint of the input's padding.

use super::super::scratch;
use super::Plan;
use crate::tensor::Scalar;
use std::ops::Deref;

/// Bytes of the boundary [`Planes`] align to: a 512-bit vector, one cache line.
const ALIGN: usize = 64;

/// A sample's padded planes (the slice they deref to), placed in their buffer so that one
/// column of every row lies on a cache-line boundary (with the plan's row stride a multiple of
/// 16 elements): the `∂w` sweep's loads of `dy` and of the input's first tap, and the
/// correlations' loads of the first tap, are then not split across two cache lines. The
/// buffer comes from, and goes back to, the thread's spare buffers ([`scratch`]).
pub(in crate::conv::fast::direct_simd) struct Planes<T: 'static> {
    buf: Vec<T>,
    lead: usize,
}

impl<T: 'static> Drop for Planes<T> {
    fn drop(&mut self) {
        scratch::give(std::mem::take(&mut self.buf));
    }
}

impl<T: 'static> Deref for Planes<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.buf[self.lead..]
    }
}

impl<T: Scalar> Planes<T> {
    /// An empty buffer with room for `len` elements after the lead that puts column `col` on
    /// the boundary; the caller pushes the planes (and `lead` zeros first: [`Planes::lead`]).
    fn with_room(len: usize, col: usize) -> Self {
        let size = std::mem::size_of::<T>().max(1);
        let m = (ALIGN / size).max(1);
        // Every element up to `lead + len` is written by the caller: a reused buffer's old
        // values are never read.
        let buf = scratch::take(len + m);
        // A `Vec<T>`'s buffer is aligned to `T`: counted in elements, the lead is exact.
        let at = buf.as_ptr() as usize / size + col;
        let lead = (m - at % m) % m;
        let mut p = Planes { buf, lead };
        p.buf.resize(lead, T::zero());
        p
    }
}

impl Plan {
    /// The padded input planes of one sample (`c_in` planes of `x_dims`, zeros outside the
    /// padded box).
    pub(in crate::conv::fast::direct_simd) fn pad_input<T: Scalar>(&self, x: &[T]) -> Planes<T> {
        if self.zeros {
            return self.pad_input_zeros(x);
        }
        let lay = &self.lay;
        let (iv, pv) = (lay.in_vol(), self.x_plane());
        let total = lay.c_in * pv + self.slack;
        let mut planes = Planes::with_room(total, 0);
        planes.buf.resize(planes.lead + total, T::zero());
        let lead = planes.lead;
        let xp = &mut planes.buf[lead..];
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
                    lay.pad_row(row, srow, lo2, self.zeros);
                }
            }
        }
        planes
    }

    /// [`pad_input`](Self::pad_input) under zero padding (or none).
    fn pad_input_zeros<T: Scalar>(&self, x: &[T]) -> Planes<T> {
        let lay = &self.lay;
        let [_, i1, i2] = lay.input;
        let iv = lay.in_vol();
        self.pad_rows(|ch, [s0, s1], row| {
            row.copy_from_slice(&x[ch * iv + (s0 * i1 + s1) * i2..][..i2]);
        })
    }

    /// The padded input planes of one sample under zero padding (or none), every input row
    /// `[s0, s1]` of channel `ch` written by `fill(ch, [s0, s1], row)` in place (the row's
    /// full width), every element written once, in order (no zeroing pass under the rows).
    ///
    /// # Panics
    /// When the padding is not zeros (the rows then also feed the padding).
    pub(in crate::conv::fast::direct_simd) fn pad_rows<T: Scalar>(
        &self,
        mut fill: impl FnMut(usize, [usize; 2], &mut [T]),
    ) -> Planes<T> {
        assert!(
            self.zeros,
            "rows fill the padded planes under zero padding only"
        );
        let lay = &self.lay;
        let total = lay.c_in * self.x_plane() + self.slack;
        let mut planes = Planes::with_room(total, 0);
        let xp = &mut planes.buf;
        let i2 = lay.input[2];
        let [x0, x1, x2] = self.x_dims;
        let lo2 = self.lo[2];
        let zeros = |xp: &mut Vec<T>, n: usize| xp.resize(xp.len() + n, T::zero());
        for ch in 0..lay.c_in {
            for p0 in 0..x0 {
                for p1 in 0..x1 {
                    let (Some(Some(s0)), Some(Some(s1))) =
                        (lay.maps[0].get(p0), lay.maps[1].get(p1))
                    else {
                        zeros(xp, x2);
                        continue;
                    };
                    zeros(xp, lo2 + i2);
                    let at = xp.len() - i2;
                    fill(ch, [*s0, *s1], &mut xp[at..]);
                    zeros(xp, x2 - lo2 - i2);
                }
            }
        }
        xp.resize(planes.lead + total, T::zero());
        planes
    }

    /// The adjoint of the padding of one plane: add every entry of `src` (dense, padded
    /// extents) onto the input position it was read from, in `dst` (one input plane).
    pub(super) fn fold_plane<T: Scalar>(&self, src: &[T], dst: &mut [T]) {
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
    /// zeros), every element written once (no zeroing pass under the copy).
    pub(in crate::conv::fast::direct_simd) fn pad_cotangent<T: Scalar>(
        &self,
        dy: &[T],
    ) -> Planes<T> {
        let lay = &self.lay;
        let (ov, qv) = (lay.out_vol(), self.q_plane());
        let total = lay.c_out * qv + self.slack;
        let e = self.q_off;
        let mut planes = Planes::with_room(total, e[2]);
        let q = &mut planes.buf;
        let [o0, o1, o2] = lay.output;
        let [q0, q1, q2] = self.q_dims;
        let zeros = |q: &mut Vec<T>, n: usize| q.resize(q.len() + n, T::zero());
        for src in dy.chunks(ov) {
            for a in 0..q0 {
                if !(e[0]..e[0] + o0).contains(&a) {
                    zeros(q, q1 * q2);
                    continue;
                }
                zeros(q, e[1] * q2);
                for srow in src[(a - e[0]) * o1 * o2..][..o1 * o2].chunks(o2) {
                    zeros(q, e[2]);
                    q.extend_from_slice(srow);
                    zeros(q, q2 - e[2] - o2);
                }
                zeros(q, (q1 - e[1] - o1) * q2);
            }
        }
        q.resize(planes.lead + total, T::zero());
        planes
    }
}
