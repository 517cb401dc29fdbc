//! The FFT period of a layer and the extents its operator chain works in, computed once: the
//! layer expansion ([`crate::expr::layer`]) builds its chain from [`Period`], and the memory
//! budget (`conv::budget`) sizes that chain from [`chain_extents`] and [`guard_chain`].
//!
//! Per spatial axis (notes `06-conv-layer.md`, `09-stride.md`, `13-conv-transpose.md`):
//!
//! - conv: `$S_p = S + lo + hi$` (padded input), `$K_d = d(K-1)+1$`, the valid window
//!   `$S_p - K_d + 1$`, of which a stride `$s$` reads `$(O-1)s+1$` entries; the last
//!   `$(S_p - K_d) \bmod s$` are never read (the `tail`); the period `$P = \text{fast\_len}(S_p)$`.
//! - conv_transpose: `$L_u = (S-1)s+1$` (zero-inserted input), and the period
//!   `$P = \text{fast\_len}(\max(L_u + K_d - 1 + op,\ lo + S_{out}))$`, where the output padding
//!   `$op$` enters.

use super::{ConvKind, Geometry};
use crate::error::Result;
use crate::fft::fast_len;
use crate::limits;

/// The extents of a layer's FFT chain, per spatial axis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Period {
    /// The dilated kernel extent `K_d = d(K-1)+1`.
    pub kd: Vec<usize>,
    /// The extent the circular convolution's input has before it is embedded in the period:
    /// conv `S_p = S + lo + hi`, conv_transpose `L_u = (S-1)s+1`.
    pub inner: Vec<usize>,
    /// conv with a stride: the `(S_p - K_d) mod s` last entries of the valid window that the
    /// stride never reads (cropped explicitly, so that `zero_insert` is exactly the adjoint of
    /// `subsample`); 0 otherwise.
    pub tail: Vec<usize>,
    /// The period `P`, a fast FFT length at least the needed extent ([`chain_extents`]).
    pub p: Vec<usize>,
}

fn sat(v: u128) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// The extent per axis the period must cover, before rounding to a fast length, in `u128`
/// with saturation (safe to call before any guard): conv `S_p`, conv_transpose
/// `max(L_u + K_d - 1 + op, lo + S_out)`.
pub fn chain_extents(g: &Geometry) -> Vec<u128> {
    (0..g.rank())
        .map(|a| {
            let (lo, hi) = (g.pads[a].0 as u128, g.pads[a].1 as u128);
            let kd = (g.dilation[a] as u128)
                .saturating_mul(g.kernel[a] as u128 - 1)
                .saturating_add(1);
            match g.kind {
                ConvKind::Conv => (g.input[a] as u128).saturating_add(lo).saturating_add(hi),
                ConvKind::ConvTranspose => {
                    let lu = (g.input[a] as u128 - 1)
                        .saturating_mul(g.stride[a] as u128)
                        .saturating_add(1);
                    let full = lu
                        .saturating_add(kd - 1)
                        .saturating_add(g.output_padding[a] as u128);
                    full.max(lo.saturating_add(g.output[a] as u128))
                }
            }
        })
        .collect()
}

impl Period {
    /// The period and extents of `g` (call [`guard_chain`] first for untrusted sizes).
    pub fn of(g: &Geometry) -> Period {
        let kd = g.dilated_kernel();
        let d = g.rank();
        let inner: Vec<usize> = match g.kind {
            ConvKind::Conv => (0..d)
                .map(|a| g.input[a] + g.pads[a].0 + g.pads[a].1)
                .collect(),
            ConvKind::ConvTranspose => (0..d).map(|a| (g.input[a] - 1) * g.stride[a] + 1).collect(),
        };
        let tail = match g.kind {
            ConvKind::Conv => (0..d).map(|a| (inner[a] - kd[a]) % g.stride[a]).collect(),
            ConvKind::ConvTranspose => vec![0; d],
        };
        let p = chain_extents(g)
            .into_iter()
            .map(|e| fast_len(sat(e)))
            .collect();
        Period { kd, inner, tail, p }
    }
}

fn product(v: impl IntoIterator<Item = u128>) -> u128 {
    v.into_iter().fold(1u128, |a, b| a.saturating_mul(b))
}

/// Elements of the padded input and the output, which every algorithm holds.
pub fn io_elements(g: &Geometry) -> u128 {
    let (n, c_in, c_out) = (g.n as u128, g.c_in as u128, g.c_out as u128);
    let padded = product((0..g.rank()).map(|a| {
        (g.input[a] as u128)
            .saturating_add(g.pads[a].0 as u128)
            .saturating_add(g.pads[a].1 as u128)
    }));
    let out = product(g.output.iter().map(|&o| o as u128));
    n.saturating_mul(c_in)
        .saturating_mul(padded)
        .saturating_add(n.saturating_mul(c_out).saturating_mul(out))
}

/// Channel products the FFT chain holds per period element: `N C_in + N C_out + C_out C_in/g`.
pub fn chain_channels(g: &Geometry) -> u128 {
    let (n, c_in, c_out) = (g.n as u128, g.c_in as u128, g.c_out as u128);
    n.saturating_mul(c_in)
        .saturating_add(n.saturating_mul(c_out))
        .saturating_add(c_out.saturating_mul(c_in / g.groups.max(1) as u128))
}

/// Refuse, through [`limits::guard`], a layer whose padded input and output exceed
/// `--max-memory` (every algorithm holds them).
///
/// # Errors
/// [`crate::Error::TooLarge`].
pub fn guard_io(g: &Geometry, elem_bytes: usize) -> Result<u64> {
    limits::guard(
        &format!("{} layer (padded input and output)", g.kind),
        io_elements(g),
        elem_bytes as u128,
    )
}

/// Refuse a layer whose FFT chain (the padded input, the embedded kernel, the output in the
/// period, and a spectrum of each) exceeds `--max-memory`; checks the extents before any fast
/// length is searched for. Used by the layer expansion and by `conv::budget`.
///
/// # Errors
/// [`crate::Error::TooLarge`].
pub fn guard_chain(g: &Geometry, elem_bytes: usize) -> Result<u64> {
    guard_io(g, elem_bytes)?;
    guard_chain_lower_bound(g, elem_bytes)?;
    let what = format!("{} layer, FFT (padded tensors and spectra)", g.kind);
    let periods = Period::of(g).p.into_iter().map(|p| p as u128);
    limits::guard(
        &what,
        product(periods).saturating_mul(chain_channels(g)),
        2 * elem_bytes as u128,
    )
}

/// The lower bound of [`guard_chain`]: the fast length is never below the extent, and searching
/// for one near `usize::MAX` would overflow.
///
/// # Errors
/// [`crate::Error::TooLarge`].
pub fn guard_chain_lower_bound(g: &Geometry, elem_bytes: usize) -> Result<u64> {
    let what = format!("{} layer, FFT (padded tensors and spectra)", g.kind);
    limits::guard(
        &what,
        product(chain_extents(g)).saturating_mul(chain_channels(g)),
        2 * elem_bytes as u128,
    )
}
