//! The FFT layer on 2-D periods whose columns run vertically with the radix-8 and radix-5
//! passes (`f32` with AVX-512; `f64` and other CPUs keep rustfft's transposed columns), through
//! the public dispatch, against the loop witness (`Direct`): forward, ∂x, ∂w and ∂b.
use fftconv::conv::fast::pruned_fft::{Columns, PrunedRfft};
use fftconv::conv::{self, fast::tiling::Tiling, Algorithm, ConvSpec, Padding};
use fftconv::{Scalar, Tensor};

mod common;
use common::rel;

fn tol<T: Scalar>() -> f64 {
    if T::NAME == "f32" {
        2e-4
    } else {
        1e-11
    }
}

/// The FFT layer against the witness on `x`, `w` (stride 1, 'same').
fn check<T: Scalar>(xs: &[usize], ws: &[usize], seed: u64) {
    let spec = ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1]);
    let g = spec.geometry(xs, ws).unwrap();
    let x = Tensor::<T>::randn(xs, seed);
    let w = Tensor::<T>::randn(ws, seed + 1);
    let b = Tensor::<T>::randn(&g.b_shape(), seed + 2);
    let dy = Tensor::<T>::randn(&g.y_shape(), seed + 3);
    let at = format!("{} x {xs:?} w {ws:?}", T::NAME);
    let y_ref = conv::forward(&spec, &x, &w, Some(&b), Algorithm::Direct).unwrap();
    let g_ref = conv::backward(&spec, &x, &w, &dy, true, Algorithm::Direct).unwrap();
    let y = conv::forward(&spec, &x, &w, Some(&b), Algorithm::Fft).unwrap();
    let gr = conv::backward(&spec, &x, &w, &dy, true, Algorithm::Fft).unwrap();
    let t = tol::<T>();
    for (name, got, want) in [
        ("y", &y, &y_ref),
        ("dx", &gr.dx, &g_ref.dx),
        ("dw", &gr.dw, &g_ref.dw),
    ] {
        let e = rel(got, want);
        assert!(e < t, "{name} off by {e:.2e}: {at}");
    }
    let (db, db_ref) = (gr.db.unwrap(), g_ref.db.unwrap());
    assert!(rel(&db, &db_ref) < t, "db off: {at}");
}

#[test]
fn fft_layer_on_vertical_periods_matches_the_witness() {
    // Kernels tall enough that the tiling keeps columns of 40 (8·5), 64 (8·8), 72 (8·3·3)
    // and 32 (8·4) on few channels (the periods asserted, so that a change of the cost model
    // cannot quietly move the test off the vertical passes).
    for (i, (xs, ws, columns)) in [
        ([1, 2, 16, 12], [2, 2, 25, 3], 40),
        ([1, 2, 40, 12], [2, 2, 25, 3], 64),
        ([1, 1, 40, 10], [2, 1, 33, 3], 72),
        ([1, 2, 40, 36], [2, 2, 11, 11], 32),
    ]
    .into_iter()
    .enumerate()
    {
        let spec = ConvSpec::conv(&[1, 1], Padding::Same, &[1, 1]);
        let g = spec.geometry(&xs, &ws).unwrap();
        let period = Tiling::for_geometry(&g).axes.map(|a| a.period);
        assert_eq!(
            period[..2],
            [1, columns],
            "x {xs:?} w {ws:?}: period {period:?}"
        );
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512f") {
            assert_eq!(
                PrunedRfft::<f32>::plan(period).columns(),
                Columns::Vertical,
                "period {period:?}"
            );
        }
        check::<f32>(&xs, &ws, 40 + 4 * i as u64);
        check::<f64>(&xs, &ws, 60 + 4 * i as u64);
    }
}
