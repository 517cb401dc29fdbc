//! The channel contraction of the FFT layer: per frequency, a small complex matrix product,
//! computed on spectra stored *frequency-block-major*, so that everything one block of
//! frequencies needs is contiguous and reused from L1/L2.
//!
//! A [`BlockedSpectra`] holds `count` spectra of `bins` bins, each contiguous and
//! interleaved (`re0 im0 re1 im1 …`) as the transforms read and write them — they work on
//! the set in place, no copy in or out — and read by the kernels in blocks of [`LANES`]
//! frequencies (the kernels pair the real and imaginary parts with an in-register swap: as
//! many multiply-adds as a planar layout). A kernel call finds the operands of one block as
//! one line per spectrum, fetched ahead by software prefetches. A
//! [`Product`] names, per group `g`, a matrix product over frequencies `$f$`
//!
//! ```math
//! C_{g,i,j}(f) = \sum_{k} \operatorname{op}_A(A_{g,i,k}(f))\,\operatorname{op}_B(B_{g,k,j}(f))
//! ```
//!
//! where each of `$A, B, C$` entries is a spectrum of a [`BlockedSpectra`] picked by an index
//! map, and `$\operatorname{op}$` is the identity or complex conjugation ([`Conj`]). The three
//! products of a conv layer are all of this form (see [`super::fft_conv`]).
//!
//! Work is split over ranges of blocks (rayon); inside a range, blocks are taken one at a time
//! (several for products with few terms) and the whole product is computed on them in tiles
//! of entries, the accumulators in registers. On x86-64 the tiles run with AVX2 + FMA or
//! AVX-512 intrinsics, chosen at run time.
//!
//! ```
//! use fftconv::conv::fast::contraction::{contract, Conj, BlockedSpectra, Product};
//! let mut a = BlockedSpectra::<f64>::zeros(1, 3);
//! let mut b = BlockedSpectra::<f64>::zeros(1, 3);
//! a.set(0, 1, (1.0, 2.0));
//! b.set(0, 1, (3.0, 1.0));
//! let mut c = BlockedSpectra::<f64>::zeros(1, 3);
//! let p = Product { groups: 1, rows: 1, cols: 1, depth: 1, conj: Conj::B };
//! contract(&p, &mut c, |_, _, _| 0, &a, |_, _, _| 0, &b, |_, _, _| 0);
//! assert_eq!(c.get(0, 1), (5.0, 5.0)); // (1+2i)·conj(3+i)
//! ```
//!
//! Files: `blocked.rs` (the layout and its transfers), `product.rs` (the driver: index tables,
//! work split, tiles), `each.rs` (products whose outputs are consumed one by one),
//! `portable.rs`, `avx2.rs`, `avx512.rs` (the tile kernels), `tests.rs`.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod blocked;
mod each;
mod portable;
mod product;
#[cfg(test)]
mod tests;

pub use blocked::BlockedSpectra;
pub use each::{contract_each, each_pays};
pub use product::contract;

/// Frequencies per block: the accumulator of one entry is `2·LANES` values in registers. Eight:
/// an `f32` block (real and imaginary parts) is one 64-byte cache line, so the operands of one
/// block of a 16×16×16 product (2 × 256 spectra) fill 32 KB and stay in L1 while the tiles
/// sweep them (16 lanes: 1.5× slower, the operands spilled to L2; `examples/contraction_rate`).
pub const LANES: usize = 8;

/// Which factor of each term is conjugated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conj {
    /// `a · b`.
    None,
    /// `conj(a) · b`.
    A,
    /// `a · conj(b)`.
    B,
}

/// The extents of a grouped product `C[g,i,j] = Σ_k op(A[g,i,k]) op(B[g,k,j])`.
#[derive(Clone, Copy, Debug)]
pub struct Product {
    /// Number of independent groups.
    pub groups: usize,
    /// `i` extent.
    pub rows: usize,
    /// `j` extent.
    pub cols: usize,
    /// `k` extent (summed over).
    pub depth: usize,
    /// Conjugation of the terms.
    pub conj: Conj,
}
