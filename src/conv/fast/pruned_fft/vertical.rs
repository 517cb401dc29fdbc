//! Complex FFTs of the columns of a row-major block, computed in place across the rows: each
//! butterfly combines whole rows, so one vector holds adjacent columns' values at the same row
//! and each twiddle is one scalar per row, broadcast.
//!
//! The column stages of [`super::PrunedRfft`] transposed each plane so that rustfft could
//! transform its columns one contiguous line at a time, and transposed the result again for
//! the next axis; the passes here read the rows where the earlier stage left them. They are a
//! mixed-radix decimation in frequency (radices 8, 5, 4, 3 and 2) forward, which leaves the bins of a
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
    /// The passes run together ([`groups`](Self::groups)).
    groups: Vec<std::ops::Range<usize>>,
    /// Whether the AVX-512 `f32` kernels run (`T` is `f32` on a CPU with AVX-512F).
    avx512: bool,
}

/// The radices of `n`, pass 1 first, or `None` if `n` has a prime factor above 5: the power
/// of two as eights (a radix-8 butterfly's internal twiddles are ±i and (±1 ± i)/√2, cheaper
/// than a pass of twiddles), with a four or two fours where three does not divide the exponent
/// (4·4 does less work than 8·2), then fives, threes and a last two.
fn radices(mut n: usize) -> Option<Vec<usize>> {
    let mut twos = 0;
    while n.is_multiple_of(2) {
        twos += 1;
        n /= 2;
    }
    let mut out = match twos % 3 {
        _ if twos == 1 => vec![],
        0 => vec![8; twos / 3],
        1 => [vec![8; (twos - 4) / 3], vec![4, 4]].concat(),
        _ => [vec![8; twos / 3], vec![4]].concat(),
    };
    for r in [5, 3] {
        while n.is_multiple_of(r) {
            out.push(r);
            n /= r;
        }
    }
    if twos == 1 {
        out.push(2);
    }
    (n == 1).then_some(out)
}

/// Whether columns of length `n` can run vertically (no prime factor above 5).
pub(super) fn fits(n: usize) -> bool {
    n >= 2 && radices(n).is_some()
}

