"""Read endpoints: connectors, seals, incidents, parties, fleet — success, roles, and every 4xx.

The connector history carries a verification status computed by the server
from the stored entry bytes; tampering with an entry behind the append-only
triggers (or forging one) must show up on exactly that entry.
"""

from __future__ import annotations

import base64
import json
import os
import typing
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from app.api.schemas import ConnectorState, IncidentStatus, SealStatus
from app.api.security import CUSTODY_READERS
from app.services.fleet import expiring
from app.tables import ENTRIES
from ledger import canonical
from ledger.custody.ids import check_character, seal_id
from ledger.custody.records import (
    CONNECTOR_STATES,
    INCIDENT_OPEN,
    INCIDENT_QUARANTINED,
    INCIDENT_RELEASED,
    SEAL_APPLIED,
    SEAL_DESTROYED,
    SEAL_IN_STOCK,
    SEAL_ISSUED,
    SEAL_LOST,
    SEAL_REMOVED,
    SEAL_RETAINED,
    SEAL_VOID,
)
from ledger.keys import Algorithm, SigningKey
from tests.app.api.conftest import (
    AUDITOR,
    CLOCK_START,
    TECH,
    TOKENS,
    Api,
    assert_problem,
)
from tests.app.storage_helpers import append_only_bypassed, forge_append

#: Endpoints only custody readers may call (path, query).
CUSTODY_GETS = [
    "/connectors",
    "/connectors/{connector}",
    "/seals",
    "/seals/{seal}",
    "/incidents",
    "/incidents/{incident}",
    "/fleet/expiring",
]


def fill(api: Api, path: str) -> str:
    seal = api.get("/seals", status="APPLIED", limit=1).json()["items"][0]["seal_id"]
    incident = api.get("/incidents").json()["items"][0]["incident_id"]
    return path.format(connector=api.connector("IN_OPERATION"), seal=seal, incident=incident)


# --------------------------------------------------------------------------
# Roles and tokens


@pytest.mark.parametrize("path", CUSTODY_GETS)
def test_custody_reads_need_a_custody_reader_token(api: Api, path: str) -> None:
    concrete = fill(api, path)
    assert_problem(api.get(concrete, as_=None), 401, "auth.token_missing")
    response = api.client.get("/api/v1" + concrete, headers={"Authorization": "Bearer kcl_" + "A" * 43})
    assert_problem(response, 401, "auth.token_invalid")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert_problem(api.get(concrete, as_="practice"), 403, "auth.forbidden")
    for name, (_, roles) in TOKENS.items():
        if set(roles) & CUSTODY_READERS:
            assert api.get(concrete, as_=name).status_code == 200, (name, concrete)


def test_party_reads_are_open_to_every_token_holder(api: Api) -> None:
    for name in TOKENS:
        assert api.get("/parties", as_=name).status_code == 200
        assert api.get(f"/parties/{TECH}", as_=name).status_code == 200
    assert_problem(api.get("/parties", as_=None), 401, "auth.token_missing")
    assert_problem(api.get(f"/parties/{TECH}", as_=None), 401, "auth.token_missing")


# --------------------------------------------------------------------------
# Connectors


def test_connector_list_filters_and_pages(api: Api) -> None:
    everything = api.ok(api.get("/connectors", as_="auditor", limit=1000))
    assert len(everything["items"]) == 20
    assert everything["next_offset"] is None
    subjects = [c["connector"] for c in everything["items"]]
    assert subjects == sorted(subjects)
    first = api.ok(api.get("/connectors", as_="auditor", limit=7))
    second = api.ok(api.get("/connectors", as_="auditor", limit=7, offset=first["next_offset"]))
    assert first["next_offset"] == 7
    assert [c["connector"] for c in first["items"] + second["items"]] == subjects[:14]
    operating = api.ok(api.get("/connectors", as_="auditor", state="IN_OPERATION"))["items"]
    assert operating
    assert {c["state"] for c in operating} == {"IN_OPERATION"}
    assert len(operating) == sum(c["state"] == "IN_OPERATION" for c in everything["items"])
    for custodian in (TECH, f"party:{TECH}"):
        held = api.ok(api.get("/connectors", as_="auditor", custodian=custodian))["items"]
        assert held
        assert {c["custodian"] for c in held} == {f"party:{TECH}"}
    assert api.ok(api.get("/connectors", as_="auditor", state="DESTROYED", custodian=TECH))["items"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 1001},
        {"offset": -1},
        {"offset": 2**31},
        {"limit": "many"},
        {"state": "BROKEN"},
        {"state": "in_stock"},
        {"custodian": "not a party!"},
        {"custodian": "X" * 81},
    ],
)
def test_connector_list_refuses_bad_parameters(api: Api, params: dict[str, Any]) -> None:
    body = assert_problem(api.get("/connectors", as_="auditor", **params), 422, "input.request")
    assert body["errors"]


