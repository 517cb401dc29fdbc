// Standalone model of the contraction driver and its 4x2 AVX-512 tile (session 15, helper "glue"),
// with the spectra sets in groups of G spectra interleaved block by block (session 16, "layout"):
// spectrum i's block b at (i / G)·group + (b·G + i % G)·16 floats, so G = 1 is main's layout
// (one spectrum after another, odd stride) and G = count is fully block-major; GB (default G)
// sets the grouping of the b operand (the weights) alone.
// `rustc -C opt-level=3 -C target-cpu=native -o mb contraction_mb.rs && G=16 ./mb BINS MODE`,
// 16x16x16 product per bin.
// MODE 0: operand and output lines prefetched, 1: the same with T0, 2: operands only (main),
// 3: output lines with PREFETCHW, 4: two blocks ahead, 9: no software prefetch.
use std::arch::x86_64::*;
use std::time::Instant;
const L: usize = 16; // floats per block

#[inline(always)]
unsafe fn sw(v: __m512) -> __m512 { _mm512_permute_ps::<0b10_11_00_01>(v) }

// a_offs: R pointers to depth offsets; b_offs: depth*cols table, step cols
#[target_feature(enable = "avx512f,avx512dq")]
unsafe fn tile<const R: usize, const C: usize>(ap: *const f32, bp: *const f32, aoff: [*const usize; R], boff: *const usize, bstep: usize, depth: usize, outp: *mut f32, ooff: [[usize; C]; R]) {
    let mut p = [[_mm512_setzero_ps(); C]; R];
    let mut q = [[_mm512_setzero_ps(); C]; R];
    for k in 0..depth {
        let mut y = [_mm512_setzero_ps(); C];
        let mut ys = [_mm512_setzero_ps(); C];
        for c in 0..C {
            y[c] = _mm512_loadu_ps(bp.add(*boff.add(k * bstep + c)));
            ys[c] = sw(y[c]);
        }
        for r in 0..R {
            let x = _mm512_loadu_ps(ap.add(*aoff[r].add(k)));
            for c in 0..C {
                p[r][c] = _mm512_fmadd_ps(x, y[c], p[r][c]);
                q[r][c] = _mm512_fmadd_ps(x, ys[c], q[r][c]);
            }
        }
    }
    for r in 0..R { for c in 0..C {
        let (p, q) = (p[r][c], q[r][c]);
        let (ps, qs) = (sw(p), sw(q));
        let (re, im) = (_mm512_add_ps(p, ps), _mm512_sub_ps(q, qs));
        let v = _mm512_mask_blend_ps(0b1010_1010_1010_1010, re, im);
        _mm512_storeu_ps(outp.add(ooff[r][c]), v);
    }}
}

#[inline(always)]
unsafe fn pf<const H: i32>(p: *const u8) { _mm_prefetch::<H>(p as *const i8); }

