import random, sys, json, base64, copy
sys.path.insert(0, '/work/main')
from ledger import canonical
random.seed(int(sys.argv[1]))
lines = open('/tmp/bw/x/entries.jsonl','rb').read().split(b'\n')[:3000]
lines = [l for l in lines if l]
VALS = [None, True, False, 0, -1, 5, 2**53-1, "", "x", "party:A", "party:a", "party:ABC", "location:X/Y", "location:", "seal:AB-1", "connector:V:1", "connector:V", "ledger:a+b", "ledger:abc", "foo:BAR", "2026-12-03T14:00:16Z", "2026-02-30T00:00:00Z", "2026-12-03T14:00:16.123456789Z", "2026-12-03T14:00:16.1234567890Z", "2026-12-03t14:00:16Z", "0000-01-01T00:00:00Z", "AAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAB", "AAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAA==", "a.b", "A.b", "kind.x", "a_b.c", [], {}, ["a"], {"a": 1}, "é", "ab'c", 'ab"c', "ab'c\"", "\x00\x7f\u00a0\u200b", "\U0001F600", "ab==", "AB==", "ABC=", "AB=", "A", "AAAA", "AA\nAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", "0"*64, "A"*64, "0"*63, "g"*64]
def mutate_obj(d, keys_pool):
    r = random.random()
    if r < 0.3 and d:
        k = random.choice(sorted(d)); del d[k]
    elif r < 0.5:
        d[random.choice(keys_pool + ["zz", "extra", "Place"])] = random.choice(VALS)
    else:
        if d:
            k = random.choice(sorted(d)); d[k] = random.choice(VALS)
out = []
for i in range(int(sys.argv[2]) if len(sys.argv)>2 else 3000):
    raw = random.choice(lines)
    e = json.loads(raw)
    target = random.random()
    if target < 0.2:
        mutate_obj(e, ["v","index","prev","recorded_at","envelope"])
    elif target < 0.4 and isinstance(e.get("envelope"), dict):
        env = e["envelope"]
        if random.random() < 0.5:
            mutate_obj(env, ["payloadType","payload","signatures"])
        else:
            sigs = env.get("signatures")
            if isinstance(sigs, list) and sigs:
                r = random.random()
                if r < 0.3: sigs.append(copy.deepcopy(sigs[0]))
                elif r < 0.4: sigs.extend([{"keyid": "%064x" % j, "sig": "AAAA"} for j in range(8)])
                elif r < 0.5: env["signatures"] = []
                else:
                    if isinstance(sigs[0], dict): mutate_obj(sigs[0], ["keyid", "sig"])
    else:
        env = e["envelope"]
        st = json.loads(base64.b64decode(env["payload"]))
        if random.random() < 0.8:
            mutate_obj(st, ["v","kind","subject","at","by","data","nonce","place"])
        else:
            st = random.choice(VALS)
        try:
            payload = canonical.encode(st)
        except Exception:
            payload = json.dumps(st).encode()
        if random.random() < 0.1:
            payload = json.dumps(st, indent=1).encode()
        env["payload"] = base64.b64encode(payload).decode()
    try:
        b = canonical.encode(e)
    except Exception:
        b = json.dumps(e).encode()
    if random.random() < 0.05:
        b = json.dumps(e).encode()
    out.append(b)
with open('/tmp/kcl_entry_in.txt','w') as f:
    for b in out: f.write(b.hex()+"\n")
