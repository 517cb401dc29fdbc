//! The 36 channel products of the Winograd path ([`super`]) with AVX-512: the same
//! `m[t, ·] = Σ_s v[t, s] · u[s, ·]` as [`products`](super::kernels::products), with 512-bit
//! vectors and 32 registers.
//!
//! The AVX2 kernel holds 6 rows × 2 vectors (12 accumulators) and spends 8 loads (6
//! broadcasts, 2 rows of `u`) on 12 multiply–adds, so it waits on the load ports. Here a block
//! of up to 4 vectors of output channels (64 in f32, 32 in f64) stays in registers for
//! `RT` rows: 24 accumulators fed by 4 loads of `u` and 6 broadcasts, which keeps the FMA
//! units busy (on Zen 4, whose 512-bit FMAs are two 256-bit halves, as well as on CPUs with
//! full-width units). A narrower last block (channel counts are multiples of 8) runs with
//! fewer vectors and more rows, its partial vector masked.

use std::arch::x86_64::*;

/// Where the operands of `m[r, ·] (+)= Σ_s v[r, s] · u[s, ·]` live: `v[r, s]` at
/// `r·vs + s·ks`, `u[s, j]` at `s·us + j`, `m[r, j]` at `r·ms + j`; `k` terms, `n` columns.
#[derive(Clone, Copy)]
struct Strides {
    vs: usize,
    ks: usize,
    us: usize,
    ms: usize,
    k: usize,
    n: usize,
}

/// One kernel instance: `NV` vectors of `W` lanes from column `db` (`width` columns of `u`
/// and `m` there, `width ≤ NV·W`), `RT` rows at a time; `ACC` adds to `m` instead of
/// overwriting it.
macro_rules! block_kernel {
    ($name:ident, $t:ty, $w:expr, $vec:ty, $mask:ty, $zero:ident, $set1:ident,
     $load:ident, $fmadd:ident, $store:ident) => {
        /// # Safety
        /// AVX-512 F; the caller ([`products_f32`] / [`products_f64`]) checked every access
        /// against the slices' lengths.
        #[target_feature(enable = "avx512f")]
        unsafe fn $name<const NV: usize, const RT: usize, const ACC: bool>(
            (v, u, m): (*const $t, *const $t, *mut $t),
            st: Strides,
            rows: usize,
            (db, width): (usize, usize),
        ) {
            let Strides {
                vs, ks, us, ms, k, ..
            } = st;
            let mut mask: [$mask; NV] = [0; NV];
            for (j, mk) in mask.iter_mut().enumerate() {
                let lanes = width.saturating_sub(j * $w).min($w);
                *mk = ((1u32 << lanes) - 1) as $mask;
            }
            for t in (0..rows).step_by(RT) {
                let rt = RT.min(rows - t);
                // A short last row block recomputes its last row (branch-free inner loop).
                let mut vr = [v; RT];
                for (r, p) in vr.iter_mut().enumerate() {
                    *p = v.add((t + r.min(rt - 1)) * vs);
                }
                let mut acc: [[$vec; NV]; RT] = [[$zero(); NV]; RT];
                if ACC {
                    for (r, accr) in acc.iter_mut().enumerate().take(rt) {
                        let row = m.add((t + r) * ms + db);
                        for (j, c) in accr.iter_mut().enumerate() {
                            *c = $load(mask[j], row.add(j * $w));
                        }
                    }
                }
                for s in 0..k {
                    let urow = u.add(s * us + db);
                    let mut ub: [$vec; NV] = [$zero(); NV];
                    for (j, b) in ub.iter_mut().enumerate() {
                        // Lanes past `width` (only in the last vector) are masked off.
                        *b = $load(mask[j], urow.add(j * $w));
                    }
                    for (accr, p) in acc.iter_mut().zip(&vr) {
                        let a = $set1(*p.add(s * ks));
                        for (c, b) in accr.iter_mut().zip(&ub) {
                            *c = $fmadd(a, *b, *c);
                        }
                    }
                }
                for (r, accr) in acc.iter().enumerate().take(rt) {
                    let row = m.add((t + r) * ms + db);
                    for (j, c) in accr.iter().enumerate() {
                        $store(row.add(j * $w), mask[j], *c);
                    }
                }
            }
        }
    };
}

