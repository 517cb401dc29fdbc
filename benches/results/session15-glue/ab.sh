#!/bin/sh
# Interleaved A/B: base and new binary alternating, ROUNDS rounds per layer and dtype.
# Usage: ab.sh ROUNDS  (run from the repository root; binaries /tmp/glue-base, /tmp/glue-new)
R=${1:-3}
for dt in f32 f64; do
  for spec in benches/layers.toml:2d-k7 benches/layers.toml:2d-k11 benches/layers.toml:2d-k15 \
              benches/layers.toml:1d-k65 benches/layers.toml:3d-k5 \
              benches/layers-extended.toml:2d-k31-dense benches/layers-extended.toml:1d-long-dw; do
    f=${spec%%:*}; l=${spec##*:}
    for r in $(seq 1 $R); do
      for b in base new; do
        printf '%s %s %s r%s ' "$dt" "$l" "$b" "$r"
        /tmp/glue-$b bench --layers "$f" --only "$l" --dtype "$dt" --stat cpu --repeats 9 | tail -1 | awk '{print $4, $5}'
      done
    done
  done
done
