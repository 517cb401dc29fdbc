//! The planar, frequency-block-major layout of [`Planar`] (see the module notes of
//! [`super`]) and its transfers from and to interleaved complex spectra.

use super::{GROUP, LANES};
use crate::conv::fast::memory::Aligned;
use crate::tensor::Scalar;

/// `count` complex spectra of `bins` bins each, planar, in blocks of [`LANES`] frequencies.
#[derive(Clone, Debug, Default)]
pub struct Planar<T: Scalar> {
    /// The values, on a cache line: a block of `f32` is then one line, not two.
    values: Aligned<T>,
    count: usize,
    bins: usize,
    /// Blocks per group.
    pub(super) group: usize,
    /// Number of groups.
    pub(super) groups: usize,
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
        if is_f32::<T>() && std::is_x86_feature_detected!("avx2") {
            // SAFETY: `T` is `f32` (same `TypeId`), so are the parts and the spectrum's
            // values; AVX2 was detected above.
            unsafe {
                let spec: &[num_complex::Complex<f32>] =
                    std::slice::from_raw_parts(spec.as_ptr().cast(), spec.len());
                for (at, part) in self.parts.iter_mut().enumerate() {
                    let part: &mut [f32] =
                        std::slice::from_raw_parts_mut(part.as_mut_ptr().cast(), part.len());
                    split_part_f32(&spec[(at * part.len() / 2).min(spec.len())..], part);
                }
            }
            return;
        }
        let mut chunks = spec.chunks(LANES);
        for part in self.parts.iter_mut() {
            for block in part.chunks_exact_mut(2 * LANES) {
                let chunk = chunks.next().unwrap_or(&[]);
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

/// The blocks of one part (`part.len() / (2·LANES)` blocks) from the spectrum values
/// `spec` (those past its end as zeros), whole blocks in registers
/// ([`split_block_f32`], inlined: the loop runs in AVX2 code).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn split_part_f32(spec: &[num_complex::Complex<f32>], part: &mut [f32]) {
    let mut chunks = spec.chunks(LANES);
    for block in part.chunks_exact_mut(2 * LANES) {
        let chunk = chunks.next().unwrap_or(&[]);
        if let (Ok(src), Ok(dst)) = (
            <&[num_complex::Complex<f32>; LANES]>::try_from(chunk),
            <&mut [f32; 2 * LANES]>::try_from(&mut *block),
        ) {
            // SAFETY: `Complex<f32>` is `repr(C)` {re, im}: `LANES` of them are `2·LANES` f32.
            let src = &*(src.as_ptr() as *const [f32; 2 * LANES]);
            split_block_f32(src, dst);
            continue;
        }
        let (re, im) = block.split_at_mut(LANES);
        for ((r, i), v) in re.iter_mut().zip(im.iter_mut()).zip(chunk) {
            *r = v.re;
            *i = v.im;
        }
        re[chunk.len()..].fill(0.0);
        im[chunk.len()..].fill(0.0);
    }
}

/// The values of `dst` (at most `LANES` per block) from the blocks of `src`, whole blocks
/// in registers ([`merge_block_f32`], inlined).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn merge_part_f32(src: &[f32], dst: &mut [num_complex::Complex<f32>]) {
    for (block, chunk) in src.chunks_exact(2 * LANES).zip(dst.chunks_mut(LANES)) {
        if chunk.len() == LANES {
            // SAFETY: a whole block on both sides; `Complex<f32>` is `repr(C)` {re, im}.
            let s = &*(block.as_ptr() as *const [f32; 2 * LANES]);
            let d = &mut *(chunk.as_mut_ptr() as *mut [f32; 2 * LANES]);
            merge_block_f32(s, d);
            continue;
        }
        let (re, im) = block.split_at(LANES);
        for ((d, &r), &i) in chunk.iter_mut().zip(re).zip(im) {
            d.re = r;
            d.im = i;
        }
    }
}

impl<T: Scalar> Planar<T> {
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
        Planar {
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
        (self.values()[at], self.values()[at + LANES])
    }

    /// Set bin `f` of spectrum `s`.
    ///
    /// # Panics
    /// If `s` or `f` is out of range.
    pub fn set(&mut self, s: usize, f: usize, v: (T, T)) {
        let at = self.at(s, f);
        let values = self.values_mut();
        values[at] = v.0;
        values[at + LANES] = v.1;
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

    /// Copy spectrum `s` into `dst` (`bins` values).
    ///
    /// # Panics
    /// If `s` is out of range or `dst` is shorter than `bins`.
    pub fn load(&self, s: usize, dst: &mut [num_complex::Complex<T>]) {
        assert!(s < self.count, "spectrum {s} of {}", self.count);
        let dst = &mut dst[..self.bins];
        let (group_len, off) = (self.group_len(), self.offset(s));
        let part = self.group * 2 * LANES;
        #[cfg(target_arch = "x86_64")]
        if is_f32::<T>() && std::is_x86_feature_detected!("avx2") {
            for (g, dst) in dst.chunks_mut(self.group * LANES).enumerate() {
                let src = &self.values()[g * group_len + off..][..part];
                // SAFETY: `T` is `f32` (same `TypeId`); AVX2 detected.
                unsafe {
                    merge_part_f32(
                        std::slice::from_raw_parts(src.as_ptr().cast(), src.len()),
                        std::slice::from_raw_parts_mut(dst.as_mut_ptr().cast(), dst.len()),
                    );
                }
            }
            return;
        }
        for (b, chunk) in dst.chunks_mut(LANES).enumerate() {
            let at = (b / self.group) * group_len + off + (b % self.group) * 2 * LANES;
            let (re, im) = self.values()[at..at + 2 * LANES].split_at(LANES);
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

impl<T: Scalar> Drop for Planar<T> {
    fn drop(&mut self) {
        crate::conv::fast::pool::give(std::mem::take(&mut self.values).into_vec());
    }
}
