#!/bin/sh
# fftconv and PyTorch timed layer by layer in alternation (f32, median of 7 each), ROUNDS
# rounds (default 3), on the layers whose ratio against PyTorch is closest to a goal of issue
# 15: a burst of other work on a shared machine then hits both tools of a pair alike.
# Usage: sh benches/interleave.sh > LOG   (PYTHON: a Python with torch; PEERS: shared/peers)
cd "$(dirname "$0")/.."
round=1
while [ "$round" -le "${ROUNDS:-3}" ]; do
for spec in benches/layers.toml:2d-k3 benches/layers.toml:2d-k7 benches/layers.toml:2d-k11 benches/layers.toml:2d-stem-s2 benches/layers.toml:1d-k65 benches/layers-extended.toml:2d-convnext-dw7 benches/layers-extended.toml:2d-resnet-k3; do
  lf=${spec%%:*}; l=${spec##*:}
  ./target/release/fftconv bench --layers $lf --only $l --repeats 7 2>&1 | grep "^$l " | awk -v r=$round '{print "R" r, "fftconv", $1, "fwd", $4, "fwdbwd", $5}'
  ${PYTHON:-python3} ${PEERS:-../shared/peers}/torch_conv.py --layers $lf --only $l --dtype f32 --repeats 7 2>&1 | grep -E "^$l|fwd" | head -1 | sed "s/^/R$round /"
done
round=$((round + 1))
done
