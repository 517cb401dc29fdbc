import collections,sys
lines=[l.split() for l in open(sys.argv[1]) if l.startswith('TL')]
steps=[];cur=[]
for l in lines:
    n,th,s,e=l[2],int(l[3]),int(l[4]),int(l[5])
    cur.append((n,th,s,e))
    if n=='P:backward':
        steps.append(cur);cur=[]
print(len(steps))
for st in steps[-int(sys.argv[2]):]:
    t0=min(s for _,_,s,_ in st)
    ph=[x for x in st if x[0].startswith('P:')]
    ph.sort(key=lambda x:x[2])
    for n,th,s,e in ph:
        tasks=[x for x in st if x[2]>=s and x[3]<=e and x[0].startswith('t:')]
        busy=collections.Counter()
        for _,tth,ts,te in tasks: busy[tth]+=te-ts
        info=''
        if tasks:
            f=min(x[2] for x in tasks); l=max(x[3] for x in tasks)
            info=f"n={len(tasks)} lead {(f-s)/1e3:.1f} tail {(e-l)/1e3:.1f} busy " + " ".join(f"{k}:{v/1e3:.0f}" for k,v in sorted(busy.items()))
            ends=collections.defaultdict(int)
            for _,tth,ts,te in tasks: ends[tth]=max(ends[tth],te)
            if len(ends)>1: info+=f" end-skew {(max(ends.values())-min(ends.values()))/1e3:.1f}"
        print(f"{n:14s} th{th:2d} {(s-t0)/1e3:8.1f} {(e-t0)/1e3:8.1f} dur {(e-s)/1e3:7.1f}  {info}")
    print()
