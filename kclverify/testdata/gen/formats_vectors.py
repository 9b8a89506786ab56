import sys, json, random, subprocess, collections
sys.path.insert(0, '/work/main')
from ledger import canonical
from ledger.entry import Entry
from ledger.errors import LedgerError
random.seed(99)
def res(f):
    try:
        f(); return "ok"
    except LedgerError as e:
        return e.code + "|" + e.message
def gostr(s):
    return json.dumps(s, ensure_ascii=True)  # valid Go string literal for BMP; surrogates handled below
def golit(b):
    # Go string literal of arbitrary bytes
    out = '"'
    for c in b:
        if c == 0x22: out += '\\"'
        elif c == 0x5c: out += '\\\\'
        elif 0x20 <= c < 0x7f: out += chr(c)
        else: out += '\\x%02x' % c
    return out + '"'
# canonical inputs from both generators
inputs = []
for gen, seeds in (('/tmp/kcl_cjgen.py', (21, 22)), ('/tmp/kcl_cjgen2.py', (23, 24, 25))):
    for sd in seeds:
        subprocess.run(['python3', gen, str(sd)], check=True)
        inputs += [bytes.fromhex(l.strip()) for l in open('/tmp/kcl_cj_in.txt')]
by = collections.defaultdict(list)
for raw in inputs:
    if len(raw) > 160: continue
    r = res(lambda: canonical.decode(raw))
    by[r.split('|')[0]].append((raw, r))
cj = []
for code, items in sorted(by.items()):
    random.shuffle(items)
    cj += items[:40]
# the fast path / slow path precedence cases and deep nesting
for raw in [b'[{"a":1,"a":1},1.5]', '[{"a":1,"a":1},1.5,"é"]'.encode(), b'[{"a":1,"a":1},9007199254740992]', b'[' * 33 + b'{"a":1,"a":1},1.5' + b']' * 33,
            b'[' * 33 + b']' * 33, b'[' * 34 + b']' * 34, b'[' * 34 + b'1.5' + b']' * 34, b'[' * 500 + b']' * 500 + b'x', '["é",1.5]'.encode()]:
    cj.append((raw, res(lambda: canonical.decode(raw))))
# entries
ent = []
subprocess.run(['/work/main/.venv/bin/python', '/tmp/kcl_entrygen.py', '31', '3000'], check=True)
eb = collections.defaultdict(list)
for l in open('/tmp/kcl_entry_in.txt'):
    raw = bytes.fromhex(l.strip())
    def p():
        e = Entry.parse(raw)
    r = res(p)
    if r == "ok":
        r = "ok|" + Entry.parse(raw).statement.kind
    eb[r.split('|')[0] + r.split('|')[1][:25] if '|' in r else r].append((raw, r))
for k, items in sorted(eb.items()):
    ent.append(items[0])
ent = ent[:36]
keys = [l.rstrip('\n') for l in open('/tmp/kcl_keys_in.txt')]
kk = [l for l in keys if l.startswith('K ')] + random.sample([l for l in keys if l.startswith('S ')], 60)
misc = json.load(open('/tmp/kcl_misc.json'))
random.shuffle(misc)
mb = collections.defaultdict(list)
for m in misc:
    mb[m['t']].append(m)
ms = []
for t, items in sorted(mb.items()):
    ms += items[:12]
with open('/tmp/kcl-formats/gopath/src/kclverify/formats_vectors_test.go', 'w') as f:
    f.write('// Code generated from the Python reference (ledger/) by running it on\n// crafted and mutated inputs; the expected strings are Python\'s results.\n\npackage main\n\n')
    f.write('// canonicalVectors: canonical.decode(input) -> "ok" or "code|message".\nvar canonicalVectors = []struct{ in, want string }{\n')
    for raw, r in cj:
        f.write('\t{%s, %s},\n' % (golit(raw), golit(r.encode('utf-8', 'surrogatepass'))))
    f.write('}\n\n// entryVectors: Entry.parse(input) -> "ok|<kind>" or "code|message".\nvar entryVectors = []struct{ in, want string }{\n')
    for raw, r in ent:
        f.write('\t{%s, %s},\n' % (golit(raw), golit(r.encode('utf-8', 'surrogatepass'))))
    f.write('}\n\n// keyVectors: "K <spki hex> <result>" and "S <spki> <sig> <msg> <result>" lines (keys.py).\nvar keyVectors = []string{\n')
    for l in kk:
        f.write('\t%s,\n' % golit(l.encode()))
    f.write('}\n\n// miscVectors: encoding, ids, times and schema results (see TestMiscAgainstPython).\nvar miscVectors = []struct{ t, arg, want string }{\n')
    for m in ms:
        f.write('\t{%s, %s, %s},\n' % (golit(m['t'].encode()), golit(json.dumps(m['arg']).encode()), golit(m['r'].encode('utf-8', 'surrogatepass'))))
    f.write('}\n')
print(len(cj), len(ent), len(kk), len(ms))
