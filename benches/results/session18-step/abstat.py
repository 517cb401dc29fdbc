import sys, statistics as st, collections
d=collections.defaultdict(lambda: ([],[]))
for f in sys.argv[1:]:
    for line in open(f):
        p=line.split()
        if len(p)!=7 or not p[0].isdigit(): continue
        r,b,s,L,t,fw,fb=p
        d[(L,s,b)][0].append(float(fw)); d[(L,s,b)][1].append(float(fb))
print("| layer | stat | binary | rounds | fwd min–max (median) | fwd+bwd min–max (median) |")
print("|---|---|---|---|---|---|")
for k in sorted(d):
    a,b=d[k]
    print(f"| {k[0]} | {k[1]} | {k[2]} | {len(a)} | {min(a):.2f}–{max(a):.2f} ({st.median(a):.2f}) | {min(b):.2f}–{max(b):.2f} ({st.median(b):.2f}) |")
