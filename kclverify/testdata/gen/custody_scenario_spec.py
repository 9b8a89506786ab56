import json
from ledger.custody.ids import seal_id
def kid(n): return ("%02x" % n) * 32
def leaf(i): return ("%02x" % (i % 256)) * 32
parties = [
 {"subject": "party:WH", "roles": ["warehouse"]},
 {"subject": "party:MF", "roles": ["manufacturer"]},
 {"subject": "party:TECH", "roles": ["technician"]},
 {"subject": "party:AUD", "roles": ["auditor"]},
 {"subject": "party:CAR", "roles": ["carrier"]},
 {"subject": "party:ADM", "roles": ["admin"]},
 {"subject": "party:PR", "roles": ["practice"]},
]
for n, p in enumerate(parties): p["keyid"] = kid(n + 1)
H1 = leaf(1)
connectors = [
 {"subject": "connector:ACME:SN1", "state": "IN_STOCK", "custodian": "party:WH", "last_at": "2025-01-01T10:00:00Z",
  "seals": ["KC0001237H"], "history": [[1, H1, "stored", "party:WH", "SEALED", "IN_STOCK"]],
  "certs": [["80276001011699900001", "2030-01-01T00:00:00.5Z"], ["80276001011699900002", "2030-01-01T00:00:00.25Z"]]},
 {"subject": "connector:ACME:SN2", "state": "DESTROYED", "custodian": "party:MF", "last_at": "2025-01-01T10:00:00.123456789Z",
  "history": [[2, leaf(2), "decommissioned", "party:MF", "RETURNED", "DECOMMISSIONED"], [3, leaf(3), "destroyed", "party:MF", "DECOMMISSIONED", "DESTROYED"]]},
 {"subject": "connector:ACME:SN3", "state": "DECOMMISSIONED", "custodian": "party:MF"},
]
S = lambda n: seal_id("KC", n)
steps = []
def step(kind, subject, by, data, at="2025-01-02T10:00:00Z", rec="2025-01-02T10:00:01.000Z", signers=None, place=None):
    i = 10 + len(steps)
    d = {"index": i, "kind": kind, "subject": subject, "by": by, "data": data, "at": at, "recorded_at": rec,
         "signers": signers or [by], "leaf": leaf(i)}
    if place: d["place"] = place
    steps.append(d)