def test_connector_detail_accepts_both_id_forms_url_encoded(api: Api) -> None:
    subject = api.connector("IN_OPERATION", TECH)
    short = subject.removeprefix("connector:")
    views = [
        api.ok(api.get(f"/connectors/{form}", as_="technician"))
        for form in (subject, short, subject.replace(":", "%3A"), short.replace(":", "%3a"))
    ]
    for view in views:
        view.pop("as_of")  # the app's clock steps between requests
    assert all(v == views[0] for v in views[1:])
    view = views[0]
    assert (view["connector"], view["state"], view["custodian"]) == (subject, "IN_OPERATION", f"party:{TECH}")
    assert view["seals"]
    assert view["seal_status"] == "INTACT_VERIFIED"
    assert view["last_inspection"]["conformant"] is True
    assert view["practice"]
    assert view["location"].startswith("location:PX-")


def test_connector_detail_reports_state_custody_seals_and_certificate_status(api: Api) -> None:
    for row in api.connectors(limit=1000):
        view = api.ok(api.get(f"/connectors/{row['subject']}", as_="auditor"))
        record_seals = api.ok(api.get("/seals", as_="auditor", connector=row["subject"], status="APPLIED"))
        assert sorted(s["seal_id"] for s in record_seals["items"]) == view["seals"]
        assert view["state"] == row["state"]
        assert view["custodian"] == row["custodian"]
        assert view["expiry"]["not_after"] == row["cert_not_after"]
        now = api_parse(view["as_of"])
        assert CLOCK_START <= now < CLOCK_START + timedelta(hours=1)
        for card in view["certificates"]:
            left = api_parse(card["not_after"]) - now
            assert card["days_remaining"] == left // timedelta(days=1)
            expected = "expired" if left <= timedelta(0) else ("due" if left <= timedelta(days=180) else "ok")
            assert card["status"] == expected, card
        earliest = min(view["certificates"], key=lambda c: api_parse(c["not_after"]))
        assert view["expiry"] == {k: earliest[k] for k in ("not_after", "days_remaining", "status")}
    statuses = {
        c["status"]
        for r in api.connectors(limit=1000)
        for c in api.ok(api.get(f"/connectors/{r['subject']}"))["certificates"]
    }
    assert {"due", "ok"} <= statuses  # the demo's first generation expires in early 2027


def api_parse(text: str):  # type: ignore[no-untyped-def]
    from ledger.times import parse_timestamp

    return parse_timestamp(text)


def test_connector_with_an_incident_history_shows_it(api: Api) -> None:
    incident = api.ok(api.get("/incidents", as_="auditor"))["items"][0]
    view = api.ok(api.get(f"/connectors/{incident['connector']}", as_="auditor"))
    items = {h["index"]: h for h in view["history"]}
    # A receipt with other seals than shipped opened the incident (rule 5) …
    opened = items[incident["opened_index"]]
    assert (opened["kind"], opened["state_after"]) == ("received", "SUSPECT")
    # … the warehouse quarantined the unit, the auditor released it (four eyes).
    closing = items[incident["closed_index"]]
    assert (closing["kind"], closing["by"]) == ("quarantine.released", f"party:{AUDITOR}")
    assert "quarantined" in [h["kind"] for h in view["history"]]
    assert view["open_incident"] is None
    assert view["all_verified"] is True


