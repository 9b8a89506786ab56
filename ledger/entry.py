"""Log entries (``kcl/entry/v1``): one leaf of the Merkle tree each.

An entry wraps one envelope with its log position, the leaf hash of the
previous entry about the same subject, and the time the log recorded it.
Entry bytes are produced once, stored verbatim and never re-serialised:
everything downstream (leaf hash, proofs, exports) is over those bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from ledger import canonical
from ledger.encoding import hex_decode
from ledger.envelope import Envelope
from ledger.errors import InvalidInput, MalformedEntry, UnknownVersion
from ledger.merkle import hash_leaf
from ledger.statement import Statement
from ledger.times import format_timestamp, parse_timestamp

ENTRY_V1 = "kcl/entry/v1"
_FIELDS = frozenset({"v", "index", "prev", "recorded_at", "envelope"})


@dataclass(frozen=True, slots=True)
class Entry:
    """A structurally valid entry. Signatures and chains are not checked here."""

    raw: bytes
    index: int
    prev: str | None
    recorded_at: str
    envelope: Envelope
    statement: Statement

    @property
    def leaf_hash(self) -> bytes:
        return hash_leaf(self.raw)

    @classmethod
    def parse(cls, raw: bytes) -> Entry:
        """Parse entry bytes (which must be canonical) and the statement inside."""
        value = canonical.decode(raw)
        if not isinstance(value, Mapping):
            raise MalformedEntry("entry must be a JSON object")
        if value.get("v") != ENTRY_V1:
            raise UnknownVersion(f"unknown entry version {value.get('v')!r} (expected {ENTRY_V1!r})")
        if set(value) != _FIELDS:
            raise MalformedEntry(f"entry fields must be exactly {sorted(_FIELDS)}")
        index = value["index"]
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise MalformedEntry("index must be a non-negative integer")
        prev = value["prev"]
        if prev is not None:
            try:
                hex_decode(prev, "prev", 32)
            except InvalidInput as exc:
                raise MalformedEntry(str(exc)) from None
        parse_timestamp(value["recorded_at"], "recorded_at")
        envelope = Envelope.from_json(value["envelope"])
        statement = Statement.from_bytes(envelope.payload)
        return cls(raw, index, prev, value["recorded_at"], envelope, statement)


def encode_entry(*, index: int, prev: bytes | None, recorded_at: datetime, envelope: Envelope) -> bytes:
    """The canonical bytes of a new entry; ``recorded_at`` is a parameter."""
    return canonical.encode(
        {
            "v": ENTRY_V1,
            "index": index,
            "prev": None if prev is None else prev.hex(),
            "recorded_at": format_timestamp(recorded_at, millis=True),
            "envelope": envelope.to_json(),
        }
    )
