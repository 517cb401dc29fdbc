//! [`contract_each`]: a product whose output spectra are consumed one by one (inverted and
//! written out) instead of stored as a whole set: each task computes a few outputs on every
//! block into a buffer that stays in its core's cache and hands them on at once.
//!
//! On products with few terms and many outputs (a weight gradient over a small batch: the
//! 2d-k31-dense layer's `∂w` is 1024 spectra of 17 KB, summed over 2 terms) the stored set is
//! larger than the L3 share it gets; writing it and reading it back for the inverses then
//! costs more than the products. Here the operands are read again per task instead (from
//! L2/L3: a task reads `depth` spectra per row and per column of its outputs).

use super::product::{prefetched, range, spectrum_lines, Engine, Out, Tables, TILE_C, TILE_R};
use super::{BlockedSpectra, Product};
use crate::tensor::Scalar;
use num_complex::Complex;
use rayon::prelude::*;

/// Bytes of one task's output spectra: half of a core's L2 (1 MB on Zen 4), so that the
/// operand blocks it streams stay there beside them.
const TASK_BYTES: usize = 512 << 10;

/// Whether [`contract_each`] moves fewer bytes than [`contract`](super::contract) and one pass
/// over the stored outputs: each output is summed over `depth` terms; a task of `TILE_R`
/// rows by several columns re-reads each operand spectrum about `depth / TILE_R +
/// depth / columns` times per output, from L2/L3, where the stored set costs a write and a
/// read of each, from memory once it outgrows L3. Up to 8 terms: 2d-k31-dense (2 samples, 4
/// tiles) measured ~1 % faster at 8 than at 4, the one-sample layer 15–20 % at 4.
pub fn each_pays(p: &Product) -> bool {
    p.depth <= 8 && p.rows * p.cols >= 4 * TILE_R * TILE_C
}

/// Compute `C[g,i,j] = Σ_k op(a[ai(g,i,k)]) · op(b[bi(g,k,j)])` (every bin) and call
/// `each(g, i, j, spectrum)` once per output with its spectrum, which `each` may overwrite
/// (an inverse transform's work space). No output set is stored.
///
/// # Panics
/// If the sets have different bin counts or an index map leaves its set.
pub fn contract_each<T: Scalar>(
    p: &Product,
    a: &BlockedSpectra<T>,
    ai: impl Fn(usize, usize, usize) -> usize + Sync,
    b: &BlockedSpectra<T>,
    bi: impl Fn(usize, usize, usize) -> usize + Sync,
    each: impl Fn(usize, usize, usize, &mut [Complex<T>]) + Sync,
) {
    contract_each_on(Engine::detect(), p, a, ai, b, bi, each);
}

/// [`contract_each`] on the tile kernels of `engine`.
pub(super) fn contract_each_on<T: Scalar>(
    engine: Engine,
    p: &Product,
    a: &BlockedSpectra<T>,
    ai: impl Fn(usize, usize, usize) -> usize + Sync,
    b: &BlockedSpectra<T>,
    bi: impl Fn(usize, usize, usize) -> usize + Sync,
    each: impl Fn(usize, usize, usize, &mut [Complex<T>]) + Sync,
) {
    assert!(
        a.blocks == b.blocks && a.bins() == b.bins(),
        "contraction operands of different bin counts"
    );
    let (gs, rows, cols, depth) = (p.groups, p.rows, p.cols, p.depth);
    if gs * rows * cols == 0 {
        return;
    }
    let spectrum_bytes = (a.stride() * std::mem::size_of::<T>()).max(1);
    let r_chunk = rows.min(TILE_R);
    let c_chunk = (TASK_BYTES / (r_chunk * spectrum_bytes)).clamp(1, cols);
    let (r_tasks, c_tasks) = (rows.div_ceil(r_chunk), cols.div_ceil(c_chunk));
    (0..gs * r_tasks * c_tasks)
        .into_par_iter()
        .for_each(|task| {
            let g = task / (r_tasks * c_tasks);
            let i0 = (task / c_tasks) % r_tasks * r_chunk;
            let j0 = task % c_tasks * c_chunk;
            let (nr, nc) = (r_chunk.min(rows - i0), c_chunk.min(cols - j0));
            let mut out = BlockedSpectra::dirty(nr * nc, a.bins());
            let mut tab = Tables {
                a: (0..nr)
                    .flat_map(|r| (0..depth).map(move |k| (r, k)))
                    .map(|(r, k)| a.offset(ai(g, i0 + r, k)))
                    .collect(),
                b: (0..depth)
                    .flat_map(|k| (0..nc).map(move |c| (k, c)))
                    .map(|(k, c)| b.offset(bi(g, k, j0 + c)))
                    .collect(),
                c: (0..nr * nc).map(|s| out.offset(s)).collect(),
                lines: Vec::new(),
            };
            let part = Product {
                groups: 1,
                rows: nr,
                cols: nc,
                depth,
                conj: p.conj,
            };
            if prefetched(&part) {
                let (av, bv) = (a.values().as_ptr(), b.values().as_ptr());
                spectrum_lines(av, a.stride(), a.count(), &tab.a, &mut tab.lines);
                spectrum_lines(bv, b.stride(), b.count(), &tab.b, &mut tab.lines);
                let o = out.values().as_ptr();
                spectrum_lines(o, out.stride(), out.count(), &tab.c, &mut tab.lines);
            }
            let blocks = out.blocks;
            range(
                &part,
                &tab,
                Out::new(out.values_mut()),
                (0, blocks),
                a,
                b,
                engine,
            );
            for (s, spectrum) in out.spectra_mut().into_iter().enumerate() {
                each(g, i0 + s / nc, j0 + s % nc, spectrum);
            }
        });
}
