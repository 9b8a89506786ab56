"""Handovers through the API, signed client-side by both parties.

The releaser's client signs ``custody.transferred`` statements and offers
them; the receiver's client countersigns the payloads (DSSE PAE) it reads
back from the offer. Accepting appends the whole offer as one unit; a
refusal of any statement appends nothing. Every receipt verifies offline
against the public vkey.
"""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest

from app.services.tokens import create_token
from ledger.envelope import pae
from ledger.keys import Algorithm, SigningKey
from tests.app.api.conftest import (
    ADMIN,
    CARRIER,
    MFR,
    PRACTICE,
    PREFIX,
    TECH,
    TECH2,
    WH,
    WH2,
    Api,
    assert_problem,
)

OFFER_ID = "0" * 32


def seals_of(api: Api, subject: str) -> list[str]:
    return list(api.ok(api.get(f"/connectors/{subject}"))["seals"])


def transfer(
    api: Api,
    subject: str,
    by: str,
    to: str,
    seals: list[str] | None = None,
    keys: list[SigningKey] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "to": f"party:{to}",
        "seals": seals if seals is not None else seals_of(api, subject),
    }
    data["delivery_note"] = "LS-2026-0815"
    return api.sign("custody.transferred", subject, by, data, keys=keys)


def offer(api: Api, by: str, to: str, envelopes: list[dict[str, Any]], as_: str) -> Any:
    return api.post("/handovers", {"to": to, "envelopes": envelopes}, as_=as_)


def countersign(api: Api, body: dict[str, Any], key: SigningKey) -> list[dict[str, str]]:
    """What the receiver's client does: sign PAE(payloadType, payload) of each offered statement."""
    signatures = []
    for envelope in body["envelopes"]:
        message = pae(envelope["payloadType"], base64.b64decode(envelope["payload"]))
        signatures.append({"keyid": key.keyid, "sig": base64.b64encode(key.sign(message)).decode()})
    return signatures


def custodian(api: Api, subject: str) -> str:
    return str(api.ok(api.get(f"/connectors/{subject}"))["custodian"])


def test_a_handover_end_to_end(api: Api) -> None:
    subject = api.connector("IN_STOCK", WH)
    size = api.size()
    created = api.ok(offer(api, WH, CARRIER, [transfer(api, subject, WH, CARRIER)], "warehouse"), 201)
    assert (created["from"], created["to"], created["status"]) == (
        f"party:{WH}",
        f"party:{CARRIER}",
        "pending",
    )
    assert created["connectors"] == [
        {"connector": subject, "seals": seals_of(api, subject), "state": "IN_STOCK"}
    ]
    assert api.size() == size  # an offer is not in the log
    offer_id = created["offer_id"]

    # The receiver finds it; the releaser sees it among its own; nobody else sees it at all.
    inbox = api.ok(api.get("/handovers", as_="carrier"))["items"]
    assert [o["offer_id"] for o in inbox] == [offer_id]
    assert api.ok(api.get("/handovers", as_="carrier", role="from"))["items"] == []
    assert [o["offer_id"] for o in api.ok(api.get("/handovers", as_="warehouse", role="from"))["items"]] == [
        offer_id
    ]
    assert api.ok(api.get("/handovers", as_="warehouse"))["items"] == []
    assert api.ok(api.get(f"/handovers/{offer_id}", as_="carrier")) == created
    for outsider in ("technician", "admin", "warehouse2"):
        assert_problem(api.get(f"/handovers/{offer_id}", as_=outsider), 404, "input.not_found")
        assert_problem(
            api.post(
                f"/handovers/{offer_id}/accept",
                {"signatures": [{"keyid": "0" * 64, "sig": "AAAA"}]},
                as_=outsider,
            ),
            # An administrator's token carries no role that may countersign a handover at all.
            403 if outsider == "admin" else 404,
            "auth.forbidden" if outsider == "admin" else "input.not_found",
        )
    # The releaser cannot accept its own offer.
    own = countersign(api, created, api.key(WH))
    assert_problem(
        api.post(f"/handovers/{offer_id}/accept", {"signatures": own}, as_="warehouse"),
        404,
        "input.not_found",
    )

    signatures = countersign(api, inbox[0], api.key(CARRIER))
    receipts = api.ok(
        api.post(f"/handovers/{offer_id}/accept", {"signatures": signatures}, as_="carrier"), 201
    )
    indices = api.verify_receipts(receipts["receipts"])
    assert indices == [size]
    assert api.size() == size + 1
    assert custodian(api, subject) == f"party:{CARRIER}"
    accepted = api.ok(api.get(f"/handovers/{offer_id}", as_="warehouse"))
    assert accepted["status"] == "accepted"
    assert accepted["result"]["indices"] == indices
    assert accepted["closed_at"] is not None
    assert api.ok(api.get("/handovers", as_="carrier"))["items"] == []
    # The demo's handovers to the carrier came before; ours is the newest.
    done = api.ok(api.get("/handovers", as_="carrier", status="accepted", limit=1000))["items"]
    assert done[-1]["offer_id"] == offer_id
    assert {o["status"] for o in done} == {"accepted"}
    assert len(api.ok(api.get("/handovers", as_="carrier", status="all", limit=1000))["items"]) == len(done)
    # The entry carries both signatures, and both verify.
    entry = api.ok(api.get(f"/connectors/{subject}"))["history"][-1]
    assert entry["kind"] == "custody.transferred"
    assert entry["verification"]["verified"] is True
    assert {s["party"] for s in entry["signers"]} == {f"party:{WH}", f"party:{CARRIER}"}
    # Accepting twice is a conflict, and appends nothing.
    again = api.post(f"/handovers/{offer_id}/accept", {"signatures": signatures}, as_="carrier")
    assert_problem(again, 409, "conflict")
    assert api.size() == size + 1


