//! The calculator's functions: the library where it has the operation, the notes'
//! definitions otherwise.

use super::*;

// ---------------------------------------------------------------- functions

pub(super) fn arg<'a>(args: &'a [Val], i: usize, f: &str) -> R<&'a Val> {
    args.get(i)
        .ok_or_else(|| format!("`{f}` needs argument {}", i + 1))
}

pub(super) fn kwarg(kw: &[(String, Val)], name: &str) -> Option<Val> {
    kw.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

pub(super) fn cvec(v: &Val) -> R<Vec<C>> {
    Ok(v.data()?.to_vec())
}

pub(super) fn idx(i: isize, n: usize) -> usize {
    i.rem_euclid(n as isize) as usize
}

/// The index map of a padding mode: for each padded position, the source index or `None`.
pub(super) fn pad_map(mode: &str, n: usize, lo: usize, hi: usize) -> R<Vec<Option<usize>>> {
    (0..n + lo + hi)
        .map(|i| {
            let j = i as isize - lo as isize;
            let ni = n as isize;
            Ok(match mode {
                "zero" => (0..ni).contains(&j).then_some(j as usize),
                "circular" => Some(idx(j, n)),
                "replicate" => Some(j.clamp(0, ni - 1) as usize),
                "reflect" => {
                    if lo >= n || hi >= n {
                        return Err("reflect padding needs lo, hi < n".into());
                    }
                    let r = if j < 0 {
                        -j
                    } else if j >= ni {
                        2 * (ni - 1) - j
                    } else {
                        j
                    };
                    Some(r as usize)
                }
                _ => return Err(format!("unknown padding mode `{mode}`")),
            })
        })
        .collect()
}

pub(super) fn apply_map(x: &[C], map: &[Option<usize>]) -> Vec<C> {
    map.iter()
        .map(|m| m.map_or(C::new(0.0, 0.0), |j| x[j]))
        .collect()
}

/// `Mᵀ y` for the real linear map `f` on extent `n`, by its dense matrix (unit vectors).
pub(super) fn transpose_apply(f: &dyn Fn(&[C]) -> R<Vec<C>>, n: usize, y: &[C]) -> R<Vec<C>> {
    let mut out = Vec::with_capacity(n);
    for j in 0..n {
        let mut e = vec![C::new(0.0, 0.0); n];
        e[j] = C::new(1.0, 0.0);
        let col = f(&e)?;
        if col.len() != y.len() {
            return Err(format!(
                "the map has {} outputs, got {}",
                col.len(),
                y.len()
            ));
        }
        // Real inner product ⟨Me_j, y⟩ = Re Σ conj(M_ij) y_i.
        let s: f64 = col.iter().zip(y).map(|(m, v)| (m.conj() * v).re).sum();
        out.push(C::new(s, 0.0));
    }
    Ok(out)
}

pub(super) fn circ(h: &[C], x: &[C]) -> R<Vec<C>> {
    let p = x.len();
    if h.len() > p {
        return Err("the kernel is longer than the period".into());
    }
    Ok((0..p)
        .map(|i| {
            (0..h.len())
                .map(|j| h[j] * x[idx(i as isize - j as isize, p)])
                .sum()
        })
        .collect())
}

pub(super) fn corr(h: &[C], y: &[C]) -> R<Vec<C>> {
    let p = y.len();
    if h.len() > p {
        return Err("the kernel is longer than the period".into());
    }
    Ok((0..p)
        .map(|j| (0..h.len()).map(|m| h[m] * y[(j + m) % p]).sum())
        .collect())
}

pub(super) fn dft(x: &[C], sign: f64) -> Vec<C> {
    let n = x.len();
    (0..n)
        .map(|k| {
            (0..n)
                .map(|j| {
                    let a = sign * 2.0 * std::f64::consts::PI * ((j * k) % n) as f64 / n as f64;
                    x[j] * C::new(a.cos(), a.sin())
                })
                .sum()
        })
        .collect()
}

pub(super) fn rfft(x: &[C]) -> R<Vec<C>> {
    let mut planner = realfft::RealFftPlanner::<f64>::new();
    let plan = planner.plan_fft_forward(x.len());
    let mut input: Vec<f64> = x.iter().map(|c| c.re).collect();
    let mut out = plan.make_output_vec();
    plan.process(&mut input, &mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

pub(super) fn irfft(y: &[C], n: usize) -> R<Vec<C>> {
    if y.len() != n / 2 + 1 {
        return Err(format!(
            "a half spectrum of extent {n} has {} bins",
            n / 2 + 1
        ));
    }
    let mut planner = realfft::RealFftPlanner::<f64>::new();
    let plan = planner.plan_fft_inverse(n);
    let mut input = y.to_vec();
    // realfft wants exactly real DC/Nyquist bins; the imaginary parts do not enter.
    input[0].im = 0.0;
    if n.is_multiple_of(2) {
        input[n / 2].im = 0.0;
    }
    let mut out = plan.make_output_vec();
    plan.process(&mut input, &mut out)
        .map_err(|e| e.to_string())?;
    Ok(out.into_iter().map(|v| C::new(v / n as f64, 0.0)).collect())
}

pub(super) fn layer_of(v: &Val) -> R<Layer> {
    let Val::Str(s) = v else {
        return Err("expected a layer string, e.g. \"conv1d(x: [1, 1, 5], w: [1, 1, 3])\"".into());
    };
    match parse_statement(s, "layer").map_err(|e| e.to_string())? {
        Some(Statement::Layer(l)) => Ok(l),
        _ => Err(format!("`{s}` is not a layer")),
    }
}

pub(super) fn tensor(v: &Val, shape: &[usize]) -> R<Tensor<f64>> {
    let r = v.reals()?;
    Tensor::new(shape.to_vec(), r).map_err(|e| e.to_string())
}

pub(super) fn from_tensor(t: &Tensor<f64>) -> Val {
    Val::Arr {
        shape: t.shape().to_vec(),
        data: t.data().iter().map(|v| C::new(*v, 0.0)).collect(),
        tol: vec![0.0; t.len()],
    }
}

/// The FFT chain's and the direct loops' results must agree; the chain's is returned.
pub(super) fn both(a: Tensor<f64>, b: Tensor<f64>, what: &str) -> R<Val> {
    let scale = b.data().iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let err = a
        .data()
        .iter()
        .zip(b.data())
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
    if err > 1e-9 * scale {
        return Err(format!(
            "{what}: the FFT chain and the direct loops differ by {err:.1e}"
        ));
    }
    Ok(from_tensor(&a))
}

pub(super) fn layer_call(f: &str, args: &[Val]) -> R<Val> {
    let l = layer_of(arg(args, 0, f)?)?;
    let g = l.geometry().map_err(|e| e.to_string())?;
    if f == "out_shape" {
        return Ok(real(g.y_shape().iter().map(|&v| v as f64).collect()));
    }
    if f == "period" {
        let c = g.as_conv();
        let p = c
            .input
            .iter()
            .zip(&c.pads)
            .map(|(&s, &(lo, hi))| crate::fft::fast_len(s + lo + hi) as f64);
        return Ok(real(p.collect()));
    }
    let x = tensor(arg(args, 1, f)?, &l.x_shape)?;
    let w = tensor(arg(args, 2, f)?, &l.w_shape)?;
    let b = if l.bias {
        Some(tensor(arg(args, 3, f)?, &[g.c_out])?)
    } else {
        None
    };
    let e = |r: crate::Result<Tensor<f64>>| r.map_err(|e| e.to_string());
    if f == "forward" {
        let a = e(conv::forward(&l.spec, &x, &w, b.as_ref(), Algorithm::Chain))?;
        let d = e(conv::forward(
            &l.spec,
            &x,
            &w,
            b.as_ref(),
            Algorithm::Direct,
        ))?;
        return both(a, d, f);
    }
    let dy = tensor(arg(args, if l.bias { 4 } else { 3 }, f)?, &g.y_shape())?;
    let run = |algo| conv::backward(&l.spec, &x, &w, &dy, l.bias, algo).map_err(|e| e.to_string());
    let (a, d) = (run(Algorithm::Chain)?, run(Algorithm::Direct)?);
    match f {
        "grad_x" => both(a.dx, d.dx, f),
        "grad_w" => both(a.dw, d.dw, f),
        _ => match (a.db, d.db) {
            (Some(a), Some(d)) => both(a, d, f),
            _ => Err("grad_b needs a layer with `bias`".into()),
        },
    }
}

pub(super) fn call(f: &str, args: &[Val], kw: &[(String, Val)]) -> R<Val> {
    let a = |i: usize| arg(args, i, f);
    let u = |i: usize| a(i)?.usize();
    let v = |i: usize| cvec(a(i)?);
    let out = match f {
        "forward" | "grad_x" | "grad_w" | "grad_b" | "out_shape" | "period" => {
            return layer_call(f, args)
        }
        "zero_pad" | "pad_circular" | "pad_reflect" | "pad_replicate" => {
            let mode = f.strip_prefix("pad_").unwrap_or("zero");
            let x = v(0)?;
            apply_map(&x, &pad_map(mode, x.len(), u(1)?, u(2)?)?)
        }
        "fold_circular" | "fold_reflect" | "fold_replicate" => {
            let mode = &f[5..];
            let y = v(0)?;
            let (lo, hi) = (u(1)?, u(2)?);
            let n = y
                .len()
                .checked_sub(lo + hi)
                .ok_or("the fold is longer than its input")?;
            let map = pad_map(mode, n, lo, hi)?;
            transpose_apply(&|x| Ok(apply_map(x, &map)), n, &y)?
        }
        "crop" => {
            let x = v(0)?;
            let (lo, hi) = (u(1)?, u(2)?);
            if lo + hi > x.len() {
                return Err("crop longer than the input".into());
            }
            x[lo..x.len() - hi].to_vec()
        }
        "flip" => v(0)?.into_iter().rev().collect(),
        "reverse" => {
            // h⁻_j = h_{-j mod P} (not the flip: that is x_{P-1-j}).
            let x = v(0)?;
            (0..x.len()).map(|j| x[(x.len() - j) % x.len()]).collect()
        }
        "circ" => circ(&v(0)?, &v(1)?)?,
        "corr" => corr(&v(0)?, &v(1)?)?,
        "dft" => dft(&v(0)?, -1.0),
        "idft" => {
            let x = v(0)?;
            let n = x.len() as f64;
            dft(&x, 1.0).into_iter().map(|c| c / n).collect()
        }
        "rfft" => rfft(&v(0)?)?,
        "irfft" => irfft(&v(0)?, u(1)?)?,
        "rfft_adj" => {
            let n = u(1)?;
            transpose_apply(&|x| rfft(x), n, &v(0)?)?
        }
        "subsample" => v(0)?.into_iter().step_by(u(1)?.max(1)).collect(),
        "zero_insert" | "dilate" => {
            let (x, s) = (v(0)?, u(1)?.max(1));
            if x.is_empty() {
                return Err(format!("{f} of an empty list"));
            }
            let n = (x.len() - 1) * s + 1;
            (0..n)
                .map(|j| {
                    if j % s == 0 {
                        x[j / s]
                    } else {
                        C::new(0.0, 0.0)
                    }
                })
                .collect()
        }
        "dilate_adjoint" => {
            let (y, s) = (v(0)?, u(1)?.max(1));
            if y.is_empty() {
                return Err("dilate_adjoint of an empty list".into());
            }
            let n = (y.len() - 1) / s + 1;
            let f = |x: &[C]| -> R<Vec<C>> {
                Ok((0..(n - 1) * s + 1)
                    .map(|j| {
                        if j % s == 0 {
                            x[j / s]
                        } else {
                            C::new(0.0, 0.0)
                        }
                    })
                    .collect())
            };
            transpose_apply(&f, n, &y)?
        }
        "mix" | "mix_t" => {
            let (m, x) = (a(0)?, v(1)?);
            let Val::Arr { shape, data, .. } = m else {
                return Err("mix needs a matrix".into());
            };
            let [o, cg] = shape[..] else {
                return Err("mix needs a matrix (O, C/g)".into());
            };
            let g = kwarg(kw, "groups").map_or(Ok(1), |g| g.usize())?;
            if g == 0 || o % g != 0 {
                return Err(format!("mix: {o} outputs do not split into {g} groups"));
            }
            let c = cg * g;
            let fwd = |x: &[C]| -> R<Vec<C>> {
                if x.len() != c {
                    return Err(format!("mix: {} channels, expected {c}", x.len()));
                }
                Ok((0..o)
                    .map(|oo| {
                        let gr = oo / (o / g);
                        (0..cg).map(|cc| data[oo * cg + cc] * x[gr * cg + cc]).sum()
                    })
                    .collect())
            };
            if f == "mix" {
                fwd(&x)?
            } else {
                transpose_apply(&fwd, c, &x)?
            }
        }
        "kron" => {
            // The Kronecker product: with row-major flattening, vec(A X Bᵀ) = (A ⊗ B) vec(X),
            // which is how the notes write a 2-D transform `A X Bᵀ` as one matrix.
            let (
                Val::Arr {
                    shape: sa,
                    data: da,
                    ..
                },
                Val::Arr {
                    shape: sb,
                    data: db,
                    ..
                },
            ) = (a(0)?, a(1)?)
            else {
                return Err("kron needs two matrices".into());
            };
            let (&[ra, ca], &[rb, cb]) = (&sa[..], &sb[..]) else {
                return Err("kron needs two matrices (rows, columns)".into());
            };
            let data = (0..ra * rb)
                .flat_map(|i| (0..ca * cb).map(move |j| (i, j)))
                .map(|(i, j)| da[(i / rb) * ca + j / cb] * db[(i % rb) * cb + j % cb])
                .collect::<Vec<_>>();
            let n = data.len();
            return Ok(Val::Arr {
                shape: vec![ra * rb, ca * cb],
                data,
                tol: vec![0.0; n],
            });
        }
        "rand" | "crand" => {
            // Seeded uniform numbers in [-1, 1) (a 64-bit LCG): generic test data.
            let n = u(0)?;
            let mut state =
                args.get(1).map_or(Ok(1), |v| v.usize())? as u64 * 2_654_435_761 + 12_345;
            let mut next = || {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            };
            (0..n)
                .map(|_| {
                    let re = next();
                    C::new(re, if f == "crand" { next() } else { 0.0 })
                })
                .collect()
        }
        "sum_nc" => {
            // (N, C, *S) flattened → (C,): the bias adjoint, summing batch and space.
            let (y, n, c) = (v(0)?, u(1)?, u(2)?);
            if n * c == 0 || y.len() % (n * c) != 0 {
                return Err("sum_nc: the extent is not N·C·S".into());
            }
            let sp = y.len() / (n * c);
            (0..c)
                .map(|cc| {
                    (0..n)
                        .flat_map(|nn| (0..sp).map(move |s| (nn, s)))
                        .map(|(nn, s)| y[(nn * c + cc) * sp + s])
                        .sum()
                })
                .collect()
        }
        "fft_error" => {
            // `conv::error_model::measure` (the note 16 table): [max rel err, ‖ŷ−y‖/(ε log₂P ‖x‖ ‖w‖₁)].
            let (size, kernel) = (u(0)?, u(1)?);
            let s = match u(2)? {
                32 => crate::conv::error_model::measure::<f32>(size, kernel, 1),
                64 => crate::conv::error_model::measure::<f64>(size, kernel, 1),
                b => return Err(format!("fft_error: {b} bits? 32 or 64")),
            }
            .map_err(|e| e.to_string())?;
            vec![C::new(s.max_rel_err, 0.0), C::new(s.bound_ratio, 0.0)]
        }
        "roundoff" => {
            // The largest relative rounding error met over seeded random operands: of an f64
            // sum (exact error by TwoSum), or of rounding an f64 to f32.
            let bits = u(0)?;
            if bits != 32 && bits != 64 {
                return Err(format!("roundoff: {bits} bits? 32 or 64"));
            }
            let mut state = 0x9E37_79B9_7F4A_7C15u64;
            let mut next = || {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (state >> 11) as f64 / (1u64 << 53) as f64 + 0.5
            };
            let mut worst = 0.0f64;
            for _ in 0..200_000 {
                let (a, b) = (next(), next() * 1e-3);
                let r = if bits == 32 {
                    ((a as f32) as f64 - a).abs() / a
                } else {
                    let s = a + b;
                    let bb = s - a;
                    ((a - (s - bb)) + (b - bb)).abs() / s
                };
                worst = worst.max(r);
            }
            vec![C::new(worst, 0.0)]
        }
        "conv_error" => {
            // FFT path against the direct loops, f64: [norm-wise relative error, largest
            // per-entry relative error].
            let l = layer_of(a(0)?)?;
            let x = tensor(a(1)?, &l.x_shape)?;
            let w = tensor(a(2)?, &l.w_shape)?;
            let e = |r: crate::Result<Tensor<f64>>| r.map_err(|e| e.to_string());
            let fft = e(conv::forward(&l.spec, &x, &w, None, Algorithm::Fft))?;
            let dir = e(conv::forward(&l.spec, &x, &w, None, Algorithm::Direct))?;
            let (mut num, mut den, mut worst) = (0.0f64, 0.0f64, 0.0f64);
            for (f, d) in fft.data().iter().zip(dir.data()) {
                num += (f - d) * (f - d);
                den += d * d;
                if d.abs() > 0.0 {
                    worst = worst.max((f - d).abs() / d.abs());
                }
            }
            vec![C::new((num / den).sqrt(), 0.0), C::new(worst, 0.0)]
        }
        "dot" => {
            let (x, y) = (v(0)?, v(1)?);
            if x.len() != y.len() {
                return Err(format!("dot of {} and {} entries", x.len(), y.len()));
            }
            vec![x.iter().zip(y).map(|(x, y)| x * y).sum()]
        }
        "sum" => vec![v(0)?.iter().sum()],
        "abs2" => v(0)?.iter().map(|c| C::new(c.norm_sqr(), 0.0)).collect(),
        "conj" => v(0)?.iter().map(|c| c.conj()).collect(),
        "re" => v(0)?.iter().map(|c| C::new(c.re, 0.0)).collect(),
        "len" => vec![C::new(a(0)?.len() as f64, 0.0)],
        "floor" => v(0)?.iter().map(|c| C::new(c.re.floor(), 0.0)).collect(),
        "max" => vec![C::new(v(0)?.iter().fold(f64::MIN, |m, c| m.max(c.re)), 0.0)],
        "fast_len" => vec![C::new(crate::fft::fast_len(u(0)?) as f64, 0.0)],
        "at" => {
            let x = v(0)?;
            vec![*x.get(u(1)?).ok_or("index out of range")?]
        }
        "slice" => {
            let x = v(0)?;
            let (lo, hi) = (u(1)?, u(2)?);
            x.get(lo..hi).ok_or("slice out of range")?.to_vec()
        }
        _ => return fast::call(f, args).unwrap_or_else(|| Err(format!("unknown function `{f}`"))),
    };
    let scalar_result = matches!(
        f,
        "dot" | "sum" | "len" | "max" | "fast_len" | "roundoff" | "at"
    );
    Ok(if scalar_result {
        scalar(out[0], 0.0)
    } else {
        vector(out)
    })
}
