//! The row copies of the split and the fold: a row's run of positions read at a constant step
//! ([`Run`]), with the stride-2 gather (`row[j] = src[2·j]`, the stems' phases) and its adjoint,
//! the fold's scatter-add, on AVX2 vectors (the scalar loops cost about a cycle per element).

use crate::tensor::Scalar;
use std::any::TypeId;

/// The longest stretch of a row's index map from its first entry that reads `first + step·j`
/// at position `start + j` (the interior of a phase under zero padding: the whole row), which
/// the split and fold copy without looking up the map; the other entries go through the map.
#[derive(Clone, Copy, Debug)]
pub(super) struct Run {
    start: usize,
    len: usize,
    first: usize,
    step: usize,
}

impl Run {
    pub(super) fn of(map: &[Option<usize>]) -> Run {
        let Some(start) = map.iter().position(Option::is_some) else {
            return Run {
                start: 0,
                len: 0,
                first: 0,
                step: 1,
            };
        };
        let first = map[start].unwrap_or(0);
        let step = match map.get(start + 1) {
            Some(&Some(next)) if next > first => next - first,
            _ => 1,
        };
        let len = (map[start..].iter().enumerate())
            .take_while(|&(j, m)| *m == Some(first + step * j))
            .count();
        Run {
            start,
            len,
            first,
            step,
        }
    }

    /// The positions of a row of `n` outside the run.
    pub(super) fn outside(&self, n: usize) -> impl Iterator<Item = usize> {
        (0..self.start).chain(self.start + self.len..n)
    }

    /// Copy the run's source entries (every `step`-th of `src` from `first`) into its
    /// positions in `row`. (Chunks of `step`, not `step_by`: a plain loop the compiler
    /// unrolls.)
    pub(super) fn gather<T: Copy + 'static>(&self, row: &mut [T], src: &[T]) {
        let inner = &mut row[self.start..][..self.len];
        match self.step {
            1 => inner.copy_from_slice(&src[self.first..][..self.len]),
            // The stride of the stems: AVX2 shuffles for `f32` and `f64`, else a constant
            // step.
            2 => {
                if !gather_even(inner, &src[self.first..]) {
                    gather_every::<T, 2>(inner, &src[self.first..]);
                }
            }
            _ => {
                for (v, c) in inner.iter_mut().zip(src[self.first..].chunks(self.step)) {
                    *v = c[0];
                }
            }
        }
    }

    /// The adjoint of [`gather`](Self::gather): add the run's positions in `row` onto the
    /// entries of `dst` they were read from.
    pub(super) fn scatter_add<T: Scalar>(&self, row: &[T], dst: &mut [T]) {
        let inner = &row[self.start..][..self.len];
        match self.step {
            1 => {
                let d = &mut dst[self.first..][..self.len];
                d.iter_mut().zip(inner).for_each(|(d, &v)| *d = *d + v);
            }
            2 => {
                if !scatter_add_even(inner, &mut dst[self.first..]) {
                    scatter_add_every::<T, 2>(inner, &mut dst[self.first..]);
                }
            }
            _ => {
                for (d, &v) in dst[self.first..].chunks_mut(self.step).zip(inner) {
                    d[0] = d[0] + v;
                }
            }
        }
    }
}

/// `row[j] = src[S·j]`: whole chunks of `S`, then the last entry alone (`src` may end right
/// after it).
#[inline(always)]
fn gather_every<T: Copy, const S: usize>(row: &mut [T], src: &[T]) {
    let whole = row.len().saturating_sub(1);
    for (v, c) in row.iter_mut().zip(src.chunks_exact(S)).take(whole) {
        *v = c[0];
    }
    if let Some(last) = row.last_mut() {
        *last = src[S * whole];
    }
}

/// `dst[S·j] += row[j]`: the adjoint of [`gather_every`].
#[inline(always)]
fn scatter_add_every<T: Scalar, const S: usize>(row: &[T], dst: &mut [T]) {
    let whole = row.len().saturating_sub(1);
    for (&v, d) in row.iter().zip(dst.chunks_exact_mut(S)).take(whole) {
        d[0] = d[0] + v;
    }
    if let Some(&last) = row.last() {
        dst[S * whole] = dst[S * whole] + last;
    }
}

