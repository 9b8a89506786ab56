"""Key enrolment for browser-held keys: submit a public key, an administrator approves it.

The "browser" here generates its key pair locally and sends only the
public key; the administrator's client signs ``key.added`` itself. After
approval the new key signs a statement that the API accepts.
"""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.services.enrolment import MAX_PENDING_PER_PARTY
from ledger.keys import Algorithm, SigningKey, ecdsa_raw_to_der
from ledger.trust import key_description
from tests.app.api.conftest import ADMIN, PRACTICE, TECH, Api, assert_problem

ENROLMENT_ID = "f" * 32


def browser_key(algorithm: Algorithm = Algorithm.ECDSA_P256_SHA256) -> SigningKey:
    return SigningKey.generate(algorithm, os.urandom(64))


def spki(key: SigningKey) -> str:
    return base64.b64encode(key.public_key.spki_der).decode()


def enrol(
    api: Api, key: SigningKey, as_: str | None = "technician", label: str = "Firefox auf Tablet T01"
) -> Any:
    return api.post("/enrolments", {"spki": spki(key), "label": label}, as_=as_)


def key_added(api: Api, party: str, key: SigningKey, by: str = ADMIN) -> dict[str, Any]:
    return api.sign("key.added", f"party:{party}", by, key_description(key.public_key))


def test_enrol_approve_and_sign_with_the_new_key(api: Api) -> None:
    key = browser_key()
    created = api.ok(enrol(api, key), 201)
    assert (created["party"], created["keyid"], created["algorithm"], created["status"]) == (
        f"party:{TECH}",
        key.keyid,
        "ecdsa-p256-sha256",
        "pending",
    )
    assert created["key_added_data"] == key_description(key.public_key)
    enrolment_id = created["enrolment_id"]
    size = api.size()
    assert api.size() == size  # nothing in the log yet

    # Before approval the key signs nothing the ledger accepts.
    subject = api.connector("IN_OPERATION", TECH)
    early = api.sign("service.visit", subject, TECH, {"reason": "Sichtprüfung"}, keys=[key])
    assert_problem(api.post("/statements", early, as_="technician"), 403, "auth.key_unknown")

    # The administrator sees the pending enrolment and approves it with a statement signed client-side.
    pending = api.ok(api.get("/enrolments"))["items"]
    assert [e["enrolment_id"] for e in pending] == [enrolment_id]
    assert api.ok(api.get(f"/enrolments/{enrolment_id}")) == created
    approved = api.ok(
        api.post(f"/enrolments/{enrolment_id}/approve", {"envelope": key_added(api, TECH, key)})
    )
    indices = api.verify_receipts(approved["receipts"])
    assert indices == [size]
    assert approved["enrolment"]["status"] == "approved"
    assert approved["enrolment"]["entry_index"] == size
    assert approved["enrolment"]["decided_by"] == f"party:{ADMIN}"
    assert api.ok(api.get(f"/enrolments/{enrolment_id}", as_="technician"))["status"] == "approved"
    assert api.ok(api.get("/enrolments"))["items"] == []
    party = api.ok(api.get(f"/parties/{TECH}"))
    assert {k["keyid"]: k["added_at"] for k in party["keys"]}[key.keyid] == size + 1

    # The browser key now signs what the API accepts (ECDSA from WebCrypto arrives as raw r‖s: converted).
    visit = api.statement_envelope("service.visit", subject, TECH, {"reason": "Sichtprüfung"}, keys=[key])
    der = key.sign(visit.signed_bytes)
    assert ecdsa_raw_to_der(_raw(der), Algorithm.ECDSA_P256_SHA256) == der
    receipt = api.ok(api.post("/statements", visit.to_json(), as_="technician"), 201)["receipts"][0]
    assert api.verify_receipts([receipt]) == [size + 1]
    entry = api.ok(api.get(f"/connectors/{subject}"))["history"][-1]
    assert entry["signers"] == [
        {"keyid": key.keyid, "party": f"party:{TECH}", "valid": True, "problem": None}
    ]
    assert entry["verification"]["verified"] is True


