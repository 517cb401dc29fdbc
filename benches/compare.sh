#!/bin/sh
# One back-to-back run: fftconv (default algorithm) against PyTorch (oneDNN), XLA (JAX) and the
# NumPy FFT layer, f32 then f64, on benches/layers.toml and benches/layers-extended.toml; writes
# JSON to $OUT and prints the ratio table (fwd+bwd and forward only, against the best peer) with
# each layer's share of the f32 FMA peak (`fftconv bench --peak`).
# Usage: sh benches/compare.sh [OUT_DIR]
#   needs: a Python with torch, jax, numpy (PYTHON=/path/to/python); cargo build --release
# Peers run one layer at a time under `timeout $PEER_TIMEOUT` seconds (their slowest layers take
# minutes per run in f64); a layer that times out is missing from that peer's JSON and the table
# marks it.
set -e
OUT=${1:-/tmp/fftconv-compare}
PEERS=${PEERS:-/work/shared/peers}
PYTHON=${PYTHON:-python3}
LAYERS=${LAYERS:-"benches/layers.toml benches/layers-extended.toml"}
# The same number of timed runs for every tool (median of them); more than the tools' defaults
# (5-7) so that a burst of other work on a shared machine moves the median less.
REPEATS=${REPEATS:-15}
PEER_TIMEOUT=${PEER_TIMEOUT:-600}
mkdir -p "$OUT"
./target/release/fftconv bench --peak | tee "$OUT/peak.txt"
for dt in ${DTYPES:-f32 f64}; do
  for lf in $LAYERS; do
    tag=$(basename "$lf" .toml)
    ./target/release/fftconv bench --layers "$lf" --dtype $dt --repeats $REPEATS --json "$OUT/fftconv_${tag}_$dt.json"
    for name in $($PYTHON -c "import tomllib,sys; print(' '.join(l['name'] for l in tomllib.load(open(sys.argv[1],'rb'))['layer']))" "$lf"); do
      for peer in torch_conv:torch jax_conv:xla numpy_fftconv:numpy; do
        timeout "$PEER_TIMEOUT" $PYTHON "$PEERS/${peer%%:*}.py" --layers "$lf" --only "$name" --dtype $dt \
          --repeats $REPEATS --json "$OUT/${peer##*:}_${tag}_${dt}_$name.json" || echo "$peer $name $dt: timed out or failed"
      done
    done
  done
done
$PYTHON benches/table.py "$OUT"
