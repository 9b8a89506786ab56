import sys, json
sys.path.insert(0, '/work/main')
from ledger import encoding, ids, times, schema
from ledger.errors import LedgerError
VALS = [None, True, False, 0, 1, -5, 64, 65, 2**53-1, "", "x", "é", "e\u0301", "AAAA", "AA==", "AAA=", "AB==", "A===", "AAAAA", "AA=A", "AA\\nAA", "ab", "ab_-", "abc", "abcd", "AB", "0f", "0F", "00ff", "0"*64, "ab"*32,
        "party:A", "party:a", "party:A.B-C_D", "party:" + "A"*64, "party:" + "A"*65, "party:.A", "location:A/B:C", "location:", "seal:A-1", "seal:A.1", "connector:V:1", "connector:V", "connector:V:1:2", "connector:" + "V"*32 + ":1", "connector:" + "V"*33 + ":1",
        "ledger:a+b", "ledger:abc", "ledger:a b", "foo:BAR", ":X", "party", "PARTY:X", "ab'c", 'ab"c',
        "2026-12-03T14:00:16Z", "2026-02-29T00:00:00Z", "2024-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2000-02-29T23:59:59Z", "2026-12-03T24:00:00Z", "2026-12-03T14:60:00Z", "2026-12-03T14:00:60Z",
        "2026-12-03T14:00:16.123456789Z", "2026-12-03T14:00:16.1234567890Z", "2026-12-03T14:00:16.Z", "2026-12-03t14:00:16Z", "0000-01-01T00:00:00Z", "2026-12-03T14:00:16+00:00", "2026-13-01T00:00:00Z", "2026-12-03", "2026-02-30", "2026-1-03", "٢٠٢٦-12-03",
        [], ["a"], ["a", "a"], ["a", "b"], [1, True], [1, 1], {}, {"a": 1}, {"a": "x", "b": 2}, {"a": "x", "c": None, "z": True}]
out = []
def rec(name, arg, f):
    try:
        r = f(); r = "ok"
    except LedgerError as e:
        r = e.code + "|" + e.message
    out.append({"t": name, "arg": arg, "r": r})
V = [json.loads(json.dumps(v)) for v in VALS]
for v in V:
    rec("b64", v, lambda: encoding.b64decode(v, "f.x"))
    rec("b64url", v, lambda: encoding.b64url_decode(v, "f.x"))
    rec("hex", v, lambda: encoding.hex_decode(v, "h", 2))
    rec("hexany", v, lambda: encoding.hex_decode(v, "h"))
    rec("split", v, lambda: ids.split_subject(v))
    for k in ("party", "location", "connector", "seal", "ledger"):
        rec("check:" + k, v, lambda: ids.check_subject(v, k, "by"))
    rec("origin", v, lambda: ids.check_origin(v))
    rec("ts", v, lambda: times.parse_timestamp(v, "at"))
SCHEMAS = {
    "text": schema.Text(), "text5": schema.Text(max_length=5, min_length=2), "textpat": schema.Text(pattern=r"[A-Z]{2}[0-9]*"),
    "oneof": schema.OneOf(("a", "b")), "int": schema.Integer(), "int2": schema.Integer(minimum=-3, maximum=64), "bool": schema.Boolean(),
    "subj": schema.Subject("party"), "ts": schema.Timestamp(), "date": schema.Date(), "hex": schema.Hex(2), "b64": schema.Base64(max_bytes=2),
    "list": schema.ListOf(schema.Text()), "list2": schema.ListOf(schema.Integer(), min_items=1, max_items=2), "listnu": schema.ListOf(schema.Integer(), unique=False),
    "listany": schema.ListOf(schema.Obj(optional={"a": schema.Integer(), "b": schema.Text(), "c": schema.Boolean(), "z": schema.Boolean()}, )),
    "obj": schema.Obj(required={"a": schema.Text()}, optional={"b": schema.Integer()}),
    "obj2": schema.Obj(required={"a": schema.Text(), "b": schema.Integer()}),
}
for name, sch in SCHEMAS.items():
    for v in V:
        rec("schema:" + name, v, lambda: sch(v, "$.data"))
json.dump(out, open('/tmp/kcl_misc.json', 'w'))
print(len(out))
