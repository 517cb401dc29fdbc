#!/bin/bash
# usage: cols.sh ROUNDS   fft_columns pruned, interleaved base/new example binaries
for r in $(seq 1 $1); do
  if [ $((r % 2)) = 1 ]; then order="base new"; else order="new base"; fi
  for b in $order; do echo "r$r $b $(/tmp/prune20-cols-$b pruned)"; done
done
