#!/bin/bash
# Interleaved A/B, one thread (RAYON_NUM_THREADS=1): the work, without the scheduling noise.
cd /work/wt19-glue
out=benches/results/session19-glue/raw1t.txt; : > $out
for round in 1 2 3 4 5 6; do
  for L in 2d-k7 2d-k11 1d-k65; do
    for stat in best cpu; do
      if [ $((round % 2)) = 1 ]; then order="base new"; else order="new base"; fi
      for b in $order; do
        bin=/tmp/s19-base; [ $b = new ] && bin=/tmp/glue19-new
        line=$(RAYON_NUM_THREADS=1 $bin bench --only $L --stat $stat --repeats 15 2>/dev/null | grep "^$L ")
        echo "$round $b $stat $line" >> $out
      done
    done
  done
done
