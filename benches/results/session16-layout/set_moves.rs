// The transforms' side of a grouped (block-major) spectra set (session 16, "layout"): the cost of
// writing or reading `count` spectra of `blocks` blocks (16 f32 each) in groups of G interleaved
// block by block (spectrum s's block b at (s / G)·group + (b·G + s % G)·16), against main's
// in-place use of a contiguous spectrum. Each spectrum first gets one pass standing in for
// the transform's last pass (on a hot work buffer, or in place on the set).
// `rustc -C opt-level=3 -C target-cpu=native -o sg sg.rs && ./sg COUNT BLOCKS MODE G`
// MODE 9: the pass in place on the set's spectrum (main), 1: work buffer scattered to the set
// spectrum by spectrum, 8: G work buffers, written to the set block by block (sequential
// stores), 3: gathered from the set into the work buffer (the inverse's side), 0: work
// buffer only.
use std::time::Instant;
fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().unwrap()).collect();
    let (count, blocks, mode, g) = (args[0], args[1], args[2], args[3]);
    let l = 16usize;
    let gs = (blocks * g | 1) * l;
    let off = |s: usize| (s / g) * gs + (s % g) * l;
    let mut set = vec![1.0f32; count.div_ceil(g) * gs + 64];
    let mut hot = vec![0.5f32; blocks * l + 64];
    let mut best = f64::MAX; let mut hots = vec![vec![0.5f32; blocks * l + 64]; g];
    for _ in 0..30 {
        let t = Instant::now();
        if mode == 8 {
            for s0 in (0..count).step_by(g) {
                for s in s0..s0 + g {
                    for (i, x) in hots[s - s0].iter_mut().enumerate().take(blocks * l) { *x += (i + s) as f32 * 1e-9; }
                }
                let o = off(s0);
                for b in 0..blocks { for j in 0..g { set[o + (b * g + j) * l..][..l].copy_from_slice(&hots[j][b * l..][..l]); } }
            }
            best = best.min(t.elapsed().as_secs_f64());
            continue;
        }
        for s in 0..count {
            if mode != 9 { for (i, x) in hot.iter_mut().enumerate().take(blocks * l) { *x += (i + s) as f32 * 1e-9; } }
            let o = off(s);
            match mode {
                9 => for (i, x) in set[o..][..blocks * l].iter_mut().enumerate() { *x += (i + s) as f32 * 1e-9; },
                1 => for b in 0..blocks { set[o + b * g * l..][..l].copy_from_slice(&hot[b * l..][..l]); },
                3 => for b in 0..blocks { hot[b * l..][..l].copy_from_slice(&set[o + b * g * l..][..l]); },
                _ => {}
            }
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!("mode {mode} g {g}: {:.3} ms ({:.2} us/spectrum)", best * 1e3, best * 1e6 / count as f64);
}