fn run<const R: usize, const C: usize>(mode: u32, nblocks: usize, rows: usize, cols: usize, depth: usize, a: &[f32], b: &[f32], out: &mut [f32], stride0: usize) -> f64 {
    let g: usize = std::env::var("G").ok().map(|v| v.parse().unwrap()).unwrap_or(1);
    let _ = stride0;
    let gs = (nblocks * g | 1) * L; // group stride
    let gb: usize = std::env::var("GB").ok().map(|v| v.parse().unwrap()).unwrap_or(g); let gsb = (nblocks * gb | 1) * L; let off = |i: usize| (i / g) * gs + (i % g) * L; let offb = |i: usize| (i / gb) * gsb + (i % gb) * L;
    let (ablk, bblk, oblk) = (g * L, gb * L, g * L);
    // tables
    let ta: Vec<usize> = (0..rows).flat_map(|i| (0..depth).map(move |k| off(i * depth + k))).collect();
    let tb: Vec<usize> = (0..depth).flat_map(|k| (0..cols).map(move |j| offb(j * depth + k))).collect();
    let tc: Vec<usize> = (0..rows).flat_map(|i| (0..cols).map(move |j| off(i * cols + j))).collect();
    let mut lines: Vec<usize> = Vec::new();
    for i in 0..rows*depth { lines.push(a.as_ptr() as usize + 4*off(i)); }
    for i in 0..cols*depth { lines.push(b.as_ptr() as usize + 4*offb(i)); }
    let nab = lines.len();
    if mode != 2 { for i in 0..rows*cols { lines.push(out.as_ptr() as usize + 4*off(i)); } }
    struct T<const R: usize, const C: usize> { ao: [*const usize; R], bo: *const usize, oo: [[usize; C]; R] }
    let mut tiles = Vec::new();
    for i in (0..rows).step_by(R) { for j in (0..cols).step_by(C) {
        // assumes exact division for simplicity; clamp
        let ao = std::array::from_fn(|r| ta[((i + r).min(rows - 1)) * depth..].as_ptr());
        let oo = std::array::from_fn(|r| std::array::from_fn(|c| tc[(i + r).min(rows-1) * cols + (j + c).min(cols-1)]));
        tiles.push(T::<R, C> { ao, bo: tb[j..].as_ptr(), oo });
    }}
    let per_tile = lines.len().div_ceil(tiles.len());
    let t0 = Instant::now();
    let outp = out.as_mut_ptr();
    for blk in 0..nblocks {
        let dist = if mode == 4 { 2 } else { 1 };
        let ahead = if blk + dist < nblocks { (blk + dist) * 64 } else { usize::MAX };
        for (n, t) in tiles.iter().enumerate() {
            if ahead != usize::MAX && mode != 9 {
                for (ii, &l0) in lines.iter().enumerate().skip(n * per_tile).take(per_tile) {
                    // `ahead` is added back below: the block's lines sit G lines apart per block.
                    let gl = if ii >= rows * depth && ii < nab { gb } else { g }; let l = l0 + (blk + dist) * gl * 64 - ahead;
                    unsafe { if mode == 1 { pf::<_MM_HINT_T0>((l + ahead) as *const u8) } else if mode == 3 && n * per_tile >= nab { pf::<_MM_HINT_ET0>((l + ahead) as *const u8) } else { pf::<_MM_HINT_T1>((l + ahead) as *const u8) } }
                }
            }
            let oo = std::array::from_fn(|r| std::array::from_fn(|c| t.oo[r][c] + blk * oblk));
            unsafe { tile::<R, C>(a.as_ptr().add(blk * ablk), b.as_ptr().add(blk * bblk), t.ao, t.bo, cols, depth, outp, oo); }
        }
    }
    t0.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bins: usize = args.get(1).map(|s| s.parse().unwrap()).unwrap_or(1480);
    let mode: u32 = args.get(2).map(|s| s.parse().unwrap()).unwrap_or(0);
    let nblocks = bins.div_ceil(8);
    let g: usize = std::env::var("G").ok().map(|v| v.parse().unwrap()).unwrap_or(1); let stride = (nblocks * g | 1) * L / g + L; // per spectrum, enough for the groups
    let (rows, cols, depth) = (16, 16, 16);
    let mk = |n: usize| { let mut v = vec![0.0f32; n * stride + 16]; for (i, x) in v.iter_mut().enumerate() { *x = (i % 7) as f32 * 0.1; } let off = (64 - v.as_ptr() as usize % 64) % 64 / 4; (v, off) };
    let (a, ao) = mk(rows * depth); let (b, bo) = mk(cols * depth); let (mut o, oo) = mk(rows * cols);
    let macs = (rows * cols * depth * nblocks * 8) as f64;
    for (name, f) in [("4x2", 0)] {
        let mut best = f64::MAX;
        for _ in 0..30 {
            let t = match f {
                0 => run::<4, 2>(mode, nblocks, rows, cols, depth, &a[ao..], &b[bo..], &mut o[oo..], stride),
                1 => run::<6, 2>(mode, nblocks, rows, cols, depth, &a[ao..], &b[bo..], &mut o[oo..], stride),
                2 => run::<4, 3>(mode, nblocks, rows, cols, depth, &a[ao..], &b[bo..], &mut o[oo..], stride),
                3 => run::<5, 2>(mode, nblocks, rows, cols, depth, &a[ao..], &b[bo..], &mut o[oo..], stride),
                _ => run::<8, 1>(mode, nblocks, rows, cols, depth, &a[ao..], &b[bo..], &mut o[oo..], stride),
            };
            best = best.min(t);
        }
        println!("bins {bins} mode {mode} {name}: {:.3} ms {:.2} G cMAC/s", best * 1e3, macs / best / 1e9);
    }
}
