//! Unit tests of the contraction: against a per-bin loop, layout round trips, and the
//! portable tile against the SIMD ones.

use super::each::contract_each_on;
use super::portable::tile_portable;
use super::product::{contract_on, tile, Engine, Out, Tile, TILE_C, TILE_R};
use super::*;
use crate::tensor::Scalar;
use num_complex::Complex;

fn value(s: usize, f: usize, salt: usize) -> (f64, f64) {
    let h = (s * 131 + f * 17 + salt * 7) % 23;
    (h as f64 - 11.0, ((h * 5) % 13) as f64 - 6.0)
}

/// The tile kernels this CPU can run: the detected ones and every narrower one.
fn engines() -> Vec<Engine> {
    match Engine::detect() {
        Engine::Avx512 => vec![Engine::Avx512, Engine::Avx2, Engine::Portable],
        Engine::Avx2 => vec![Engine::Avx2, Engine::Portable],
        Engine::Portable => vec![Engine::Portable],
    }
}

/// All three conjugation modes against a per-bin complex loop, for one shape, through the
/// whole driver on every engine this CPU has. The values are small integers, so every sum is
/// exact in f32 too.
fn check<T: Scalar>(groups: usize, rows: usize, cols: usize, depth: usize, bins: usize) {
    let na = groups * rows * depth;
    let nb = groups * depth * cols;
    let mut a = BlockedSpectra::<T>::dirty(na, bins);
    let mut b = BlockedSpectra::<T>::dirty(nb, bins);
    for f in 0..bins {
        let of = |v: (f64, f64)| (T::of(v.0), T::of(v.1));
        (0..na).for_each(|s| a.set(s, f, of(value(s, f, 1))));
        (0..nb).for_each(|s| b.set(s, f, of(value(s, f, 2))));
    }
    let ai = |g: usize, i: usize, k: usize| (g * rows + i) * depth + k;
    let bi = |g: usize, k: usize, j: usize| (g * depth + k) * cols + j;
    let ci = |g: usize, i: usize, j: usize| (g * rows + i) * cols + j;
    for (engine, conj) in engines()
        .into_iter()
        .flat_map(|e| [Conj::None, Conj::A, Conj::B].map(|c| (e, c)))
    {
        let p = Product {
            groups,
            rows,
            cols,
            depth,
            conj,
        };
        let mut out = BlockedSpectra::<T>::dirty(groups * rows * cols, bins);
        contract_on(engine, &p, &mut out, ci, &a, ai, &b, bi);
        // The same product with each output handed over as computed: every output once.
        let handed = std::sync::Mutex::new(Vec::new());
        contract_each_on(engine, &p, &a, ai, &b, bi, |g, i, j, spectrum| {
            handed
                .lock()
                .unwrap()
                .push((ci(g, i, j), spectrum.to_vec()));
        });
        let mut handed = handed.into_inner().unwrap();
        handed.sort_by_key(|h| h.0);
        assert_eq!(
            handed.iter().map(|h| h.0).collect::<Vec<_>>(),
            (0..groups * rows * cols).collect::<Vec<_>>(),
            "contract_each {engine:?}: outputs not handed over once each"
        );
        let mut each_out = BlockedSpectra::<T>::zeros(groups * rows * cols, bins);
        for (s, spectrum) in &handed {
            assert_eq!(spectrum.len(), bins);
            for (f, v) in spectrum.iter().enumerate() {
                each_out.set(*s, f, (v.re, v.im));
            }
        }
        for g in 0..groups {
            for i in 0..rows {
                for j in 0..cols {
                    for f in 0..bins {
                        let mut want = Complex::new(0.0, 0.0);
                        for k in 0..depth {
                            let (x, y) = (a.get(ai(g, i, k), f), b.get(bi(g, k, j), f));
                            let mut x = Complex::new(x.0.as_f64(), x.1.as_f64());
                            let mut y = Complex::new(y.0.as_f64(), y.1.as_f64());
                            match conj {
                                Conj::A => x = x.conj(),
                                Conj::B => y = y.conj(),
                                Conj::None => {}
                            }
                            want += x * y;
                        }
                        for (how, set) in [("contract", &out), ("contract_each", &each_out)] {
                            let got = set.get(ci(g, i, j), f);
                            let got = (got.0.as_f64(), got.1.as_f64());
                            assert!(
                                got.0 == want.re && got.1 == want.im,
                                "{how} {} {engine:?} {conj:?} {groups}x{rows}x{cols}x{depth} \
                                 over {bins} bins: group {g} entry ({i},{j}) bin {f}: \
                                 {got:?} vs {want}",
                                T::NAME
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Odd entry counts (tails of the 2×2 tiles), bin counts that leave the last block and the
/// last group part-filled, few terms (several blocks per kernel call) and many; f32 and
/// f64, on every engine this CPU has (on AVX-512: AVX-512, AVX2 and the portable loops).
#[test]
fn matches_per_bin_loop() {
    for (groups, rows, cols, depth, bins) in [
        (2, 3, 2, 4, 37),
        (1, 5, 3, 16, 300),
        (4, 3, 1, 1, 200),
        (1, 2, 2, 2, 5),
        // More outputs than one `contract_each` task takes (spectra of 17 KB in f32).
        (1, 9, 40, 2, 2112),
    ] {
        check::<f64>(groups, rows, cols, depth, bins);
        check::<f32>(groups, rows, cols, depth, bins);
    }
}

/// Spectra written through `spectra_mut` come back from `load` and `get`, for
/// bin counts with and without a part-filled last block and group, in f64 and f32.
fn round_trip<T: Scalar>() {
    for (count, bins) in [(3, 1), (2, LANES), (5, 37), (2, 8 * LANES + 3), (1, 300)] {
        let mut p = BlockedSpectra::<T>::dirty(count, bins);
        let spectra: Vec<Vec<Complex<T>>> = (0..count)
            .map(|s| {
                (0..bins)
                    .map(|f| Complex::new(T::of(value(s, f, 1).0), T::of(value(s, f, 1).1)))
                    .collect()
            })
            .collect();
        for (sig, spec) in p.spectra_mut().into_iter().zip(&spectra) {
            sig.copy_from_slice(spec);
        }
        for (s, spec) in spectra.iter().enumerate() {
            let mut back = vec![Complex::new(T::of(f64::NAN), T::of(f64::NAN)); bins];
            p.load(s, &mut back);
            assert_eq!(
                &back,
                spec,
                "{} {count} spectra of {bins} bins: spectrum {s}",
                T::NAME
            );
            for (f, v) in spec.iter().enumerate() {
                assert_eq!(
                    p.get(s, f),
                    (v.re, v.im),
                    "{} spectrum {s} bin {f}",
                    T::NAME
                );
            }
        }
    }
}

#[test]
fn written_spectra_load_back() {
    round_trip::<f64>();
    round_trip::<f32>();
}

/// The portable tile equals the SIMD tiles of every engine this CPU has (for `f32` the
/// AVX-512 and the AVX2 kernel, for `f64` the AVX2 one), bit for bit on integers, on every
/// tile shape the engine computes, over several blocks.
fn tiles_agree<T: Scalar>() {
    let (rows, cols, depth, bins) = (TILE_R, TILE_C, 3, 64);
    let mut a = BlockedSpectra::<T>::dirty(rows * depth, bins);
    let mut b = BlockedSpectra::<T>::dirty(depth * cols, bins);
    for f in 0..bins {
        let of = |v: (f64, f64)| (T::of(v.0), T::of(v.1));
        (0..rows * depth).for_each(|s| a.set(s, f, of(value(s, f, 3))));
        (0..depth * cols).for_each(|s| b.set(s, f, of(value(s, f, 4))));
    }
    let a_offs: Vec<usize> = (0..rows * depth).map(|s| a.offset(s)).collect();
    let b_offs: Vec<usize> = (0..depth * cols).map(|s| b.offset(s)).collect();
    let nblk = 4;
    // The entries side by side, each `nblk` blocks.
    let entry = nblk * 2 * LANES;
    let t = Tile {
        a_offs: [0, 1, 2, 3].map(|r| &a_offs[r * depth..][..depth]),
        b_offs: &b_offs,
        b_step: cols,
        a_base: 0,
        a_blk: 2 * LANES,
        b_base: 0,
        b_blk: 2 * LANES,
        nblk,
        out_offs: std::array::from_fn(|r| std::array::from_fn(|c| (r * cols + c) * 2 * LANES)),
        out_base: 0,
        out_blk: rows * cols * 2 * LANES,
    };
    // The portable engine's tile is the reference itself: comparing it would prove nothing.
    for engine in engines().into_iter().filter(|&e| e != Engine::Portable) {
        let (tr, tc) = engine.tile_dims::<T>();
        for (nr, nc) in (1..=tr).flat_map(|r| (1..=tc).map(move |c| (r, c))) {
            for conj in [Conj::None, Conj::A, Conj::B] {
                let mut portable = vec![T::zero(); rows * cols * entry];
                let mut fast = portable.clone();
                tile_portable(
                    a.values(),
                    b.values(),
                    &t,
                    nr,
                    nc,
                    conj,
                    Out::new(&mut portable),
                );
                tile(
                    a.values(),
                    b.values(),
                    &t,
                    nr,
                    nc,
                    conj,
                    Out::new(&mut fast),
                    engine,
                );
                assert_eq!(portable, fast, "{} {engine:?} {nr}x{nc} {conj:?}", T::NAME);
            }
        }
    }
}

#[test]
fn portable_and_simd_tiles_agree() {
    tiles_agree::<f32>();
    tiles_agree::<f64>();
}

/// The values start on a cache line, whatever the buffer the pool hands out (a block of
/// `f32` is then one line), and the layout round-trips.
#[test]
fn block_values_start_on_a_cache_line() {
    for (count, bins) in [(1, 1), (3, 37), (256, 1480), (5, 64), (2, 100_000)] {
        let mut p = BlockedSpectra::<f32>::dirty(count, bins);
        assert_eq!(p.values().as_ptr() as usize % 64, 0, "{count} x {bins} f32");
        p.set(count - 1, bins - 1, (1.5, -2.0));
        assert_eq!(p.get(count - 1, bins - 1), (1.5, -2.0));
        let q = BlockedSpectra::<f64>::zeros(count, bins);
        assert_eq!(q.values().as_ptr() as usize % 64, 0, "{count} x {bins} f64");
        assert!(q.values().iter().all(|&v| v == 0.0));
    }
}