def test_connector_detail_errors(api: Api) -> None:
    assert_problem(api.get("/connectors/SECUNET:NO-SUCH-UNIT", as_="auditor"), 404, "input.not_found")
    assert_problem(api.get("/connectors/connector:SECUNET:NO-SUCH-UNIT"), 404, "input.not_found")
    for bad in ("secunet:lowercase", "NOCOLON", "seal:KC00000019", "A:" + "B" * 70, ":X", "A:B C"):
        assert_problem(api.get(f"/connectors/{bad}", as_="auditor"), 422, "input.request")
    assert_problem(api.get("/connectors/A:B/extra", as_="auditor"), 404, "http.not_found")


# --------------------------------------------------------------------------
# Verification status of history entries


def test_every_entry_of_a_clean_ledger_verifies(api: Api) -> None:
    checked = 0
    for row in api.connectors(limit=1000):
        view = api.ok(api.get(f"/connectors/{row['subject']}", as_="auditor"))
        assert view["all_verified"] is True
        assert view["verified_against"] == {
            "size": api.size(),
            "root": api.ctx.store.root().hex(),
            "valid": True,
            "problem": None,
        }
        indices = [h["index"] for h in view["history"]]
        assert indices == sorted(indices)
        assert indices
        for item in view["history"]:
            assert item["verification"] == {
                "verified": True,
                "signatures_valid": True,
                "included": True,
                "chain_valid": True,
                "problems": [],
            }, item
            assert item["signers"]
            assert all(s["valid"] for s in item["signers"])
            assert item["by"] in {s["party"] for s in item["signers"]}
            assert item["leaf_hash"] == api.ctx.store.inclusion_proof(item["index"])["leaf_hash"]
            checked += 1
    assert checked > 100


def _flip_signature(api: Api, index: int) -> None:
    """Change one signature byte of stored entry ``index``, behind the append-only triggers."""
    value = json.loads(api.ctx.store.entry(index))
    signature = value["envelope"]["signatures"][0]
    raw_sig = bytearray(base64.b64decode(signature["sig"]))
    raw_sig[-1] ^= 0x01
    signature["sig"] = base64.b64encode(bytes(raw_sig)).decode()
    with append_only_bypassed(api.ctx.engine) as conn:
        conn.execute(update(ENTRIES).where(ENTRIES.c.idx == index).values(raw=canonical.encode(value)))


def test_a_tampered_signature_shows_on_that_entry(api: Api) -> None:
    subject = api.connector("IN_OPERATION")
    before = api.ok(api.get(f"/connectors/{subject}", as_="auditor"))["history"]
    target = before[3]["index"]
    _flip_signature(api, target)
    view = api.ok(api.get(f"/connectors/{subject}", as_="auditor"))
    assert view["all_verified"] is False
    by_index = {h["index"]: h for h in view["history"]}
    broken = by_index[target]
    assert broken["verification"]["verified"] is False
    assert broken["verification"]["signatures_valid"] is False
    # The bytes changed, so the leaf hash is no longer the one in the tree.
    assert broken["verification"]["included"] is False
    assert broken["leaf_hash"] != before[3]["leaf_hash"]
    assert broken["signers"][0]["valid"] is False
    assert broken["signers"][0]["problem"] == "signature does not verify"
    assert any("not included" in p for p in broken["verification"]["problems"])
    for item in view["history"]:
        if item["index"] != target:
            assert item["verification"]["verified"] is True, item
    # The next entry's prev link still names the original bytes.
    following = view["history"][4]
    assert following["verification"]["chain_valid"] is False
    # Other connectors are untouched.
    other = next(r["subject"] for r in api.connectors(limit=1000) if r["subject"] != subject)
    assert api.ok(api.get(f"/connectors/{other}", as_="auditor"))["all_verified"] is True


