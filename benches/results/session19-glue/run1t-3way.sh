#!/bin/bash
# Interleaved A/B/C on one thread: base (main), new (rows, 42cb9a1), new2 (entries, a6fca05).
cd /work/wt19-glue
out=benches/results/session19-glue/raw1t-3way.txt; : > $out
for round in 1 2 3 4 5 6; do
  for L in 2d-k7 2d-k11 1d-k65 3d-k5; do
    for stat in best cpu; do
      case $((round % 3)) in 1) order="base new new2";; 2) order="new2 base new";; 0) order="new new2 base";; esac
      for b in $order; do
        case $b in base) bin=/tmp/s19-base;; new) bin=/tmp/glue19-new;; new2) bin=/tmp/glue19-new2;; esac
        line=$(RAYON_NUM_THREADS=1 $bin bench --only $L --stat $stat --repeats 15 2>/dev/null | grep "^$L ")
        echo "$round $b $stat $line" >> $out
      done
    done
  done
done
