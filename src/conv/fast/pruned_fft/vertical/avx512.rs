//! The passes of [`super::Vertical`] for complex `f32` with AVX-512: a 512-bit vector holds
//! eight adjacent columns of one row (interleaved re, im), the last columns of a row under a
//! mask. The kernels are written over [`Lanes`]: 256-bit vectors with AVX-512VL masks (less
//! of the last vector wasted on rows of an odd number of columns) ran them at the same speed
//! on the AMD EPYC (Zen 4) of `benches/results/session11-columns.md`, so only 512 bits are
//! instantiated.

use num_complex::Complex;
use std::arch::x86_64::*;

mod lanes;
use lanes::Lanes;

/// `x · (wr + i wi)` for eight complex values and a broadcast twiddle.
#[inline(always)]
unsafe fn cmul<V: Lanes>(x: V, wr: V, wi: V) -> V {
    let swapped = V::swap(x);
    // Even lanes x.re·wr − x.im·wi, odd lanes x.im·wr + x.re·wi.
    V::fmaddsub(x, wr, V::mul(swapped, wi))
}

/// `a − i b` forward (`a + i b` backwards), as `(a.re + b.im, a.im − b.re)`.
#[inline(always)]
unsafe fn minus_i<V: Lanes, const INV: bool>(a: V, b: V, one: V) -> V {
    let swapped = V::swap(b);
    if INV {
        // Even lanes a − swapped, odd lanes a + swapped.
        V::fmaddsub(one, a, swapped)
    } else {
        V::fmsubadd(one, a, swapped)
    }
}

/// `a + i b` forward (`a − i b` backwards): [`minus_i`] of the other direction.
#[inline(always)]
unsafe fn plus_i<V: Lanes, const INV: bool>(a: V, b: V, one: V) -> V {
    let swapped = V::swap(b);
    if INV {
        V::fmsubadd(one, a, swapped)
    } else {
        V::fmaddsub(one, a, swapped)
    }
}

/// The `R`-point DFT of `x` in place (forward, or backwards unnormalised).
#[inline(always)]
unsafe fn dft<V: Lanes, const R: usize, const INV: bool>(x: &mut [V; 8], one: V) {
    match R {
        2 => {
            let (a, b) = (x[0], x[1]);
            x[0] = V::add(a, b);
            x[1] = V::sub(a, b);
        }
        3 => {
            let (s, d) = (V::add(x[1], x[2]), V::sub(x[1], x[2]));
            let t = V::fnmadd(V::splat(0.5), s, x[0]);
            let u = V::mul(d, V::splat(0.75f32.sqrt()));
            x[0] = V::add(x[0], s);
            x[1] = minus_i::<V, INV>(t, u, one);
            x[2] = plus_i::<V, INV>(t, u, one);
        }
        4 => {
            let (s0, d0) = (V::add(x[0], x[2]), V::sub(x[0], x[2]));
            let (s1, d1) = (V::add(x[1], x[3]), V::sub(x[1], x[3]));
            x[0] = V::add(s0, s1);
            x[2] = V::sub(s0, s1);
            x[1] = minus_i::<V, INV>(d0, d1, one);
            x[3] = plus_i::<V, INV>(d0, d1, one);
        }
        5 => {
            let [c1, c2, n1, n2] = super::five().map(|v| v as f32);
            // `x0 + c·s` as `x0 − (−c)·s`.
            let [m1, m2, n1, n2, mn2] = [-c1, -c2, n1, n2, -n2].map(|v| V::splat(v));
            let (s1, d1) = (V::add(x[1], x[4]), V::sub(x[1], x[4]));
            let (s2, d2) = (V::add(x[2], x[3]), V::sub(x[2], x[3]));
            let t1 = V::fnmadd(m1, s1, V::fnmadd(m2, s2, x[0]));
            let t2 = V::fnmadd(m2, s1, V::fnmadd(m1, s2, x[0]));
            let u1 = V::fnmadd(mn2, d2, V::mul(d1, n1));
            let u2 = V::fnmadd(n1, d2, V::mul(d1, n2));
            x[0] = V::add(x[0], V::add(s1, s2));
            x[1] = minus_i::<V, INV>(t1, u1, one);
            x[4] = plus_i::<V, INV>(t1, u1, one);
            x[2] = minus_i::<V, INV>(t2, u2, one);
            x[3] = plus_i::<V, INV>(t2, u2, one);
        }
        _ => {
            // A radix-2 step, then two radix-4 halves; the step's twiddles ρ^{k/2} (ρ the
            // direction's quarter root) are ρ, (1 + ρ)/√2 and −(1 − ρ)/√2.
            let a: [V; 4] = std::array::from_fn(|k| V::add(x[k], x[k + 4]));
            let b: [V; 4] = std::array::from_fn(|k| V::sub(x[k], x[k + 4]));
            let h = V::splat(0.5f32.sqrt());
            let p = minus_i::<V, INV>(b[1], b[1], one);
            let q = plus_i::<V, INV>(b[3], b[3], one);
            let (s1, d1) = (V::mul(V::sub(p, q), h), V::mul(V::add(p, q), h));
            let s0 = minus_i::<V, INV>(b[0], b[2], one);
            let d0 = plus_i::<V, INV>(b[0], b[2], one);
            let (sa0, da0) = (V::add(a[0], a[2]), V::sub(a[0], a[2]));
            let (sa1, da1) = (V::add(a[1], a[3]), V::sub(a[1], a[3]));
            x[0] = V::add(sa0, sa1);
            x[4] = V::sub(sa0, sa1);
            x[2] = minus_i::<V, INV>(da0, da1, one);
            x[6] = plus_i::<V, INV>(da0, da1, one);
            x[1] = V::add(s0, s1);
            x[5] = V::sub(s0, s1);
            x[3] = minus_i::<V, INV>(d0, d1, one);
            x[7] = plus_i::<V, INV>(d0, d1, one);
        }
    }
}

