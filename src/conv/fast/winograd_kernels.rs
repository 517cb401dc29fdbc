//! The tile transforms of Winograd's F(4×4, 3×3) ([`super::winograd`]), written on
//! [`L`]-lane vectors of channels so that each line below becomes one SIMD operation (the
//! callers compile them inside `#[target_feature(enable = "avx2,fma")]` functions when the CPU
//! has AVX2; elsewhere the same code runs at the baseline target's width).
//!
//! The 1-D transforms are the matrices of Lavin and Gray (2016) on the interpolation points
//! 0, ±1, ±2 and ∞, applied as their sparse rows (a dense 6×6 product would spend three
//! quarters of its operations on zeros and ones).

use crate::conv::fast::direct_simd::Kernels;
use crate::tensor::Scalar;
use rayon::prelude::*;
use std::array::from_fn;

/// Outputs per tile and axis of F(4×4, 3×3) (the most of either variant).
pub(super) const M: usize = 4;
/// Inputs per tile and axis (`m + r − 1` of both variants).
pub(super) const A: usize = 6;
/// Transform points per tile (`A²`): the number of independent channel products.
pub(super) const XI: usize = A * A;
/// Channels per lane vector (channel counts are padded to a multiple).
pub(super) const L: usize = 8;

/// One value per channel of a block of [`L`] channels.
pub(super) type Lv<T> = [T; L];
/// A tile of lane vectors, `[row][column]`.
pub(super) type Tile<T, const R: usize, const C: usize> = [[Lv<T>; C]; R];

