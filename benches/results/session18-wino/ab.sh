#!/bin/bash
# usage: wino18-ab.sh LAYERS LAYER DTYPE ROUNDS [extra args]
L=$1; N=$2; DT=$3; R=$4; shift 4
cd /work/wt18-wino
for i in $(seq 1 $R); do for b in base new; do for st in median cpu; do
  out=$(/tmp/wino18-$b bench --layers $L --only $N --dtype $DT --repeats 9 --stat $st "$@" 2>&1 | tail -1)
  echo "$i $b $st | $out"
done; done; done
