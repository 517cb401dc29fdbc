#!/usr/bin/env python3
"""Time one layer of benches/layers.toml with fftconv and with XLA (shared/peers/jax_conv.py)
back to back, several rounds, and print the per-round and median ratios ours/XLA (a noisy,
shared machine makes single runs meaningless).
Usage: python3 benches/vs_xla.py LAYER [--dtype f32|f64] [--rounds 5] [--algo auto]
         [--peer /work/shared/peers/jax_conv.py]  (run from the repository root after
         cargo build --release)"""
import argparse, json, os, statistics, subprocess, tempfile

ap = argparse.ArgumentParser()
ap.add_argument("layer")
ap.add_argument("--dtype", default="f32", choices=["f32", "f64"])
ap.add_argument("--rounds", type=int, default=5)
ap.add_argument("--algo", default="auto")
ap.add_argument("--peer", default="/work/shared/peers/jax_conv.py")
a = ap.parse_args()
tmp = tempfile.mkdtemp()
ours_json, xla_json = os.path.join(tmp, "ours.json"), os.path.join(tmp, "xla.json")
ratios = []
for _ in range(a.rounds):
    subprocess.run(["./target/release/fftconv", "bench", "--only", a.layer, "--dtype", a.dtype,
                    "--repeats", "21", "--algo", a.algo, "--json", ours_json],
                   check=True, capture_output=True)
    subprocess.run(["python3", a.peer, "--layers", "benches/layers.toml", "--only", a.layer,
                    "--dtype", a.dtype, "--repeats", "21", "--json", xla_json],
                   check=True, capture_output=True)
    o = json.load(open(ours_json))[a.layer]
    x = json.load(open(xla_json))[a.layer]
    r = (o["fwd_ms"] / x["fwd_ms"], o["fwd_bwd_ms"] / x["fwd_bwd_ms"])
    ratios.append(r)
    print(f"{a.layer} {a.dtype} {o['algo']}: ours fwd {o['fwd_ms']:.2f} fwd+bwd "
          f"{o['fwd_bwd_ms']:.2f} ms | xla fwd {x['fwd_ms']:.2f} fwd+bwd {x['fwd_bwd_ms']:.2f} ms"
          f" | ratio fwd {r[0]:.2f} fwd+bwd {r[1]:.2f}", flush=True)
print(f"median ratio ours/xla: fwd {statistics.median(r[0] for r in ratios):.2f} "
      f"fwd+bwd {statistics.median(r[1] for r in ratios):.2f}")
