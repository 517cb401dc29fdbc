#!/bin/sh
# Final quiet measurement, session 19.
cd /work/main
OUT=benches/results/session19-2026-12-02
mkdir -p $OUT
uptime > $OUT/load.log
./target/release/fftconv bench --peak > $OUT/peak.txt 2>&1
lscpu | grep -E "Model name|Model:|^CPU\(s\)|L2|L3" > $OUT/machine.txt
ROUNDS=2 REPEATS=5 PEER_TIMEOUT=60 PYTHON=/work/venv/bin/python PEERS=/work/shared/peers sh benches/compare.sh $OUT > $OUT/run.log 2>&1
uptime >> $OUT/load.log
python3 benches/table.py $OUT > $OUT/table.md
PYTHON=/work/venv/bin/python PEERS=/work/shared/peers sh benches/interleave.sh > $OUT/interleave.log 2>&1
uptime >> $OUT/load.log
for r in 1 2; do ./target/release/fftconv bench --stat cpu --repeats 7; ./target/release/fftconv bench --layers benches/layers-extended.toml --stat cpu --repeats 7; done > $OUT/cpu-shares.log 2>&1
uptime >> $OUT/load.log
# Session 19's A/B: main at the session's start (/tmp/s19-base) against this HEAD, interleaved.
cp target/release/fftconv /tmp/s19-final
for r in 1 2 3 4; do
  for L in 2d-k7 2d-k11 2d-k3 1d-k65 2d-convnext-dw7; do
    LF=benches/layers.toml; [ $L = 2d-convnext-dw7 ] && LF=benches/layers-extended.toml
    for d in f32 f64; do
      [ $L = 2d-k3 ] && [ $d = f64 ] && continue
      [ $L = 1d-k65 ] && [ $d = f64 ] && continue
      for s in median cpu; do
        for b in base final; do
          /tmp/s19-$b bench --layers $LF --only $L --dtype $d --stat $s --repeats 9 | awk -v b=$b -v s=$s -v r=$r 'NR==2 {print r, b, s, $1, $2, $4, $5}'
        done
      done
    done
  done
done > $OUT/ab.log 2>&1
uptime >> $OUT/load.log
# Does a fresh process that times one layer (interleave.sh) measure slower than one that times them all (compare.sh)?
for r in 1 2 3 4; do
  ./target/release/fftconv bench --only 2d-k7 --repeats 7 | awk -v r=$r '$1=="2d-k7" {print r, "only", $4, $5}'
  ./target/release/fftconv bench --repeats 7 | awk -v r=$r '$1=="2d-k7" {print r, "all", $4, $5}'
done > $OUT/only-vs-all.log 2>&1
uptime >> $OUT/load.log
echo finished > /tmp/measure19.done
