#!/bin/bash
# ab3.sh LAYER FILE ROUNDS BIN...: interleaved, cpu stat
L=$1; F=$2; R=$3; shift 3
for r in $(seq $R); do
  for b in "$@"; do
    $b bench --layers ../../$F.toml --only $L --stat cpu --repeats 7 2>/dev/null | grep -E "^$L " | awk -v n=$(basename $b) '{printf "%-10s %-14s fwd %6s fb %6s gffft %6s\n", n, $1, $4, $5, $8}'
  done
done
