//! Criterion benches of the hot pieces of the fast conv paths: the real 2-D transform, one row
//! of the channel contraction, and whole layers (forward + both gradients) by FFT and im2col.
//! Run: `cargo bench --bench fast_conv`.
use criterion::{criterion_group, criterion_main, Criterion};
use fftconv::conv::fast::{fft_conv, FftConv};
use fftconv::conv::{self, Algorithm, ConvSpec, Padding};
use fftconv::fft::RealFftNd;
use fftconv::Tensor;
use num_complex::Complex;
use std::hint::black_box;

fn transforms(c: &mut Criterion) {
    let plan = RealFftNd::<f32>::plan(&[70, 70]);
    let x = Tensor::<f32>::randn(&[70, 70], 1).into_data();
    c.bench_function("rfft2 70x70 f32", |b| {
        b.iter(|| plan.forward(black_box(&x)))
    });
    let spec = plan.forward(&x);
    c.bench_function("irfft2 70x70 f32", |b| {
        b.iter(|| plan.inverse(&mut black_box(spec.clone())))
    });
}

fn contraction(c: &mut Criterion) {
    let bins = 70 * 36;
    let rows: Vec<Vec<Complex<f32>>> = (0..32)
        .map(|i| {
            (0..bins)
                .map(|f| Complex::new((f + i) as f32, (f * i) as f32 * 1e-3))
                .collect()
        })
        .collect();
    let terms: Vec<_> = (0..16)
        .map(|i| (rows[i].as_slice(), rows[16 + i].as_slice()))
        .collect();
    c.bench_function("contract 16 terms x 2520 bins f32", |b| {
        b.iter(|| fft_conv::contract(black_box(&terms), true))
    });
}

fn whole_layer(c: &mut Criterion) {
    let spec = ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1]);
    let x = Tensor::<f32>::randn(&[2, 16, 64, 64], 1);
    let w = Tensor::<f32>::randn(&[16, 16, 7, 7], 2);
    let mut g = c.benchmark_group("layer 2x16x64x64 k7 f32 fwd+bwd");
    g.sample_size(10);
    g.bench_function("fft (cached spectra)", |b| {
        b.iter(|| {
            let mut layer = FftConv::new(&spec, x.shape(), w.shape()).unwrap();
            let y = layer.forward(&x, &w, None).unwrap();
            layer.backward(&y, false).unwrap()
        })
    });
    g.bench_function("im2col", |b| {
        b.iter(|| {
            let y = conv::forward(&spec, &x, &w, None, Algorithm::Im2col).unwrap();
            conv::backward(&spec, &x, &w, &y, false, Algorithm::Im2col).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, transforms, contraction, whole_layer);
criterion_main!(benches);
