#!/bin/bash
# Interleaved A/B: per round, each layer runs base then new (--stat cpu --repeats 7, f32).
cd /work/wt40
R=${R:-3}
out=${OUT:-/tmp/3d-ab/ab-$(date +%H%M).txt}
for r in $(seq $R); do
  for spec in "layers.toml 3d-k5" "layers.toml 2d-k7" "layers.toml 2d-k11" "layers.toml 2d-k15" "layers.toml 1d-k65" "layers.toml 2d-dw31" "layers-extended.toml 2d-k31-dense" "layers-extended.toml 1d-long-dw"; do
    set -- $spec
    for bin in base new; do
      line=$(/tmp/3d-$bin bench --layers benches/$1 --only $2 --stat cpu --repeats 7 2>&1 | grep "^$2 ")
      echo "$2|$bin|$(echo $line | awk '{print $4"|"$5"|"$8"|"$NF}')" >> $out
    done
  done
done
python3 - $out <<'PY'
import sys,collections
d=collections.defaultdict(list)
for l in open(sys.argv[1]):
    f=l.strip().split("|")
    if len(f)<5: continue
    d[(f[0],f[1])].append((float(f[2]),float(f[3]),float(f[4]),f[5]))
for (lay,b),v in d.items():
    fb=[x[1] for x in v]; gf=[x[2] for x in v]; fw=[x[0] for x in v]
    print(f"{lay:14s} {b:4s} fwd {min(fw):.2f}-{max(fw):.2f} fwd+bwd {min(fb):.2f}-{max(fb):.2f} (med {sorted(fb)[len(fb)//2]:.2f})  GF/s fft {min(gf):.1f}-{max(gf):.1f}  {v[0][3]} n={len(v)}")
PY
