#!/bin/sh
# quiet A/B: base (main 4fcb4da) vs step variant(s); usage: ab-step.sh OUT ROUNDS LAYERS VARIANTS
OUT=$1; R=$2; LAYERS=$3; VARS=$4
cd /work/main
for r in $(seq 1 $R); do
  for L in $LAYERS; do
    LF=benches/layers.toml; case $L in 2d-convnext*|2d-resnet*) LF=benches/layers-extended.toml;; esac
    for s in median cpu; do
      for b in $VARS; do
        /tmp/s18-$b bench --layers $LF --only $L --dtype f32 --stat $s --repeats 9 | awk -v b=$b -v s=$s -v r=$r 'NR==2 {print r, b, s, $1, $2, $4, $5}'
      done
    done
  done
  uptime >&2
done > $OUT 2>&1
