#!/bin/bash
# 3d-k5 only, interleaved base/new, R rounds, --stat cpu --repeats 15
cd /work/wt40
R=${R:-30}; out=${OUT:-/tmp/3d-ab/k5-$(date +%H%M%S).txt}; NEW=${NEW:-/tmp/3d-new}
for r in $(seq $R); do
  for bin in /tmp/3d-base $NEW; do
    echo "$bin|$($bin bench --only 3d-k5 --stat cpu --repeats 15 2>&1 | grep '^3d-k5 ' | awk '{print $4"|"$5"|"$8}')" >> $out
  done
done
python3 - $out <<'PY'
import sys,collections,statistics as st
d=collections.defaultdict(list)
for l in open(sys.argv[1]):
    f=l.strip().split("|"); d[f[0]].append(tuple(map(float,f[1:])))
for b,v in d.items():
    fb=[x[1] for x in v]; fw=[x[0] for x in v]; g=[x[2] for x in v]
    q=st.quantiles(fb)
    print(f"{b:16s} fwd med {st.median(fw):.3f}  fwd+bwd min {min(fb):.2f} q1 {q[0]:.2f} med {st.median(fb):.2f} q3 {q[2]:.2f} max {max(fb):.2f}  GF/s fft med {st.median(g):.1f} max {max(g):.1f} n={len(v)}")
PY