/// How many of the rows `first + q·step`, `q < r`, lie below `live` (they rise with `q`).
#[inline(always)]
fn below(first: usize, step: usize, r: usize, live: usize) -> usize {
    if first >= live {
        0
    } else {
        r.min((live - first - 1) / step + 1)
    }
}

/// One pass of radix `R` over the sub-transforms of length `span` of `n` rows. Forward, the
/// rows from `live` on are taken as zero and not read; backwards, only the rows below `live`
/// are computed and stored (`live = n` for a whole pass).
///
/// # Safety
/// AVX-512F; `n` rows of `stride` complex values from `data`, `cols ≤ stride`; `twiddles`
/// holds `(span / R)·(R − 1)` values.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn radix<V: Lanes, const R: usize, const INV: bool, const PRUNE: bool>(
    data: *mut f32,
    stride: usize,
    cols: usize,
    n: usize,
    span: usize,
    twiddles: &[Complex<f32>],
    live: usize,
) {
    let m = span / R;
    let one = V::splat(1.0);
    let tail = cols % V::WIDTH;
    let tail_mask = V::mask(tail);
    let chunks = cols.div_ceil(V::WIDTH);
    let mut x = [V::zero(); 8];
    for block in (0..n).step_by(span) {
        for j in 0..m {
            // Forward the rows read, backwards the rows stored.
            let rows = if PRUNE {
                below(block + j, m, R, live)
            } else {
                R
            };
            if INV && rows == 0 {
                continue;
            }
            let (read, kept) = if INV { (R, rows) } else { (rows, R) };
            let mut wr = [one; 7];
            let mut wi = [V::zero(); 7];
            for q in 1..R {
                let w = twiddles[j * (R - 1) + q - 1];
                wr[q - 1] = V::splat(w.re);
                wi[q - 1] = V::splat(if INV { -w.im } else { w.im });
            }
            let base = data.add(2 * (block + j) * stride);
            let row_step = 2 * m * stride;
            // Whole vectors unmasked (masked stores are slow on some CPUs), the tail masked.
            for c in 0..chunks {
                let at = base.add(2 * V::WIDTH * c);
                // Constant bounds with a test per row (unrolled, `x` stays in registers).
                if c + 1 == chunks && tail != 0 {
                    for (q, v) in x[..R].iter_mut().enumerate() {
                        if q < read {
                            *v = V::load_masked(tail_mask, at.add(q * row_step));
                        }
                    }
                } else {
                    for (q, v) in x[..R].iter_mut().enumerate() {
                        if q < read {
                            *v = V::load(at.add(q * row_step));
                        }
                    }
                }
                if INV && j > 0 {
                    for q in 1..R {
                        x[q] = cmul(x[q], wr[q - 1], wi[q - 1]);
                    }
                }
                if read == R && kept == R {
                    dft::<V, R, INV>(&mut x, one);
                } else {
                    pruned_dft::<V, R, INV>(&mut x, one, read, kept);
                }
                if !INV && j > 0 && read > 0 {
                    for q in 1..R {
                        x[q] = cmul(x[q], wr[q - 1], wi[q - 1]);
                    }
                }
                if c + 1 == chunks && tail != 0 {
                    for (q, v) in x[..R].iter().enumerate() {
                        if q < kept {
                            v.store_masked(tail_mask, at.add(q * row_step));
                        }
                    }
                } else {
                    for (q, v) in x[..R].iter().enumerate() {
                        if q < kept {
                            v.store(at.add(q * row_step));
                        }
                    }
                }
            }
        }
    }
}

