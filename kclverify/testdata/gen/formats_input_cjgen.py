import random, sys, json
random.seed(int(sys.argv[1]) if len(sys.argv)>1 else 1)
base = [
 b'{"a":1}', b'[1,2,3]', b'{"a":{"b":[1,2]},"c":"x"}', b'"abc"', b'{"a":1,"a":2}', b'[{"a":1,"a":1},1.5]',
 b'{"a":"\\u00e9"}', '{"a":"é"}'.encode(), '{"a":"e\u0301"}'.encode(), b'["\\ud800"]', b'["\\ud83d\\ude00"]',
 b'{"k":[true,false,null,-0,0,12]}', b'[1e5,2]', b'[NaN]', b'[-Infinity]', b'{"a":[1,{"b":2,"b":3}],"z":1.0}',
 b'"\\/\\b\\f\\n\\r\\t\\u001f\\u001F\\u0020"', '{"\U0001F600":1,"\ue000":2}'.encode(), '{"\ue000":2,"\U0001F600":1}'.encode(),
 b'[' * 40 + b']' * 40, b'{"a":' * 34 + b'1' + b'}' * 34, b'[12345678901234567890]', b'[9007199254740992]', b'[-9007199254740991]',
 '{"é":1,"e":2}'.encode(), b' {"a":1} ', b'[1,]', b'{"a":1,}', b'{"a"1}', b'{1:2}', b'"\\x"', b'"\\u12"', b'"\\ud800\\u12"', b'"abc', b'\xef\xbb\xbf{}',
]
alphabet = b'{}[]",:0123456789-.eE+ \\utfnlaNIxd\xc3\xa9\xff\x01\n'
out = []
for b in base: out.append(b)
for i in range(6000):
    b = bytearray(random.choice(base))
    for _ in range(random.randint(1,4)):
        op = random.random()
        pos = random.randint(0, len(b))
        if op < 0.4 and len(b) > 0:
            del b[min(pos, len(b)-1)]
        elif op < 0.8:
            b[pos:pos] = bytes([random.choice(alphabet)])
        else:
            b[pos:pos] = random.choice(base)
    out.append(bytes(b))
with open('/tmp/kcl_cj_in.txt','w') as f:
    for b in out: f.write(b.hex()+"\n")
