import collections,sys
d=collections.defaultdict(list); order=[]
for f in sys.argv[1:]:
    for line in open(f):
        t=line.split(); b=t[1]; rest=t[t.index('ns:')+1:]
        for i in range(0,len(rest),3):
            k=rest[i]+' '+rest[i+1]
            if k not in order: order.append(k)
            d[(k,b)].append(int(rest[i+2]))
for k in order:
    b=sorted(d[(k,'base')]); n=sorted(d[(k,'new')])
    print(f"{k:22s} base {b[0]}-{b[-1]} med {b[len(b)//2]}   new {n[0]}-{n[-1]} med {n[len(n)//2]}  {100*(n[len(n)//2]/b[len(b)//2]-1):+.1f}%  (n={len(b)})")
