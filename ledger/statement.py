"""Statements: what a party signs (``kcl/statement/v1``).

A statement is a canonical JSON object. Its structure is checked here; the
``data`` of each kind is checked by the kind's own schema (:mod:`ledger.kinds`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger import canonical
from ledger.encoding import b64url_decode, b64url_encode
from ledger.errors import InvalidData, MalformedStatement, UnknownVersion
from ledger.ids import check_subject, split_subject
from ledger.times import format_timestamp, parse_timestamp

STATEMENT_V1 = "kcl/statement/v1"
NONCE_BYTES = 16
_REQUIRED = ("v", "kind", "subject", "at", "by", "data", "nonce")
_OPTIONAL = ("place",)
_KIND_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz._")


@dataclass(frozen=True, slots=True)
class Statement:
    """A structurally valid statement. Its ``data`` is checked by its kind."""

    kind: str
    subject: str
    at: str
    by: str
    data: Mapping[str, Any]
    nonce: str
    place: str | None = None

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "v": STATEMENT_V1,
            "kind": self.kind,
            "subject": self.subject,
            "at": self.at,
            "by": self.by,
            "data": dict(self.data),
            "nonce": self.nonce,
        }
        if self.place is not None:
            value["place"] = self.place
        return value

    def to_bytes(self) -> bytes:
        return canonical.encode(self.to_json())

    @property
    def at_datetime(self) -> datetime:
        return parse_timestamp(self.at, "at")

    @property
    def subject_type(self) -> str:
        return self.subject.partition(":")[0]

    @classmethod
    def from_json(cls, value: object) -> Statement:
        if not isinstance(value, Mapping):
            raise MalformedStatement("statement must be a JSON object")
        version = value.get("v")
        if version != STATEMENT_V1:
            raise UnknownVersion(f"unknown statement version {version!r} (expected {STATEMENT_V1!r})")
        missing = [name for name in _REQUIRED if name not in value]
        if missing:
            raise MalformedStatement(f"statement is missing {', '.join(missing)}")
        extra = set(value) - set(_REQUIRED) - set(_OPTIONAL)
        if extra:
            raise MalformedStatement(f"unknown statement fields: {sorted(extra)}")
        kind = value["kind"]
        if not isinstance(kind, str) or not kind or not set(kind) <= _KIND_CHARS:
            raise MalformedStatement(f"kind {kind!r} must be lower-case words joined by '.'")
        split_subject(value["subject"])
        check_subject(value["by"], "party", "by")
        place = value.get("place")
        if "place" in value:
            # Absent means "no place"; null would be a second byte form of it.
            check_subject(place, "location", "place")
        parse_timestamp(value["at"], "at")
        if not isinstance(value["data"], Mapping):
            raise InvalidData("data must be a JSON object")
        nonce = value["nonce"]
        if len(b64url_decode(nonce, "nonce")) != NONCE_BYTES:
            raise MalformedStatement(f"nonce must be {NONCE_BYTES} random bytes in base64url")
        return cls(
            kind=kind,
            subject=value["subject"],
            at=value["at"],
            by=value["by"],
            data=value["data"],
            nonce=nonce,
            place=place,
        )

    @classmethod
    def from_bytes(cls, payload: bytes) -> Statement:
        """Parse the signed payload bytes, which must be canonical JSON."""
        return cls.from_json(canonical.decode(payload))


def new_statement(
    *,
    kind: str,
    subject: str,
    by: str,
    data: Mapping[str, Any],
    at: datetime,
    nonce: bytes,
    place: str | None = None,
) -> Statement:
    """Build and validate a statement; ``at`` and ``nonce`` are parameters, never read here."""
    if len(nonce) != NONCE_BYTES:
        raise MalformedStatement(f"nonce must be {NONCE_BYTES} bytes")
    statement = Statement(
        kind=kind,
        subject=subject,
        at=format_timestamp(at),
        by=by,
        data=dict(data),
        nonce=b64url_encode(nonce),
        place=place,
    )
    # Round-trip through the parser so a builder can never produce what a
    # verifier would reject.
    return Statement.from_bytes(statement.to_bytes())