def test_a_forged_entry_is_included_but_its_signature_is_not_valid(api: Api) -> None:
    """A compromised server appends an entry signed by a key that is not the author's."""
    subject = api.connector("IN_OPERATION", TECH)
    stranger = SigningKey.generate(Algorithm.ED25519, os.urandom(32))
    envelope = api.statement_envelope(
        "service.visit", subject, TECH, {"reason": "forged visit"}, keys=[stranger]
    )
    index, _ = forge_append(api.ctx, envelope)
    view = api.ok(api.get(f"/connectors/{subject}", as_="auditor"))
    forged = view["history"][-1]
    assert forged["index"] == index
    assert forged["verification"]["included"] is True
    assert forged["verification"]["signatures_valid"] is False
    assert forged["verification"]["verified"] is False
    assert forged["signers"] == [
        {"keyid": stranger.keyid, "party": None, "valid": False, "problem": "unknown key"}
    ]
    assert all(h["verification"]["verified"] for h in view["history"][:-1])


def test_a_corrected_entry_is_reported(api: Api) -> None:
    subject = api.connector("IN_OPERATION", TECH)
    history = api.ok(api.get(f"/connectors/{subject}", as_="auditor"))["history"]
    target = next(h for h in history if h["kind"] == "stored")
    correction = api.sign(
        "correction",
        subject,
        AUDITOR,
        {
            "corrects": target["index"],
            "leaf_hash": target["leaf_hash"],
            "reason": "incorrect_data",
            "explanation": "wrong bin recorded",
        },
    )
    receipt = api.ok(api.post("/statements", correction, as_="auditor"), 201)["receipts"][0]
    assert api.verify_receipts([receipt]) == [receipt["index"]]
    view = api.ok(api.get(f"/connectors/{subject}", as_="auditor"))
    items = {h["index"]: h for h in view["history"]}
    assert items[target["index"]]["corrected"] is True
    assert items[target["index"]]["corrected_by"] == receipt["index"]
    assert items[receipt["index"]]["kind"] == "correction"
    assert items[receipt["index"]]["corrected"] is False
    assert view["all_verified"] is True


# --------------------------------------------------------------------------
# Seals


def test_seal_list_and_detail(api: Api) -> None:
    applied = api.ok(api.get("/seals", as_="warehouse", status="APPLIED", limit=1000))["items"]
    assert applied
    assert {s["status"] for s in applied} == {"APPLIED"}
    assert all(s["connector"] for s in applied)
    stock = api.ok(api.get("/seals", as_="warehouse", status="IN_STOCK", limit=3))
    assert len(stock["items"]) == 3
    assert stock["next_offset"] == 3
    seal = applied[0]
    view = api.ok(api.get(f"/seals/{seal['seal_id']}", as_="warehouse"))
    assert (view["status"], view["connector"]) == ("APPLIED", seal["connector"])
    assert view["connector_state"] == api.ok(api.get(f"/connectors/{seal['connector']}"))["state"]
    kinds = [h["kind"] for h in view["history"]]
    assert kinds[0] == "seal.received"
    assert "seal.issued" in kinds
    assert "seal.applied" in kinds
    assert view["all_verified"] is True
    applied_entry = next(h for h in view["history"] if h["kind"] == "seal.applied")
    assert seal["seal_id"] in applied_entry["data"]["seals"]
    by_connector = api.ok(api.get("/seals", as_="warehouse", connector=seal["connector"]))["items"]
    assert seal["seal_id"] in {s["seal_id"] for s in by_connector}


def test_seal_errors(api: Api) -> None:
    unknown = seal_id("WX", 9_999_999)
    assert_problem(api.get(f"/seals/{unknown}", as_="warehouse"), 404, "input.not_found")
    wrong_check = unknown[:-1] + ("0" if unknown[-1] != "0" else "1")
    assert check_character(wrong_check[:-1]) != wrong_check[-1]
    assert_problem(api.get(f"/seals/{wrong_check}", as_="warehouse"), 400, "input.identifier")
    for bad in ("short", "kc00000019", "KC0000001-9", "K" * 11):
        assert_problem(api.get(f"/seals/{bad}", as_="warehouse"), 422, "input.request")
    for params in ({"status": "BROKEN"}, {"connector": "nope"}, {"limit": 5000}):
        assert_problem(api.get("/seals", as_="warehouse", **params), 422, "input.request")


# --------------------------------------------------------------------------
# Incidents


