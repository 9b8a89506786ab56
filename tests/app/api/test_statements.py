"""POST /statements and /statements/batch: offline receipts, replays, idempotency, refusals.

Every refusal is checked for its problem ``code`` *and* for leaving the log
as it was: a refused request appends nothing.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from app.services import idempotency
from app.services.tokens import create_token
from ledger.errors import LedgerError
from ledger.merkle import hash_leaf
from tests.app.api.conftest import ADMIN, PREFIX, TECH, Api, assert_problem


def _report(api: Api, description: str = "dent") -> dict[str, Any]:
    """A fresh, valid statement: the technician reports damage to a connector it operates."""
    subject = api.connector("IN_OPERATION", TECH)
    return api.sign(
        "incident.reported", subject, TECH, {"category": "housing_damage", "description": description}
    )


def test_one_statement_gets_a_receipt_that_verifies_offline(api: Api) -> None:
    size = api.size()
    response = api.post("/statements", _report(api), as_="technician")
    receipts = api.ok(response, 201)["receipts"]
    assert len(receipts) == 1
    receipt = receipts[0]
    # Offline: only the public vkey is used (GET /log/vkey), no other request.
    assert api.verify_receipts(receipts) == [size]
    # The receipt's checkpoint already includes the entry; it is the log's checkpoint of that size.
    assert api.size() == size + 1
    stored = api.ctx.store.entry(size)
    assert receipt["entry"].encode() == stored
    assert receipt["leaf_hash"] == hash_leaf(stored).hex()
    checkpoint = api.client.get("/api/v1/log/checkpoint", params={"size": size + 1})
    assert checkpoint.status_code == 200
    assert receipt["checkpoint"] == checkpoint.text


def _flip_hex(value: str) -> str:
    return ("1" if value[0] == "0" else "0") + value[1:]


def _flip_middle(text: str) -> str:
    middle = len(text) // 2
    return text[:middle] + ("B" if text[middle] == "A" else "A") + text[middle + 1 :]


RECEIPT_MUTATIONS = {
    "wrong-leaf-hash": lambda r: r.update(leaf_hash=_flip_hex(r["leaf_hash"])),
    "wrong-index": lambda r: r.update(index=r["index"] + 1),
    "flipped-proof-node": lambda r: r["inclusion_proof"].update(
        proof=[_flip_hex(r["inclusion_proof"]["proof"][0]), *r["inclusion_proof"]["proof"][1:]]
    ),
    "truncated-proof": lambda r: r["inclusion_proof"].update(proof=r["inclusion_proof"]["proof"][:-1]),
    "wrong-proof-size": lambda r: r["inclusion_proof"].update(size=r["inclusion_proof"]["size"] - 1),
    "altered-entry": lambda r: r.update(entry=_flip_middle(r["entry"])),
    "altered-checkpoint-root": lambda r: r.update(
        checkpoint=r["checkpoint"].replace(r["checkpoint"].split("\n")[2], "A" * 43 + "=", 1)
    ),
    "missing-proof": lambda r: r.pop("inclusion_proof"),
}


@pytest.mark.parametrize("mutation", sorted(RECEIPT_MUTATIONS))
def test_a_mutated_receipt_does_not_verify(api: Api, mutation: str) -> None:
    receipt = api.ok(api.post("/statements", _report(api), as_="technician"), 201)["receipts"][0]
    api.verify_receipts([receipt])  # the untouched receipt holds
    mutated = copy.deepcopy(receipt)
    RECEIPT_MUTATIONS[mutation](mutated)
    with pytest.raises(LedgerError):
        api.verify_receipts([mutated])


def test_replaying_a_statement_is_refused_and_appends_nothing(api: Api) -> None:
    envelope = _report(api)
    api.ok(api.post("/statements", envelope, as_="technician"), 201)
    size = api.size()
    assert_problem(api.post("/statements", envelope, as_="technician"), 409, "conflict.replayed_statement")
    # The same statement inside a batch is refused too, and takes the batch's other statement down.
    batch = {"envelopes": [_report(api, "other"), envelope]}
    problem = assert_problem(
        api.post("/statements/batch", batch, as_="technician"), 409, "conflict.replayed_statement"
    )
    assert problem["position"] == 1
    assert api.size() == size


def test_a_statement_signed_with_a_revoked_key_is_refused(api: Api) -> None:
    envelope = _report(api)  # signed before the key is revoked, submitted after
    keyid = api.key(TECH).keyid
    revocation = api.sign("key.revoked", f"party:{TECH}", ADMIN, {"keyid": keyid, "reason": "lost phone"})
    api.ok(api.post("/statements", revocation), 201)
    size = api.size()
    assert_problem(api.post("/statements", envelope, as_="technician"), 403, "auth.key_revoked")
    assert api.size() == size


def test_a_signature_that_does_not_match_is_refused(api: Api) -> None:
    envelope = _report(api)
    signature = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    signature[-1] ^= 0x01
    envelope["signatures"][0]["sig"] = base64.b64encode(bytes(signature)).decode()
    size = api.size()
    assert_problem(api.post("/statements", envelope, as_="technician"), 403, "auth.signature_invalid")
    assert api.size() == size


def test_a_party_submits_only_its_own_statements_an_administrator_may_relay(api: Api) -> None:
    envelope = _report(api)
    size = api.size()
    assert_problem(api.post("/statements", envelope, as_="warehouse"), 403, "auth.forbidden")
    assert api.size() == size
    api.ok(api.post("/statements", envelope, as_="admin"), 201)
    assert api.size() == size + 1


def test_a_batch_is_all_or_nothing(api: Api) -> None:
    size = api.size()
    good = [_report(api, "one"), _report(api, "two")]
    bad = api.sign("incident.reported", api.connector("IN_OPERATION", TECH), TECH, {"category": "nonsense"})
    problem = assert_problem(
        api.post("/statements/batch", {"envelopes": [*good, bad]}, as_="technician"),
        422,
        "input.statement.data",
    )
    assert problem["position"] == 2
    assert api.size() == size
    receipts = api.ok(api.post("/statements/batch", {"envelopes": good}, as_="technician"), 201)["receipts"]
    assert api.verify_receipts(receipts) == [size, size + 1]


def test_an_idempotency_key_returns_the_first_answer_and_appends_once(api: Api) -> None:
    envelope = _report(api)
    headers = {**api.headers("technician"), "Idempotency-Key": "install-7f3a"}
    first = api.client.post("/api/v1/statements", json=envelope, headers=headers)
    assert first.status_code == 201
    size = api.size()
    again = api.client.post("/api/v1/statements", json=envelope, headers=headers)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert api.size() == size
    # The same key for a different request is a client bug, not a retry.
    other = api.client.post("/api/v1/statements", json=_report(api, "other"), headers=headers)
    assert_problem(other, 409, "conflict.idempotency_key_reused")
    assert api.size() == size
    # Without the key, the retry is what it is: a replay.
    assert_problem(api.post("/statements", envelope, as_="technician"), 409, "conflict.replayed_statement")


def test_idempotency_keys_are_per_party(api: Api) -> None:
    key = {"Idempotency-Key": "same-key"}
    tech = api.client.post(
        "/api/v1/statements", json=_report(api), headers={**api.headers("technician"), **key}
    )
    assert tech.status_code == 201
    relayed = api.client.post(
        "/api/v1/statements", json=_report(api, "b"), headers={**api.headers("admin"), **key}
    )
    assert relayed.status_code == 201
    assert "Idempotent-Replayed" not in relayed.headers


def test_a_bad_idempotency_key_is_refused(api: Api) -> None:
    size = api.size()
    for bad in ("", "x" * (idempotency.MAX_KEY_LENGTH + 1), "tab\there"):
        headers = {**api.headers("technician"), "Idempotency-Key": bad}
        response = api.client.post("/api/v1/statements", json=_report(api), headers=headers)
        assert 400 <= response.status_code < 500, (bad, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert api.size() == size


def test_malformed_envelopes_get_their_own_codes_and_append_nothing(api: Api) -> None:
    good = _report(api)
    size = api.size()
    cases = {
        "bad-base64-payload": ({**good, "payload": "!!!"}, "input.base64"),
        "wrong-payload-type": ({**good, "payloadType": "application/json"}, "input.envelope.payload_type"),
        "no-signatures": ({**good, "signatures": []}, None),
        "payload-not-json": (
            {**good, "payload": base64.b64encode(b"not json").decode()},
            "input.json.malformed",
        ),
        "payload-with-float": (
            {**good, "payload": base64.b64encode(b'{"v":1.5}').decode()},
            "input.json.float",
        ),
    }
    for name, (envelope, code) in cases.items():
        response = api.post("/statements", envelope, as_="technician")
        assert 400 <= response.status_code < 500, (name, response.text)
        assert response.headers["content-type"].startswith("application/problem+json"), name
        if code is not None:
            assert response.json()["code"] == code, (name, response.json())
    assert api.size() == size


def _token_with(api: Api, party_id: str, roles: list[str]) -> str:
    token, _ = create_token(api.ctx, party_id, roles=roles, label="narrow")
    return token


def test_a_credential_submits_only_kinds_its_own_roles_may_sign(api: Api) -> None:
    """The party's keys sign for all its roles; a token carrying a subset is bounded by it."""
    # The administrator party also holds `auditor`; a token of it carries `auditor` only.
    api.ok(
        api.post("/statements", api.sign("role.granted", f"party:{ADMIN}", ADMIN, {"role": "auditor"})), 201
    )
    narrow = {"Authorization": f"Bearer {_token_with(api, ADMIN, ['auditor'])}"}
    grant = api.sign("role.granted", f"party:{TECH}", ADMIN, {"role": "admin"})
    size = api.size()
    refused = api.client.post(f"{PREFIX}/statements", json=grant, headers=narrow)
    problem = assert_problem(refused, 403, "auth.forbidden")
    assert "cannot submit role.granted: it needs one of admin" in problem["detail"]
    batch = api.client.post(f"{PREFIX}/statements/batch", json={"envelopes": [grant]}, headers=narrow)
    assert_problem(batch, 403, "auth.forbidden")
    assert api.size() == size
    # What `auditor` may sign, the same token submits.
    report = api.sign(
        "incident.reported",
        api.connector("IN_OPERATION", TECH),
        ADMIN,
        {"category": "tamper_suspected", "description": "audit finding"},
    )
    api.ok(api.client.post(f"{PREFIX}/statements", json=report, headers=narrow), 201)
    assert api.size() == size + 1