def test_a_batch_offer_is_all_or_nothing(api: Api) -> None:
    held = [r["subject"] for r in api.connectors(custodian=f"party:{TECH}", limit=10)]
    received = api.connector("RECEIVED", TECH)
    first = next(s for s in held if s != received)
    units = [first, received]
    body = api.ok(offer(api, TECH, TECH2, [transfer(api, s, TECH, TECH2) for s in units], "technician"), 201)
    offer_id = body["offer_id"]
    good = countersign(api, body, api.key(TECH2))
    size = api.size()

    def accept(signatures: list[dict[str, str]]) -> Any:
        return api.post(f"/handovers/{offer_id}/accept", {"signatures": signatures}, as_="technician2")

    # A countersignature that does not verify: refused before anything is appended.
    broken = [good[0], {**good[1], "sig": good[0]["sig"]}]
    problem = assert_problem(accept(broken), 403, "auth.signature_invalid")
    assert problem["position"] == 1
    # Signed by a key of another party than the receiver.
    foreign = countersign(api, body, api.key(TECH))
    assert_problem(accept(foreign), 403, "auth.signer_mismatch")
    # Signed by a key the ledger does not know.
    stranger = countersign(api, body, SigningKey.generate(Algorithm.ED25519, os.urandom(32)))
    assert_problem(accept(stranger), 403, "auth.key_unknown")
    # One countersignature per statement.
    assert_problem(accept(good[:1]), 400, "input.handover")
    assert_problem(accept([{**good[0], "sig": "not base64!"}, good[1]]), 400, "input.base64")
    assert_problem(accept([{**good[0], "sig": "AAA="}, good[1]]), 403, "auth.signature_invalid")
    assert api.size() == size

    # The ledger changes under the offer: the technician removes a seal of the second unit.
    removed = seals_of(api, received)[:1]
    removal = api.sign("seal.removed", received, TECH, {"seals": removed, "reason": "Siegel beschädigt"})
    api.ok(api.post("/statements", removal, as_="technician"), 201)
    size = api.size()
    problem = assert_problem(accept(good), 409, "rule.violation", rule="rule.transfer_declares_ledger_seals")
    assert problem["position"] == 1
    assert api.size() == size
    assert [custodian(api, s) for s in units] == [f"party:{TECH}", f"party:{TECH}"]  # neither moved
    assert api.ok(api.get(f"/handovers/{offer_id}", as_="technician"))["status"] == "pending"

    # A new offer with the seals the ledger now knows goes through: both change hands together.
    body = api.ok(offer(api, TECH, TECH2, [transfer(api, s, TECH, TECH2) for s in units], "technician"), 201)
    receipts = api.ok(
        api.post(
            f"/handovers/{body['offer_id']}/accept",
            {"signatures": countersign(api, body, api.key(TECH2))},
            as_="technician2",
        ),
        201,
    )["receipts"]
    assert api.verify_receipts(receipts) == [size, size + 1]
    assert [custodian(api, s) for s in units] == [f"party:{TECH2}", f"party:{TECH2}"]
    # The stale offer can no longer be accepted: the custodian is someone else now.
    assert_problem(accept(good), 409, "rule.violation", rule="rule.transfer_from_custodian")