/// [`dft`] of `x` whose values from `read` on are zero (and may hold anything), of which
/// only the first `kept` outputs are needed: no input, every output zero; one input, every
/// output equal to it; one output, the sum; otherwise the whole butterfly on zeros.
#[inline(always)]
unsafe fn pruned_dft<V: Lanes, const R: usize, const INV: bool>(
    x: &mut [V; 8],
    one: V,
    read: usize,
    kept: usize,
) {
    match (read, kept) {
        (0, _) => x[..R].fill(V::zero()),
        (1, _) => {
            let x0 = x[0];
            x[1..R].fill(x0);
        }
        (_, 1) => {
            let mut sum = x[0];
            for (q, v) in x[..R].iter().enumerate().skip(1) {
                if q < read {
                    sum = V::add(sum, *v);
                }
            }
            x[0] = sum;
        }
        _ => {
            for (q, v) in x[..R].iter_mut().enumerate() {
                if q >= read {
                    *v = V::zero();
                }
            }
            dft::<V, R, INV>(x, one);
        }
    }
}

/// The radix-`RA` butterfly of the first of two fused passes on row group `j1`, its
/// twiddles broadcast from memory (a load-port broadcast, no shuffle; conjugated backwards by
/// [`cmul_dir`] rather than a negated scalar, which would need a register broadcast). Only
/// `x[..read]` is read, and only `x[..kept]` computed ([`pruned_dft`]).
#[inline(always)]
unsafe fn butterfly<V: Lanes, const R: usize, const INV: bool>(
    x: &mut [V; 8],
    j1: usize,
    tw: &[Complex<f32>],
    one: V,
    read: usize,
    kept: usize,
) {
    if INV && j1 > 0 {
        for q in 1..R {
            let w = tw[j1 * (R - 1) + q - 1];
            x[q] = cmul_dir::<V, INV>(x[q], V::splat(w.re), V::splat(w.im));
        }
    }
    if read == R && kept == R {
        dft::<V, R, INV>(x, one);
    } else {
        pruned_dft::<V, R, INV>(x, one, read, kept);
    }
    if !INV && j1 > 0 && read > 0 {
        for q in 1..R {
            let w = tw[j1 * (R - 1) + q - 1];
            x[q] = cmul_dir::<V, INV>(x[q], V::splat(w.re), V::splat(w.im));
        }
    }
}

/// `x · w` forward, `x · conj(w)` backwards, `w = wr + i wi` broadcast.
#[inline(always)]
unsafe fn cmul_dir<V: Lanes, const INV: bool>(x: V, wr: V, wi: V) -> V {
    let swapped = V::mul(V::swap(x), wi);
    if INV {
        // Even lanes x.re·wr + x.im·wi, odd lanes x.im·wr − x.re·wi.
        V::fmsubadd(x, wr, swapped)
    } else {
        V::fmaddsub(x, wr, swapped)
    }
}