/// Whether `n` runs a radix-8 or radix-5 pass, the ones that beat rustfft's single-kernel
/// butterflies on 2-D columns of at most 64 (`Columns::chosen`).
pub(super) fn long_radix(n: usize) -> bool {
    radices(n).is_some_and(|r| r.iter().any(|&r| r >= 5))
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
    /// The columns of length `n` (`n ≥ 2`), or `None` if `n` has a prime factor above 5.
    /// `vector` asks for the AVX-512 kernels where they run (else the portable loops).
    pub(super) fn plan(n: usize, vector: bool) -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        let fuse = avx512::fuses;
        #[cfg(not(target_arch = "x86_64"))]
        let fuse = |_: usize, _: usize| false;
        Self::plan_fusing(n, vector, fuse)
    }

    /// As [`plan`](Self::plan), the AVX-512 kernels fusing the pairs of passes `fuse` accepts
    /// (among [`avx512::fuses`]).
    fn plan_fusing(n: usize, vector: bool, fuse: fn(usize, usize) -> bool) -> Option<Self> {
        let mut span = n;
        let passes: Vec<Pass<T>> = radices(n)?
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
        let avx512 = vector && avx512_f32::<T>();
        Some(Vertical {
            n,
            groups: Self::groups(&passes, avx512, fuse),
            passes,
            avx512,
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
    /// the order of [`position`](Self::position) (the stages call the pruned forms).
    ///
    /// # Panics
    /// If `data` is shorter than the rows or `cols > stride`.
    #[cfg(test)]
    pub(super) fn forward(&self, data: &mut [Complex<T>], stride: usize, cols: usize) {
        self.forward_pruned(data, stride, cols, self.n);
    }

    /// [`forward`](Self::forward) of columns whose rows from `nonzero` on are zero: they are
    /// not read (nor need they be written), and the first pass (or fused pair) skips their
    /// loads and the butterfly work on them. A kernel's 7 of 40 rows leave each radix-8
    /// butterfly of 40 = 8·5 one or two live inputs.
    ///
    /// # Panics
    /// As `forward`.
    pub(super) fn forward_pruned(
        &self,
        data: &mut [Complex<T>],
        stride: usize,
        cols: usize,
        nonzero: usize,
    ) {
        self.check(data, stride, cols);
        let mut nonzero = nonzero.min(self.n);
        if nonzero > self.n / 4 {
            // Pruning pays where the butterflies are left one or two live inputs: a kernel's
            // 7 of 40 and 11 of 64 lines ran 14–15 % faster pruned, a gradient's 34 of 40
            // 2 % slower, and 2d-k31-dense (31 of 64) 4 % slower
            // (`benches/results/session20-prune.md`): more lines are zeroed and transformed.
            for row in data.chunks_mut(stride).take(self.n).skip(nonzero) {
                row[..cols].fill(Complex::new(T::zero(), T::zero()));
            }
            nonzero = self.n;
        }
        // The first group starts at pass 1, which spans all rows.
        for (i, g) in self.groups.iter().enumerate() {
            let live = if i == 0 { nonzero } else { self.n };
            self.run(&self.passes[g.clone()], data, stride, cols, false, live);
        }
    }

    /// Unnormalised inverse of [`forward`](Self::forward): bins in its order to the columns.
    ///
    /// # Panics
    /// As `forward`.
    #[cfg(test)]
    pub(super) fn inverse(&self, data: &mut [Complex<T>], stride: usize, cols: usize) {
        self.inverse_pruned(data, stride, cols, self.n);
    }

    /// [`inverse`](Self::inverse) computing only the rows below `rows` (the others are left
    /// unspecified): the last pass (or fused pair) stores only those and skips the butterfly
    /// work on the rest.
    ///
    /// # Panics
    /// As `forward`.
    pub(super) fn inverse_pruned(
        &self,
        data: &mut [Complex<T>],
        stride: usize,
        cols: usize,
        rows: usize,
    ) {
        self.check(data, stride, cols);
        // As forward: pruning pays on few rows only.
        let rows = if rows > self.n / 4 { self.n } else { rows };
        for (i, g) in self.groups.iter().enumerate().rev() {
            let live = if i == 0 { rows } else { self.n };
            self.run(&self.passes[g.clone()], data, stride, cols, true, live);
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

    /// The passes run together, pass 1 first, as ranges of `passes`: the AVX-512 kernels keep
    /// two consecutive passes' rows in registers where `fuse` (at most [`avx512::fuses`])
    /// allows. Computed once per plan: a list built per transform was an
    /// allocation per call (1.5 % of the 2d-k7 step under the bench's counting allocator,
    /// whose shared counters the two threads contend for).
    fn groups(
        passes: &[Pass<T>],
        avx512: bool,
        fuse: fn(usize, usize) -> bool,
    ) -> Vec<std::ops::Range<usize>> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < passes.len() {
            let take = match &passes[at..] {
                // A pair that spills (8·4, 8·5, 8·8) only as the last two passes: before a
                // third it would take the pass it could fuse with (96 = 8·4·3 ran 5.0 µs
                // as 8, 4·3 and 6.0 as 8·4, 3).
                [a, b] if avx512 && fuse(a.radix, b.radix) => 2,
                [a, b, ..] if avx512 && fuse(a.radix, b.radix) && a.radix * b.radix <= 25 => 2,
                _ => 1,
            };
            out.push(at..at + take);
            at += take;
        }
        out
    }

    /// One pass, or two fused (then the vector kernels run), forward or backwards; `live`
    /// below `n` prunes the first pass forward (rows from `live` on are zero) or the last
    /// backwards (rows from `live` on are not needed).
    fn run(
        &self,
        passes: &[Pass<T>],
        data: &mut [Complex<T>],
        stride: usize,
        cols: usize,
        inv: bool,
        live: usize,
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
                    live,
                );
            }
            return;
        }
        // The portable loops transform every row: the zero rows are written as zeros.
        if !inv {
            for row in data.chunks_mut(stride).take(self.n).skip(live) {
                row[..cols].fill(Complex::new(T::zero(), T::zero()));
            }
        }
        for pass in passes {
            portable_pass(pass, data, stride, cols, self.n, inv);
        }
    }
}

