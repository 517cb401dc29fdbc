//! The transposes between the stages of the pruned transform, in 4×4 tiles of complex values
//! (for `f32` on a CPU with AVX2: each tile in registers, a complex `f32` being one 64-bit
//! lane).
//!
//! An element-wise transpose reads one of its two sides with a stride of a whole line, one
//! value per cache line touched; these ran at ~5 % of the 2d-k7 profile (`transpose_into` and
//! the gathers inlined into `PrunedRfft::inverse`). A tile moves four lines' values per load
//! and store instead.

use crate::tensor::Scalar;
use num_complex::Complex;

/// `dst[j·dst_stride + i] = src[i·src_stride + j]` for `i < n_i`, `j < n_j`.
///
/// # Panics
/// If either slice is too short for the extents and strides.
pub(super) fn transpose<T: Scalar>(
    src: &[Complex<T>],
    src_stride: usize,
    dst: &mut [Complex<T>],
    dst_stride: usize,
    [n_i, n_j]: [usize; 2],
) {
    if n_i == 0 || n_j == 0 {
        return;
    }
    assert!(
        src.len() >= (n_i - 1) * src_stride + n_j && dst.len() >= (n_j - 1) * dst_stride + n_i,
        "transpose of {n_i}×{n_j} out of bounds"
    );
    let (full_i, full_j) = (n_i / 4 * 4, n_j / 4 * 4);
    #[cfg(target_arch = "x86_64")]
    let tiled = if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
        && std::is_x86_feature_detected!("avx2")
    {
        // SAFETY: `T` is `f32` (same `TypeId`), so `Complex<T>` is `Complex<f32>`; AVX2 was
        // detected; every tile lies inside the bounds asserted above.
        unsafe {
            tiles_f32(
                src.as_ptr().cast(),
                src_stride,
                dst.as_mut_ptr().cast(),
                dst_stride,
                [full_i, full_j],
            );
        }
        true
    } else {
        false
    };
    #[cfg(not(target_arch = "x86_64"))]
    let tiled = false;
    if !tiled {
        for i0 in (0..full_i).step_by(4) {
            for j0 in (0..full_j).step_by(4) {
                for j in j0..j0 + 4 {
                    for i in i0..i0 + 4 {
                        dst[j * dst_stride + i] = src[i * src_stride + j];
                    }
                }
            }
        }
    }
    edges(
        src,
        src_stride,
        dst,
        dst_stride,
        [n_i, n_j],
        [full_i, full_j],
    );
}

/// The entries of [`transpose`] outside the whole tiles (`i ≥ full_i` or `j ≥ full_j`).
fn edges<T: Scalar>(
    src: &[Complex<T>],
    src_stride: usize,
    dst: &mut [Complex<T>],
    dst_stride: usize,
    [n_i, n_j]: [usize; 2],
    [full_i, full_j]: [usize; 2],
) {
    for j in 0..n_j {
        let from = if j < full_j { full_i } else { 0 };
        for i in from..n_i {
            dst[j * dst_stride + i] = src[i * src_stride + j];
        }
    }
}

/// The whole 4×4 tiles of [`transpose`] for complex `f32`, each as four 256-bit loads,
/// two rounds of shuffles and four stores.
///
/// # Safety
/// AVX2; every tile `i, j < full` inside the buffers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn tiles_f32(
    src: *const Complex<f32>,
    src_stride: usize,
    dst: *mut Complex<f32>,
    dst_stride: usize,
    [full_i, full_j]: [usize; 2],
) {
    use std::arch::x86_64::*;
    for i0 in (0..full_i).step_by(4) {
        for j0 in (0..full_j).step_by(4) {
            let at = |i: usize| src.add((i0 + i) * src_stride + j0).cast::<f64>();
            let (r0, r1) = (_mm256_loadu_pd(at(0)), _mm256_loadu_pd(at(1)));
            let (r2, r3) = (_mm256_loadu_pd(at(2)), _mm256_loadu_pd(at(3)));
            // Lanes [r0.0 r1.0 r0.2 r1.2], [r0.1 r1.1 r0.3 r1.3], the same for rows 2, 3.
            let (t0, t1) = (_mm256_unpacklo_pd(r0, r1), _mm256_unpackhi_pd(r0, r1));
            let (t2, t3) = (_mm256_unpacklo_pd(r2, r3), _mm256_unpackhi_pd(r2, r3));
            let to = |j: usize| dst.add((j0 + j) * dst_stride + i0).cast::<f64>();
            _mm256_storeu_pd(to(0), _mm256_permute2f128_pd::<0x20>(t0, t2));
            _mm256_storeu_pd(to(1), _mm256_permute2f128_pd::<0x20>(t1, t3));
            _mm256_storeu_pd(to(2), _mm256_permute2f128_pd::<0x31>(t0, t2));
            _mm256_storeu_pd(to(3), _mm256_permute2f128_pd::<0x31>(t1, t3));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every extent from 0 to 9 on both sides (whole tiles, edges, both), with strides
    /// longer than the extents, against the element-wise definition; entries outside the
    /// destination's extent stay untouched.
    fn matches_elementwise<T: Scalar>() {
        for n_i in 0..10 {
            for n_j in 0..10 {
                let (ss, ds) = (n_j + 3, n_i + 2);
                let src: Vec<Complex<T>> = (0..n_i.max(1) * ss)
                    .map(|v| Complex::new(T::of(v as f64), T::of(-(v as f64) - 0.5)))
                    .collect();
                let fill = Complex::new(T::of(7.0), T::of(7.0));
                let mut dst = vec![fill; n_j.max(1) * ds];
                transpose(&src, ss, &mut dst, ds, [n_i, n_j]);
                for j in 0..n_j.max(1) {
                    for i in 0..ds {
                        let want = if i < n_i && j < n_j {
                            src[i * ss + j]
                        } else {
                            fill
                        };
                        assert_eq!(dst[j * ds + i], want, "{n_i}×{n_j} at ({i},{j})");
                    }
                }
            }
        }
    }

    #[test]
    fn matches_elementwise_f32() {
        matches_elementwise::<f32>();
    }

    #[test]
    fn matches_elementwise_f64() {
        matches_elementwise::<f64>();
    }
}