/// Two consecutive passes fused, radix `RA` on spans of `span` then radix `RB` on spans of
/// `span / RA`, on the `RA·RB` rows they share: each row is loaded and stored once. The rows
/// stream: forward, each radix-`RA` butterfly runs as soon as its rows are loaded and each
/// radix-`RB` butterfly stores as soon as it is done (backwards the mirror image), so that
/// where `RA·RB` exceeds the 32 vector registers (8·5 = 40) only the middle stage's values
/// spill, once each. `live` prunes the radix-`RA` stage as in [`radix`]: forward the rows it
/// reads, backwards the rows it stores.
///
/// # Safety
/// As [`radix`]; `tw_a` and `tw_b` are the two passes' twiddles.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn fused<V: Lanes, const RA: usize, const RB: usize, const INV: bool, const PRUNE: bool>(
    data: *mut f32,
    stride: usize,
    cols: usize,
    n: usize,
    span: usize,
    tw_a: &[Complex<f32>],
    tw_b: &[Complex<f32>],
    live: usize,
) {
    let m_a = span / RA;
    let m_b = m_a / RB;
    let one = V::splat(1.0);
    let tail = cols % V::WIDTH;
    let tail_mask = V::mask(tail);
    let chunks = cols.div_ceil(V::WIDTH);
    // x[qb][qa] is row j + qb·m_b + qa·m_a of the group.
    let mut x = [[V::zero(); 8]; 8];
    for block in (0..n).step_by(span) {
        for j in 0..m_b {
            if PRUNE && INV && block + j >= live {
                continue;
            }
            let base = data.add(2 * (block + j) * stride);
            let row = |qa: usize, qb: usize| 2 * (qa * m_a + qb * m_b) * stride;
            for c in 0..chunks {
                let at = base.add(2 * V::WIDTH * c);
                let masked = c + 1 == chunks && tail != 0;
                let load = |p: *const f32| {
                    if masked {
                        V::load_masked(tail_mask, p)
                    } else {
                        V::load(p)
                    }
                };
                let store = |v: V, p: *mut f32| {
                    if masked {
                        v.store_masked(tail_mask, p);
                    } else {
                        v.store(p);
                    }
                };
                if INV {
                    #[allow(clippy::needless_range_loop)]
                    for qa in 0..RA {
                        let mut y: [V; 8] = [one; 8];
                        for (qb, v) in y[..RB].iter_mut().enumerate() {
                            *v = load(at.add(row(qa, qb)));
                        }
                        butterfly::<V, RB, INV>(&mut y, j, tw_b, one, RB, RB);
                        for (qb, v) in y[..RB].iter().enumerate() {
                            x[qb][qa] = *v;
                        }
                    }
                    for (qb, xb) in x[..RB].iter_mut().enumerate() {
                        let kept = if PRUNE {
                            below(block + j + qb * m_b, m_a, RA, live)
                        } else {
                            RA
                        };
                        if kept == 0 {
                            continue;
                        }
                        butterfly::<V, RA, INV>(xb, j + qb * m_b, tw_a, one, RA, kept);
                        for (qa, v) in xb[..RA].iter().enumerate() {
                            if qa < kept {
                                store(*v, at.add(row(qa, qb)));
                            }
                        }
                    }
                } else {
                    for (qb, xb) in x[..RB].iter_mut().enumerate() {
                        let read = if PRUNE {
                            below(block + j + qb * m_b, m_a, RA, live)
                        } else {
                            RA
                        };
                        for (qa, v) in xb[..RA].iter_mut().enumerate() {
                            if qa < read {
                                *v = load(at.add(row(qa, qb)));
                            }
                        }
                        butterfly::<V, RA, INV>(xb, j + qb * m_b, tw_a, one, read, RA);
                    }
                    #[allow(clippy::needless_range_loop)]
                    for qa in 0..RA {
                        let mut y: [V; 8] = std::array::from_fn(|qb| x[qb][qa]);
                        butterfly::<V, RB, INV>(&mut y, j, tw_b, one, RB, RB);
                        for (qb, v) in y[..RB].iter().enumerate() {
                            store(*v, at.add(row(qa, qb)));
                        }
                    }
                }
            }
        }
    }
}

