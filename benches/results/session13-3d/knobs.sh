#!/bin/bash
# interleaved knob sweep on 3d-k5: rounds, each config once per round
cd /work/wt40
R=${R:-6}
out=/tmp/3d-ab/knobs-$(date +%H%M).txt
for r in $(seq $R); do
  for k in "BASE" "A=1" "FFTCONV_X_STEP=2" "FFTCONV_X_STEP=2 FFTCONV_X_PF=2" "FFTCONV_X_STEP=2 FFTCONV_X_PF=3" "FFTCONV_X_STEP=3 FFTCONV_X_PF=2" "FFTCONV_X_STEP=4" "FFTCONV_X_STEP=8"; do
    if [ "$k" = BASE ]; then b=/tmp/3d-base; kk="A=0"; else b=/tmp/3d-x; kk=$k; fi
    v=$(env $kk $b bench --only 3d-k5 --stat cpu --repeats 25 2>&1 | tail -1 | awk '{print $5}')
    echo "$k|$v" >> $out
  done
done
python3 - $out <<'PY'
import sys,collections,statistics
d=collections.defaultdict(list)
for l in open(sys.argv[1]):
    k,v=l.strip().split("|"); d[k].append(float(v))
for k,v in d.items(): print(f"{k:34s} min {min(v):.2f} med {statistics.median(v):.2f} max {max(v):.2f}  n={len(v)}")
PY
