import collections,sys
d=collections.defaultdict(list)
for l in open(sys.argv[1]):
    f=l.split()
    if len(f)<10: continue
    r,b,stat,L=f[0],f[1],f[2],f[3]
    d[(L,stat,b,'fwd')].append(float(f[6])); d[(L,stat,b,'fwd+bwd')].append(float(f[7])); d[(L,stat,b,'peak')].append(float(f[11]))
def fmt(v):
    s=sorted(v); n=len(s); med=s[n//2] if n%2 else (s[n//2-1]+s[n//2])/2
    return f"{s[0]:.2f}–{s[-1]:.2f} ({med:.2f})", med
Ls=sorted({k[0] for k in d}, key=lambda x: ['2d-k7','2d-k11','1d-k65','3d-k5','2d-dw31'].index(x))
print("| layer | stat | pass | base ms min–max (median) | new ms min–max (median) | new/base median |")
print("|---|---|---|---|---|---|")
for L in Ls:
    for stat in ["best","cpu"]:
        for m in ['fwd','fwd+bwd']:
            if not d[(L,stat,'base',m)]: continue
            a,am=fmt(d[(L,stat,'base',m)]); b,bm=fmt(d[(L,stat,'new',m)])
            print(f"| {L} | {stat} | {m} | {a} | {b} | {bm/am:.3f} |")
    print(f"| {L} | peak MB | | {sorted(set(d[(L,'cpu','base','peak')]+d[(L,'median','base','peak')]))} | {sorted(set(d[(L,'cpu','new','peak')]+d[(L,'median','new','peak')]))} | |")
