//! The channel-last copies of the Winograd path ([`super`]): planes `(n, c, h, w)` to
//! `[n][h'][w'][c']` with the padding applied and channels padded to lanes of [`L`].
//!
//! Copied a lane of [`L`] channels at a time, so that each position is one contiguous store
//! (channel by channel, every store would land on another cache line). Where the column map is
//! a run of consecutive source columns (the interior, under every padding mode), the AVX2
//! build of `f32` moves 8 channels × 8 columns as one 8×8 transpose in registers; elsewhere
//! (the padding, other types, the portable build) value by value.

use super::kernels::L;
use super::{Isa, Side};
use crate::tensor::{Scalar, TypedViews};
use rayon::prelude::*;
use std::array::from_fn;

/// Runs `(p, s, len)` of consecutive positions `p..p+len` of `map` (among the first `ext`)
/// that read the consecutive source positions `s..s+len`.
fn runs(map: &[Option<usize>], ext: usize) -> Vec<(usize, usize, usize)> {
    let mut out: Vec<(usize, usize, usize)> = Vec::new();
    for (p, s) in map.iter().enumerate().take(ext) {
        let Some(s) = *s else { continue };
        match out.last_mut() {
            Some((p0, s0, len)) if *p0 + *len == p && *s0 + *len == s => *len += 1,
            _ => out.push((p, s, 1)),
        }
    }
    out
}

/// Planes `(n, side.total(), extent)` channel-last: `[n][ext₀][ext₁][side.total_padded()]`,
/// position `p` of axis `a` reading `maps[a][p]` (`None`, or past the map: a zero).
pub(super) fn channels_last<T: Scalar>(
    src: &[T],
    n: usize,
    side: Side,
    extent: [usize; 2],
    maps: [&[Option<usize>]; 2],
    ext: [usize; 2],
    isa: Isa,
) -> Vec<T> {
    let cp = side.total_padded();
    let row_len = ext[1] * cp;
    let plane = extent[0] * extent[1];
    let runs = runs(maps[1], ext[1]);
    let len = n * ext[0] * row_len;
    // Each row is cleared by the task that fills it (in its core's cache, on both cores).
    let mut out: Vec<T> = Vec::with_capacity(len);
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(row_len)
        .enumerate()
        .for_each(|(r, row)| {
            let row = super::zeroed(row);
            let (ni, p0) = (r / ext[0], r % ext[0]);
            let Some(&Some(s0)) = maps[0].get(p0) else {
                return;
            };
            let srow =
                |c: usize| &src[(ni * side.total() + c) * plane + s0 * extent[1]..][..extent[1]];
            for g in 0..side.groups {
                for c0 in (0..side.per).step_by(L) {
                    let lanes = L.min(side.per - c0);
                    let rows: [&[T]; L] = from_fn(|l| srow(g * side.per + c0 + l.min(lanes - 1)));
                    let ci = g * side.padded + c0;
                    for &(p, s, len) in &runs {
                        let mut done = 0;
                        #[cfg(target_arch = "x86_64")]
                        if isa >= Isa::Avx2 && lanes == L {
                            done = transpose_run(&rows, (s, len), &mut row[p * cp + ci..], cp);
                        }
                        let _ = isa;
                        for j in done..len {
                            let dst = &mut row[(p + j) * cp + ci..][..lanes];
                            for (d, r) in dst.iter_mut().zip(&rows) {
                                *d = r[s + j];
                            }
                        }
                    }
                }
            }
        });
    // SAFETY: the loop zeroed every row of the first `len` elements (a panic in it never
    // reaches this line).
    unsafe { out.set_len(len) };
    out
}

/// Copies the first whole 8-column blocks of `rows[l][s..s + len]` to `dst[j·cp + l]` when
/// `T` is `f32` (returns the columns done: a multiple of 8, or 0 for other types).
#[cfg(target_arch = "x86_64")]
fn transpose_run<T: Scalar>(
    rows: &[&[T]; L],
    (s, len): (usize, usize),
    dst: &mut [T],
    cp: usize,
) -> usize {
    let blocks = len / 8;
    if blocks == 0 || dst.len() < (blocks * 8 - 1) * cp + L {
        return 0;
    }
    let mut done = 0;
    let mut src: [&[f32]; L] = [&[]; L];
    for (o, r) in src.iter_mut().zip(rows) {
        let r = &r[s..][..blocks * 8];
        // `views` hands back its slices typed when `T` is `f32`.
        match T::views(r, r, &mut []) {
            TypedViews::F32(v, _, _) => *o = v,
            _ => return 0,
        }
    }
    if let TypedViews::F32(_, _, dst) = T::views(&[], &[], dst) {
        for b in 0..blocks {
            // SAFETY: `Isa::of` found AVX2 (the caller's `isa`); `src` rows hold `8·blocks`
            // values, `dst` was checked to hold the last block's last lane vector.
            unsafe { transpose8(&src, b * 8, &mut dst[b * 8 * cp..], cp) };
            done += 8;
        }
    }
    done
}

/// `dst[j·cp + l] = src[l][at + j]` for `j, l < 8`: an 8×8 transpose in registers.
///
/// # Safety
/// AVX2; every `src[l]` holds `at + 8` values and `dst` `7·cp + 8`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn transpose8(src: &[&[f32]; L], at: usize, dst: &mut [f32], cp: usize) {
    use std::arch::x86_64::*;
    assert!(src.iter().all(|r| r.len() >= at + 8) && dst.len() >= 7 * cp + 8);
    // SAFETY: lengths asserted above.
    unsafe {
        let r: [__m256; 8] = from_fn(|l| _mm256_loadu_ps(src[l].as_ptr().add(at)));
        let t0 = _mm256_unpacklo_ps(r[0], r[1]);
        let t1 = _mm256_unpackhi_ps(r[0], r[1]);
        let t2 = _mm256_unpacklo_ps(r[2], r[3]);
        let t3 = _mm256_unpackhi_ps(r[2], r[3]);
        let t4 = _mm256_unpacklo_ps(r[4], r[5]);
        let t5 = _mm256_unpackhi_ps(r[4], r[5]);
        let t6 = _mm256_unpacklo_ps(r[6], r[7]);
        let t7 = _mm256_unpackhi_ps(r[6], r[7]);
        let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
        let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
        let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
        let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
        let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
        let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
        let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
        let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
        let out = [
            _mm256_permute2f128_ps::<0x20>(s0, s4),
            _mm256_permute2f128_ps::<0x20>(s1, s5),
            _mm256_permute2f128_ps::<0x20>(s2, s6),
            _mm256_permute2f128_ps::<0x20>(s3, s7),
            _mm256_permute2f128_ps::<0x31>(s0, s4),
            _mm256_permute2f128_ps::<0x31>(s1, s5),
            _mm256_permute2f128_ps::<0x31>(s2, s6),
            _mm256_permute2f128_ps::<0x31>(s3, s7),
        ];
        let d = dst.as_mut_ptr();
        for (j, v) in out.iter().enumerate() {
            _mm256_storeu_ps(d.add(j * cp), *v);
        }
    }
}
