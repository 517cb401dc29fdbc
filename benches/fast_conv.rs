//! Criterion benches of the hot pieces of the fast conv paths: the pruned real 2-D transform
//! (forward of a full tile and of a 7×7 kernel, inverse), the channel contraction, and whole
//! layers (forward + both gradients) by FFT and im2col.
//! Run: `cargo bench --bench fast_conv`.
use criterion::{criterion_group, criterion_main, Criterion};
use fftconv::conv::fast::contraction::{contract, BlockedSpectra, Conj, Product};
use fftconv::conv::fast::pruned_fft::PrunedRfft;
use fftconv::conv::fast::FftConv;
use fftconv::conv::{self, Algorithm, ConvSpec, Padding};
use fftconv::Tensor;
use std::hint::black_box;

fn transforms(c: &mut Criterion) {
    let plan = PrunedRfft::<f32>::plan([1, 70, 70]);
    let mut s = plan.scratch();
    let x = Tensor::<f32>::randn(&[70, 70], 1).into_data();
    c.bench_function("rfft2 70x70 f32 (full)", |b| {
        b.iter(|| {
            s.real_mut().copy_from_slice(&x);
            black_box(plan.forward(&mut s, [1, 70]));
        })
    });
    c.bench_function("rfft2 70x70 f32 (7 nonzero rows)", |b| {
        b.iter(|| {
            s.real_mut().copy_from_slice(&x);
            black_box(plan.forward(&mut s, [1, 7]));
        })
    });
    s.real_mut().copy_from_slice(&x);
    let spec = plan.forward(&mut s, [1, 70]).to_vec();
    c.bench_function("irfft2 70x70 f32 (all rows)", |b| {
        b.iter(|| {
            plan.spectrum_mut(&mut s).copy_from_slice(&spec);
            black_box(plan.inverse(&mut s, [1, 70]));
        })
    });
}

fn contraction(c: &mut Criterion) {
    // The forward product of the 2d-k7 layer: 8 images × 3 tiles, 16 → 16 channels.
    let (rows, ci, co, bins) = (24, 16, 16, 28 * 36);
    let a = BlockedSpectra::<f32>::zeros(rows * ci, bins);
    let w = BlockedSpectra::<f32>::zeros(co * ci, bins);
    let mut out = BlockedSpectra::<f32>::zeros(rows * co, bins);
    let p = Product {
        groups: 1,
        rows,
        cols: co,
        depth: ci,
        conj: Conj::B,
    };
    c.bench_function("contract 24x16x16 over 1008 bins f32", |b| {
        b.iter(|| {
            contract(
                &p,
                &mut out,
                |_, i, j| i * co + j,
                black_box(&a),
                |_, i, k| i * ci + k,
                &w,
                |_, k, j| j * ci + k,
            )
        })
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
