import sys,collections,statistics as st
d=collections.defaultdict(list)
for f in sys.argv[1:]:
    for line in open(f):
        t=line.split()
        if len(t)<9: continue
        d[(t[3],t[2],t[1])].append((float(t[6]),float(t[7]),float(t[10])))
for k in sorted(d):
    v=d[k]; fw=[x[0] for x in v]; fb=[x[1] for x in v]; gf=[x[2] for x in v]
    print(f"{k[0]:14s} {k[1]:6s} {k[2]:15s} n={len(v)} fwd {min(fw):.2f}-{max(fw):.2f} med {st.median(fw):.2f} | fwd+bwd {min(fb):.2f}-{max(fb):.2f} med {st.median(fb):.2f} | GF/s fft best {max(gf):.1f}")
