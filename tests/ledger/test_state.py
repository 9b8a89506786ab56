"""admit/apply with the trust kinds: genesis, parties, keys and roles."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from ledger.entry import encode_entry
from ledger.envelope import Envelope, Signature, sign_envelope
from ledger.errors import (
    InvalidData,
    InvalidSignature,
    KeyRevoked,
    LedgerError,
    MissingRole,
    MissingSignature,
    RuleViolation,
    UnknownKey,
    UnknownKind,
)
from ledger.keys import Algorithm, SigningKey
from ledger.merkle import hash_leaf
from ledger.note import CosignatureSigner, Ed25519NoteSigner
from ledger.state import Context, LedgerState, admit, apply
from ledger.statement import Statement, new_statement
from ledger.times import format_timestamp
from ledger.trust import key_description

ORIGIN = "test.custody.local/ledger"
ADMIN = "party:ADMIN-01"
LOG_KEY = SigningKey.generate(Algorithm.ED25519, b"\x01" * 32)
LOG_VKEY = Ed25519NoteSigner(ORIGIN, LOG_KEY).vkey()
ADMIN_KEY = SigningKey.generate(Algorithm.ED25519, b"\x02" * 32)
T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def key(n: int, algorithm: Algorithm = Algorithm.ED25519) -> SigningKey:
    return SigningKey.generate(algorithm, bytes([n]) * 32)


def genesis_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "origin": ORIGIN,
        "log_vkey": LOG_VKEY,
        "admin": ADMIN,
        "name": "Test administration",
        "key": key_description(ADMIN_KEY.public_key),
    }
    data.update(changes)
    return data


@dataclass
class Log:
    """A log in memory: admits, applies and records entries like the store does."""

    state: LedgerState = field(default_factory=LedgerState)
    index: int = 0
    nonce: int = 0
    heads: dict[str, bytes] = field(default_factory=dict)

    def sign(
        self, kind: str, subject: str, by: str, data: dict[str, Any], keys: list[SigningKey]
    ) -> tuple[Envelope, Statement]:
        self.nonce += 1
        statement = new_statement(
            kind=kind,
            subject=subject,
            by=by,
            data=data,
            at=T0 + timedelta(seconds=self.nonce),
            nonce=self.nonce.to_bytes(16, "big"),
        )
        return sign_envelope(statement.to_bytes(), keys), statement

    def admit(self, envelope: Envelope, statement: Statement, index: int | None = None) -> Context:
        at = index if index is not None else self.index
        return admit(self.state, at, envelope, statement, format_timestamp(T0, millis=True))

    def append(
        self, kind: str, subject: str, by: str, data: dict[str, Any], keys: list[SigningKey]
    ) -> Context:
        envelope, statement = self.sign(kind, subject, by, data, keys)
        ctx = self.admit(envelope, statement)
        raw = encode_entry(index=self.index, prev=self.heads.get(subject), recorded_at=T0, envelope=envelope)
        leaf = hash_leaf(raw)
        ctx = apply(self.state, ctx, leaf)
        self.heads[subject] = leaf
        self.index += 1
        return ctx

    def refuse(
        self,
        error: type[LedgerError],
        kind: str,
        subject: str,
        by: str,
        data: dict[str, Any],
        keys: list[SigningKey],
    ) -> LedgerError:
        envelope, statement = self.sign(kind, subject, by, data, keys)
        size = self.state.size
        with pytest.raises(LedgerError) as caught:
            self.admit(envelope, statement)
        assert type(caught.value) is error, caught.value
        assert self.state.size == size
        return caught.value

    # Shorthands.
    def genesis(self, **changes: Any) -> Context:
        return self.append("ledger.genesis", f"ledger:{ORIGIN}", ADMIN, genesis_data(**changes), [ADMIN_KEY])

    def register(
        self, party: str, roles: list[str], by: str = ADMIN, signer: SigningKey = ADMIN_KEY
    ) -> Context:
        return self.append(
            "party.registered", party, by, {"name": f"Party {party}", "roles": roles}, [signer]
        )

    def add_key(
        self, party: str, new: SigningKey, by: str = ADMIN, signer: SigningKey = ADMIN_KEY
    ) -> Context:
        return self.append("key.added", party, by, key_description(new.public_key), [signer])

    def party_with_key(self, party: str, roles: list[str], new: SigningKey) -> None:
        self.register(party, roles)
        self.add_key(party, new)


def started() -> Log:
    log = Log()
    log.genesis()
    return log


def rule_of(error: LedgerError) -> str:
    assert isinstance(error, RuleViolation)
    return error.rule


# --------------------------------------------------------------------------
# Genesis.


def test_genesis_sets_up_the_ledger() -> None:
    log = Log()
    ctx = log.genesis()
    state = log.state
    assert ctx.index == 0
    assert ctx.signers == frozenset({ADMIN})
    assert len(ctx.leaf_hash) == 32
    assert state.origin == ORIGIN
    assert state.log_vkey == LOG_VKEY
    assert state.size == 1
    assert state.roles_of(ADMIN) == {"admin"}
    record = state.keys[ADMIN_KEY.keyid]
    assert (record.party, record.added_at, record.revoked_at) == (ADMIN, 0, None)
    assert record.public_key == ADMIN_KEY.public_key


def test_genesis_must_come_first() -> None:
    log = Log()
    error = log.refuse(RuleViolation, "party.registered", "party:WH-01", ADMIN, {"name": "WH"}, [ADMIN_KEY])
    assert rule_of(error) == "rule.genesis_first"
    assert error.code == "rule.violation"


def test_genesis_only_once() -> None:
    log = started()
    error = log.refuse(
        RuleViolation, "ledger.genesis", f"ledger:{ORIGIN}", ADMIN, genesis_data(), [ADMIN_KEY]
    )
    assert rule_of(error) == "rule.genesis_first"


def test_genesis_must_be_entry_zero() -> None:
    log = Log()
    envelope, statement = log.sign("ledger.genesis", f"ledger:{ORIGIN}", ADMIN, genesis_data(), [ADMIN_KEY])
    with pytest.raises(RuleViolation) as caught:
        log.admit(envelope, statement, index=3)
    assert caught.value.rule == "rule.genesis_first"


def test_genesis_must_be_signed_by_the_key_it_declares() -> None:
    log = Log()
    log.refuse(UnknownKey, "ledger.genesis", f"ledger:{ORIGIN}", ADMIN, genesis_data(), [key(9)])
    log.refuse(UnknownKey, "ledger.genesis", f"ledger:{ORIGIN}", ADMIN, genesis_data(), [ADMIN_KEY, key(9)])


def test_genesis_must_be_by_the_declared_admin() -> None:
    log = Log()
    log.refuse(
        MissingSignature, "ledger.genesis", f"ledger:{ORIGIN}", "party:OTHER", genesis_data(), [ADMIN_KEY]
    )


@pytest.mark.parametrize(
    ("subject", "changes", "error"),
    [
        ("ledger:other.origin/x", {}, InvalidData),
        (f"ledger:{ORIGIN}", {"log_vkey": Ed25519NoteSigner("other.origin/x", LOG_KEY).vkey()}, InvalidData),
        (f"ledger:{ORIGIN}", {"log_vkey": CosignatureSigner(ORIGIN, LOG_KEY, 0).vkey()}, InvalidData),
        (f"ledger:{ORIGIN}", {"log_vkey": "not a vkey"}, InvalidData),
        (f"ledger:{ORIGIN}", {"key": key_description(key(9).public_key)}, UnknownKey),
        (
            f"ledger:{ORIGIN}",
            {"key": {**key_description(ADMIN_KEY.public_key), "keyid": "0" * 64}},
            InvalidData,
        ),
        (
            f"ledger:{ORIGIN}",
            {"key": {**key_description(ADMIN_KEY.public_key), "algorithm": "ecdsa-p256-sha256"}},
            InvalidData,
        ),
        (f"ledger:{ORIGIN}", {"admin": "location:ADMIN-01"}, InvalidData),
        (f"ledger:{ORIGIN}", {"extra": "field"}, InvalidData),
    ],
    ids=[
        "subject-not-the-origin",
        "log-key-named-otherwise",
        "log-key-is-a-cosignature-key",
        "garbage-log-key",
        "declared-key-is-not-the-signer",
        "declared-keyid-mismatch",
        "declared-algorithm-mismatch",
        "admin-not-a-party",
        "unknown-field",
    ],
)
def test_bad_genesis_data(subject: str, changes: dict[str, Any], error: type[LedgerError]) -> None:
    log = Log()
    envelope, statement = log.sign("ledger.genesis", subject, ADMIN, genesis_data(**changes), [ADMIN_KEY])
    with pytest.raises(LedgerError) as caught:
        log.admit(envelope, statement)
    assert type(caught.value) is error, caught.value
    assert log.state.origin is None


# --------------------------------------------------------------------------
# Keys.


def test_key_added_is_usable_from_the_next_index() -> None:
    log = started()
    carrier = key(3)
    log.register("party:CARRIER-01", ["carrier"])
    ctx = log.add_key("party:CARRIER-01", carrier)
    record = log.state.keys[carrier.keyid]
    assert record.added_at == ctx.index + 1
    assert record.party == "party:CARRIER-01"
    # At the index of its own addition the key is not yet valid ...
    envelope, statement = log.sign(
        "party.registered", "party:X-01", "party:CARRIER-01", {"name": "X"}, [carrier]
    )
    with pytest.raises(UnknownKey):
        log.admit(envelope, statement, index=ctx.index)
    # ... from the next one it is (and then the missing admin role is what fails).
    with pytest.raises(MissingRole):
        log.admit(envelope, statement, index=ctx.index + 1)


def test_a_key_cannot_sign_its_own_addition() -> None:
    log = started()
    new = key(3)
    log.register("party:CARRIER-01", ["carrier"])
    log.refuse(
        UnknownKey, "key.added", "party:CARRIER-01", ADMIN, key_description(new.public_key), [ADMIN_KEY, new]
    )


def test_a_second_admin_key_signs_after_it_was_added() -> None:
    log = started()
    second = key(4, Algorithm.ECDSA_BP256R1_SHA256)
    log.add_key(ADMIN, second)
    ctx = log.register("party:WH-01", ["warehouse"], signer=second)
    assert ctx.signers == frozenset({ADMIN})
    assert log.state.roles_of("party:WH-01") == {"warehouse"}


def test_unknown_key() -> None:
    log = started()
    log.refuse(UnknownKey, "party.registered", "party:WH-01", ADMIN, {"name": "WH"}, [key(9)])
    log.refuse(UnknownKey, "party.registered", "party:WH-01", ADMIN, {"name": "WH"}, [ADMIN_KEY, key(9)])


def test_revoked_key() -> None:
    log = started()
    second = key(4)
    log.add_key(ADMIN, second)
    log.register("party:WH-00", ["warehouse"], signer=second)
    ctx = log.append("key.revoked", ADMIN, ADMIN, {"keyid": second.keyid, "reason": "lost"}, [ADMIN_KEY])
    assert log.state.keys[second.keyid].revoked_at == ctx.index
    log.refuse(KeyRevoked, "party.registered", "party:WH-01", ADMIN, {"name": "WH"}, [second])
    log.refuse(KeyRevoked, "party.registered", "party:WH-01", ADMIN, {"name": "WH"}, [ADMIN_KEY, second])
    # Revocation takes effect with the revoking entry itself ...
    envelope, statement = log.sign("party.registered", "party:WH-01", ADMIN, {"name": "WH"}, [second])
    with pytest.raises(KeyRevoked):
        log.admit(envelope, statement, index=ctx.index)
    # ... and not before it.
    assert log.admit(envelope, statement, index=ctx.index - 1).signers == frozenset({ADMIN})
    # The other admin key still works.
    log.register("party:WH-01", ["warehouse"])


def test_a_revoked_key_cannot_come_back() -> None:
    log = started()
    second = key(4)
    log.add_key(ADMIN, second)
    log.append("key.revoked", ADMIN, ADMIN, {"keyid": second.keyid, "reason": "lost"}, [ADMIN_KEY])
    error = log.refuse(
        RuleViolation, "key.added", ADMIN, ADMIN, key_description(second.public_key), [ADMIN_KEY]
    )
    assert rule_of(error) == "rule.key_unique"
    error = log.refuse(
        RuleViolation, "key.revoked", ADMIN, ADMIN, {"keyid": second.keyid, "reason": "again"}, [ADMIN_KEY]
    )
    assert rule_of(error) == "rule.key_revoked_once"


def test_key_revoked_must_name_a_key_of_that_party() -> None:
    log = started()
    log.register("party:WH-01", ["warehouse"])
    for keyid in (ADMIN_KEY.keyid, "ab" * 32):
        error = log.refuse(
            RuleViolation, "key.revoked", "party:WH-01", ADMIN, {"keyid": keyid, "reason": "x"}, [ADMIN_KEY]
        )
        assert rule_of(error) == "rule.key_of_party"


def test_duplicate_key() -> None:
    log = started()
    wh = key(5)
    log.party_with_key("party:WH-01", ["warehouse"], wh)
    log.register("party:WH-02", ["warehouse"])
    for party in ("party:WH-01", "party:WH-02", ADMIN):
        error = log.refuse(
            RuleViolation, "key.added", party, ADMIN, key_description(wh.public_key), [ADMIN_KEY]
        )
        assert rule_of(error) == "rule.key_unique"
    error = log.refuse(
        RuleViolation, "key.added", "party:WH-02", ADMIN, key_description(ADMIN_KEY.public_key), [ADMIN_KEY]
    )
    assert rule_of(error) == "rule.key_unique"


def test_key_added_for_an_unregistered_party() -> None:
    log = started()
    error = log.refuse(
        RuleViolation, "key.added", "party:NOBODY", ADMIN, key_description(key(5).public_key), [ADMIN_KEY]
    )
    assert rule_of(error) == "rule.party_registered"


def _compressed_spki(signing_key: SigningKey) -> bytes:
    public = serialization.load_der_public_key(signing_key.public_key.spki_der)
    point = public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    spki = signing_key.public_key.spki_der
    algorithm_id = spki[2 : 4 + spki[3]]
    body = algorithm_id + b"\x03" + bytes([len(point) + 1]) + b"\x00" + point
    return b"\x30" + bytes([len(body)]) + body


P256 = key(6, Algorithm.ECDSA_P256_SHA256)
ED = key(7)


@pytest.mark.parametrize(
    "data",
    [
        {**key_description(ED.public_key), "keyid": key(8).keyid},
        {**key_description(ED.public_key), "keyid": ED.keyid.upper()},
        {**key_description(ED.public_key), "algorithm": "ecdsa-p256-sha256"},
        {**key_description(P256.public_key), "algorithm": "ecdsa-brainpoolp256r1-sha256"},
        {**key_description(ED.public_key), "algorithm": "rsa"},
        {**key_description(ED.public_key), "spki": key_description(P256.public_key)["spki"]},
        {**key_description(ED.public_key), "spki": base64.b64encode(b"not a key").decode()},
        {**key_description(ED.public_key), "spki": "not base64"},
        {
            "keyid": hashlib.sha256(_compressed_spki(P256)).hexdigest(),
            "algorithm": "ecdsa-p256-sha256",
            "spki": base64.b64encode(_compressed_spki(P256)).decode(),
        },
        {"keyid": ED.keyid, "algorithm": "ed25519"},
        {**key_description(ED.public_key), "extra": 1},
    ],
    ids=[
        "keyid-of-another-key",
        "keyid-uppercase",
        "algorithm-mismatch",
        "curve-mismatch",
        "unknown-algorithm",
        "spki-of-another-key",
        "spki-garbage",
        "spki-not-base64",
        "spki-compressed-point",
        "spki-missing",
        "extra-field",
    ],
)
def test_key_added_with_mismatching_data(data: dict[str, Any]) -> None:
    log = started()
    log.register("party:WH-01", ["warehouse"])
    log.refuse(InvalidData, "key.added", "party:WH-01", ADMIN, data, [ADMIN_KEY])


# --------------------------------------------------------------------------
# Signatures and roles.


def test_author_must_sign() -> None:
    log = started()
    wh = key(5)
    log.party_with_key("party:WH-01", ["warehouse"], wh)
    log.refuse(MissingSignature, "party.registered", "party:WH-02", ADMIN, {"name": "WH"}, [wh])


def test_author_needs_the_admin_role() -> None:
    log = started()
    wh = key(5)
    log.party_with_key("party:WH-01", ["warehouse"], wh)
    cases = [
        ("party.registered", "party:WH-02", {"name": "WH 2"}),
        ("role.granted", "party:WH-01", {"role": "admin"}),
        ("key.added", "party:WH-01", key_description(key(9).public_key)),
        ("key.revoked", "party:WH-01", {"keyid": wh.keyid, "reason": "x"}),
    ]
    for kind, subject, data in cases:
        error = log.refuse(MissingRole, kind, subject, "party:WH-01", data, [wh])
        assert error.code == "auth.role_missing"


def test_bad_signature() -> None:
    log = started()
    envelope, statement = log.sign("party.registered", "party:WH-01", ADMIN, {"name": "WH"}, [ADMIN_KEY])
    sig = bytearray(envelope.signatures[0].sig)
    sig[10] ^= 0x40
    tampered = replace(envelope, signatures=(Signature(ADMIN_KEY.keyid, bytes(sig)),))
    with pytest.raises(InvalidSignature):
        log.admit(tampered, statement)
    # A signature over another statement does not transfer either.
    other, _ = log.sign("party.registered", "party:WH-02", ADMIN, {"name": "WH"}, [ADMIN_KEY])
    with pytest.raises(InvalidSignature):
        log.admit(replace(envelope, signatures=other.signatures), statement)
    # The verifier defers signature checks: then admit decides on the rest alone.
    ctx = admit(log.state, log.index, tampered, statement, "2026-11-28T10:00:00.000Z", check_crypto=False)
    assert ctx.keys[0][0].sig == bytes(sig)


def test_role_grant_and_revoke() -> None:
    log = started()
    wh = key(5)
    log.party_with_key("party:WH-01", ["warehouse"], wh)
    log.refuse(MissingRole, "party.registered", "party:WH-02", "party:WH-01", {"name": "WH"}, [wh])
    log.append("role.granted", "party:WH-01", ADMIN, {"role": "admin"}, [ADMIN_KEY])
    assert log.state.roles_of("party:WH-01") == {"warehouse", "admin"}
    log.register("party:WH-02", [], by="party:WH-01", signer=wh)
    error = log.refuse(RuleViolation, "role.granted", "party:WH-01", ADMIN, {"role": "admin"}, [ADMIN_KEY])
    assert rule_of(error) == "rule.role_once"
    log.append("role.revoked", "party:WH-01", ADMIN, {"role": "admin"}, [ADMIN_KEY])
    assert log.state.roles_of("party:WH-01") == {"warehouse"}
    log.refuse(MissingRole, "party.registered", "party:WH-03", "party:WH-01", {"name": "WH"}, [wh])
    error = log.refuse(RuleViolation, "role.revoked", "party:WH-01", ADMIN, {"role": "admin"}, [ADMIN_KEY])
    assert rule_of(error) == "rule.role_held"
    error = log.refuse(RuleViolation, "role.granted", "party:NOBODY", ADMIN, {"role": "carrier"}, [ADMIN_KEY])
    assert rule_of(error) == "rule.party_registered"
    error = log.refuse(RuleViolation, "role.revoked", "party:NOBODY", ADMIN, {"role": "carrier"}, [ADMIN_KEY])
    assert rule_of(error) == "rule.party_registered"
    log.refuse(InvalidData, "role.granted", "party:WH-01", ADMIN, {"role": "superuser"}, [ADMIN_KEY])


def test_party_registered_once() -> None:
    log = started()
    log.register("party:WH-01", ["warehouse"])
    error = log.refuse(
        RuleViolation, "party.registered", "party:WH-01", ADMIN, {"name": "again"}, [ADMIN_KEY]
    )
    assert rule_of(error) == "rule.party_unique"
    twice = {"name": "x", "roles": ["warehouse", "warehouse"]}
    log.refuse(InvalidData, "party.registered", "party:WH-02", ADMIN, twice, [ADMIN_KEY])
    log.refuse(InvalidData, "party.registered", "party:WH-02", ADMIN, {"name": ""}, [ADMIN_KEY])


def test_unknown_kind_and_wrong_subject_type() -> None:
    log = started()
    log.refuse(UnknownKind, "no.such.kind", "party:WH-01", ADMIN, {}, [ADMIN_KEY])
    log.refuse(InvalidData, "party.registered", "location:WH-01", ADMIN, {"name": "WH"}, [ADMIN_KEY])


def test_state_size_follows_applied_entries() -> None:
    log = started()
    log.register("party:WH-01", ["warehouse"])
    log.register("party:WH-02", ["warehouse"])
    assert log.state.size == 3
    assert set(log.state.parties) == {ADMIN, "party:WH-01", "party:WH-02"}
    assert log.state.parties["party:WH-02"].registered_at == 2
