"""Known answers for the Go port of ledger/verify.py (state part): run the Python LogVerifier."""
import base64, copy, json, sys
from datetime import UTC, datetime, timedelta
from ledger import canonical
from ledger.checkpoint import Checkpoint
from ledger.entry import encode_entry
from ledger.envelope import sign_envelope
from ledger.errors import VerificationFailed
from ledger.keys import Algorithm, SigningKey
from ledger.merkle import MemoryTree, hash_leaf
from ledger.note import Ed25519NoteSigner
from ledger.statement import new_statement
from ledger.trust import key_description
from ledger.verify import LogVerifier, prepare_entry

ORIGIN = "verify.custody.local/ledger"
ADMIN = "party:ADMIN-01"
LOG_KEY = SigningKey.generate(Algorithm.ED25519, b"\x31" * 32)
LOG_VKEY = Ed25519NoteSigner(ORIGIN, LOG_KEY).vkey()
ADMIN_KEY = SigningKey.generate(Algorithm.ED25519, b"\x32" * 32)
WH_KEY = SigningKey.generate(Algorithm.ECDSA_P256_SHA256, b"\x33" * 32)
CARRIER_KEY = SigningKey.generate(Algorithm.ED25519, b"\x34" * 32)
ROGUE_KEY = SigningKey.generate(Algorithm.ED25519, b"\x35" * 32)
ADMIN2_KEY = SigningKey.generate(Algorithm.ED25519, b"\x36" * 32)
T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


class Log:
    def __init__(self):
        self.entries, self.heads = [], {}

    def add(self, kind, subject, by, data, keys, nonce=None, index=None):
        index = len(self.entries) if index is None else index
        st = new_statement(kind=kind, subject=subject, by=by, data=data, at=T0 + timedelta(minutes=index),
                           nonce=(nonce if nonce is not None else (1000 + len(self.entries))).to_bytes(16, "big"))
        raw = encode_entry(index=index, prev=self.heads.get(subject), recorded_at=T0 + timedelta(minutes=index, seconds=1),
                           envelope=sign_envelope(st.to_bytes(), keys))
        self.entries.append(raw)
        self.heads[subject] = hash_leaf(raw)
        return self

    def checkpoint(self, size=None, origin=ORIGIN):
        size = len(self.entries) if size is None else size
        return Checkpoint(origin, size, MemoryTree(hash_leaf(r) for r in self.entries[:size]).root())


def genesis(log, origin=ORIGIN, vkey=LOG_VKEY, key=ADMIN_KEY, extra=None, subject=None):
    data = {"origin": origin, "log_vkey": vkey, "admin": ADMIN, "name": "Admin", "key": key_description(key.public_key)}
    if extra:
        data.update(extra)
    return log.add("ledger.genesis", subject or f"ledger:{origin}", ADMIN, data, [key])


def base():
    log = genesis(Log())
    log.add("party.registered", "party:WH-01", ADMIN, {"name": "Lager Essen", "roles": ["warehouse"]}, [ADMIN_KEY])
    log.add("key.added", "party:WH-01", ADMIN, key_description(WH_KEY.public_key), [ADMIN_KEY])
    log.add("party.registered", "party:CARRIER-01", ADMIN, {"name": "Spedition", "roles": ["carrier"]}, [ADMIN_KEY])
    log.add("key.added", "party:CARRIER-01", ADMIN, key_description(CARRIER_KEY.public_key), [ADMIN_KEY])
    log.add("role.granted", "party:WH-01", ADMIN, {"role": "auditor"}, [ADMIN_KEY])
    log.add("party.registered", "party:PRACTICE-01", ADMIN, {"name": "Praxis", "roles": ["practice"]}, [ADMIN_KEY])
    log.add("role.granted", "party:CARRIER-01", ADMIN, {"role": "warehouse"}, [ADMIN_KEY])
    return log


def rewrite(raw, change):
    v = canonical.decode(raw)
    change(v)
    return canonical.encode(v)


def flip_hex(text, p):
    return text[:p] + ("1" if text[p] == "0" else "0") + text[p + 1:]


