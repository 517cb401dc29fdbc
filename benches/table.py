#!/usr/bin/env python3
"""The ratio table of one `benches/compare.sh` run: python3 benches/table.py OUT_DIR.
Speed-up = best peer's median ms / fftconv's (> 1: fftconv is faster). Share of peak: the
forward pass's GFLOP/s on its path's own flop count (2·MACs on the direct side, the FFT count on
the FFT path) and, when both directions run on the FFT path, forward + gradients on the FFT
count, over the f32 FMA peak measured by `fftconv bench --peak` (f64 rows against the same f32
peak)."""
import glob, json, os, re, sys

out = sys.argv[1]
peak = None
if os.path.exists(f"{out}/peak.txt"):
    m = re.search(r"([0-9.]+) GFLOP/s on all cores", open(f"{out}/peak.txt").read())
    peak = float(m.group(1)) if m else None
print(f"f32 FMA peak (all cores): {peak} GFLOP/s\n")
print("| layer | dtype | algo (fwd / bwd) | fftconv fwd+bwd ms | PyTorch | XLA | NumPy | speed-up fwd+bwd | "
      "fftconv fwd ms | PyTorch fwd | XLA fwd | NumPy fwd | speed-up fwd | % of f32 peak: fwd / fft fwd+bwd |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for dt in ("f32", "f64"):
    for path in sorted(glob.glob(f"{out}/fftconv_*_{dt}.json")):
        tag = path[len(f"{out}/fftconv_"):-len(f"_{dt}.json")]
        f = json.load(open(path))
        peers = {}
        for p in ("torch", "xla", "numpy"):
            peers[p] = {}
            # One file per layer (compare.sh) or one per layers file.
            for q in glob.glob(f"{out}/{p}_{tag}_{dt}*.json"):
                peers[p].update(json.load(open(q)))
        for name, r in f.items():
            get = lambda p, k: peers[p].get(name, {}).get(k, float("nan"))  # nan: timed out
            best = lambda k: min((get(p, k) for p in peers if name in peers[p]), default=float("nan"))
            fft = r.get("gflops_fft_count")
            fwd = r.get("gflops_fwd_path_count")
            share = lambda v: f"{100 * v / peak:.0f} %" if (v and peak) else "-"
            shares = f"{share(fwd)} / {share(fft)}"
            algo = r["algo"] + (f' / {r["algo_bwd"]}' if r.get("algo_bwd") else "")
            print(f'| {name} | {dt} | {algo} | {r["fwd_bwd_ms"]:.2f} | {get("torch", "fwd_bwd_ms"):.2f} | '
                  f'{get("xla", "fwd_bwd_ms"):.1f} | {get("numpy", "fwd_bwd_ms"):.1f} | '
                  f'{best("fwd_bwd_ms") / r["fwd_bwd_ms"]:.2f}x | {r["fwd_ms"]:.2f} | {get("torch", "fwd_ms"):.2f} | '
                  f'{get("xla", "fwd_ms"):.1f} | {get("numpy", "fwd_ms"):.1f} | {best("fwd_ms") / r["fwd_ms"]:.2f}x | {shares} |')