/// `cos` and `sin` of `2π/5` and `4π/5`, the radix-5 butterfly's constants.
fn five() -> [f64; 4] {
    let a = 0.4 * std::f64::consts::PI;
    [a.cos(), (2.0 * a).cos(), a.sin(), (2.0 * a).sin()]
}

/// The `r`-point DFT of `x[..r]` in place, forward or backwards (unnormalised).
fn small_dft<T: Scalar>(x: &mut [Complex<T>; 8], r: usize, inv: bool) {
    // `a + ρ b`, ρ = −i forward and +i backwards (the direction's quarter root).
    let rot = |a: Complex<T>, b: Complex<T>| {
        if inv {
            Complex::new(a.re - b.im, a.im + b.re)
        } else {
            Complex::new(a.re + b.im, a.im - b.re)
        }
    };
    let neg = |v: Complex<T>| Complex::new(-v.re, -v.im);
    match r {
        2 => {
            let (a, b) = (x[0], x[1]);
            x[0] = a + b;
            x[1] = a - b;
        }
        3 => {
            let s3 = T::of(0.75f64.sqrt());
            let (s, d) = (x[1] + x[2], x[1] - x[2]);
            let t = x[0] - s * T::of(0.5);
            let u = d * s3;
            x[0] = x[0] + s;
            x[1] = rot(t, u);
            x[2] = rot(t, neg(u));
        }
        4 => {
            let (s0, d0) = (x[0] + x[2], x[0] - x[2]);
            let (s1, d1) = (x[1] + x[3], x[1] - x[3]);
            x[0] = s0 + s1;
            x[2] = s0 - s1;
            x[1] = rot(d0, d1);
            x[3] = rot(d0, neg(d1));
        }
        5 => {
            let [c1, c2, n1, n2] = five().map(T::of);
            let (s1, d1) = (x[1] + x[4], x[1] - x[4]);
            let (s2, d2) = (x[2] + x[3], x[2] - x[3]);
            let t1 = x[0] + s1 * c1 + s2 * c2;
            let t2 = x[0] + s1 * c2 + s2 * c1;
            let u1 = d1 * n1 + d2 * n2;
            let u2 = d1 * n2 - d2 * n1;
            x[0] = x[0] + s1 + s2;
            x[1] = rot(t1, u1);
            x[4] = rot(t1, neg(u1));
            x[2] = rot(t2, u2);
            x[3] = rot(t2, neg(u2));
        }
        _ => {
            // Two radix-4 halves after one radix-2 step, whose twiddles ρ^{k/2} are
            // ρ, and (1 + ρ)/√2 and −(1 − ρ)/√2 (one multiply each by 1/√2).
            let h = T::of(0.5f64.sqrt());
            let a: [Complex<T>; 4] = std::array::from_fn(|k| x[k] + x[k + 4]);
            let b: [Complex<T>; 4] = std::array::from_fn(|k| x[k] - x[k + 4]);
            let p = rot(b[1], b[1]);
            let q = rot(b[3], neg(b[3]));
            let (s1, d1) = ((p - q) * h, (p + q) * h);
            let (s0, d0) = (rot(b[0], b[2]), rot(b[0], neg(b[2])));
            let mut even = [a[0], a[1], a[2], a[3], a[0], a[0], a[0], a[0]];
            small_dft(&mut even, 4, inv);
            x[0] = even[0];
            x[2] = even[1];
            x[4] = even[2];
            x[6] = even[3];
            x[1] = s0 + s1;
            x[5] = s0 - s1;
            x[3] = rot(d0, d1);
            x[7] = rot(d0, neg(d1));
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
    let mut x = [Complex::new(T::zero(), T::zero()); 8];
    for block in (0..n).step_by(span) {
        for j in 0..m {
            let tw = &pass.twiddles[j * (r - 1)..][..r - 1];
            let tw: [Complex<T>; 7] = std::array::from_fn(|q| {
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
                small_dft(&mut x, r, inv);
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
