//! Complex FFTs of the columns of a row-major block, computed in place across the rows: each
//! butterfly combines whole rows, so one vector holds adjacent columns' values at the same row
//! and each twiddle is one scalar per row, broadcast.
//!
//! The column stages of [`super::PrunedRfft`] transposed each plane so that rustfft could
//! transform its columns one contiguous line at a time, and transposed the result again for
//! the next axis; the passes here read the rows where the earlier stage left them. They are a
//! mixed-radix decimation in frequency (radices 4, 3 and 2) forward, which leaves the bins of a
//! column in digit-reversed order, and its exact adjoint backwards (decimation in time from
//! that order), so that `inverse(forward(x)) = N x` with no reordering pass: only the product
//! of spectra sits between the two, and it is pointwise.
//!
//! With radices `$r_1, \dots, r_s$` (pass 1 first) the forward transform leaves bin
//! `$k = q_1 + r_1 q_2 + r_1 r_2 q_3 + \dots$` at row `$q_1 N / r_1 + q_2 N / (r_1 r_2) + \dots$`
//! ([`Vertical::position`]).

use crate::tensor::Scalar;
use num_complex::Complex;

/// One pass: length-`span` sub-transforms split by `radix` (`m = span / radix`).
struct Pass<T: Scalar> {
    radix: usize,
    span: usize,
    /// `w^{jq}` for `j < m`, `1 ≤ q < radix`, `w = e^{-2πi/span}`, at `j·(radix−1) + q − 1`.
    twiddles: Vec<Complex<T>>,
}

/// The planned column transform of one length.
pub(super) struct Vertical<T: Scalar> {
    n: usize,
    passes: Vec<Pass<T>>,
    /// Whether the AVX-512 `f32` kernels run (`T` is `f32` on a CPU with AVX-512F).
    avx512: bool,
}

/// The radices of `n`, pass 1 first (fours, then threes, then a two), or `None` if `n` has
/// another prime factor.
fn radices(mut n: usize) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for r in [4, 3, 2] {
        while n.is_multiple_of(r) {
            out.push(r);
            n /= r;
        }
    }
    (n == 1).then_some(out)
}

/// Whether columns of length `n` can run vertically (no prime factor above 3).
pub(super) fn fits(n: usize) -> bool {
    n >= 2 && radices(n).is_some()
}

/// Whether the AVX-512 kernels can run for `T` on this CPU.
pub(super) fn avx512_f32<T: Scalar>() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>()
            && std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

impl<T: Scalar> Vertical<T> {
    /// The columns of length `n` (`n ≥ 2`), or `None` if `n` has a prime factor above 3.
    /// `vector` asks for the AVX-512 kernels where they run (else the portable loops).
    pub(super) fn plan(n: usize, vector: bool) -> Option<Self> {
        let mut span = n;
        let passes = radices(n)?
            .into_iter()
            .map(|radix| {
                let m = span / radix;
                let twiddles = (0..m)
                    .flat_map(|j| (1..radix).map(move |q| (j * q) as f64 / span as f64))
                    .map(|f| {
                        let a = -2.0 * std::f64::consts::PI * f;
                        Complex::new(T::of(a.cos()), T::of(a.sin()))
                    })
                    .collect();
                let pass = Pass {
                    radix,
                    span,
                    twiddles,
                };
                span = m;
                pass
            })
            .collect();
        Some(Vertical {
            n,
            passes,
            avx512: vector && avx512_f32::<T>(),
        })
    }

    /// The row at which the forward transform leaves bin `k`.
    pub(super) fn position(&self, mut k: usize) -> usize {
        let (mut at, mut span) = (0, self.n);
        for pass in &self.passes {
            span /= pass.radix;
            at += (k % pass.radix) * span;
            k /= pass.radix;
        }
        at
    }

    /// Forward transform of the `cols` columns of `data` (`n` rows of `stride` values), bins in
    /// the order of [`position`](Self::position).
    ///
    /// # Panics
    /// If `data` is shorter than the rows or `cols > stride`.
    pub(super) fn forward(&self, data: &mut [Complex<T>], stride: usize, cols: usize) {
        self.check(data, stride, cols);
        for passes in self.passes.chunks(self.fuse()) {
            self.run(passes, data, stride, cols, false);
        }
    }

    /// Unnormalised inverse of [`forward`](Self::forward): bins in its order to the columns.
    ///
    /// # Panics
    /// As `forward`.
    pub(super) fn inverse(&self, data: &mut [Complex<T>], stride: usize, cols: usize) {
        self.check(data, stride, cols);
        let groups: Vec<&[Pass<T>]> = self.passes.chunks(self.fuse()).collect();
        for passes in groups.into_iter().rev() {
            self.run(passes, data, stride, cols, true);
        }
    }