def test_offers_are_checked_before_they_are_kept(api: Api) -> None:
    subject = api.connector("IN_STOCK", WH)
    kassel = api.connector("IN_STOCK", WH2)
    destroyed = api.connector("DESTROYED", MFR)

    def refused(
        envelopes: list[dict[str, Any]],
        status: int,
        code: str,
        *,
        to: str = CARRIER,
        as_: str = "warehouse",
        rule: str | None = None,
    ) -> dict[str, Any]:
        return assert_problem(offer(api, WH, to, envelopes, as_), status, code, rule)

    # Not the caller's statement.
    refused([transfer(api, kassel, WH2, CARRIER)], 403, "auth.forbidden")
    # Not a transfer.
    visit = api.sign(
        "seal.inspected", subject, WH, {"expected": [], "observed": [], "results": [], "checklist": "x"}
    )
    refused([visit], 400, "input.handover")
    # Handing over to someone else than the offer says.
    refused([transfer(api, subject, WH, CARRIER)], 400, "input.handover", to="CR-TRANSIT-02")
    # The releaser is not the custodian (rule 6).
    refused(
        [transfer(api, kassel, WH, CARRIER)],
        409,
        "rule.violation",
        rule="rule.transfer_from_custodian",
    )
    # Declared seals differ from the ledger's.
    refused(
        [transfer(api, subject, WH, CARRIER, seals=[])],
        409,
        "rule.violation",
        rule="rule.transfer_declares_ledger_seals",
    )
    # Nothing after destruction (rule 3), and no such connector.
    assert_problem(
        offer(api, MFR, CARRIER, [transfer(api, destroyed, MFR, CARRIER)], "manufacturer"),
        409,
        "rule.violation",
        rule="rule.nothing_after_destroyed",
    )
    refused(
        [transfer(api, "connector:SECUNET:NO-SUCH", WH, CARRIER, seals=[])],
        409,
        "rule.violation",
        rule="rule.unknown_connector",
    )
    # A practice may not receive custody.
    refused([transfer(api, subject, WH, PRACTICE)], 403, "auth.role_missing", to=PRACTICE)
    # Unknown receiver, or the releaser itself.
    refused([transfer(api, subject, WH, "NOBODY-01")], 404, "input.not_found", to="NOBODY-01")
    refused([transfer(api, subject, WH, WH)], 400, "input.invalid", to=WH)
    # Signatures: a broken one, an unknown key, a countersignature already there.
    envelope = transfer(api, subject, WH, CARRIER)
    sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    sig[-1] ^= 1
    broken = {
        **envelope,
        "signatures": [{**envelope["signatures"][0], "sig": base64.b64encode(bytes(sig)).decode()}],
    }
    refused([broken], 403, "auth.signature_invalid")
    stranger = SigningKey.generate(Algorithm.ED25519, os.urandom(32))
    refused([transfer(api, subject, WH, CARRIER, keys=[stranger])], 403, "auth.key_unknown")
    both = transfer(api, subject, WH, CARRIER, keys=[api.key(WH), api.key(CARRIER)])
    refused([both], 400, "input.handover")
    # The same connector twice; the position of the bad envelope is named.
    problem = refused(
        [transfer(api, subject, WH, CARRIER), transfer(api, subject, WH, CARRIER)], 400, "input.handover"
    )
    assert problem["position"] == 1
    # Malformed envelopes and bodies.
    refused([{**envelope, "payload": "!!"}], 400, "input.base64")
    refused([{**envelope, "payloadType": "text/plain"}], 400, "input.envelope.payload_type")
    assert_problem(
        api.post("/handovers", {"to": CARRIER, "envelopes": []}, as_="warehouse"), 422, "input.request"
    )
    assert_problem(api.post("/handovers", {"envelopes": [envelope]}, as_="warehouse"), 422, "input.request")
    assert_problem(
        api.post("/handovers", {"to": "X" * 81, "envelopes": [envelope]}, as_="warehouse"),
        422,
        "input.request",
    )
    assert_problem(
        api.post("/handovers", {"to": CARRIER, "envelopes": [envelope]}, as_=None), 401, "auth.token_missing"
    )
    # Nothing was kept (the demo's offers are all closed) …
    assert api.ok(api.get("/handovers", as_="warehouse", role="from"))["items"] == []
    # … and the valid statement is still good for an offer.
    kept = api.ok(offer(api, WH, CARRIER, [envelope], "warehouse"), 201)
    assert [o["offer_id"] for o in api.ok(api.get("/handovers", as_="warehouse", role="from"))["items"]] == [
        kept["offer_id"]
    ]