/// `G` (6×3), the kernel transform `U = G g Gᵀ`.
pub(super) const G: [[f64; 3]; A] = [
    [1.0 / 4.0, 0.0, 0.0],
    [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
    [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
    [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
    [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
    [0.0, 0.0, 1.0],
];

/// The two minimal filterings on the points 0, ±1, ±2, ∞, transpose-duals of each other: both
/// read 6×6 input tiles through `Bᵀ` and spend 36 channel products per tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Variant {
    /// F(4×4, 3×3): 3×3 kernels through `G`, 4×4 outputs through `Aᵀ`.
    F4x3,
    /// F(3×3, 4×4): 4×4 kernels through `S·A` (`S` the diagonal of `G`'s row scales), 3×3
    /// outputs through the integer `Ĝᵀ` with `G = S·Ĝ` (the roles of `A` and `G` in the weight
    /// gradient of F(4×4, 3×3), scales moved to the kernel side).
    F3x4,
}

/// The row scales of `G`: `G = diag(S)·Ĝ` with `Ĝ` integer.
const S: [f64; A] = [
    1.0 / 4.0,
    -1.0 / 6.0,
    -1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 24.0,
    1.0,
];

/// `A` (6×4), the transpose of `Aᵀ`.
const A_MAT: [[f64; 4]; A] = [
    [1.0, 0.0, 0.0, 0.0],
    [1.0, 1.0, 1.0, 1.0],
    [1.0, -1.0, 1.0, -1.0],
    [1.0, 2.0, 4.0, 8.0],
    [1.0, -2.0, 4.0, -8.0],
    [0.0, 0.0, 0.0, 1.0],
];

impl Variant {
    /// The variant for a square kernel of `r` taps per axis.
    pub(crate) fn for_taps(r: usize) -> Option<Variant> {
        match r {
            3 => Some(Variant::F4x3),
            4 => Some(Variant::F3x4),
            _ => None,
        }
    }
    /// Outputs per tile and axis.
    pub(crate) fn m(self) -> usize {
        match self {
            Variant::F4x3 => 4,
            Variant::F3x4 => 3,
        }
    }
    /// Kernel taps per axis.
    pub(crate) fn r(self) -> usize {
        A + 1 - self.m()
    }
    /// The kernel transform (6×r, as 6×4 with zero columns past `r`): `U = K k Kᵀ`.
    pub(super) fn kernel_matrix(self) -> [[f64; 4]; A] {
        match self {
            Variant::F4x3 => from_fn(|i| from_fn(|j| if j < 3 { G[i][j] } else { 0.0 })),
            Variant::F3x4 => from_fn(|i| from_fn(|j| S[i] * A_MAT[i][j])),
        }
    }
}

/// `C` columns of lane vectors (one row of a tile, or a whole tile's rows).
type Cols<T, const C: usize> = [Lv<T>; C];

/// `Bᵀ d` on each of the `C` columns of 6 rows (the rows of `Bᵀ`: `[4 0 −5 0 1 0]`,
/// `[0 −4 −4 1 1 0]`, `[0 4 −4 −1 1 0]`, `[0 −2 −1 2 1 0]`, `[0 2 −1 −2 1 0]`,
/// `[0 4 0 −5 0 1]`).
#[inline(always)]
fn bt<T: Scalar, const C: usize>(d: &[Cols<T, C>; A]) -> [Cols<T, C>; A] {
    let (c2, c4, c5) = (T::of(2.0), T::of(4.0), T::of(5.0));
    let mut t = [[[T::zero(); L]; C]; A];
    for s in 0..C {
        for l in 0..L {
            let (d0, d1, d2, d3, d4, d5) = (
                d[0][s][l], d[1][s][l], d[2][s][l], d[3][s][l], d[4][s][l], d[5][s][l],
            );
            t[0][s][l] = c4 * d0 - c5 * d2 + d4;
            t[1][s][l] = (d3 + d4) - c4 * (d1 + d2);
            t[2][s][l] = c4 * (d1 - d2) + (d4 - d3);
            t[3][s][l] = c2 * (d3 - d1) + (d4 - d2);
            t[4][s][l] = c2 * (d1 - d3) + (d4 - d2);
            t[5][s][l] = c4 * d1 - c5 * d3 + d5;
        }
    }
    t
}

/// `Aᵀ m` (`MO = 4`) or `Ĝᵀ m` (`MO = 3`) on each of the `C` columns of 6 rows (the rows of
/// `Aᵀ`: `[1 1 1 1 1 0]`, `[0 1 −1 2 −2 0]`, `[0 1 1 4 4 0]`, `[0 1 −1 8 −8 1]`; of `Ĝᵀ`: the
/// first two, then `[0 1 1 4 4 1]`).
#[inline(always)]
fn at<T: Scalar, const C: usize, const MO: usize>(m: &[Cols<T, C>; A]) -> [Cols<T, C>; MO] {
    let (c2, c4, c8) = (T::of(2.0), T::of(4.0), T::of(8.0));
    let mut y = [[[T::zero(); L]; C]; MO];
    for s in 0..C {
        for l in 0..L {
            let (m0, m1, m2, m3, m4, m5) = (
                m[0][s][l], m[1][s][l], m[2][s][l], m[3][s][l], m[4][s][l], m[5][s][l],
            );
            let (s12, d12, s34, d34) = (m1 + m2, m1 - m2, m3 + m4, m3 - m4);
            y[0][s][l] = m0 + s12 + s34;
            y[1][s][l] = d12 + c2 * d34;
            if MO == 4 {
                y[2][s][l] = s12 + c4 * s34;
                y[MO - 1][s][l] = d12 + c8 * d34 + m5;
            } else {
                y[2][s][l] = s12 + c4 * s34 + m5;
            }
        }
    }
    y
}

/// `A y` (`MO = 4`) or `Ĝ y` (`MO = 3`) on each of the `C` columns of `MO` rows: the adjoint
/// of [`at`] (the columns of `Aᵀ` or `Ĝᵀ` as rows).
#[inline(always)]
fn a<T: Scalar, const C: usize, const MO: usize>(y: &[Cols<T, C>; MO]) -> [Cols<T, C>; A] {
    let (c2, c4, c8) = (T::of(2.0), T::of(4.0), T::of(8.0));
    let mut m = [[[T::zero(); L]; C]; A];
    for s in 0..C {
        for l in 0..L {
            let (y0, y1, y2) = (y[0][s][l], y[1][s][l], y[2][s][l]);
            let y3 = if MO == 4 { y[MO - 1][s][l] } else { T::zero() };
            let (even, odd) = (y0 + y2, y1 + y3);
            let (even2, odd2) = (y0 + c4 * y2, c2 * y1 + c8 * y3);
            m[0][s][l] = y0;
            m[1][s][l] = even + odd;
            m[2][s][l] = even - odd;
            m[3][s][l] = even2 + odd2;
            m[4][s][l] = even2 - odd2;
            m[5][s][l] = if MO == 4 { y3 } else { y2 };
        }
    }
    m
}

/// A row of lane vectors as 1-wide columns (the same memory: `[X; 1]` is laid out as `X`).
#[inline(always)]
fn as_columns<T: Scalar, const I: usize>(row: &[Lv<T>; I]) -> &[Cols<T, 1>; I] {
    // SAFETY: `[Lv<T>; 1]` has the size, alignment and layout of `Lv<T>`.
    unsafe { &*(row as *const [Lv<T>; I]).cast::<[Cols<T, 1>; I]>() }
}

/// Apply a 1-D transform along both axes of a tile: `f` on the columns (`C = I`: every
/// column at once, elementwise over whole rows, so that no lane vector moves between rows),
/// then on each row (`C = 1`). (Plain loops and no transposing copies: under AVX-512 the
/// compiler turns a transposing copy into gathers and scatters, slower than the arithmetic.)
#[inline(always)]
fn both_axes<T: Scalar, const I: usize, const O: usize>(
    d: &Tile<T, I, I>,
    columns: impl Fn(&[Cols<T, I>; I]) -> [Cols<T, I>; O],
    row: impl Fn(&[Cols<T, 1>; I]) -> [Cols<T, 1>; O],
) -> Tile<T, O, O> {
    let t = columns(d);
    let mut out = [[[T::zero(); L]; O]; O];
    for (o, r) in out.iter_mut().zip(&t) {
        for (v, [w]) in o.iter_mut().zip(row(as_columns(r))) {
            *v = w;
        }
    }
    out
}

/// `V = Bᵀ d B` of a 6×6 input tile.
#[inline(always)]
pub(super) fn input_tile<T: Scalar>(d: &Tile<T, A, A>) -> Tile<T, A, A> {
    both_axes(d, bt::<T, A>, bt::<T, 1>)
}

/// `Y = Aᵀ m A` (`MO = 4`) or `Ĝᵀ m Ĝ` (`MO = 3`) of a 6×6 product tile.
#[inline(always)]
pub(super) fn output_tile<T: Scalar, const MO: usize>(m: &Tile<T, A, A>) -> Tile<T, MO, MO> {
    both_axes(m, at::<T, A, MO>, at::<T, 1, MO>)
}

/// `A ∂Y Aᵀ` (or `Ĝ ∂Y Ĝᵀ`) of an `MO×MO` cotangent tile: the adjoint of [`output_tile`].
#[inline(always)]
pub(super) fn cotangent_tile<T: Scalar, const MO: usize>(dy: &Tile<T, MO, MO>) -> Tile<T, A, A> {
    both_axes(dy, a::<T, MO, MO>, a::<T, 1, MO>)
}

/// Multiply–add `a·b + c`, fused when `FUSED` (the AVX2 + FMA build; elsewhere `mul_add`
/// would be a library call).
#[inline(always)]
fn madd<T: Scalar, const FUSED: bool>(a: T, b: T, c: T) -> T {
    if FUSED {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// The first [`L`] entries of `s` as a lane vector.
#[inline(always)]
pub(super) fn lanes<T: Scalar>(s: &[T]) -> Lv<T> {
    let mut o = [T::zero(); L];
    o.copy_from_slice(&s[..L]);
    o
}

/// `m[t, ·] = Σ_s v[t, s] · u[s, ·]` for rows `t` of `rows` (`v`, `m` row-major with row
/// strides `vs`, `ms`; `u` row-major `k × n`, `n` a multiple of [`L`]): the 36 channel
/// products, register-tiled `RT` rows × 2 lane vectors (12 vector accumulators for f32 with
/// `RT = 6`, for f64 with `RT = 3`) with `u`'s rows read in place (a few KB, in L1; no
/// packing). Branch-free inner loop: a short last row or column block recomputes its
/// neighbours and stores only its own.
#[inline(always)]
pub(super) fn products<T: Scalar, const FUSED: bool, const RT: usize>(
    (v, vs): (&[T], usize),
    (u, k, n): (&[T], usize, usize),
    (m, ms): (&mut [T], usize),
    rows: usize,
) {
    for t in (0..rows).step_by(RT) {
        let rt = RT.min(rows - t);
        let vr: [&[T]; RT] = from_fn(|r| &v[(t + r.min(rt - 1)) * vs..][..k]);
        for db in (0..n).step_by(2 * L) {
            let db2 = if db + 2 * L <= n { db + L } else { db };
            let mut acc = [[[T::zero(); L]; 2]; RT];
            for (s, urow) in u.chunks_exact(n).take(k).enumerate() {
                let (u0, u1) = (lanes(&urow[db..]), lanes(&urow[db2..]));
                for (accr, vrow) in acc.iter_mut().zip(&vr) {
                    let a = vrow[s];
                    for l in 0..L {
                        accr[0][l] = madd::<T, FUSED>(a, u0[l], accr[0][l]);
                        accr[1][l] = madd::<T, FUSED>(a, u1[l], accr[1][l]);
                    }
                }
            }
            for (r, accr) in acc.iter().enumerate().take(rt) {
                let row = &mut m[(t + r) * ms..];
                row[db..db + L].copy_from_slice(&accr[0]);
                if db2 != db {
                    row[db2..db2 + L].copy_from_slice(&accr[1]);
                }
            }
        }
    }
}

/// The channels of one side of a correlation: `groups × per`, each group padded to lanes.
#[derive(Clone, Copy, Debug)]
pub(super) struct Side {
    pub(super) groups: usize,
    pub(super) per: usize,
    pub(super) padded: usize,
}

impl Side {
    pub(super) fn new(groups: usize, per: usize) -> Self {
        Side {
            groups,
            per,
            padded: per.div_ceil(L) * L,
        }
    }
    pub(super) fn total(&self) -> usize {
        self.groups * self.per
    }
    pub(super) fn total_padded(&self) -> usize {
        self.groups * self.padded
    }
}

/// `U[g][ξ][s][d] = (K k Kᵀ)_ξ` of the `r×r` kernels `k(g, s, d, a, b)` (source channel `s`,
/// destination channel `d` of group `g`; `K` the variant's kernel transform), computed in f64.
pub(super) fn transform_weights<T: Scalar>(
    variant: Variant,
    src: Side,
    dst: Side,
    k: impl Fn(usize, usize, usize, usize, usize) -> T + Sync,
) -> Vec<T> {
    let (sp, dp) = (src.padded, dst.padded);
    let (km, r) = (variant.kernel_matrix(), variant.r());
    // In parallel over source channels (a layer with one group would run on one thread),
    // first as `[g][s][ξ][d]`, then rearranged plane by plane.
    let mut by_source = vec![T::zero(); src.groups * sp * XI * dp];
    by_source
        .par_chunks_mut(XI * dp)
        .enumerate()
        .for_each(|(gs, rows)| {
            let (g, s) = (gs / sp, gs % sp);
            if s >= src.per {
                return;
            }
            for d in 0..dst.per {
                let kk: [[f64; 4]; 4] = from_fn(|a| {
                    from_fn(|b| {
                        if a < r && b < r {
                            k(g, s, d, a, b).as_f64()
                        } else {
                            0.0
                        }
                    })
                });
                let gk: [[f64; 4]; A] =
                    from_fn(|i| from_fn(|b| (0..r).map(|a| km[i][a] * kk[a][b]).sum()));
                for (xi, gki) in (0..XI).map(|xi| (xi, gk[xi / A])) {
                    let v: f64 = (0..r).map(|b| gki[b] * km[xi % A][b]).sum();
                    rows[xi * dp + d] = T::of(v);
                }
            }
        });
    let mut u = vec![T::zero(); src.groups * XI * sp * dp];
    u.par_chunks_mut(sp * dp)
        .enumerate()
        .for_each(|(gx, plane)| {
            let (g, xi) = (gx / XI, gx % XI);
            for (s, row) in plane.chunks_mut(dp).enumerate() {
                row.copy_from_slice(&by_source[((g * sp + s) * XI + xi) * dp..][..dp]);
            }
        });
    u
}

/// Which build of the block functions runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Isa {
    /// The baseline target (what a CPU without AVX2 runs).
    Portable,
    /// AVX2 + FMA: the transforms on 256-bit vectors, the products in 6 × 2-vector tiles.
    Avx2,
    /// AVX-512 F as well: the products in `avx512`'s wider tiles.
    Avx512,
}

impl Isa {
    /// The best this CPU runs, or the portable build.
    pub(super) fn of(kernels: Kernels) -> Isa {
        #[cfg(target_arch = "x86_64")]
        if kernels == Kernels::Detect
            && is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
        {
            return if is_x86_feature_detected!("avx512f") {
                Isa::Avx512
            } else {
                Isa::Avx2
            };
        }
        let _ = kernels;
        Isa::Portable
    }

    /// `self`, or the best this CPU runs if that is less.
    pub(super) fn at_most(self) -> Isa {
        self.min(Isa::of(Kernels::Detect))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dense matrix of `output_tile::<MO>` (rows: the `MO²` outputs, columns: the 36
    /// points) and that of `cotangent_tile::<MO>` (rows: the 36 points, columns: the `MO²`
    /// cotangents), from unit inputs in lane 0.
    fn dense<const MO: usize>() -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let mut out = vec![vec![0.0; XI]; MO * MO];
        for xi in 0..XI {
            let mut m = [[[0.0f64; L]; A]; A];
            m[xi / A][xi % A][0] = 1.0;
            for (o, v) in output_tile::<f64, MO>(&m).iter().flatten().enumerate() {
                out[o][xi] = v[0];
            }
        }
        let mut cot = vec![vec![0.0; MO * MO]; XI];
        for o in 0..MO * MO {
            let mut y = [[[0.0f64; L]; MO]; MO];
            y[o / MO][o % MO][0] = 1.0;
            for (xi, v) in cotangent_tile::<f64, MO>(&y).iter().flatten().enumerate() {
                cot[xi][o] = v[0];
            }
        }
        (out, cot)
    }

    #[test]
    fn cotangent_tiles_are_the_transposes_of_the_output_tiles() {
        // Both variants: `Aᵀ · A` (4×4 outputs) and `Ĝᵀ · Ĝ` (3×3); integer entries, so the
        // dense matrices must agree exactly.
        let (out4, cot4) = dense::<4>();
        let (out3, cot3) = dense::<3>();
        for (out, cot, mo) in [(out4, cot4, 4), (out3, cot3, 3)] {
            for o in 0..mo * mo {
                for xi in 0..XI {
                    assert_eq!(out[o][xi], cot[xi][o], "MO {mo}: output {o}, point {xi}");
                }
            }
        }
        // Ĝᵀ's third row [0 1 1 4 4 1] along both axes: point (5, 5) reaches output (2, 2)
        // alone, with weight 1; point (2, 2) reaches every output of F(4×4, 3×3).
        let (out3, _) = dense::<3>();
        assert_eq!(out3[8][35], 1.0);
        assert!((0..8).all(|o| out3[o][35] == 0.0));
        let (out4, _) = dense::<4>();
        assert!((0..16).all(|o| out4[o][2 * A + 2] != 0.0));
    }

    #[test]
    fn the_dual_filtering_correlates_four_taps() {
        // F(3, 4) in 1-D through the library's matrices: `Ĝᵀ[(S·A h) ⊙ (Bᵀ d)]` is the valid
        // correlation of 6 inputs with 4 taps (the tile transforms on one axis: a tile whose
        // other axis holds d[0]·e_0, read back on row 0).
        let d = [0.5, -1.25, 2.0, 0.75, -0.5, 1.5];
        let h = [1.0, -2.0, 0.25, 3.0];
        let km = Variant::F3x4.kernel_matrix();
        let u: [f64; A] = from_fn(|i| (0..4).map(|j| km[i][j] * h[j]).sum());
        let mut tile = [[[0.0f64; L]; A]; A];
        for (j, &v) in d.iter().enumerate() {
            tile[0][j][0] = v;
        }
        // Bᵀ along rows of a tile whose first row is d: the first column transform is the
        // identity's first column times Bᵀ[0][0] = 4, so divide it out.
        let v = input_tile(&tile);
        let mut m = [[[0.0f64; L]; A]; A];
        for xi in 0..A {
            m[0][xi][0] = u[xi] * v[0][xi][0] / 4.0;
        }
        let y = output_tile::<f64, 3>(&m);
        for (o, yo) in y[0].iter().enumerate() {
            let direct: f64 = (0..4).map(|k| d[o + k] * h[k]).sum();
            assert!(
                (yo[0] - direct).abs() < 1e-12,
                "output {o}: {} vs {direct}",
                yo[0]
            );
        }
    }
}
