#!/usr/bin/env python3
"""The ratio table of a `benches/compare.sh` run: python3 benches/table.py OUT_DIR.
Speed-up = best peer's median ms / fftconv's (> 1: fftconv is faster), taken per round. With
several rounds (OUT_DIR/r1, r2, ...) every cell is the range over the rounds, low-high. Share of
peak: the forward pass's GFLOP/s on its path's own flop count (2·MACs on the direct side, the
FFT count on the FFT path) and, when both directions run on the FFT path, forward + gradients on
the FFT count, over the f32 FMA peak measured by `fftconv bench --peak` (f64 rows against the
same f32 peak)."""
import glob, json, math, os, re, sys

out = sys.argv[1]
peak = None
if os.path.exists(f"{out}/peak.txt"):
    m = re.search(r"([0-9.]+) GFLOP/s on all cores", open(f"{out}/peak.txt").read())
    peak = float(m.group(1)) if m else None
rounds = sorted(glob.glob(f"{out}/r[0-9]*"), key=lambda d: int(d.rsplit("r", 1)[1])) or [out]
NAN = float("nan")


def load(d, tool, dt):
    """{(tag, layer): result} of one tool in one round: one file per layer or per layers file."""
    res = {}
    for q in glob.glob(f"{d}/{tool}_*_{dt}*.json"):
        tag = q[len(f"{d}/{tool}_"):].split(f"_{dt}")[0]
        for name, r in json.load(open(q)).items():
            res[(tag, name)] = r
    return res


def cell(vals, fmt):
    vals = [v for v in vals if not math.isnan(v)]
    if not vals:
        return "nan"
    lo, hi = min(vals), max(vals)
    return fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else f"{fmt.format(lo)}–{fmt.format(hi)}"


print(f"f32 FMA peak (all cores): {peak} GFLOP/s; {len(rounds)} round(s)\n")
print("| layer | dtype | algo (fwd / bwd) | fftconv fwd+bwd ms | PyTorch | XLA | NumPy | speed-up fwd+bwd | "
      "fftconv fwd ms | PyTorch fwd | XLA fwd | NumPy fwd | speed-up fwd | % of f32 peak: fwd / fft fwd+bwd |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for dt in ("f32", "f64"):
    per_round = [{t: load(d, t, dt) for t in ("fftconv", "torch", "xla", "numpy")} for d in rounds]
    keys = []
    for rr in per_round:
        keys += [k for k in sorted(rr["fftconv"], key=lambda k: (k[0] != "layers", k)) if k not in keys]
    for key in keys:
        col = {}
        algos = set()
        for rr in per_round:
            r = rr["fftconv"].get(key)
            if r is None:
                continue
            algos.add(r["algo"] + (f' / {r["algo_bwd"]}' if r.get("algo_bwd") else ""))
            get = lambda p, k: rr[p].get(key, {}).get(k, NAN)  # nan: timed out
            for k in ("fwd_bwd_ms", "fwd_ms"):
                col.setdefault(("fftconv", k), []).append(r[k])
                for p in ("torch", "xla", "numpy"):
                    col.setdefault((p, k), []).append(get(p, k))
                best = min((get(p, k) for p in ("torch", "xla", "numpy") if key in rr[p]), default=NAN)
                col.setdefault(("speed-up", k), []).append(best / r[k])
            for k, c in (("gflops_fwd_path_count", "fwd"), ("gflops_fft_count", "fft")):
                v = r.get(k)
                col.setdefault(("share", c), []).append(100 * v / peak if (v and peak) else NAN)
        c = lambda t, k, f: cell(col[(t, k)], f)
        share = lambda k: (cell(col[("share", k)], "{:.0f}") + " %") if c("share", k, "{}") != "nan" else "-"
        print(f'| {key[1]} | {dt} | {", ".join(sorted(algos))} | {c("fftconv", "fwd_bwd_ms", "{:.2f}")} | '
              f'{c("torch", "fwd_bwd_ms", "{:.2f}")} | {c("xla", "fwd_bwd_ms", "{:.1f}")} | '
              f'{c("numpy", "fwd_bwd_ms", "{:.1f}")} | {c("speed-up", "fwd_bwd_ms", "{:.2f}")}x | '
              f'{c("fftconv", "fwd_ms", "{:.2f}")} | {c("torch", "fwd_ms", "{:.2f}")} | '
              f'{c("xla", "fwd_ms", "{:.1f}")} | {c("numpy", "fwd_ms", "{:.1f}")} | '
              f'{c("speed-up", "fwd_ms", "{:.2f}")}x | {share("fwd")} / {share("fft")} |')