/// One pass of [`super::Vertical`] (`twiddles` one slice) or two fused (two slices), on complex
/// `f32` as interleaved floats.
///
/// # Safety
/// AVX-512F; `n` rows of `stride` complex values from `data`, `cols ≤ stride`; each slice of
/// `twiddles` its pass's, the radices among 2, 3, 4, 5, 8, two of them only as [`fuses`].
/// Where `live < n` the passes are the first forward (rows from `live` on taken as zero, not
/// read) or the last backwards (only rows below `live` stored): `span = n`.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn run(
    data: *mut f32,
    stride: usize,
    cols: usize,
    n: usize,
    radices: &[usize],
    span: usize,
    twiddles: &[&[Complex<f32>]],
    inv: bool,
    live: usize,
) {
    dispatch::<__m512>(data, stride, cols, n, radices, span, twiddles, inv, live);
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn dispatch<V: Lanes>(
    data: *mut f32,
    stride: usize,
    cols: usize,
    n: usize,
    radices: &[usize],
    span: usize,
    twiddles: &[&[Complex<f32>]],
    inv: bool,
    live: usize,
) {
    // The pruned kernels are instantiated apart: their tests per row cost the whole
    // transforms 1–6 % (`benches/results/session20-prune.md`).
    let prune = live < n;
    macro_rules! one {
        ($($r:literal),*) => {
            match (radices[0], inv, prune) {
                $(
                    ($r, false, false) => radix::<V, $r, false, false>(
                        data, stride, cols, n, span, twiddles[0], live),
                    ($r, true, false) => radix::<V, $r, true, false>(
                        data, stride, cols, n, span, twiddles[0], live),
                    ($r, false, true) => radix::<V, $r, false, true>(
                        data, stride, cols, n, span, twiddles[0], live),
                    ($r, true, true) => radix::<V, $r, true, true>(
                        data, stride, cols, n, span, twiddles[0], live),
                )*
                _ => unreachable!("radix {radices:?}"),
            }
        };
    }
    macro_rules! two {
        ($($a:literal $b:literal),*) => {
            match (radices[0], radices[1], inv, prune) {
                $(
                    ($a, $b, false, false) => fused::<V, $a, $b, false, false>(
                        data, stride, cols, n, span, twiddles[0], twiddles[1], live),
                    ($a, $b, true, false) => fused::<V, $a, $b, true, false>(
                        data, stride, cols, n, span, twiddles[0], twiddles[1], live),
                    ($a, $b, false, true) => fused::<V, $a, $b, false, true>(
                        data, stride, cols, n, span, twiddles[0], twiddles[1], live),
                    ($a, $b, true, true) => fused::<V, $a, $b, true, true>(
                        data, stride, cols, n, span, twiddles[0], twiddles[1], live),
                )*
                _ => unreachable!("radices {radices:?}"),
            }
        };
    }
    if radices.len() == 1 {
        one!(2, 3, 4, 5, 8);
    } else {
        two!(4 4, 4 5, 4 3, 4 2, 5 5, 5 3, 5 2, 3 3, 3 2, 8 2, 2 2, 8 5, 8 4, 8 8);
    }
}

/// Whether the passes of radices `a` then `b` run fused (the pairs `dispatch` instantiates).
/// Up to 25 rows they fit the 32 vector registers with their twiddles; 8·4, 8·5 and 8·8
/// (32, 40, 64 rows) spill part of the middle stage, which still beat two sweeps over the
/// plane: the column stages alone of 32x80, 40x72 and 64x64 ran 10–15 % faster fused
/// (`benches/results/session19-vertical.md`).
pub(super) fn fuses(a: usize, b: usize) -> bool {
    matches!(
        (a, b),
        (4, 4)
            | (4, 5)
            | (4, 3)
            | (4, 2)
            | (5, 5)
            | (5, 3)
            | (5, 2)
            | (3, 3)
            | (3, 2)
            | (8, 2)
            | (2, 2)
            | (8, 4)
            | (8, 5)
            | (8, 8)
    )
}
