#!/bin/bash
# usage: ab.sh ROUNDS STAT LAYERFILE LAYER...   (interleaved base/new)
cd /work/wt19-vertical
R=$1; ST=$2; F=$3; shift 3
for r in $(seq 1 $R); do for l in "$@"; do for b in s19-base vertical19-new; do
  out=$(/tmp/$b bench --layers $F --only $l --stat $ST --repeats 9 2>&1 | grep "^$l ")
  echo "r$r $b $ST $out"
done; done; done
