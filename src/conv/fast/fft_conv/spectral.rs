//! The per-bin products of the fused depthwise passes ([`super::pointwise`]) with AVX2 + FMA
//! where the CPU has them: the crate is built for baseline x86-64, where the compiler turns
//! an interleaved complex product into 128-bit shuffles (13 % of the 2d-dw31 and 1d-long-dw
//! profiles). Each vector of interleaved complex `u`, `v` is multiplied as
//! `fmaddsub(u, re(v), swap(u)·im(v))` (`u·v`) or with `fmsubadd` (`u·conj(v)`), the real and
//! imaginary parts of `v` duplicated into both lanes of each pair.

use crate::tensor::Scalar;
use num_complex::Complex;

/// `out[f] = a[f] · conj(b[f])` over the shortest of the three.
pub(super) fn mul_conj<T: Scalar>(out: &mut [Complex<T>], a: &[Complex<T>], b: &[Complex<T>]) {
    let n = out.len().min(a.len()).min(b.len());
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA; every slice holds `n` values.
        let done = unsafe { simd::mul_conj(out.as_mut_ptr(), a.as_ptr(), b.as_ptr(), n) };
        return mul_conj_scalar(&mut out[done..n], &a[done..n], &b[done..n]);
    }
    mul_conj_scalar(&mut out[..n], &a[..n], &b[..n]);
}

fn mul_conj_scalar<T: Scalar>(out: &mut [Complex<T>], a: &[Complex<T>], b: &[Complex<T>]) {
    for ((p, x), y) in out.iter_mut().zip(a).zip(b) {
        *p = x * y.conj();
    }
}

/// One term of the depthwise gradients at every bin: `h[f] += conj(g[f]) · x[f]`, then
/// `g[f] = g[f] · w[f]`, over the shortest of the four.
pub(super) fn grad_step<T: Scalar>(
    g: &mut [Complex<T>],
    x: &[Complex<T>],
    h: &mut [Complex<T>],
    w: &[Complex<T>],
) {
    let n = g.len().min(x.len()).min(h.len()).min(w.len());
    #[cfg(target_arch = "x86_64")]
    if avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA; every slice holds `n` values.
        let done =
            unsafe { simd::grad_step(g.as_mut_ptr(), x.as_ptr(), h.as_mut_ptr(), w.as_ptr(), n) };
        return grad_step_scalar(&mut g[done..n], &x[done..n], &mut h[done..n], &w[done..n]);
    }
    grad_step_scalar(&mut g[..n], &x[..n], &mut h[..n], &w[..n]);
}

fn grad_step_scalar<T: Scalar>(
    g: &mut [Complex<T>],
    x: &[Complex<T>],
    h: &mut [Complex<T>],
    w: &[Complex<T>],
) {
    for ((gf, xf), (hf, wf)) in g.iter_mut().zip(x).zip(h.iter_mut().zip(w)) {
        *hf = *hf + gf.conj() * xf;
        *gf = *gf * wf;
    }
}

