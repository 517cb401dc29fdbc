#!/bin/sh
# Final quiet measurement, session 20.
cd /work/main
OUT=benches/results/session20-2026-12-02
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
# Session 20's A/B: main at the session's start (/tmp/s20-base) against this HEAD, interleaved.
cp target/release/fftconv /tmp/s20-final
for r in 1 2 3 4; do
  for L in 2d-k7 2d-k11 2d-k15 2d-stem-s2 3d-k5; do
    LF=benches/layers.toml
    for d in f32 f64; do
      [ $d = f64 ] && [ $L != 2d-k7 ] && [ $L != 2d-stem-s2 ] && continue
      for s in median cpu; do
        for b in base final; do
          /tmp/s20-$b bench --layers $LF --only $L --dtype $d --stat $s --repeats 9 | awk -v b=$b -v s=$s -v r=$r 'NR==2 {print r, b, s, $1, $2, $4, $5}'
        done
      done
    done
  done
done > $OUT/ab.log 2>&1
uptime >> $OUT/load.log
echo finished > /tmp/measure20.done
