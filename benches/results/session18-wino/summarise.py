import sys,collections,statistics
d=collections.defaultdict(list)
for f in sys.argv[1:]:
    for line in open(f):
        a,rest=line.split('|',1)
        i,b,st=a.split()
        w=rest.split()
        d[(b,st)].append((float(w[3]),float(w[4])))
for k in sorted(d):
    v=d[k]; f=[x[0] for x in v]; g=[x[1] for x in v]
    print(k, len(v), "fwd %.2f-%.2f (%.2f)"%(min(f),max(f),statistics.median(f)), "fwd+bwd %.2f-%.2f (%.2f)"%(min(g),max(g),statistics.median(g)))