def test_incidents(api: Api) -> None:
    listed = api.ok(api.get("/incidents", as_="auditor"))["items"]
    assert [i["incident_id"] for i in listed] == ["INC-340"]
    incident = listed[0]
    assert incident["status"] == "RELEASED"
    assert incident["released_by"] == f"party:{AUDITOR}"
    assert api.ok(api.get("/incidents", as_="auditor", status="RELEASED"))["items"] == listed
    assert api.ok(api.get("/incidents", as_="auditor", status="OPEN"))["items"] == []
    assert api.ok(api.get("/incidents", as_="auditor", connector=incident["connector"]))["items"] == listed
    assert api.ok(api.get("/incidents/INC-340", as_="carrier")) == incident
    # A new incident through the API shows up as OPEN.
    subject = api.connector("IN_OPERATION", TECH)
    envelope = api.sign(
        "incident.reported", subject, TECH, {"category": "housing_damage", "description": "dent"}
    )
    index = api.ok(api.post("/statements", envelope, as_="technician"), 201)["receipts"][0]["index"]
    opened = api.ok(api.get(f"/incidents/INC-{index}", as_="auditor"))
    assert (opened["status"], opened["connector"], opened["category"]) == ("OPEN", subject, "housing_damage")
    assert api.ok(api.get(f"/connectors/{subject}"))["open_incident"] == opened
    assert [i["incident_id"] for i in api.ok(api.get("/incidents", status="OPEN"))["items"]] == [
        f"INC-{index}"
    ]


def test_incident_errors(api: Api) -> None:
    assert_problem(api.get("/incidents/INC-999999", as_="auditor"), 404, "input.not_found")
    for bad in ("INC-", "inc-340", "INC-1x", "INC-" + "1" * 16):
        assert_problem(api.get(f"/incidents/{bad}", as_="auditor"), 422, "input.request")
    for params in ({"status": "CLOSED"}, {"connector": "x"}, {"offset": -5}):
        assert_problem(api.get("/incidents", as_="auditor", **params), 422, "input.request")


# --------------------------------------------------------------------------
# Parties


def test_parties_with_roles_and_keys(api: Api) -> None:
    listed = api.ok(api.get("/parties", as_="practice", limit=1000))
    assert listed["next_offset"] is None
    parties = {p["party"]: p for p in listed["items"]}
    assert len(parties) == 42  # administrator, 11 cast members, 30 practices
    trust = api.ctx.store.trust_state()
    for subject, party in parties.items():
        record = trust.parties[subject]
        assert party["roles"] == sorted(record.roles)
        assert party["name"] == record.name
        keys = {k.keyid: k for k in trust.keys.values() if k.party == subject}
        assert {k["keyid"] for k in party["keys"]} == set(keys)
        for key in party["keys"]:
            assert key["added_at"] == keys[key["keyid"]].added_at
            assert key["revoked_at"] is None
            assert key["active"] is True
            assert base64.b64decode(key["spki"]) == keys[key["keyid"]].public_key.spki_der
    assert {k["algorithm"] for p in parties.values() for k in p["keys"]} == {
        "ed25519",
        "ecdsa-p256-sha256",
        "ecdsa-brainpoolp256r1-sha256",
    }
    technicians = api.ok(api.get("/parties", as_="practice", role="technician"))["items"]
    assert [p["party"] for p in technicians] == [f"party:TECH-0{i}" for i in range(1, 6)]
    page = api.ok(api.get("/parties", role="practice", limit=10, offset=25))
    assert len(page["items"]) == 5
    assert page["next_offset"] is None
    one = api.ok(api.get(f"/parties/party:{TECH}", as_="practice"))
    assert one == parties[f"party:{TECH}"] == api.ok(api.get(f"/parties/{TECH}"))


def test_a_revoked_key_shows_its_revocation_index(api: Api) -> None:
    keyid = api.key(TECH).keyid
    envelope = api.sign("key.revoked", f"party:{TECH}", "ADMIN-01", {"keyid": keyid, "reason": "lost phone"})
    index = api.ok(api.post("/statements", envelope), 201)["receipts"][0]["index"]
    key = api.ok(api.get(f"/parties/{TECH}"))["keys"][0]
    assert (key["keyid"], key["revoked_at"], key["active"]) == (keyid, index, False)


