//! The frequency-block-major layout of [`BlockedSpectra`] (see the module notes of [`super`]):
//! each spectrum contiguous and interleaved, as the transforms read and write it, so that
//! they work on it in place.

use super::LANES;
use crate::conv::fast::memory::Aligned;
use crate::tensor::Scalar;
use num_complex::Complex;

/// `count` complex spectra of `bins` bins each, interleaved, in blocks of [`LANES`]
/// frequencies, each spectrum starting an odd number of blocks after the previous one.
#[derive(Clone, Debug, Default)]
pub struct BlockedSpectra<T: Scalar> {
    /// The values, on a cache line: a block of `f32` is then one line, not two.
    values: Aligned<T>,
    count: usize,
    bins: usize,
    /// Blocks per spectrum.
    pub(super) blocks: usize,
}

/// Complex values as their interleaved parts (`re0 im0 re1 im1 …`).
fn flat_mut<T: Scalar>(spec: &mut [Complex<T>]) -> &mut [T] {
    // SAFETY: `Complex<T>` is `repr(C)` `{ re, im }` of two `T`: `n` of them are `2n` `T`,
    // with `T`'s alignment; the borrow moves into the result.
    unsafe { std::slice::from_raw_parts_mut(spec.as_mut_ptr().cast(), 2 * spec.len()) }
}

/// [`flat_mut`] backwards: `2n` values as `n` complex (`values.len()` must be even).
fn complex_mut<T: Scalar>(values: &mut [T]) -> &mut [Complex<T>] {
    debug_assert!(values.len().is_multiple_of(2));
    // SAFETY: as in `flat_mut`; `Complex<T>` has `T`'s alignment.
    unsafe { std::slice::from_raw_parts_mut(values.as_mut_ptr().cast(), values.len() / 2) }
}

/// Blocks between the starts of consecutive spectra: odd, so that the operands of one block
/// (one per spectrum) spread over every set of the L1 cache instead of a few (a stride of a
/// power of two lines maps them all to one set; measured 1.4× slower contraction without a
/// skew).
fn stride_blocks(blocks: usize) -> usize {
    blocks | 1
}

impl<T: Scalar> BlockedSpectra<T> {
    /// All-zero spectra.
    pub fn zeros(count: usize, bins: usize) -> Self {
        let mut p = Self::dirty(count, bins);
        p.values_mut().fill(T::zero());
        p
    }

    /// Spectra holding whatever an earlier use left (finite values; the padding past `bins`
    /// zero): for callers that write every spectrum ([`spectra_mut`](Self::spectra_mut) or
    /// as the output of [`contract`](super::contract)).
    pub fn dirty(count: usize, bins: usize) -> Self {
        let blocks = bins.div_ceil(LANES).max(1);
        let stride = stride_blocks(blocks) * 2 * LANES;
        let len = count * stride;
        let data = crate::conv::fast::pool::take_at_least(len + Aligned::<T>::slack());
        let mut p = BlockedSpectra {
            values: Aligned::within(data, len),
            count,
            bins,
            blocks,
        };
        // The kernels read whole blocks: the lanes past `bins` must hold numbers.
        for spectrum in p.values_mut().chunks_exact_mut(stride) {
            spectrum[2 * bins..].fill(T::zero());
        }
        p
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

    /// The values, spectra one after another.
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

    /// Values from the start of one spectrum to the next.
    pub(super) fn stride(&self) -> usize {
        stride_blocks(self.blocks) * 2 * LANES
    }

    /// Where bin `f` of spectrum `s` has its real part (the imaginary part is next).
    fn at(&self, s: usize, f: usize) -> usize {
        assert!(s < self.count && f < self.bins, "spectrum {s} bin {f}");
        self.offset(s) + 2 * f
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

    /// Every spectrum (`bins` values each), in order, for writing them in parallel — a
    /// transform can write its output there directly, or an inverse transform use one as
    /// its work space.
    pub fn spectra_mut(&mut self) -> Vec<&mut [Complex<T>]> {
        let (stride, bins) = (self.stride(), self.bins);
        self.values_mut()
            .chunks_exact_mut(stride.max(1))
            .map(|s| complex_mut(&mut s[..2 * bins]))
            .collect()
    }

    /// Spectrum `s` (`bins` values).
    ///
    /// # Panics
    /// If `s` is out of range.
    pub fn spectrum(&self, s: usize) -> &[Complex<T>] {
        let at = self.offset(s);
        let values = &self.values()[at..][..2 * self.bins];
        // SAFETY: `Complex<T>` is `repr(C)` `{ re, im }` of two `T` with `T`'s alignment:
        // `2n` values are `n` complex, borrowed as the values are.
        unsafe { std::slice::from_raw_parts(values.as_ptr().cast(), self.bins) }
    }

    /// Copy spectrum `s` into `dst` (`bins` values).
    ///
    /// # Panics
    /// If `s` is out of range or `dst` is shorter than `bins`.
    pub fn load(&self, s: usize, dst: &mut [Complex<T>]) {
        let at = self.offset(s);
        let dst = flat_mut(&mut dst[..self.bins]);
        dst.copy_from_slice(&self.values()[at..][..dst.len()]);
    }

    /// Offset of spectrum `s` in the values.
    ///
    /// # Panics
    /// If `s` is out of range.
    pub(super) fn offset(&self, s: usize) -> usize {
        assert!(s < self.count, "spectrum {s} of {}", self.count);
        s * self.stride()
    }
}

impl<T: Scalar> Drop for BlockedSpectra<T> {
    fn drop(&mut self) {
        crate::conv::fast::pool::give(std::mem::take(&mut self.values).into_vec());
    }
}
