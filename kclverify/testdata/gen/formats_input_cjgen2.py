import random, sys
random.seed(int(sys.argv[1]))
STR_ATOMS = ['a','b','A','é','e\u0301','\\u00e9','\\ud800','\\udc00','\\ud83d\\ude00','\U0001F600','\ue000','\\"','\\\\','\\/','\\n','\\u000a','\\u001f','\\u001F','{','[','\x7f','\u2028','\\t','Å','\\u0041','ﬀ','\u0344']
def rstr():
    return '"' + ''.join(random.choice(STR_ATOMS) for _ in range(random.randint(0,3))) + '"'
def ws():
    return random.choice(['']*12 + [' ','\n','\t ','\r'])
def rnum():
    return random.choice(['0','1','-1','-0','12','9007199254740991','-9007199254740991','9007199254740992','123456789012345678','1.5','1e3','1E+2','2.0e-1','NaN','Infinity','-Infinity','00','01','1.','-'])
def rval(d):
    r = random.random()
    if d > 36 or r < 0.35 + d*0.15:
        return random.choice([rstr, rnum, lambda: random.choice(['true','false','null'])])()
    if r < 0.7:
        n = random.randint(0,4)
        keys = [rstr() for _ in range(n)]
        if random.random() < 0.6: keys.sort()
        if n and random.random() < 0.15: keys.append(random.choice(keys))
        return '{' + ws() + ','.join(ws()+k+ws()+':'+ws()+rval(d+1)+ws() for k in keys) + '}'
    n = random.randint(0,4)
    return '[' + ws() + ','.join(ws()+rval(d+1)+ws() for _ in range(n)) + ']'
def deep():
    n = random.choice([31,32,33,34,40])
    inner = rval(5)
    if random.random()<0.5:
        return '['*n + inner + ']'*n
    return '{"a":'*n + inner + '}'*n
out=[]
for i in range(8000):
    s = deep() if random.random()<0.1 else rval(0)
    if random.random() < 0.1: s += random.choice([' ', 'x', '1', ',1', '{}'])
    b = s.encode('utf-8', 'surrogatepass')
    if random.random() < 0.1:
        b = bytearray(b); pos = random.randint(0, len(b)); b[pos:pos] = bytes([random.choice(b'\xff\xc3\x01,:{}[]"')]); b = bytes(b)
    out.append(b)
with open('/tmp/kcl_cj_in.txt','w') as f:
    for b in out: f.write(b.hex()+"\n")