recv = {"series": "KC", "first": 1, "count": 5, "supplier": "ACME Seals"}
step("seal.received", "seal:" + S(1), "party:WH", recv)
step("seal.received", "seal:" + S(2), "party:WH", dict(recv, first=20))
step("seal.received", "seal:" + S(3), "party:WH", dict(recv, first=3, count=9))
step("seal.received", "seal:" + seal_id("KC", 9999998), "party:WH", dict(recv, first=9999998))
step("seal.issued", "seal:" + S(1), "party:MF", {"to": "party:TECH"})
step("seal.issued", "seal:" + S(1), "party:WH", {"to": "party:TECH"})
step("seal.issued", "seal:" + S(1), "party:WH", {"to": "party:TECH"})
step("seal.retained", "seal:" + S(100), "party:AUD", {"location": "location:VAULT"})
step("seal.voided", "seal:KC00000018", "party:TECH", {"reason": "damaged"})
step("seal.voided", "seal:" + S(1), "party:TECH", {"reason": "damaged"})
step("seal.destroyed", "seal:" + S(1), "party:AUD", {"method": "shredded"})
step("seal.lost", "seal:" + S(2), "party:CAR", {"circumstances": "fell off the truck"})
step("seal.lost", "seal:" + S(2), "party:CAR", {"circumstances": "again"})
step("incident.reported", "connector:ACME:SN1", "party:TECH", {"category": "seal_damage", "description": "scratch"}, place="location:SITE-1")
step("incident.reported", "connector:ACME:SN1", "party:AUD", {"category": "other", "description": "second"})
step("quarantined", "connector:ACME:SN1", "party:WH", {"incident": "INC-24"})
step("quarantined", "connector:ACME:SN1", "party:WH", {"incident": "INC-23", "location": "location:Q-1"})
step("quarantine.released", "connector:ACME:SN1", "party:AUD", {"incident": "INC-23", "investigation": "all fine here", "outcome": "cleared"})
step("quarantine.released", "connector:ACME:SN1", "party:WH", {"incident": "INC-24", "investigation": "all fine here", "outcome": "cleared"})
step("quarantine.released", "connector:ACME:SN1", "party:WH", {"incident": "INC-23", "investigation": "all fine here", "outcome": "cleared"})
step("lost", "connector:ACME:SN1", "party:CAR", {"circumstances": "gone"}, at="2025-01-02T09:54:59.9999999Z", rec="2025-01-02T10:00:00Z")
step("stolen", "connector:ACME:SN2", "party:PR", {"circumstances": "gone"})
step("correction", "connector:ACME:SN1", "party:WH", {"corrects": 1, "leaf_hash": leaf(99), "reason": "did_not_occur", "explanation": "x"})
step("correction", "connector:ACME:SN1", "party:CAR", {"corrects": 1, "leaf_hash": H1, "reason": "did_not_occur", "explanation": "x"})
step("correction", "connector:ACME:SN1", "party:ADM", {"corrects": 30, "leaf_hash": leaf(30), "reason": "did_not_occur", "explanation": "x"}, at="2025-01-02T10:06:00Z", rec="2025-01-02T10:00:59.999Z")
step("correction", "connector:ACME:SN1", "party:ADM", {"corrects": 34, "leaf_hash": leaf(34), "reason": "did_not_occur", "explanation": "x"})
step("correction", "connector:ACME:SN1", "party:ADM", {"corrects": 30, "leaf_hash": leaf(30), "reason": "did_not_occur", "explanation": "x"})
step("correction", "connector:ACME:SN2", "party:MF", {"corrects": 2, "leaf_hash": leaf(2), "reason": "did_not_occur", "explanation": "x"})
step("correction", "connector:ACME:SN2", "party:MF", {"corrects": 3, "leaf_hash": leaf(3), "reason": "incorrect_data", "explanation": "x"}, at="2025-01-01T10:00:00Z")
step("incident.reported", "connector:ACME:SN3", "party:PR", {"category": "theft", "description": "?"}, at="2025-01-01T10:00:00Z")
step("correction", "connector:ACME:SN3", "party:PR", {"corrects": 39, "leaf_hash": leaf(39), "reason": "did_not_occur", "explanation": "x"})
step("lost", "connector:ACME:NOPE", "party:CAR", {"circumstances": "gone"})
step("quarantine.released", "connector:ACME:SN3", "party:WH", {"incident": "INC-39", "investigation": "nothing at all", "outcome": "cleared"})
step("quarantined", "connector:ACME:SN3", "party:AUD", {"incident": "INC-39"})
step("quarantine.released", "connector:ACME:SN3", "party:WH", {"incident": "INC-39", "investigation": "nothing at all", "outcome": "cleared"})
step("incident.reported", "connector:ACME:SN1", "party:TECH", {"category": "seal_damage", "description": "scratch"}, at="2025-01-02T10:00:00Z")
step("correction", "connector:ACME:SN1", "party:WH", {"corrects": 29, "leaf_hash": leaf(29), "reason": "did_not_occur", "explanation": "release undone?"})
step("seal.lost", "seal:" + S(3), "party:CAR", {"circumstances": "x"}, at="2025-01-02T10:05:00.0000005Z", rec="2025-01-02T10:00:00Z")
step("seal.lost", "seal:" + S(4), "party:CAR", {"circumstances": "x"}, at="2025-01-02T10:05:00.000001Z", rec="2025-01-02T10:00:00Z")
step("seal.received", "seal:" + seal_id("AB", 9999999), "party:MF", dict(recv, series="AB", first=9999999, count=1))
step("seal.issued", "seal:" + seal_id("AB", 9999999), "party:MF", {"to": "party:MF"})
print(json.dumps({"parties": parties, "connectors": connectors, "steps": steps}, indent=1))