block_kernel!(
    block_f32,
    f32,
    16,
    __m512,
    __mmask16,
    _mm512_setzero_ps,
    _mm512_set1_ps,
    _mm512_maskz_loadu_ps,
    _mm512_fmadd_ps,
    _mm512_mask_storeu_ps
);
block_kernel!(
    block_f64,
    f64,
    8,
    __m512d,
    __mmask8,
    _mm512_setzero_pd,
    _mm512_set1_pd,
    _mm512_maskz_loadu_pd,
    _mm512_fmadd_pd,
    _mm512_mask_storeu_pd
);

/// Panics unless every access of the products fits the slices (a bug in the caller, never
/// user input: the shapes come from the layer's own layout).
fn check_bounds<T>((v, u, m): (&[T], &[T], &[T]), st: Strides, rows: usize) {
    if rows == 0 || st.k == 0 || st.n == 0 {
        return;
    }
    assert!(
        v.len() > (rows - 1) * st.vs + (st.k - 1) * st.ks,
        "v too short"
    );
    assert!(u.len() >= (st.k - 1) * st.us + st.n, "u too short");
    assert!(m.len() >= (rows - 1) * st.ms + st.n, "m too short");
}

/// Split the columns into blocks of up to 4 vectors of `w` lanes and run each through the
/// kernel instance of its width.
macro_rules! column_blocks {
    ($block:ident, $w:expr, $acc:expr, $ptrs:expr, $st:expr, $rows:expr) => {{
        let mut db = 0;
        while db < $st.n {
            let width = ($st.n - db).min(4 * $w);
            let cols = (db, width);
            // SAFETY: `check_bounds` checked every row and term the instances read and write;
            // columns past `n` are masked off.
            unsafe {
                match width.div_ceil($w) {
                    4 => $block::<4, 6, { $acc }>($ptrs, $st, $rows, cols),
                    3 => $block::<3, 8, { $acc }>($ptrs, $st, $rows, cols),
                    2 => $block::<2, 12, { $acc }>($ptrs, $st, $rows, cols),
                    _ => $block::<1, 12, { $acc }>($ptrs, $st, $rows, cols),
                }
            }
            db += width;
        }
    }};
}

macro_rules! products {
    ($name:ident, $sum:ident, $t:ty, $w:expr, $block:ident) => {
        /// The channel products (as [`products`](super::kernels::products)) with AVX-512.
        ///
        /// # Safety
        /// The CPU must support AVX-512 F.
        #[target_feature(enable = "avx512f")]
        pub(super) unsafe fn $name(
            (v, vs): (&[$t], usize),
            (u, k, n): (&[$t], usize, usize),
            (m, ms): (&mut [$t], usize),
            rows: usize,
        ) {
            let st = Strides {
                vs,
                ks: 1,
                us: n,
                ms,
                k,
                n,
            };
            check_bounds((v, u, &*m), st, rows);
            if rows == 0 || n == 0 {
                return;
            }
            column_blocks!(
                $block,
                $w,
                false,
                (v.as_ptr(), u.as_ptr(), m.as_mut_ptr()),
                st,
                rows
            );
        }

        /// `du[s, d] += Σ_t v[t, s] · q[t, d]` for `s < rows`, `t < k`, `d < n` (`v`, `q`
        /// row-major with row strides `vs`, `qs`; `du` with `ds`): the weight gradient's sum over
        /// tiles, the same kernel with `v` read down its columns.
        ///
        /// # Safety
        /// The CPU must support AVX-512 F.
        #[target_feature(enable = "avx512f")]
        pub(super) unsafe fn $sum(
            (v, vs): (&[$t], usize),
            (q, qs, k, n): (&[$t], usize, usize, usize),
            (du, ds): (&mut [$t], usize),
            rows: usize,
        ) {
            let st = Strides {
                vs: 1,
                ks: vs,
                us: qs,
                ms: ds,
                k,
                n,
            };
            check_bounds((v, q, &*du), st, rows);
            if rows == 0 || n == 0 || k == 0 {
                return;
            }
            column_blocks!(
                $block,
                $w,
                true,
                (v.as_ptr(), q.as_ptr(), du.as_mut_ptr()),
                st,
                rows
            );
        }
    };
}

products!(products_f32, tile_sums_f32, f32, 16, block_f32);
products!(products_f64, tile_sums_f64, f64, 8, block_f64);