def test_a_replayed_statement_cannot_be_offered(api: Api) -> None:
    subject = api.connector("IN_STOCK", WH)
    envelope = transfer(api, subject, WH, CARRIER)
    body = api.ok(offer(api, WH, CARRIER, [envelope], "warehouse"), 201)
    api.ok(
        api.post(
            f"/handovers/{body['offer_id']}/accept",
            {"signatures": countersign(api, body, api.key(CARRIER))},
            as_="carrier",
        ),
        201,
    )
    # The appended statement is spent: offering it again is a replay …
    assert_problem(offer(api, WH, CARRIER, [envelope], "warehouse"), 409, "conflict.replayed_statement")
    # … while the new custodian can offer the unit back with a statement of its own.
    api.ok(offer(api, CARRIER, WH, [transfer(api, subject, CARRIER, WH)], "carrier"), 201)


def test_rejecting_with_a_seal_mismatch_incident(api: Api) -> None:
    subject = api.connector("IN_STOCK", WH)
    body = api.ok(offer(api, WH, CARRIER, [transfer(api, subject, WH, CARRIER)], "warehouse"), 201)
    offer_id = body["offer_id"]
    declared = body["connectors"][0]["seals"]
    description = f"Übergabe abgelehnt: deklariert {declared}, vorgefunden KX2340524H"
    incident = api.sign(
        "incident.reported", subject, CARRIER, {"category": "seal_mismatch", "description": description}
    )
    size = api.size()

    # Only the receiver rejects; incidents must be the receiver's, about the offer's connectors.
    reject = {"reason": "Siegelnummern weichen ab", "incidents": [incident]}
    assert_problem(api.post(f"/handovers/{offer_id}/reject", reject, as_="warehouse"), 404, "input.not_found")
    other = api.connector("IN_STOCK", WH2)
    foreign_subject = api.sign(
        "incident.reported", other, CARRIER, {"category": "seal_mismatch", "description": "x"}
    )
    assert_problem(
        api.post(f"/handovers/{offer_id}/reject", {**reject, "incidents": [foreign_subject]}, as_="carrier"),
        400,
        "input.handover",
    )
    by_other = api.sign("incident.reported", subject, WH, {"category": "seal_mismatch", "description": "x"})
    assert_problem(
        api.post(f"/handovers/{offer_id}/reject", {**reject, "incidents": [by_other]}, as_="carrier"),
        403,
        "auth.forbidden",
    )
    not_incident = transfer(api, subject, WH, CARRIER)
    assert_problem(
        api.post(f"/handovers/{offer_id}/reject", {**reject, "incidents": [not_incident]}, as_="carrier"),
        400,
        "input.handover",
    )
    bad: dict[str, Any]
    for bad in ({"reason": ""}, {"reason": "x" * 1001}, {"incidents": []}, {**reject, "extra": True}):
        assert_problem(api.post(f"/handovers/{offer_id}/reject", bad, as_="carrier"), 422, "input.request")
    assert_problem(
        api.post(f"/handovers/{offer_id}/reject", {"reason": "   "}, as_="carrier"), 400, "input.invalid"
    )
    assert api.size() == size

    rejected = api.ok(api.post(f"/handovers/{offer_id}/reject", reject, as_="carrier"))
    assert (rejected["offer"]["status"], rejected["offer"]["reason"]) == (
        "rejected",
        "Siegelnummern weichen ab",
    )
    indices = api.verify_receipts(rejected["receipts"])
    assert indices == [size]
    assert rejected["offer"]["result"] == {"incidents": indices}
    view = api.ok(api.get(f"/connectors/{subject}"))
    assert (view["state"], view["custodian"]) == ("SUSPECT", f"party:{WH}")  # custody did not move
    assert view["open_incident"]["incident_id"] == f"INC-{size}"
    assert view["open_incident"]["reported_by"] == f"party:{CARRIER}"
    assert view["open_incident"]["category"] == "seal_mismatch"
    # Closed for good.
    accept = {"signatures": countersign(api, body, api.key(CARRIER))}
    assert_problem(api.post(f"/handovers/{offer_id}/accept", accept, as_="carrier"), 409, "conflict")
    assert_problem(
        api.post(f"/handovers/{offer_id}/reject", {"reason": "again"}, as_="carrier"), 409, "conflict"
    )
    listed = api.ok(api.get("/handovers", as_="warehouse", role="from", status="rejected"))["items"]
    assert [o["offer_id"] for o in listed] == [offer_id]