def _raw(der: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def test_reject_an_enrolment(api: Api) -> None:
    key = browser_key(Algorithm.ED25519)
    created = api.ok(enrol(api, key, as_="practice", label="Praxis-PC Empfang"), 201)
    assert created["party"] == f"party:{PRACTICE}"
    enrolment_id = created["enrolment_id"]
    assert_problem(
        api.post(f"/enrolments/{enrolment_id}/reject", {"reason": "unbekanntes Gerät"}, as_="practice"),
        403,
        "auth.forbidden",
    )
    size = api.size()
    rejected = api.ok(api.post(f"/enrolments/{enrolment_id}/reject", {"reason": "unbekanntes Gerät"}))
    assert (rejected["status"], rejected["reason"], rejected["decided_by"]) == (
        "rejected",
        "unbekanntes Gerät",
        f"party:{ADMIN}",
    )
    assert rejected["entry_index"] is None
    assert api.size() == size
    # Decided is decided: no approval, no second rejection, no re-enrolment of the same key.
    approve = {"envelope": key_added(api, PRACTICE, key)}
    assert_problem(api.post(f"/enrolments/{enrolment_id}/approve", approve), 409, "conflict.enrolment_closed")
    assert_problem(
        api.post(f"/enrolments/{enrolment_id}/reject", {"reason": "again"}), 409, "conflict.enrolment_closed"
    )
    assert_problem(enrol(api, key, as_="practice"), 409, "conflict.enrolment_exists")
    assert api.size() == size
    mine = api.ok(api.get("/enrolments", as_="practice", status="rejected"))["items"]
    assert [e["enrolment_id"] for e in mine] == [enrolment_id]


def test_approval_must_be_for_exactly_this_party_and_key(api: Api) -> None:
    key = browser_key()
    enrolment_id = api.ok(enrol(api, key), 201)["enrolment_id"]
    other = browser_key()
    size = api.size()

    def approve(envelope: dict[str, Any], as_: str = "admin") -> Any:
        return api.post(f"/enrolments/{enrolment_id}/approve", {"envelope": envelope}, as_=as_)

    assert_problem(approve(key_added(api, TECH, other)), 400, "input.enrolment_mismatch")
    assert_problem(approve(key_added(api, "TECH-02", key)), 400, "input.enrolment_mismatch")
    revoke = api.sign("key.revoked", f"party:{TECH}", ADMIN, {"keyid": key.keyid, "reason": "x"})
    assert_problem(approve(revoke), 400, "input.enrolment_mismatch")
    # Signed by someone who is not the approving administrator.
    assert_problem(approve(key_added(api, TECH, key, by=TECH)), 403, "auth.forbidden")
    # The right statement, but not signed by the administrator's key: the ledger refuses it.
    forged = api.sign(
        "key.added", f"party:{TECH}", ADMIN, key_description(key.public_key), keys=[browser_key()]
    )
    assert_problem(approve(forged), 403, "auth.key_unknown")
    # Only administrators approve.
    assert_problem(approve(key_added(api, TECH, key), as_="technician"), 403, "auth.forbidden")
    assert_problem(approve(key_added(api, TECH, key), as_="auditor"), 403, "auth.forbidden")
    assert api.size() == size
    assert api.ok(api.get(f"/enrolments/{enrolment_id}"))["status"] == "pending"
    api.ok(approve(key_added(api, TECH, key)))
    assert api.size() == size + 1


def test_keys_are_validated_on_submission(api: Api) -> None:
    existing = api.key(TECH)
    assert_problem(enrol(api, existing), 409, "conflict.key_registered")
    key = browser_key(Algorithm.ECDSA_BP256R1_SHA256)
    api.ok(enrol(api, key), 201)
    assert_problem(enrol(api, key), 409, "conflict.enrolment_exists")
    assert_problem(enrol(api, key, as_="carrier"), 409, "conflict.enrolment_exists")

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    rsa_spki = rsa_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    p384_spki = p384.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    compressed = _compressed_spki(browser_key())

    def submit(value: str) -> Any:
        return api.post("/enrolments", {"spki": value, "label": "x"}, as_="technician")

    assert_problem(submit(base64.b64encode(rsa_spki).decode()), 400, "input.key.algorithm")
    assert_problem(submit(base64.b64encode(p384_spki).decode()), 400, "input.key.algorithm")
    assert_problem(submit(base64.b64encode(compressed).decode()), 400, "input.key")
    assert_problem(submit(base64.b64encode(b"not a key at all").decode()), 400, "input.key")
    assert_problem(submit("not base64!!"), 400, "input.base64")
    for body in (
        {"spki": spki(browser_key())},
        {"spki": "", "label": "x"},
        {"spki": spki(browser_key()), "label": ""},
        {"spki": spki(browser_key()), "label": "x" * 201},
        {"spki": "A" * 1025, "label": "x"},
        {"spki": spki(browser_key()), "label": "x", "party": "ADMIN-01"},
    ):
        assert_problem(api.post("/enrolments", body, as_="technician"), 422, "input.request")
    assert_problem(
        api.post("/enrolments", {"spki": spki(browser_key()), "label": "\x07"}, as_="technician"),
        400,
        "input.invalid",
    )
    assert_problem(enrol(api, browser_key(), as_=None), 401, "auth.token_missing")


def _compressed_spki(key: SigningKey) -> bytes:
    """The same P-256 key with a compressed point: another DER for one key (refused)."""
    public = serialization.load_der_public_key(key.public_key.spki_der)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    point = public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    prefix = key.public_key.spki_der[:-65]  # the DER header up to the BIT STRING's content
    header = bytearray(prefix)
    # SEQUENCE length and BIT STRING length shrink by 32 bytes.
    header[1] -= 32
    header[-2] -= 32
    return bytes(header) + point


def test_each_party_sees_its_own_enrolments_and_administrators_see_all(api: Api) -> None:
    mine = api.ok(enrol(api, browser_key()), 201)
    theirs = api.ok(enrol(api, browser_key(), as_="carrier"), 201)
    assert [e["enrolment_id"] for e in api.ok(api.get("/enrolments", as_="technician"))["items"]] == [
        mine["enrolment_id"]
    ]
    assert_problem(api.get(f"/enrolments/{theirs['enrolment_id']}", as_="technician"), 404, "input.not_found")
    everyone = {e["enrolment_id"] for e in api.ok(api.get("/enrolments"))["items"]}
    assert everyone == {mine["enrolment_id"], theirs["enrolment_id"]}
    only = api.ok(api.get("/enrolments", party="CR-SECURA-01"))["items"]
    assert [e["enrolment_id"] for e in only] == [theirs["enrolment_id"]]
    # A non-administrator's party filter cannot widen the view.
    assert [
        e["enrolment_id"]
        for e in api.ok(api.get("/enrolments", as_="technician", party="CR-SECURA-01"))["items"]
    ] == [mine["enrolment_id"]]
    page = api.ok(api.get("/enrolments", limit=1))
    assert len(page["items"]) == 1
    assert page["next_offset"] == 1
    assert api.ok(api.get("/enrolments", status="all"))["items"] == api.ok(api.get("/enrolments"))["items"]


@pytest.mark.parametrize("as_", [None, "technician"])
def test_enrolment_errors(api: Api, as_: str | None) -> None:
    for bad in ("nope", "F" * 32, "f" * 31):
        response = api.get(f"/enrolments/{bad}", as_=as_ or "admin")
        assert_problem(response, 422, "input.request")
    assert_problem(api.get(f"/enrolments/{ENROLMENT_ID}"), 404, "input.not_found")
    assert_problem(api.post(f"/enrolments/{ENROLMENT_ID}/reject", {"reason": "x"}), 404, "input.not_found")
    envelope = key_added(api, TECH, browser_key())
    assert_problem(
        api.post(f"/enrolments/{ENROLMENT_ID}/approve", {"envelope": envelope}), 404, "input.not_found"
    )
    for params in ({"status": "open"}, {"limit": 1001}, {"party": "bad party"}):
        assert_problem(api.get("/enrolments", **params), 422, "input.request")
    for body in ({}, {"reason": ""}, {"reason": "x" * 1001}):
        assert_problem(api.post(f"/enrolments/{ENROLMENT_ID}/reject", body), 422, "input.request")
    assert_problem(api.post(f"/enrolments/{ENROLMENT_ID}/approve", {}), 422, "input.request")
    for path in ("/enrolments", f"/enrolments/{ENROLMENT_ID}"):
        assert_problem(api.get(path, as_=None), 401, "auth.token_missing")
    assert_problem(
        api.post(f"/enrolments/{ENROLMENT_ID}/approve", {"envelope": envelope}, as_=None),
        401,
        "auth.token_missing",
    )
    assert_problem(
        api.post(f"/enrolments/{ENROLMENT_ID}/reject", {"reason": "x"}, as_="practice"), 403, "auth.forbidden"
    )


def test_a_party_has_a_bounded_number_of_undecided_enrolments(api: Api) -> None:
    waiting = api.ok(api.get("/enrolments", as_="practice", status="pending"))["items"]
    for number in range(MAX_PENDING_PER_PARTY - len(waiting)):
        api.ok(enrol(api, browser_key(Algorithm.ED25519), as_="practice", label=f"Gerät {number}"), 201)
    refused = enrol(api, browser_key(Algorithm.ED25519), as_="practice")
    assert_problem(refused, 409, "conflict.too_many_pending_enrolments")
    # Other parties are not affected; a decision frees a place.
    api.ok(enrol(api, browser_key(Algorithm.ED25519), as_="technician"), 201)
    oldest = api.ok(api.get("/enrolments", as_="practice", status="pending"))["items"][0]
    api.ok(api.post(f"/enrolments/{oldest['enrolment_id']}/reject", {"reason": "zu viele Geräte"}))
    api.ok(enrol(api, browser_key(Algorithm.ED25519), as_="practice"), 201)