def test_party_errors(api: Api) -> None:
    assert_problem(api.get("/parties/NOBODY-99"), 404, "input.not_found")
    for bad in ("lower", "party:", "A B", "X" * 71):
        assert_problem(api.get(f"/parties/{bad}"), 422, "input.request")
    for params in ({"role": "boss"}, {"limit": 0}):
        assert_problem(api.get("/parties", **params), 422, "input.request")


# --------------------------------------------------------------------------
# Fleet


def test_fleet_expiring_matches_the_service(api: Api) -> None:
    body = api.ok(api.get("/fleet/expiring", as_="auditor", within="1y"))
    assert body["within_days"] == 365
    assert body["total"] > 0
    expected = expiring(api.ctx, timedelta(days=365), now=api_parse(body["as_of"]))
    assert body == expected
    listed = [c["connector"] for m in body["months"] for c in m["connectors"]]
    assert len(listed) == body["total"] == sum(m["count"] for m in body["months"])
    default = api.ok(api.get("/fleet/expiring", as_="auditor"))
    assert default["within_days"] == 180
    assert default["total"] <= body["total"]
    for unit in ("26w", "6m", "180d"):
        assert api.ok(api.get("/fleet/expiring", within=unit))["within_days"] in (180, 182)


def test_fleet_errors(api: Api) -> None:
    for bad in ("180", "d", "180x", "-1d", "1.5y", "9" * 9 + "d"):
        assert_problem(api.get("/fleet/expiring", within=bad), 422, "input.request")
    assert_problem(api.get("/fleet/expiring", within="21y"), 400, "input.invalid")


# --------------------------------------------------------------------------
# The contract itself


def test_status_sets_match_the_ledger() -> None:
    assert typing.get_args(ConnectorState) == CONNECTOR_STATES
    assert set(typing.get_args(SealStatus)) == {
        SEAL_IN_STOCK, SEAL_ISSUED, SEAL_APPLIED, SEAL_REMOVED,
        SEAL_RETAINED, SEAL_DESTROYED, SEAL_VOID, SEAL_LOST,
    }  # fmt: skip
    assert set(typing.get_args(IncidentStatus)) == {INCIDENT_OPEN, INCIDENT_QUARANTINED, INCIDENT_RELEASED}


def test_every_operation_has_a_summary_and_a_response_schema(api: Api) -> None:
    spec = api.ok(api.client.get("/api/v1/openapi.json"))
    assert spec["openapi"].startswith("3.1")
    resources = ("connectors", "seals", "incidents", "parties", "fleet", "scan", "handovers", "enrolments")
    seen = set()
    for path, operations in spec["paths"].items():
        if path.split("/")[3] not in resources:
            continue
        for method, operation in operations.items():
            seen.add((method.upper(), path))
            assert operation.get("summary"), (method, path)
            success = next(code for code in operation["responses"] if code.startswith("2"))
            schema = operation["responses"][success]["content"]["application/json"]["schema"]
            assert "$ref" in schema, (method, path, schema)
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    assert "pattern" in parameter["schema"], (path, parameter)
    assert len(seen) == 20, sorted(seen)


def test_an_entry_tampered_beyond_parsing_is_shown_not_a_failed_request(api: Api) -> None:
    subject = api.connector("IN_OPERATION")
    target = api.ok(api.get(f"/connectors/{subject}", as_="auditor"))["history"][2]["index"]
    with append_only_bypassed(api.ctx.engine) as conn:
        conn.execute(update(ENTRIES).where(ENTRIES.c.idx == target).values(raw=b'{"not": "an entry"}'))
    view = api.ok(api.get(f"/connectors/{subject}", as_="auditor"))
    broken = next(h for h in view["history"] if h["index"] == target)
    assert broken["kind"] == "(unreadable)"
    assert broken["verification"]["verified"] is False
    assert broken["verification"]["problems"][0].startswith("the stored entry bytes do not parse")
    assert [h["index"] for h in view["history"] if not h["verification"]["verified"]] == [target]