#[cfg(target_arch = "x86_64")]
fn avx2_fma() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::*;
    use std::arch::x86_64::*;

    /// `u·v` and `u·conj(v)` of interleaved vectors, and their sum.
    macro_rules! lanes {
        ($v:ty, $t:ty, $per:expr, $load:ident, $store:ident, $lo:expr, $hi:expr, $swap:expr,
         $mul:ident, $fmaddsub:ident, $fmsubadd:ident, $add:ident) => {
            #[derive(Clone, Copy)]
            struct V($v);
            impl V {
                #[inline(always)]
                unsafe fn load(p: *const Complex<$t>) -> V {
                    V($load(p.cast()))
                }
                #[inline(always)]
                unsafe fn store(self, p: *mut Complex<$t>) {
                    $store(p.cast(), self.0)
                }
                /// `self · v`.
                #[inline(always)]
                unsafe fn mul(self, v: V) -> V {
                    let (re, im) = ($lo(v.0), $hi(v.0));
                    V($fmaddsub(self.0, re, $mul($swap(self.0), im)))
                }
                /// `self · conj(v)`.
                #[inline(always)]
                unsafe fn mul_conj(self, v: V) -> V {
                    let (re, im) = ($lo(v.0), $hi(v.0));
                    V($fmsubadd(self.0, re, $mul($swap(self.0), im)))
                }
                #[inline(always)]
                unsafe fn add(self, v: V) -> V {
                    V($add(self.0, v.0))
                }
            }
            /// Complex values per vector.
            const PER: usize = $per;
        };
    }

    /// The two loops for one element type; each returns how many values it did (whole
    /// vectors), the caller finishes the rest.
    macro_rules! kernels {
        ($t:ty) => {
            /// # Safety
            /// AVX2 and FMA; `n` values at each pointer.
            #[target_feature(enable = "avx2,fma")]
            pub(super) unsafe fn mul_conj(
                out: *mut Complex<$t>,
                a: *const Complex<$t>,
                b: *const Complex<$t>,
                n: usize,
            ) -> usize {
                let whole = n / PER * PER;
                for f in (0..whole).step_by(PER) {
                    V::load(a.add(f))
                        .mul_conj(V::load(b.add(f)))
                        .store(out.add(f));
                }
                whole
            }

            /// # Safety
            /// AVX2 and FMA; `n` values at each pointer.
            #[target_feature(enable = "avx2,fma")]
            pub(super) unsafe fn grad_step(
                g: *mut Complex<$t>,
                x: *const Complex<$t>,
                h: *mut Complex<$t>,
                w: *const Complex<$t>,
                n: usize,
            ) -> usize {
                let whole = n / PER * PER;
                for f in (0..whole).step_by(PER) {
                    let gf = V::load(g.add(f));
                    // conj(g)·x = x·conj(g).
                    let term = V::load(x.add(f)).mul_conj(gf);
                    V::load(h.add(f)).add(term).store(h.add(f));
                    gf.mul(V::load(w.add(f))).store(g.add(f));
                }
                whole
            }
        };
    }

    mod f32x8 {
        use super::*;
        lanes!(
            __m256,
            f32,
            4,
            _mm256_loadu_ps,
            _mm256_storeu_ps,
            _mm256_moveldup_ps,
            _mm256_movehdup_ps,
            _mm256_permute_ps::<0b10_11_00_01>,
            _mm256_mul_ps,
            _mm256_fmaddsub_ps,
            _mm256_fmsubadd_ps,
            _mm256_add_ps
        );
        kernels!(f32);
    }

    mod f64x4 {
        use super::*;
        lanes!(
            __m256d,
            f64,
            2,
            _mm256_loadu_pd,
            _mm256_storeu_pd,
            _mm256_movedup_pd,
            _mm256_permute_pd::<0b1111>,
            _mm256_permute_pd::<0b0101>,
            _mm256_mul_pd,
            _mm256_fmaddsub_pd,
            _mm256_fmsubadd_pd,
            _mm256_add_pd
        );
        kernels!(f64);
    }

    /// # Safety
    /// AVX2 and FMA; `n` values at each pointer.
    pub(super) unsafe fn mul_conj<T: Scalar>(
        out: *mut Complex<T>,
        a: *const Complex<T>,
        b: *const Complex<T>,
        n: usize,
    ) -> usize {
        match T::NAME {
            "f32" => f32x8::mul_conj(out.cast(), a.cast(), b.cast(), n),
            "f64" => f64x4::mul_conj(out.cast(), a.cast(), b.cast(), n),
            _ => 0,
        }
    }

    /// # Safety
    /// AVX2 and FMA; `n` values at each pointer.
    pub(super) unsafe fn grad_step<T: Scalar>(
        g: *mut Complex<T>,
        x: *const Complex<T>,
        h: *mut Complex<T>,
        w: *const Complex<T>,
        n: usize,
    ) -> usize {
        match T::NAME {
            "f32" => f32x8::grad_step(g.cast(), x.cast(), h.cast(), w.cast(), n),
            "f64" => f64x4::grad_step(g.cast(), x.cast(), h.cast(), w.cast(), n),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<T: Scalar>(n: usize, salt: usize) -> Vec<Complex<T>> {
        (0..n)
            .map(|i| {
                let h = (i * 37 + salt * 11) % 29;
                Complex::new(T::of(h as f64 - 14.0), T::of(((h * 7) % 17) as f64 - 8.0))
            })
            .collect()
    }

    /// The vector loops equal the scalar ones bin for bin (small integers: exact), on lengths
    /// with and without a tail past the whole vectors.
    fn agree<T: Scalar>() {
        for n in [0, 1, 3, 4, 7, 8, 37] {
            let (a, b) = (values::<T>(n, 1), values::<T>(n, 2));
            let mut got = vec![Complex::new(T::zero(), T::zero()); n];
            let mut want = got.clone();
            mul_conj(&mut got, &a, &b);
            mul_conj_scalar(&mut want, &a, &b);
            assert_eq!(got, want, "{} mul_conj over {n}", T::NAME);
            let (mut g, x, mut h, w) = (values::<T>(n, 3), a.clone(), values::<T>(n, 4), b.clone());
            let (mut g2, mut h2) = (g.clone(), h.clone());
            grad_step(&mut g, &x, &mut h, &w);
            grad_step_scalar(&mut g2, &x, &mut h2, &w);
            assert_eq!((g, h), (g2, h2), "{} grad_step over {n}", T::NAME);
        }
    }

    #[test]
    fn vector_products_match_the_scalar_ones() {
        agree::<f32>();
        agree::<f64>();
    }
}
