#!/bin/sh
# One back-to-back run: fftconv (default algorithm) against XLA (JAX) and the NumPy FFT layer,
# f32 then f64, on benches/layers.toml; writes JSON to $OUT and prints the ratio table.
# Usage: sh benches/compare.sh [OUT_DIR]   (needs: pip install jax jaxlib numpy; cargo build --release)
set -e
OUT=${1:-/tmp/fftconv-compare}
PEERS=${PEERS:-/work/shared/peers}
# The same number of timed runs for every tool (median of them); more than the tools' defaults
# (5-7) so that a burst of other work on a shared machine moves the median less.
REPEATS=${REPEATS:-15}
mkdir -p "$OUT"
for dt in f32 f64; do
  ./target/release/fftconv bench --layers benches/layers.toml --dtype $dt --repeats $REPEATS --json "$OUT/fftconv_$dt.json"
  python3 "$PEERS/jax_conv.py" --layers benches/layers.toml --dtype $dt --repeats $REPEATS --json "$OUT/xla_$dt.json"
  python3 "$PEERS/numpy_fftconv.py" --layers benches/layers.toml --dtype $dt --repeats $REPEATS --json "$OUT/numpy_$dt.json"
done
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
print("| layer | dtype | algo | fftconv fwd+bwd ms | XLA ms | NumPy ms | speed-up vs faster peer | fftconv fwd ms | XLA fwd | NumPy fwd |")
print("|---|---|---|---|---|---|---|---|---|---|")
for dt in ("f32", "f64"):
    f, x, n = (json.load(open(f"{out}/{p}_{dt}.json")) for p in ("fftconv", "xla", "numpy"))
    for name, r in f.items():
        peer = min(x[name]["fwd_bwd_ms"], n[name]["fwd_bwd_ms"])
        print(f'| {name} | {dt} | {r["algo"]} | {r["fwd_bwd_ms"]:.1f} | {x[name]["fwd_bwd_ms"]:.1f} | '
              f'{n[name]["fwd_bwd_ms"]:.1f} | {peer / r["fwd_bwd_ms"]:.2f}x | {r["fwd_ms"]:.1f} | '
              f'{x[name]["fwd_ms"]:.1f} | {n[name]["fwd_ms"]:.1f} |')
PY
