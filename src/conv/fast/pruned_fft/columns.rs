//! The choice between the two ways of running the column stages of a [`super::PrunedRfft`].

use super::vertical;
use crate::tensor::Scalar;

/// How the column stages (axes 1 and 0) of a [`super::PrunedRfft`] run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Columns {
    /// Each stage transposes its planes and transforms the contiguous lines with rustfft;
    /// the spectrum's order is `[H][T1][T0]`.
    Transposed,
    /// In place across the rows (`pruned_fft/vertical.rs`), no transposes; the spectrum's
    /// order is `[T0][T1][H]` with axes 0 and 1 digit-reversed. Needs extents with no prime
    /// factor above 5.
    Vertical,
    /// Axis 1 per plane transposed for rustfft (its single-kernel butterflies, such as
    /// `Butterfly36Avx`, outrun the vertical radix-4/3 passes on 36), axis 0
    /// vertically across the planes (no transpose of the whole volume); the spectrum's order is
    /// `[T0][H][T1]` with axis 0 digit-reversed. Needs a 5-smooth `T0 > 1`.
    Mixed,
}

impl Columns {
    /// The fastest for `T` on this CPU and `period`, as `examples/fft_columns.rs` measured
    /// them: vertical where the AVX-512 kernels run and the extents allow (5-smooth), except
    /// - of a 3-D period with columns of at most 64 only axis 0 runs vertically
    ///   ([`Columns::Mixed`]: 16x36x36 forward + inverse 30.6–30.8 µs against 33.3 all
    ///   vertical and 37.0 all transposed, session 12);
    /// - 2-D columns of at most 64 with neither a radix-8 nor a radix-5 pass (36, 48: 4s, 3s
    ///   and 2s) stay transposed: rustfft's single-kernel butterflies beat the radix-4/3 passes
    ///   there (session 11) or ran even (48, session 15); so do columns shorter than 32, not
    ///   measured. Where the rows are 72 or longer, 36 and 48 run vertically (each pass then
    ///   sweeps 5 or more vectors of columns per row): forward + inverse 48x80 6.2–8.7 µs
    ///   against 6.9–9.5 transposed, 36x72 3.8–5.5 against 4.7–6.5, while 48x48 (3.6–5.3
    ///   against 3.6–5.4) and 36x36 (2.6–3.9 against 2.3–3.7) do not gain (3 runs each,
    ///   session 19).
    ///
    /// With the radix-8 and radix-5 passes the 2-D columns of 32 (8·4), 40 (8·5), 64 (8·8),
    /// 72 (8·3·3) and 80 (4·4·5) ran 1.1–2.1× rustfft's alone
    /// (`benches/results/session15-vertical.md`).
    pub(super) fn chosen<T: Scalar>(period: [usize; 3]) -> Self {
        if !(vertical::avx512_f32::<T>() && Self::fits(period)) {
            Columns::Transposed
        } else if period[0] > 1 && period[1] <= 64 {
            Columns::Mixed
        } else if period[0] == 1
            && period[1] <= 64
            && !(period[1] >= 32 && (vertical::long_radix(period[1]) || period[2] >= 72))
        {
            Columns::Transposed
        } else {
            Columns::Vertical
        }
    }

    /// Whether the vertical passes can transform the column axes of `period`.
    pub(super) fn fits(period: [usize; 3]) -> bool {
        period[..2].iter().all(|&t| t == 1 || vertical::fits(t))
    }

    /// Whether `period` can run [`Columns::Mixed`].
    pub(super) fn fits_mixed(period: [usize; 3]) -> bool {
        period[0] > 1 && vertical::fits(period[0])
    }
}