/// `row[j] = src[2·j]` for every `j` when `T` is `f32` or `f64` and the CPU has AVX2 (then
/// `true`); `false`, with nothing written, otherwise. `src` needs `2·(row.len() - 1) + 1`
/// elements (it may end right after the last one read).
pub(super) fn gather_even<T: Copy + 'static>(row: &mut [T], src: &[T]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        let n = row.len();
        assert!(
            n == 0 || src.len() > 2 * (n - 1),
            "the gather's source holds every other entry of the row"
        );
        if TypeId::of::<T>() == TypeId::of::<f32>() {
            // SAFETY: `T` is `f32` (same type, same layout); AVX2 checked above.
            unsafe {
                let row = &mut *(row as *mut [T] as *mut [f32]);
                let src = &*(src as *const [T] as *const [f32]);
                x86::even_f32(row, src);
            }
            return true;
        }
        if TypeId::of::<T>() == TypeId::of::<f64>() {
            // SAFETY: `T` is `f64`; AVX2 checked above.
            unsafe {
                let row = &mut *(row as *mut [T] as *mut [f64]);
                let src = &*(src as *const [T] as *const [f64]);
                x86::even_f64(row, src);
            }
            return true;
        }
    }
    false
}

/// `dst[2·j] += row[j]` for every `j` (the adjoint of [`gather_even`]) when `T` is `f32` or
/// `f64` and the CPU has AVX2 (then `true`); `false`, with nothing changed, otherwise.
pub(super) fn scatter_add_even<T: Scalar>(row: &[T], dst: &mut [T]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") {
        let n = row.len();
        assert!(
            n == 0 || dst.len() > 2 * (n - 1),
            "the scatter's destination holds every other entry of the row"
        );
        if TypeId::of::<T>() == TypeId::of::<f32>() {
            // SAFETY: `T` is `f32` (same type, same layout); AVX2 checked above.
            unsafe {
                let row = &*(row as *const [T] as *const [f32]);
                let dst = &mut *(dst as *mut [T] as *mut [f32]);
                x86::scatter_add_f32(row, dst);
            }
            return true;
        }
        if TypeId::of::<T>() == TypeId::of::<f64>() {
            // SAFETY: `T` is `f64`; AVX2 checked above.
            unsafe {
                let row = &*(row as *const [T] as *const [f64]);
                let dst = &mut *(dst as *mut [T] as *mut [f64]);
                x86::scatter_add_f64(row, dst);
            }
            return true;
        }
    }
    false
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// Whole vectors while the two loads of 16 floats stay inside `src`, then one at a time.
    #[target_feature(enable = "avx2")]
    pub(super) fn even_f32(row: &mut [f32], src: &[f32]) {
        let mut j = 0;
        while j + 8 <= row.len() && 2 * j + 16 <= src.len() {
            // SAFETY: `src[2j .. 2j+16]` and `row[j .. j+8]` are in bounds (the loop
            // condition); unaligned loads and store; AVX2 (the function's feature).
            unsafe {
                let a = _mm256_loadu_ps(src.as_ptr().add(2 * j));
                let b = _mm256_loadu_ps(src.as_ptr().add(2 * j + 8));
                // Per 128-bit lane: a0 a2 b0 b2 | a4 a6 b4 b6; then the 64-bit pairs in order.
                let even = _mm256_shuffle_ps::<0b10_00_10_00>(a, b);
                let even = _mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(even));
                _mm256_storeu_ps(row.as_mut_ptr().add(j), _mm256_castpd_ps(even));
            }
            j += 8;
        }
        for (v, k) in row[j..].iter_mut().zip(j..) {
            *v = src[2 * k];
        }
    }

    /// `dst[2j] += row[j]`: each vector of 8 entries interleaved with zeros and added onto
    /// 16 entries of `dst` (the odd ones gain zeros), then one at a time.
    #[target_feature(enable = "avx2")]
    pub(super) fn scatter_add_f32(row: &[f32], dst: &mut [f32]) {
        let mut j = 0;
        while j + 8 <= row.len() && 2 * j + 16 <= dst.len() {
            // SAFETY: `row[j .. j+8]` and `dst[2j .. 2j+16]` are in bounds (the loop
            // condition); unaligned loads and stores; AVX2 (the function's feature).
            unsafe {
                let r = _mm256_loadu_ps(row.as_ptr().add(j));
                let z = _mm256_setzero_ps();
                // Per 128-bit lane: r0 0 r1 0 | r4 0 r5 0, and r2 0 r3 0 | r6 0 r7 0.
                let (lo, hi) = (_mm256_unpacklo_ps(r, z), _mm256_unpackhi_ps(r, z));
                let d = dst.as_mut_ptr().add(2 * j);
                let first = _mm256_permute2f128_ps::<0x20>(lo, hi);
                let second = _mm256_permute2f128_ps::<0x31>(lo, hi);
                _mm256_storeu_ps(d, _mm256_add_ps(_mm256_loadu_ps(d), first));
                _mm256_storeu_ps(d.add(8), _mm256_add_ps(_mm256_loadu_ps(d.add(8)), second));
            }
            j += 8;
        }
        for (&v, k) in row[j..].iter().zip(j..) {
            dst[2 * k] += v;
        }
    }

    /// As [`scatter_add_f32`] with 4 doubles per vector.
    #[target_feature(enable = "avx2")]
    pub(super) fn scatter_add_f64(row: &[f64], dst: &mut [f64]) {
        let mut j = 0;
        while j + 4 <= row.len() && 2 * j + 8 <= dst.len() {
            // SAFETY: `row[j .. j+4]` and `dst[2j .. 2j+8]` are in bounds (the loop
            // condition); AVX2 (the function's feature).
            unsafe {
                let r = _mm256_loadu_pd(row.as_ptr().add(j));
                let z = _mm256_setzero_pd();
                // r0 0 | r2 0, and r1 0 | r3 0.
                let (lo, hi) = (_mm256_unpacklo_pd(r, z), _mm256_unpackhi_pd(r, z));
                let d = dst.as_mut_ptr().add(2 * j);
                let first = _mm256_permute2f128_pd::<0x20>(lo, hi);
                let second = _mm256_permute2f128_pd::<0x31>(lo, hi);
                _mm256_storeu_pd(d, _mm256_add_pd(_mm256_loadu_pd(d), first));
                _mm256_storeu_pd(d.add(4), _mm256_add_pd(_mm256_loadu_pd(d.add(4)), second));
            }
            j += 4;
        }
        for (&v, k) in row[j..].iter().zip(j..) {
            dst[2 * k] += v;
        }
    }

    /// As [`even_f32`] with 4 doubles per vector.
    #[target_feature(enable = "avx2")]
    pub(super) fn even_f64(row: &mut [f64], src: &[f64]) {
        let mut j = 0;
        while j + 4 <= row.len() && 2 * j + 8 <= src.len() {
            // SAFETY: `src[2j .. 2j+8]` and `row[j .. j+4]` are in bounds (the loop
            // condition); AVX2 (the function's feature).
            unsafe {
                let a = _mm256_loadu_pd(src.as_ptr().add(2 * j));
                let b = _mm256_loadu_pd(src.as_ptr().add(2 * j + 4));
                // a0 b0 a2 b2, then a0 a2 b0 b2.
                let even = _mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_unpacklo_pd(a, b));
                _mm256_storeu_pd(row.as_mut_ptr().add(j), even);
            }
            j += 4;
        }
        for (v, k) in row[j..].iter_mut().zip(j..) {
            *v = src[2 * k];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::gather_even;

    fn check<T: Copy + PartialEq + std::fmt::Debug + From<u16> + 'static>() {
        for n in 0..40 {
            for extra in 0..3 {
                let len = if n == 0 {
                    extra
                } else {
                    2 * (n - 1) + 1 + extra
                };
                let src: Vec<T> = (0..len as u16).map(T::from).collect();
                let mut row = vec![T::from(999); n];
                if gather_even(&mut row, &src) {
                    let want: Vec<T> = (0..n).map(|j| src[2 * j]).collect();
                    assert_eq!(row, want, "{n} entries from {len}");
                }
            }
        }
    }

    fn check_scatter<T: crate::tensor::Scalar + From<u16>>() {
        for n in 0..40 {
            for extra in 0..3 {
                let len = if n == 0 {
                    extra
                } else {
                    2 * (n - 1) + 1 + extra
                };
                let row: Vec<T> = (0..n as u16)
                    .map(|v| <T as From<u16>>::from(v + 1))
                    .collect();
                let start: Vec<T> = (0..len as u16)
                    .map(|v| <T as From<u16>>::from(1000 + v))
                    .collect();
                let mut dst = start.clone();
                if super::scatter_add_even(&row, &mut dst) {
                    let mut want = start;
                    for (j, &v) in row.iter().enumerate() {
                        want[2 * j] = want[2 * j] + v;
                    }
                    assert_eq!(dst, want, "{n} entries onto {len}");
                }
            }
        }
    }

    #[test]
    fn the_vector_scatter_adds_onto_every_other_entry() {
        check_scatter::<f32>();
        check_scatter::<f64>();
    }

    #[test]
    fn the_vector_gather_reads_every_other_entry() {
        check::<f32>();
        check::<f64>();
    }
}
