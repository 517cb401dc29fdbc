//! The memory a conv layer will need, estimated from its [`Geometry`] *before* anything is
//! allocated, and refused through [`crate::limits::guard`] when it exceeds the memory limit in force.
//!
//! The estimate follows what each algorithm allocates, in elements of `T`:
//!
//! - **Chain** (FFT): per spatial axis a period `$P_a$` (the padded extent, or for a transpose the
//!   zero-inserted input plus the dilated kernel, rounded up to a fast FFT length). The padded
//!   input, the embedded kernel, the output in the period, and one spectrum of each (complex,
//!   `$\approx$` the same bytes as the real tensor) are live at once:
//!   `$2\,(N C_{in} + N C_{out} + C_{out} C_{in}/g)\,\prod_a P_a$`.
//! - **Fft** (the fused layer, [`super::fast::fft_conv`]): the spectra of its tiles
//!   ([`super::fast::tiling`]) — two sets on the input side, one on the output side, the
//!   weights' — plus the padded input and the output.
//! - **Direct** (loops): the padded input and the output,
//!   `$N C_{in} \prod_a (S_a + lo_a + hi_a) + N C_{out} \prod_a O_a$`.
//!
//! All products are taken in `u128` with saturation, and the padded volume is checked *before*
//! any FFT length is searched for, so absurd paddings and dilations (10⁹) are refused
//! instead of overflowing or aborting on allocation.
//!
//! ```
//! use fftconv::conv::{budget, Algorithm, ConvSpec, Padding};
//! let spec = ConvSpec::conv(&[1], Padding::Explicit(vec![(1_000_000_000, 0)]), &[1]);
//! let g = spec.geometry(&[1, 1, 8], &[1, 1, 3]).unwrap();
//! assert!(budget::guard_geometry(&g, Algorithm::Chain, 8).is_err());
//! let small = ConvSpec::conv(&[1], Padding::Valid, &[1]).geometry(&[1, 1, 8], &[1, 1, 3]).unwrap();
//! assert!(budget::guard_geometry(&small, Algorithm::Chain, 8).is_ok());
//! ```

use super::fast::contraction::LANES;
use super::fast::tiling::Tiling;
use super::Algorithm;
use crate::error::Result;
use crate::limits;
use crate::spec::{period, Geometry};

fn product(v: impl IntoIterator<Item = u128>) -> u128 {
    v.into_iter().fold(1u128, |a, b| a.saturating_mul(b))
}

/// Bytes the chosen algorithm will need for layer `g` with `elem_bytes` per element, refused
/// when over the limit. Used by [`super::forward`] and [`super::backward`] before they
/// allocate.
///
/// # Errors
/// [`crate::Error::TooLarge`] naming the layer and the algorithm.
pub fn guard_geometry(g: &Geometry, algo: Algorithm, elem_bytes: usize) -> Result<u64> {
    let (n, c_in) = (g.n as u128, g.c_in as u128);
    // Every algorithm holds at least the padded input and the output: refuse absurd layers
    // on that before anything (the cost model, a fast-length search) looks at their extents.
    period::guard_io(g, elem_bytes)?;
    let padded = product((0..g.rank()).map(|a| {
        (g.input[a] as u128)
            .saturating_add(g.pads[a].0 as u128)
            .saturating_add(g.pads[a].1 as u128)
    }));
    let out = product(g.output.iter().map(|&o| o as u128));
    let kernel = product(g.kernel.iter().map(|&k| k as u128));
    let io = period::io_elements(g);
    match algo {
        // Either direction may run on either path (the cost model resolves them apart).
        Algorithm::Auto => {
            guard_geometry(g, algo.resolve(g), elem_bytes)?;
            guard_geometry(g, algo.resolve_backward(g), elem_bytes)
        }
        // The period arithmetic is the layer's own (`spec::period`), asked, not repeated.
        Algorithm::Chain => period::guard_chain(g, elem_bytes),
        Algorithm::Fft => {
            period::guard_chain_lower_bound(g, elem_bytes)?;
            let what = format!("{} layer, FFT (padded tensors and spectra)", g.kind);
            // The fused layer: the spectra of its tiles (two sets on the input side live
            // at once in the backward pass, one on the output side, the weights') and
            // the tensors.
            let t = Tiling::for_geometry(g);
            let c = g.as_conv();
            let nt = (c.n * t.tiles()) as u128;
            let count = nt
                .saturating_mul(2 * c.c_in as u128 + c.c_out as u128)
                .saturating_add((c.c_out * (c.c_in / c.groups.max(1))) as u128);
            let bins = t.bins().div_ceil(LANES) * LANES;
            let spectra = count.saturating_mul(2 * bins as u128);
            limits::guard(&what, spectra.saturating_add(io), elem_bytes as u128)
        }
        Algorithm::Im2col => {
            // One column matrix (C_in/g · ΠK rows, ΠO columns) per sample and group at a time.
            let cols = (c_in / g.groups.max(1) as u128)
                .saturating_mul(kernel)
                .saturating_mul(out.max(padded));
            limits::guard(
                &format!(
                    "{} layer, im2col (padded input, output and columns)",
                    g.kind
                ),
                io.saturating_add(cols),
                elem_bytes as u128,
            )
        }
        // Channel-last copies of the padded input (and cotangent) and the output tiles: about
        // the direct path's tensors.
        Algorithm::Winograd => guard_geometry(g, Algorithm::DirectSimd, elem_bytes),
        Algorithm::DirectSimd if !super::fast::direct_simd::supports(g) => {
            guard_geometry(g, Algorithm::Im2col, elem_bytes)
        }
        Algorithm::DirectSimd => {
            // The padded input and input gradient, the output, and the cotangent padded by
            // `d·(K-1)` on each side (plus a width tile) of the conv behind the layer.
            let c = g.as_conv();
            let q = product((0..c.rank()).map(|a| {
                let e = (c.dilation[a] as u128).saturating_mul(c.kernel[a] as u128 - 1);
                (c.output[a] as u128)
                    .saturating_add(e.saturating_mul(2))
                    .saturating_add(16)
            }));
            let cotangent = n.saturating_mul(c.c_out as u128).saturating_mul(q);
            limits::guard(
                &format!(
                    "{} layer, direct SIMD (padded input, output and cotangent)",
                    g.kind
                ),
                io.saturating_mul(2).saturating_add(cotangent),
                elem_bytes as u128,
            )
        }
        Algorithm::Direct => {
            // Plus the table of (output position, tap) → input offset, 16 bytes an entry.
            let taps = out.max(padded).saturating_mul(kernel).saturating_mul(16);
            limits::guard(
                &format!(
                    "{} layer, direct loops (padded input, output and tap table)",
                    g.kind
                ),
                io.saturating_mul(elem_bytes as u128).saturating_add(taps),
                1,
            )
        }
    }
}
