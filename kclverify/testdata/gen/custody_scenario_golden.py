import json, sys
import ledger.custody  # registers kinds
from ledger.custody.records import custody, ConnectorRecord, HistoryItem, Certificate, SealRecord, IncidentRecord
from ledger.state import LedgerState, PartyRecord, KeyRecord, admit, apply
from ledger.envelope import Envelope, Signature
from ledger.statement import Statement
from ledger.errors import RuleViolation, LedgerError

spec = json.load(open(sys.argv[1]))

def build():
    st = LedgerState(origin="test", log_vkey=None)
    for p in spec["parties"]:
        st.parties[p["subject"]] = PartyRecord(p["subject"], p["subject"], set(p["roles"]), 0)
        kid = p["keyid"]
        st.keys[kid] = KeyRecord(kid, p["subject"], None, 0)
    for c in spec["connectors"]:
        r = ConnectorRecord(c["subject"], "ACME", c["subject"].split(":")[2], "P", c["state"], c["custodian"],
                            [Certificate(x[0], x[1]) for x in c.get("certs", [])], "1.0")
        r.last_at = c.get("last_at")
        r.seals = list(c.get("seals", []))
        for h in c.get("history", []):
            r.history.append(HistoryItem(h[0], h[1], h[2], h[3], h[4], h[5]))
        custody(st).connectors.put(r.subject, r)
    return st

def summary(st):
    cs = custody(st)
    out = {"connectors": {}, "seals": {}, "incidents": {}}
    for k, r in cs.connectors:
        out["connectors"][k] = [r.state, r.custodian, r.location, r.last_at, r.open_incident, r.joined_incidents,
                                r.state_before_incident, r.seal_status,
                                [[h.index, h.leaf_hash, h.kind, h.by, h.state_before, h.state_after, h.corrected_by] for h in r.history]]
    for k, s in cs.seals:
        out["seals"][k] = [s.seal_id, s.status, s.holder, s.received_index, s.issued_to, s.connector, s.last_index]
    for k, i in cs.incidents:
        out["incidents"][k] = [i.incident_id, i.connector, i.category, i.reported_by, i.opened_index, i.description,
                               i.status, i.quarantined_by, i.released_by, i.investigation, i.closed_index]
    return out

st = build()
keyof = {p["subject"]: p["keyid"] for p in spec["parties"]}
results = []
for step in spec["steps"]:
    s = Statement(kind=step["kind"], subject=step["subject"], at=step["at"], by=step["by"], data=step["data"],
                  nonce="AAAAAAAAAAAAAAAAAAAAAA", place=step.get("place"))
    env = Envelope("application/vnd.kcl.statement+json", b"", tuple(Signature(keyof[p], b"") for p in step["signers"]))
    try:
        ctx = admit(st, step["index"], env, s, step["recorded_at"], check_crypto=False)
    except RuleViolation as e:
        results.append({"code": e.rule, "message": e.reason, "warnings": []}); continue
    except LedgerError as e:
        results.append({"code": e.code, "message": e.message, "warnings": []}); continue
    apply(st, ctx, bytes.fromhex(step["leaf"]))
    results.append({"code": "", "message": "", "warnings": list(ctx.warnings)})
json.dump({"results": results, "summary": summary(st), "subjects": sorted(k for k, _ in custody(st).connectors)}, sys.stdout, indent=1, sort_keys=True)
