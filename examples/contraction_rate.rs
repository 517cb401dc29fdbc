//! Rate of the channel contraction alone (complex multiply-adds per second) on the shapes of
//! the 2d-k7 benchmark layer's forward product. `cargo run --release --example contraction_rate`
use fftconv::conv::fast::contraction::{contract, BlockedSpectra, Conj, Product};
use std::time::Instant;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let (n, nt, c, o, bins) = if args.len() == 5 {
        (args[0], args[1], args[2], args[3], args[4])
    } else {
        (8, 3, 16, 16, 1008)
    };
    let a = BlockedSpectra::<f32>::zeros(n * nt * c, bins);
    let b = BlockedSpectra::<f32>::zeros(o * c, bins);
    let mut out = BlockedSpectra::<f32>::zeros(n * nt * o, bins);
    let p = Product {
        groups: 1,
        rows: n * nt,
        cols: o,
        depth: c,
        conj: Conj::B,
    };
    let mut best = f64::MAX;
    for _ in 0..20 {
        let s = Instant::now();
        contract(
            &p,
            &mut out,
            |_, i, j| i * o + j,
            &a,
            |_, i, k| i * c + k,
            &b,
            |_, k, j| j * c + k,
        );
        best = best.min(s.elapsed().as_secs_f64());
    }
    let macs = (n * nt * c * o * bins) as f64;
    println!(
        "{:.3} ms, {:.2} G complex MAC/s ({} threads)",
        best * 1e3,
        macs / best / 1e9,
        rayon::current_num_threads()
    );
}
