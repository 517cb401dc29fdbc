#!/bin/sh
# fftconv (default algorithm) against PyTorch (oneDNN), XLA (JAX) and the NumPy FFT layer, f32
# then f64, on benches/layers.toml and benches/layers-extended.toml; writes JSON to $OUT and
# prints the ratio table (fwd+bwd and forward only, against the best peer) with each layer's
# share of the f32 FMA peak (`fftconv bench --peak`).
# Usage: sh benches/compare.sh [OUT_DIR]
#   needs: a Python with torch, jax, numpy (PYTHON=/path/to/python); cargo build --release
# Every tool runs one layer at a time, fftconv first and then each peer on the same layer, so
# the tools timed against each other are timed within the same minute of a shared machine.
# ROUNDS (default 1) repeats the whole sweep into $OUT/r1, $OUT/r2, ...; the table then gives
# each figure as the range over the rounds. Peers run under `timeout $PEER_TIMEOUT` seconds
# (their slowest layers take minutes per run in f64); a layer that times out is missing from
# that peer's JSON and the table marks it.
set -e
OUT=${1:-/tmp/fftconv-compare}
PEERS=${PEERS:-../shared/peers}
PYTHON=${PYTHON:-python3}
LAYERS=${LAYERS:-"benches/layers.toml benches/layers-extended.toml"}
# The same number of timed runs for every tool (median of them); more than the tools' defaults
# (5-7) so that a burst of other work on a shared machine moves the median less.
REPEATS=${REPEATS:-15}
PEER_TIMEOUT=${PEER_TIMEOUT:-600}
ROUNDS=${ROUNDS:-1}
mkdir -p "$OUT"
./target/release/fftconv bench --peak | tee "$OUT/peak.txt"
round=1
while [ "$round" -le "$ROUNDS" ]; do
  dir="$OUT"
  [ "$ROUNDS" -gt 1 ] && dir="$OUT/r$round" && mkdir -p "$dir"
  for dt in ${DTYPES:-f32 f64}; do
    for lf in $LAYERS; do
      tag=$(basename "$lf" .toml)
      for name in $($PYTHON -c "import tomllib,sys; print(' '.join(l['name'] for l in tomllib.load(open(sys.argv[1],'rb'))['layer']))" "$lf"); do
        ./target/release/fftconv bench --layers "$lf" --only "$name" --dtype $dt --repeats $REPEATS \
          --json "$dir/fftconv_${tag}_${dt}_$name.json" > /dev/null
        for peer in torch_conv:torch jax_conv:xla numpy_fftconv:numpy; do
          timeout "$PEER_TIMEOUT" $PYTHON "$PEERS/${peer%%:*}.py" --layers "$lf" --only "$name" --dtype $dt \
            --repeats $REPEATS --json "$dir/${peer##*:}_${tag}_${dt}_$name.json" > /dev/null \
            || echo "$peer $name $dt: timed out or failed"
        done
        echo "round $round $dt $name done"
      done
    done
  done
  round=$((round + 1))
done
$PYTHON benches/table.py "$OUT"
