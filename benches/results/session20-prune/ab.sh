#!/bin/bash
# usage: ab.sh ROUNDS STAT LAYERFILE LAYER...   (interleaved base/new, base first then new first)
cd /work/wt20-prune
R=$1; ST=$2; F=$3; shift 3
for r in $(seq 1 $R); do for l in "$@"; do
  if [ $((r % 2)) = 1 ]; then order="s20-base prune20-new"; else order="prune20-new s20-base"; fi
  for b in $order; do
    out=$(/tmp/$b bench --layers $F --only $l --stat $ST --repeats 9 2>&1 | grep "^$l ")
    echo "r$r $b $ST $out"
  done
done; done
