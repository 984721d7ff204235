import json,re,sys
def norm(r):
    s=json.dumps(r,sort_keys=True)
    s=re.sub(r'"pid": \d+','"pid": 0',s)
    s=re.sub(r'"(\w+_ms|\w+_s|age\w*)": [0-9.e-]+',r'"\1": 0',s)
    s=re.sub(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}','U',s)
    s=re.sub(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+\d\d:\d\d|Z)','T',s)
    s=re.sub(r'tf-[\w-]+-[0-9a-f]{12}','C',s)
    return s
a=[norm(json.loads(l)) for l in open(sys.argv[1])]
b=[norm(json.loads(l)) for l in open(sys.argv[2])]
d=[(i,x,y) for i,(x,y) in enumerate(zip(a,b)) if x!=y]
print(len(a),len(b),"differ:",len(d))
for i,x,y in d[:3]: print(i,x,'\n ',y)
