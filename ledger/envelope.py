"""DSSE envelopes (secure-systems-lab/dsse v1) carrying one statement.

Signatures are over ``PAE(payloadType, payload)``, never over the JSON of the
envelope, so an envelope can be re-serialised (it is, inside an entry)
without touching what was signed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ledger.encoding import b64decode, b64encode
from ledger.errors import MalformedEnvelope, WrongPayloadType
from ledger.keys import SigningKey

PAYLOAD_TYPE = "application/vnd.kcl.statement.v1+json"
MAX_SIGNATURES = 8
_KEYID_LEN = 64


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 Pre-Authentication Encoding."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


@dataclass(frozen=True, slots=True)
class Signature:
    keyid: str
    sig: bytes


@dataclass(frozen=True, slots=True)
class Envelope:
    """An envelope whose structure is valid. Its signatures are *not* yet verified."""

    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "payloadType": self.payload_type,
            "payload": b64encode(self.payload),
            "signatures": [{"keyid": s.keyid, "sig": b64encode(s.sig)} for s in self.signatures],
        }

    @property
    def signed_bytes(self) -> bytes:
        return pae(self.payload_type, self.payload)

    def with_signature(self, key: SigningKey) -> Envelope:
        """Add a signature by ``key`` (a countersignature, for instance)."""
        if any(s.keyid == key.keyid for s in self.signatures):
            raise MalformedEnvelope(f"key {key.keyid[:16]}… has already signed this envelope")
        return Envelope(
            self.payload_type,
            self.payload,
            (*self.signatures, Signature(key.keyid, key.sign(self.signed_bytes))),
        )

    @classmethod
    def from_json(cls, value: object) -> Envelope:
        """Check the shape of a decoded envelope object; decode its base64."""
        if not isinstance(value, Mapping):
            raise MalformedEnvelope("envelope must be a JSON object")
        extra = set(value) - {"payloadType", "payload", "signatures"}
        if extra:
            raise MalformedEnvelope(f"unknown envelope fields: {sorted(extra)}")
        payload_type = value.get("payloadType")
        if not isinstance(payload_type, str):
            raise MalformedEnvelope("payloadType missing or not a string")
        if payload_type != PAYLOAD_TYPE:
            raise WrongPayloadType(f"payloadType must be {PAYLOAD_TYPE!r}, got {payload_type!r}")
        if not isinstance(value.get("payload"), str):
            raise MalformedEnvelope("payload missing or not a string")
        payload = b64decode(value["payload"], "payload")
        raw_signatures = value.get("signatures")
        if not isinstance(raw_signatures, list) or not raw_signatures:
            raise MalformedEnvelope("signatures must be a non-empty list")
        if len(raw_signatures) > MAX_SIGNATURES:
            raise MalformedEnvelope(f"at most {MAX_SIGNATURES} signatures per envelope")
        signatures = []
        for position, item in enumerate(raw_signatures):
            if not isinstance(item, Mapping) or set(item) != {"keyid", "sig"}:
                raise MalformedEnvelope(f"signatures[{position}] must have exactly keyid and sig")
            keyid = item["keyid"]
            if not isinstance(keyid, str) or len(keyid) != _KEYID_LEN or keyid.strip("0123456789abcdef"):
                raise MalformedEnvelope(f"signatures[{position}].keyid must be 64 lowercase hex digits")
            signatures.append(Signature(keyid, b64decode(item["sig"], f"signatures[{position}].sig")))
        if len({s.keyid for s in signatures}) != len(signatures):
            raise MalformedEnvelope("a key may sign an envelope only once")
        return cls(payload_type, payload, tuple(signatures))


def sign_envelope(payload: bytes, keys: Iterable[SigningKey]) -> Envelope:
    """Create an envelope over ``payload`` signed by every key in ``keys``."""
    envelope = Envelope(PAYLOAD_TYPE, payload, ())
    for key in keys:
        envelope = envelope.with_signature(key)
    if not envelope.signatures:
        raise MalformedEnvelope("an envelope needs at least one signature")
    return envelope
