#!/bin/bash
# usage: ab1.sh ROUNDS   one thread, 2d-k7, best of 15, interleaved
cd /work/wt20-prune
for r in $(seq 1 $1); do
  if [ $((r % 2)) = 1 ]; then order="s20-base prune20-new"; else order="prune20-new s20-base"; fi
  for b in $order; do
    out=$(RAYON_NUM_THREADS=1 /tmp/$b bench --only 2d-k7 --stat best --repeats 15 2>&1 | grep "^2d-k7 ")
    echo "r$r $b best1t $out"
  done
done
