//! The frequency-block-major layout of [`BlockedSpectra`] (see the module notes of [`super`]) and its
//! transfers from and to complex spectra: a block holds its frequencies interleaved, as the
//! transforms do, so that a spectrum moves in and out as plain copies of whole groups.

use super::{GROUP, LANES};
use crate::conv::fast::memory::Aligned;
use crate::tensor::Scalar;

/// `count` complex spectra of `bins` bins each, planar, in blocks of [`LANES`] frequencies.
#[derive(Clone, Debug, Default)]
pub struct BlockedSpectra<T: Scalar> {
    /// The values, on a cache line: a block of `f32` is then one line, not two.
    values: Aligned<T>,
    count: usize,
    bins: usize,
    /// Blocks per group.
    pub(super) group: usize,
    /// Number of groups.
    pub(super) groups: usize,
}

/// One spectrum of a [`BlockedSpectra`], for writing: its part (`group · 2·LANES` values) of every
/// group.
pub struct SignalMut<'a, T> {
    parts: Vec<&'a mut [T]>,
    bins: usize,
}

impl<T: Scalar> SignalMut<'_, T> {
    /// Write the spectrum (`bins` values; the block padding is set to zero): one copy per
    /// group, the blocks holding the values in the order of the spectrum.
    ///
    /// # Panics
    /// If `spec` is shorter than `bins`.
    pub fn store(&mut self, spec: &[num_complex::Complex<T>]) {
        let values = flat(&spec[..self.bins]);
        let mut rest = values;
        for part in self.parts.iter_mut() {
            let n = rest.len().min(part.len());
            part[..n].copy_from_slice(&rest[..n]);
            part[n..].fill(T::zero());
            rest = &rest[n..];
        }
    }

    /// Set the spectrum to zero.
    pub fn zero(&mut self) {
        self.parts.iter_mut().for_each(|p| p.fill(T::zero()));
    }
}

/// Complex values as their interleaved parts (`re0 im0 re1 im1 …`).
fn flat<T: Scalar>(spec: &[num_complex::Complex<T>]) -> &[T] {
    // SAFETY: `Complex<T>` is `repr(C)` `{ re, im }` of two `T`: `n` of them are `2n` `T`,
    // with `T`'s alignment.
    unsafe { std::slice::from_raw_parts(spec.as_ptr().cast(), 2 * spec.len()) }
}

/// [`flat`], for writing.
fn flat_mut<T: Scalar>(spec: &mut [num_complex::Complex<T>]) -> &mut [T] {
    // SAFETY: as in `flat`; the borrow is moved into the result.
    unsafe { std::slice::from_raw_parts_mut(spec.as_mut_ptr().cast(), 2 * spec.len()) }
}

impl<T: Scalar> BlockedSpectra<T> {
    /// All-zero spectra.
    pub fn zeros(count: usize, bins: usize) -> Self {
        let mut p = Self::dirty(count, bins);
        p.values_mut().fill(T::zero());
        p
    }

    /// Spectra holding whatever an earlier use left (finite values): for callers that write
    /// every spectrum ([`signals_mut`](Self::signals_mut) or as the output of [`contract`](super::contract)).
    pub fn dirty(count: usize, bins: usize) -> Self {
        let blocks = bins.div_ceil(LANES).max(1);
        let group = blocks.min(GROUP);
        let groups = blocks.div_ceil(group);
        let len = groups * count * part_len(group);
        let data = crate::conv::fast::pool::take_dirty(len + Aligned::<T>::slack());
        BlockedSpectra {
            values: Aligned::within(data, len),
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
        self.values.len() * std::mem::size_of::<T>()
    }

    /// The values, groups one after another (see the module notes).
    pub(super) fn values(&self) -> &[T] {
        &self.values
    }

    /// The values, for writing.
    pub(super) fn values_mut(&mut self) -> &mut [T] {
        &mut self.values
    }

    /// Whether no spectra are held.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Values per group.
    pub(super) fn group_len(&self) -> usize {
        self.count * part_len(self.group)
    }

    /// Where bin `f` of spectrum `s` has its real part (the imaginary part is next).
    fn at(&self, s: usize, f: usize) -> usize {
        assert!(s < self.count && f < self.bins, "spectrum {s} bin {f}");
        let b = f / LANES;
        (b / self.group) * self.group_len()
            + self.offset(s)
            + (b % self.group) * 2 * LANES
            + 2 * (f % LANES)
    }

    /// Bin `f` of spectrum `s` as `(re, im)`.
    ///
    /// # Panics
    /// If `s` or `f` is out of range.
    pub fn get(&self, s: usize, f: usize) -> (T, T) {
        let at = self.at(s, f);
        (self.values()[at], self.values()[at + 1])
    }

    /// Set bin `f` of spectrum `s`.
    ///
    /// # Panics
    /// If `s` or `f` is out of range.
    pub fn set(&mut self, s: usize, f: usize, v: (T, T)) {
        let at = self.at(s, f);
        let values = self.values_mut();
        values[at] = v.0;
        values[at + 1] = v.1;
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
        for group in self.values_mut().chunks_mut(group_len.max(1)) {
            for (sig, part) in out.iter_mut().zip(group.chunks_mut(part)) {
                sig.parts.push(&mut part[..blocks]);
            }
        }
        out
    }

    /// Copy spectrum `s` into `dst` (`bins` values): one copy per group.
    ///
    /// # Panics
    /// If `s` is out of range or `dst` is shorter than `bins`.
    pub fn load(&self, s: usize, dst: &mut [num_complex::Complex<T>]) {
        assert!(s < self.count, "spectrum {s} of {}", self.count);
        let dst = flat_mut(&mut dst[..self.bins]);
        let (group_len, off) = (self.group_len(), self.offset(s));
        let part = self.group * 2 * LANES;
        for (g, dst) in dst.chunks_mut(part).enumerate() {
            dst.copy_from_slice(&self.values()[g * group_len + off..][..dst.len()]);
        }
    }

    /// Offset of spectrum `s` inside a group.
    ///
    /// # Panics
    /// If `s` is out of range.
    pub(super) fn offset(&self, s: usize) -> usize {
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

impl<T: Scalar> Drop for BlockedSpectra<T> {
    fn drop(&mut self) {
        crate::conv::fast::pool::give(std::mem::take(&mut self.values).into_vec());
    }
}
