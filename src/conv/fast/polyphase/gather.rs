//! The stride-2 gather of the split (`row[j] = src[2·j]`, the stems' phases) on AVX2 vectors:
//! the scalar loop costs about a cycle per element, as much as a tenth of a stem's forward pass.

use std::any::TypeId;

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
                let len = if n == 0 { extra } else { 2 * (n - 1) + 1 + extra };
                let src: Vec<T> = (0..len as u16).map(T::from).collect();
                let mut row = vec![T::from(999); n];
                if gather_even(&mut row, &src) {
                    let want: Vec<T> = (0..n).map(|j| src[2 * j]).collect();
                    assert_eq!(row, want, "{n} entries from {len}");
                }
            }
        }
    }

    #[test]
    fn the_vector_gather_reads_every_other_entry() {
        check::<f32>();
        check::<f64>();
    }
}