    fn check(&self, data: &[Complex<T>], stride: usize, cols: usize) {
        assert!(
            cols <= stride && data.len() >= (self.n - 1) * stride + cols,
            "columns of {} rows × {cols} out of a buffer of {} (stride {stride})",
            self.n,
            data.len()
        );
    }

    /// Passes run together: the AVX-512 kernels keep two passes' rows in registers.
    fn fuse(&self) -> usize {
        if self.avx512 {
            2
        } else {
            1
        }
    }

    /// One pass, or two fused (then the vector kernels run), forward or backwards.
    fn run(
        &self,
        passes: &[Pass<T>],
        data: &mut [Complex<T>],
        stride: usize,
        cols: usize,
        inv: bool,
    ) {
        #[cfg(target_arch = "x86_64")]
        if self.avx512 {
            let tw = |p: &Pass<T>| {
                // SAFETY: `avx512` is set only where `T` is `f32` (same `TypeId`), so this
                // reinterprets `Complex<f32>` as itself.
                unsafe { std::slice::from_raw_parts(p.twiddles.as_ptr().cast(), p.twiddles.len()) }
            };
            let k = passes.len();
            let radices = [0, 1].map(|i| passes.get(i).map_or(0, |p| p.radix));
            let twiddles = [0, 1].map(|i| passes.get(i).map_or(&[][..], tw));
            // SAFETY: as above, and AVX-512F was detected;
            // `check` bounded every row of the passes.
            unsafe {
                avx512::run(
                    data.as_mut_ptr().cast(),
                    stride,
                    cols,
                    self.n,
                    &radices[..k],
                    passes[0].span,
                    &twiddles[..k],
                    inv,
                );
            }
            return;
        }
        for pass in passes {
            portable_pass(pass, data, stride, cols, self.n, inv);
        }
    }
}

/// One pass in plain loops over the columns (innermost, for LLVM to vectorise).
fn portable_pass<T: Scalar>(
    pass: &Pass<T>,
    data: &mut [Complex<T>],
    stride: usize,
    cols: usize,
    n: usize,
    inv: bool,
) {
    let (r, span) = (pass.radix, pass.span);
    let m = span / r;
    let half = T::of(0.5);
    let s3 = T::of(if inv {
        0.75f64.sqrt()
    } else {
        -(0.75f64.sqrt())
    });
    // Multiplication by -i forward, +i backwards.
    let rot = |v: Complex<T>| {
        if inv {
            Complex::new(-v.im, v.re)
        } else {
            Complex::new(v.im, -v.re)
        }
    };
    let mut x = [Complex::new(T::zero(), T::zero()); 4];
    for block in (0..n).step_by(span) {
        for j in 0..m {
            let tw = &pass.twiddles[j * (r - 1)..][..r - 1];
            let tw: [Complex<T>; 3] = std::array::from_fn(|q| {
                let w = tw
                    .get(q)
                    .copied()
                    .unwrap_or(Complex::new(T::one(), T::zero()));
                if inv {
                    w.conj()
                } else {
                    w
                }
            });
            let row = |q: usize| (block + j + q * m) * stride;
            for c in 0..cols {
                for (q, v) in x[..r].iter_mut().enumerate() {
                    *v = data[row(q) + c];
                }
                if inv {
                    for q in 1..r {
                        x[q] = x[q] * tw[q - 1];
                    }
                }
                match r {
                    2 => x = [x[0] + x[1], x[0] - x[1], x[2], x[3]],
                    3 => {
                        let (s, d) = (x[1] + x[2], x[1] - x[2]);
                        let t = x[0] - s * half;
                        // ±i·(√3/2)·(x1 − x2), the sign of the direction's root.
                        let u = Complex::new(-d.im * s3, d.re * s3);
                        x = [x[0] + s, t + u, t - u, x[3]];
                    }
                    _ => {
                        let (s0, d0) = (x[0] + x[2], x[0] - x[2]);
                        let (s1, d1) = (x[1] + x[3], x[1] - x[3]);
                        let d1 = rot(d1);
                        x = [s0 + s1, d0 + d1, s0 - s1, d0 - d1];
                    }
                }
                if !inv {
                    for q in 1..r {
                        x[q] = x[q] * tw[q - 1];
                    }
                }
                for (q, v) in x[..r].iter().enumerate() {
                    data[row(q) + c] = *v;
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512;

#[cfg(test)]
mod tests;