def test_rejecting_without_incidents(api: Api) -> None:
    subject = api.connector("IN_STOCK", WH)
    body = api.ok(offer(api, WH, CARRIER, [transfer(api, subject, WH, CARRIER)], "warehouse"), 201)
    size = api.size()
    rejected = api.ok(
        api.post(f"/handovers/{body['offer_id']}/reject", {"reason": "falscher Termin"}, as_="carrier")
    )
    assert rejected["receipts"] == []
    assert rejected["offer"]["result"] == {"incidents": []}
    assert api.size() == size
    assert custodian(api, subject) == f"party:{WH}"


def test_handover_parameters(api: Api) -> None:
    for params in ({"role": "any"}, {"status": "open"}, {"limit": 0}, {"offset": -1}):
        assert_problem(api.get("/handovers", as_="carrier", **params), 422, "input.request")
    for bad in ("xyz", "0" * 31, "G" * 32, "0" * 33):
        assert_problem(api.get(f"/handovers/{bad}", as_="carrier"), 422, "input.request")
    assert_problem(api.get(f"/handovers/{OFFER_ID}", as_="carrier"), 404, "input.not_found")
    signatures = {"signatures": [{"keyid": "0" * 64, "sig": "AAAA"}]}
    assert_problem(
        api.post(f"/handovers/{OFFER_ID}/accept", signatures, as_="carrier"), 404, "input.not_found"
    )
    assert_problem(
        api.post(f"/handovers/{OFFER_ID}/reject", {"reason": "x"}, as_="carrier"), 404, "input.not_found"
    )
    bad_body: dict[str, Any]
    for bad_body in ({"signatures": []}, {"signatures": [{"keyid": "x", "sig": "AAAA"}]}, {}):
        assert_problem(
            api.post(f"/handovers/{OFFER_ID}/accept", bad_body, as_="carrier"), 422, "input.request"
        )
    for path in ("/handovers", f"/handovers/{OFFER_ID}"):
        assert_problem(api.get(path, as_=None), 401, "auth.token_missing")
    assert_problem(api.post(f"/handovers/{OFFER_ID}/accept", signatures, as_=None), 401, "auth.token_missing")
    assert_problem(
        api.post(f"/handovers/{OFFER_ID}/reject", {"reason": "x"}, as_=None), 401, "auth.token_missing"
    )


@pytest.mark.parametrize("as_", ["practice", "auditor"])
def test_parties_that_cannot_hold_custody_see_an_empty_inbox(api: Api, as_: str) -> None:
    assert api.ok(api.get("/handovers", as_=as_, status="all"))["items"] == []


def test_offering_and_accepting_need_a_credential_with_a_custody_role(api: Api) -> None:
    """A token carrying only `auditor` of a party that also holds custody roles cannot hand over."""
    for party in (WH, CARRIER):
        api.ok(
            api.post("/statements", api.sign("role.granted", f"party:{party}", ADMIN, {"role": "auditor"})),
            201,
        )
    narrow = {
        p: {"Authorization": f"Bearer {create_token(api.ctx, p, roles=['auditor'])[0]}"}
        for p in (WH, CARRIER)
    }
    subject = api.connector("IN_STOCK", WH)
    envelopes = [transfer(api, subject, WH, CARRIER)]
    refused = api.client.post(
        f"{PREFIX}/handovers", json={"to": CARRIER, "envelopes": envelopes}, headers=narrow[WH]
    )
    assert_problem(refused, 403, "auth.forbidden")
    created = api.ok(offer(api, WH, CARRIER, envelopes, "warehouse"), 201)
    size = api.size()
    signatures = countersign(api, created, api.key(CARRIER))
    accept = f"{PREFIX}/handovers/{created['offer_id']}/accept"
    problem = assert_problem(
        api.client.post(accept, json={"signatures": signatures}, headers=narrow[CARRIER]),
        403,
        "auth.forbidden",
    )
    assert "countersign custody.transferred" in problem["detail"]
    assert api.size() == size
    api.ok(
        api.post(f"/handovers/{created['offer_id']}/accept", {"signatures": signatures}, as_="carrier"), 201
    )
    assert custodian(api, subject) == f"party:{CARRIER}"
