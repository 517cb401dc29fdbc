#!/bin/bash
# Interleaved A/B: base vs new, alternating order per round.
cd /work/wt19-glue
out=benches/results/session19-glue/raw2.txt; : > $out
for round in 5 6 7 8; do
  for L in 2d-k7; do
    for stat in median cpu; do
      if [ $((round % 2)) = 1 ]; then order="base new"; else order="new base"; fi
      for b in $order; do
        bin=/tmp/s19-base; [ $b = new ] && bin=/tmp/glue19-new
        line=$($bin bench --only $L --stat $stat --repeats 9 2>/dev/null | grep "^$L ")
        echo "$round $b $stat $line" >> $out
      done
    done
  done
done
echo done >> $out
