"""DSSE envelopes: PAE, signing, and a bad-input matrix with the specific error classes."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

import pytest

from ledger import canonical
from ledger.envelope import MAX_SIGNATURES, PAYLOAD_TYPE, Envelope, Signature, pae, sign_envelope
from ledger.errors import (
    FloatNotAllowed,
    InvalidBase64,
    InvalidSignature,
    LedgerError,
    MalformedEnvelope,
    TrailingData,
    WrongPayloadType,
)
from ledger.keys import Algorithm, SigningKey

KEY = SigningKey.generate(Algorithm.ED25519, b"\x11" * 32)
KEY_P256 = SigningKey.generate(Algorithm.ECDSA_P256_SHA256, b"\x12" * 32)
KEY_BP = SigningKey.generate(Algorithm.ECDSA_BP256R1_SHA256, b"\x13" * 32)
PAYLOAD = b'{"v":"kcl/statement/v1"}'


def test_pae_known_answer_from_the_dsse_spec() -> None:
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_edge_cases() -> None:
    assert pae("", b"") == b"DSSEv1 0  0 "
    # Lengths are byte counts, not character counts.
    assert pae("täst", b"\x00\xff") == "DSSEv1 5 täst 2 ".encode() + b"\x00\xff"
    assert pae(PAYLOAD_TYPE, PAYLOAD) == b"DSSEv1 37 application/vnd.kcl.statement.v1+json 24 " + PAYLOAD
    # The length prefix keeps type and payload apart.
    assert pae("a b", b"c") != pae("a", b"b c")


def test_sign_envelope_and_verify_each_signature() -> None:
    envelope = sign_envelope(PAYLOAD, [KEY, KEY_P256, KEY_BP])
    assert envelope.payload_type == PAYLOAD_TYPE
    assert envelope.signed_bytes == pae(PAYLOAD_TYPE, PAYLOAD)
    assert [s.keyid for s in envelope.signatures] == [KEY.keyid, KEY_P256.keyid, KEY_BP.keyid]
    for signature, key in zip(envelope.signatures, [KEY, KEY_P256, KEY_BP], strict=True):
        assert key.public_key.verify(signature.sig, envelope.signed_bytes) is None  # type: ignore[func-returns-value]  # the None return is checked at runtime
        # Not over the payload alone: PAE binds the type too.
        with pytest.raises(InvalidSignature):
            key.public_key.verify(signature.sig, PAYLOAD)


def test_json_round_trip() -> None:
    envelope = sign_envelope(PAYLOAD, [KEY])
    value = envelope.to_json()
    assert value == {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(PAYLOAD).decode(),
        "signatures": [{"keyid": KEY.keyid, "sig": base64.b64encode(envelope.signatures[0].sig).decode()}],
    }
    assert Envelope.from_json(value) == envelope
    assert Envelope.from_json(canonical.decode(canonical.encode(value))) == envelope


def test_countersignature() -> None:
    envelope = sign_envelope(PAYLOAD, [KEY]).with_signature(KEY_P256)
    assert [s.keyid for s in envelope.signatures] == [KEY.keyid, KEY_P256.keyid]
    with pytest.raises(MalformedEnvelope, match="already signed"):
        envelope.with_signature(KEY)


def test_sign_envelope_needs_a_key_and_each_key_once() -> None:
    with pytest.raises(MalformedEnvelope):
        sign_envelope(PAYLOAD, [])
    with pytest.raises(MalformedEnvelope):
        sign_envelope(PAYLOAD, [KEY, KEY])


# --------------------------------------------------------------------------
# The bad-input matrix: each mutation of a good envelope and its exact error.

GOOD = sign_envelope(PAYLOAD, [KEY, KEY_P256]).to_json()
SIG = GOOD["signatures"][0]["sig"]


def _mutate(change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    value = copy.deepcopy(GOOD)
    change(value)
    return value


def _set(path: tuple[Any, ...], item: Any) -> Callable[[dict[str, Any]], None]:
    def change(value: dict[str, Any]) -> None:
        target = value
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = item

    return change


def _delete(path: tuple[Any, ...]) -> Callable[[dict[str, Any]], None]:
    def change(value: dict[str, Any]) -> None:
        target = value
        for step in path[:-1]:
            target = target[step]
        del target[path[-1]]

    return change


BAD_ENVELOPES: dict[str, tuple[Any, type[LedgerError]]] = {
    "not-an-object": ([GOOD], MalformedEnvelope),
    "a-string": ("envelope", MalformedEnvelope),
    "null": (None, MalformedEnvelope),
    "missing-payloadType": (_mutate(_delete(("payloadType",))), MalformedEnvelope),
    "missing-payload": (_mutate(_delete(("payload",))), MalformedEnvelope),
    "missing-signatures": (_mutate(_delete(("signatures",))), MalformedEnvelope),
    "extra-field": (_mutate(_set(("comment",), "hi")), MalformedEnvelope),
    "payloadType-not-a-string": (_mutate(_set(("payloadType",), 1)), MalformedEnvelope),
    "payload-not-a-string": (_mutate(_set(("payload",), ["e30="])), MalformedEnvelope),
    "wrong-payloadType": (_mutate(_set(("payloadType",), "application/json")), WrongPayloadType),
    "in-toto-payloadType": (
        _mutate(_set(("payloadType",), "application/vnd.in-toto+json")),
        WrongPayloadType,
    ),
    "payloadType-case": (_mutate(_set(("payloadType",), PAYLOAD_TYPE.upper())), WrongPayloadType),
    "payloadType-v2": (
        _mutate(_set(("payloadType",), "application/vnd.kcl.statement.v2+json")),
        WrongPayloadType,
    ),
    "payload-bad-chars": (_mutate(_set(("payload",), "e30*")), InvalidBase64),
    "payload-missing-padding": (_mutate(_set(("payload",), "YQ")), InvalidBase64),
    "payload-trailing-bits": (_mutate(_set(("payload",), "YR==")), InvalidBase64),
    "payload-base64url": (_mutate(_set(("payload",), "-_-_")), InvalidBase64),
    "payload-with-newline": (_mutate(_set(("payload",), "e30=\n")), InvalidBase64),
    "signatures-not-a-list": (
        _mutate(_set(("signatures",), {"keyid": KEY.keyid, "sig": SIG})),
        MalformedEnvelope,
    ),
    "empty-signatures": (_mutate(_set(("signatures",), [])), MalformedEnvelope),
    "too-many-signatures": (
        _mutate(
            _set(
                ("signatures",),
                [{"keyid": f"{i:064x}", "sig": SIG} for i in range(MAX_SIGNATURES + 1)],
            )
        ),
        MalformedEnvelope,
    ),
    "signature-not-an-object": (_mutate(_set(("signatures", 0), SIG)), MalformedEnvelope),
    "signature-missing-sig": (_mutate(_delete(("signatures", 0, "sig"))), MalformedEnvelope),
    "signature-missing-keyid": (_mutate(_delete(("signatures", 0, "keyid"))), MalformedEnvelope),
    "signature-extra-field": (_mutate(_set(("signatures", 0, "cert"), "x")), MalformedEnvelope),
    "keyid-uppercase": (_mutate(_set(("signatures", 0, "keyid"), KEY.keyid.upper())), MalformedEnvelope),
    "keyid-short": (_mutate(_set(("signatures", 0, "keyid"), KEY.keyid[:63])), MalformedEnvelope),
    "keyid-long": (_mutate(_set(("signatures", 0, "keyid"), KEY.keyid + "0")), MalformedEnvelope),
    "keyid-not-hex": (_mutate(_set(("signatures", 0, "keyid"), "g" * 64)), MalformedEnvelope),
    "keyid-not-a-string": (_mutate(_set(("signatures", 0, "keyid"), 7)), MalformedEnvelope),
    "duplicate-keyids": (
        _mutate(_set(("signatures", 1, "keyid"), GOOD["signatures"][0]["keyid"])),
        MalformedEnvelope,
    ),
    "sig-bad-base64": (_mutate(_set(("signatures", 0, "sig"), "not base64")), InvalidBase64),
    "sig-missing-padding": (_mutate(_set(("signatures", 0, "sig"), SIG.rstrip("="))), InvalidBase64),
    "sig-not-a-string": (_mutate(_set(("signatures", 0, "sig"), 5)), InvalidBase64),
}


def test_the_signature_matrix_mutates_a_signature_that_has_padding() -> None:
    assert SIG.endswith("=")  # 64-byte Ed25519 signatures do


@pytest.mark.parametrize(("value", "error"), BAD_ENVELOPES.values(), ids=BAD_ENVELOPES.keys())
def test_bad_envelopes(value: Any, error: type[LedgerError]) -> None:
    with pytest.raises(LedgerError) as caught:
        Envelope.from_json(value)
    assert type(caught.value) is error, caught.value


def test_the_good_envelope_parses() -> None:
    envelope = Envelope.from_json(GOOD)
    assert envelope.payload == PAYLOAD
    assert envelope.signatures[0] == Signature(KEY.keyid, base64.b64decode(SIG))


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (canonical.encode(GOOD) + b"garbage", TrailingData),
        (canonical.encode(GOOD) + b"{}", TrailingData),
        (canonical.encode(GOOD).replace(b'"payloadType"', b'"n":1.5,"payloadType"'), FloatNotAllowed),
    ],
    ids=["garbage-after-json", "second-object", "float-inside"],
)
def test_envelope_bytes_from_the_wire(raw: bytes, error: type[LedgerError]) -> None:
    with pytest.raises(LedgerError) as caught:
        Envelope.from_json(canonical.loads_strict(raw))
    assert type(caught.value) is error