def flip_sig(v):
    sig = bytearray(base64.b64decode(v["envelope"]["signatures"][0]["sig"]))
    sig[20] ^= 1
    v["envelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()


def fdict(f):
    return f.as_dict()


def run(entries, checkpoint, vkey, partial=False, mode="bundle", items=None):
    v = LogVerifier(checkpoint=checkpoint, log_vkey=vkey, partial=partial)
    cache = {}
    for i, raw in enumerate(entries):
        if mode == "bundle":
            p = prepare_entry(raw, validate=True, keys=cache)
        else:
            p = prepare_entry(raw)
        if items is not None:
            it = items[i]
            p.proof_checked = it["proof_checked"]
            p.position = it["position"]
        v.feed_prepared(p)
    findings = []
    root = None
    try:
        s = v.finish()
        root = s.root.hex()
    except VerificationFailed as e:
        findings = [fdict(f) for f in e.findings]
    st = v.state
    state = {
        "origin": st.origin,
        "parties": {k: sorted(p.roles) for k, p in st.parties.items()},
        "keys": {k: [r.party, r.added_at, r.revoked_at] for k, r in st.keys.items()},
    }
    return {"findings": findings, "warnings": [fdict(w) for w in v.warnings], "root": root, "state": state, "size": v.size}


scenarios = []


def scenario(name, entries, checkpoint=None, vkey=LOG_VKEY, partial=False, items=None, modes=("bundle", "plain")):
    sc = {"name": name, "entries": [base64.b64encode(e).decode() for e in entries],
          "checkpoint": None if checkpoint is None else {"origin": checkpoint.origin, "size": checkpoint.size, "root": checkpoint.root.hex()},
          "log_vkey": vkey, "partial": partial, "items": items, "results": {}}
    for mode in modes:
        sc["results"][mode] = run(entries, checkpoint, vkey, partial, mode, items)
    scenarios.append(sc)


B = base()
E = B.entries
L = [hash_leaf(r) for r in E]
CP = B.checkpoint()
scenario("valid", E, CP)
scenario("valid-no-checkpoint-no-vkey", E, None, None)
scenario("empty", [], CP)
scenario("empty-no-checkpoint", [], None)
e = list(E); e[5] = rewrite(e[5], lambda v: v.update(prev=flip_hex(v["prev"], 10)))
scenario("flipped-prev", e, CP)
e = list(E); e[3] = rewrite(e[3], flip_sig)
scenario("flipped-sig", e, CP)
e = list(E); e[2] = rewrite(e[2], flip_sig)
scenario("flipped-sig-key-added", e, CP)
scenario("deleted-middle", E[:3] + E[4:], CP)
scenario("truncated", E[:6], CP)
e = list(E); e[5], e[6] = e[6], e[5]
scenario("swapped", e, CP)
scenario("duplicated", [*E[:4], E[3], *E[4:]], CP)
e = list(E); e[5] = rewrite(e[5], lambda v: v.update(prev=L[4].hex()))
scenario("spliced", e, CP)
scenario("beyond-checkpoint", E, B.checkpoint(6))
scenario("origin-mismatch", E, Checkpoint("other.origin/ledger", 8, CP.root))
scenario("other-vkey", E, CP, Ed25519NoteSigner(ORIGIN, ROGUE_KEY).vkey())
scenario("vkey-hex-case", E, CP, LOG_VKEY.split("+")[0] + "+" + LOG_VKEY.split("+")[1].upper() + "+" + LOG_VKEY.split("+")[2])
scenario("garbage-line", [*E[:3], b"not json at all", *E[3:]], CP)
scenario("prev-null-at-start-wrong", [rewrite(E[0], lambda v: v.update(prev=L[1].hex())), *E[1:]], None)


def ext(*adds):
    log = copy.deepcopy(B)
    for a in adds:
        log.add(*a[:5], **(a[5] if len(a) > 5 else {}))
    return log


cases = {
    "unregistered-key": [("party.registered", "party:ROGUE-01", ADMIN, {"name": "Rogue"}, [ROGUE_KEY])],
    "revoked-key": [("key.revoked", "party:WH-01", ADMIN, {"keyid": WH_KEY.keyid, "reason": "stolen"}, [ADMIN_KEY]),
                    ("role.granted", "party:PRACTICE-01", "party:WH-01", {"role": "auditor"}, [WH_KEY])],
    "missing-role": [("party.registered", "party:X-01", "party:WH-01", {"name": "X"}, [WH_KEY])],
    "author-did-not-sign": [("party.registered", "party:X-01", ADMIN, {"name": "X"}, [WH_KEY])],
    "party-unique": [("party.registered", "party:WH-01", ADMIN, {"name": "Again"}, [ADMIN_KEY])],
    "key-unique": [("key.added", "party:PRACTICE-01", ADMIN, key_description(WH_KEY.public_key), [ADMIN_KEY])],
    "role-once": [("role.granted", "party:WH-01", ADMIN, {"role": "warehouse"}, [ADMIN_KEY])],
    "role-held": [("role.revoked", "party:WH-01", ADMIN, {"role": "carrier"}, [ADMIN_KEY])],
    "role-revoked-ok": [("role.revoked", "party:WH-01", ADMIN, {"role": "auditor"}, [ADMIN_KEY]),
                        ("role.revoked", "party:WH-01", ADMIN, {"role": "auditor"}, [ADMIN_KEY])],
    "key-of-party": [("key.revoked", "party:PRACTICE-01", ADMIN, {"keyid": WH_KEY.keyid, "reason": "x"}, [ADMIN_KEY])],
    "key-revoked-once": [("key.revoked", "party:WH-01", ADMIN, {"keyid": WH_KEY.keyid, "reason": "x"}, [ADMIN_KEY]),
                         ("key.revoked", "party:WH-01", ADMIN, {"keyid": WH_KEY.keyid, "reason": "y"}, [ADMIN_KEY])],
    "key-party-unregistered": [("key.added", "party:NOBODY", ADMIN, key_description(ROGUE_KEY.public_key), [ADMIN_KEY])],
    "role-party-unregistered": [("role.granted", "party:NOBODY", ADMIN, {"role": "auditor"}, [ADMIN_KEY])],
    "second-genesis": [("ledger.genesis", f"ledger:{ORIGIN}", ADMIN, {"origin": ORIGIN, "log_vkey": LOG_VKEY, "admin": ADMIN, "name": "A", "key": key_description(ADMIN2_KEY.public_key)}, [ADMIN2_KEY])],
    "unknown-field": [("party.registered", "party:X-01", ADMIN, {"name": "X", "colour": "red"}, [ADMIN_KEY])],
    "missing-field": [("party.registered", "party:X-01", ADMIN, {}, [ADMIN_KEY])],
    "unknown-kind": [("foo.bar", "party:X-01", ADMIN, {}, [ADMIN_KEY])],
    "wrong-subject-type": [("party.registered", "location:HALL-1", ADMIN, {"name": "X"}, [ADMIN_KEY])],
    "bad-role": [("role.granted", "party:WH-01", ADMIN, {"role": "pilot"}, [ADMIN_KEY])],
    "keyid-mismatch": [("key.added", "party:PRACTICE-01", ADMIN, {**key_description(ROGUE_KEY.public_key), "keyid": WH_KEY.keyid}, [ADMIN_KEY])],
    "algorithm-mismatch": [("key.added", "party:PRACTICE-01", ADMIN, {**key_description(ROGUE_KEY.public_key), "algorithm": "ecdsa-p256-sha256"}, [ADMIN_KEY])],
    "bad-spki": [("key.added", "party:PRACTICE-01", ADMIN, {**key_description(ROGUE_KEY.public_key), "spki": base64.b64encode(b"\x30\x03\x02\x01\x00").decode()}, [ADMIN_KEY])],
    "replayed-nonce": [("role.granted", "party:PRACTICE-01", ADMIN, {"role": "auditor"}, [ADMIN_KEY], {"nonce": 1003})],
    "new-key-signs": [("role.granted", "party:PRACTICE-01", "party:WH-01", {"role": "auditor"}, [WH_KEY]),
                      ("party.registered", "party:ADMIN-02", ADMIN, {"name": "Second", "roles": ["admin"]}, [ADMIN_KEY]),
                      ("key.added", "party:ADMIN-02", ADMIN, key_description(ADMIN2_KEY.public_key), [ADMIN_KEY]),
                      ("party.registered", "party:Y-01", "party:ADMIN-02", {"name": "Y"}, [ADMIN2_KEY]),
                      ("party.registered", "party:Z-01", "party:ADMIN-02", {"name": "Z"}, [ADMIN2_KEY, ADMIN_KEY])],
    "key-signs-own-addition": [("party.registered", "party:ADMIN-02", ADMIN, {"name": "Second", "roles": ["admin"]}, [ADMIN_KEY]),
                               ("key.added", "party:ADMIN-02", ADMIN, key_description(ADMIN2_KEY.public_key), [ADMIN_KEY, ADMIN2_KEY])],
    "duplicate-roles": [("party.registered", "party:X-01", ADMIN, {"name": "X", "roles": ["carrier", "carrier"]}, [ADMIN_KEY])],
}
for name, adds in cases.items():
    log = ext(*adds)
    scenario(name, log.entries, log.checkpoint())

# genesis problems
for name, kw in {
    "genesis-bad-origin": dict(origin="it's bad\u00e9", subject=f"ledger:{ORIGIN}"),
    "genesis-vkey-other-name": dict(vkey=Ed25519NoteSigner("other.name", LOG_KEY).vkey()),
    "genesis-bad-vkey": dict(vkey="nonsense"),
    "genesis-signed-by-other": None,
}.items():
    if kw is None:
        log = Log()
        data = {"origin": ORIGIN, "log_vkey": LOG_VKEY, "admin": ADMIN, "name": "Admin", "key": key_description(ADMIN_KEY.public_key)}
        log.add("ledger.genesis", f"ledger:{ORIGIN}", ADMIN, data, [ROGUE_KEY])
    else:
        log = genesis(Log(), **kw)
    log.add("party.registered", "party:WH-01", ADMIN, {"name": "W"}, [ADMIN_KEY])
    scenario(name, log.entries, log.checkpoint())
log = Log()
data = {"origin": ORIGIN, "log_vkey": LOG_VKEY, "admin": ADMIN, "name": "Admin", "key": key_description(ADMIN_KEY.public_key)}
log.add("ledger.genesis", "ledger:other.origin", ADMIN, data, [ADMIN_KEY])
scenario("genesis-subject-mismatch", log.entries, log.checkpoint())
log = Log()
log.add("ledger.genesis", f"ledger:{ORIGIN}", "party:OTHER-01", data, [ADMIN_KEY])
scenario("genesis-author-mismatch", log.entries, log.checkpoint())
log = Log()
log.add("party.registered", "party:WH-01", ADMIN, {"name": "W"}, [ADMIN_KEY])
genesis(log)
scenario("genesis-not-first", log.entries, log.checkpoint())

# partial logs
def items_for(entries, checked=None):
    out = []
    for i, raw in enumerate(entries):
        try:
            idx = canonical.decode(raw)["index"]
        except Exception:
            idx = None
        out.append({"proof_checked": True if checked is None else checked[i], "position": idx if idx is not None else 77})
    return out

for name, entries, checked in [
    ("partial-whole", E, None),
    ("partial-subset", [E[0], E[1], E[2], E[5]], None),
    ("partial-missing-dependency", [E[0], E[2], E[5]], None),
    ("partial-no-genesis", [E[1], E[2]], None),
    ("partial-out-of-order", [E[0], E[2], E[1]], None),
    ("partial-proof-missing", [E[0], E[1]], [True, False]),
    ("partial-unreadable", [E[0], b"{]", E[1]], [True, False, True]),
]:
    scenario(name, entries, CP, LOG_VKEY, True, items_for(entries, checked))
scenario("partial-empty", [], CP, LOG_VKEY, True, [])

json.dump({"log_vkey": LOG_VKEY, "scenarios": scenarios}, sys.stdout, indent=1, ensure_ascii=False)
