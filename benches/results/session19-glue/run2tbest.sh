#!/bin/bash
# Interleaved A/B, one thread (RAYON_NUM_THREADS=1): the work, without the scheduling noise.
cd /work/wt19-glue
out=benches/results/session19-glue/raw2t-best.txt; : > $out
for round in 1 2 3 4 5 6 7 8; do
  for L in 2d-k7 2d-k11; do
    for stat in best; do
      if [ $((round % 2)) = 1 ]; then order="base new"; else order="new base"; fi
      for b in $order; do
        bin=/tmp/s19-base; [ $b = new ] && bin=/tmp/glue19-new
        line=$($bin bench --only $L --stat $stat --repeats 30 2>/dev/null | grep "^$L ")
        echo "$round $b $stat $line" >> $out
      done
    done
  done
done
