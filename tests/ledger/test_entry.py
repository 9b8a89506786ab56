"""Log entries (kcl/entry/v1): encoding, verbatim parsing, leaf hash, bad inputs."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ledger import canonical
from ledger.entry import ENTRY_V1, Entry, encode_entry
from ledger.envelope import Envelope, sign_envelope
from ledger.errors import (
    FloatNotAllowed,
    IntegerOutOfRange,
    InvalidBase64,
    InvalidIdentifier,
    InvalidTimestamp,
    LedgerError,
    MalformedEntry,
    MalformedEnvelope,
    NotCanonical,
    TrailingData,
    UnknownVersion,
    WrongPayloadType,
)
from ledger.keys import Algorithm, SigningKey
from ledger.merkle import hash_leaf
from ledger.statement import new_statement

KEY = SigningKey.generate(Algorithm.ED25519, b"\x21" * 32)
RECORDED = datetime(2026, 11, 28, 10, 15, 2, 123456, tzinfo=UTC)
STATEMENT = new_statement(
    kind="party.registered",
    subject="party:WH-ESSEN-01",
    by="party:ADMIN-01",
    data={"name": "Lager Essen"},
    at=datetime(2026, 11, 28, 10, 15, tzinfo=UTC),
    nonce=b"\x05" * 16,
)
ENVELOPE = sign_envelope(STATEMENT.to_bytes(), [KEY])
PREV = hashlib.sha256(b"previous entry").digest()


def test_encode_entry_known_shape() -> None:
    raw = encode_entry(index=41, prev=PREV, recorded_at=RECORDED, envelope=ENVELOPE)
    assert raw == canonical.encode(
        {
            "v": "kcl/entry/v1",
            "index": 41,
            "prev": PREV.hex(),
            "recorded_at": "2026-11-28T10:15:02.123Z",
            "envelope": ENVELOPE.to_json(),
        }
    )
    assert raw.startswith(b'{"envelope":{"payload":"')
    assert raw.endswith(
        b'"index":41,"prev":"'
        + PREV.hex().encode()
        + b'","recorded_at":"2026-11-28T10:15:02.123Z","v":"kcl/entry/v1"}'
    )


@pytest.mark.parametrize("prev", [None, PREV], ids=["first-of-subject", "chained"])
def test_parse_round_trips_and_keeps_the_raw_bytes(prev: bytes | None) -> None:
    raw = encode_entry(index=7, prev=prev, recorded_at=RECORDED, envelope=ENVELOPE)
    entry = Entry.parse(raw)
    assert entry.raw is raw
    assert entry.index == 7
    assert entry.prev == (None if prev is None else prev.hex())
    assert entry.recorded_at == "2026-11-28T10:15:02.123Z"
    assert entry.envelope == ENVELOPE
    assert entry.statement == STATEMENT
    assert entry.leaf_hash == hashlib.sha256(b"\x00" + raw).digest() == hash_leaf(raw)
    assert Entry.parse(bytes(raw)).leaf_hash == entry.leaf_hash


def test_leaf_hash_is_over_the_stored_bytes_not_a_reserialisation() -> None:
    raw = encode_entry(index=0, prev=None, recorded_at=RECORDED, envelope=ENVELOPE)
    entry = Entry.parse(raw)
    # The same entry with a differently-timestamped recording is another leaf.
    other = encode_entry(index=0, prev=None, recorded_at=RECORDED.replace(second=3), envelope=ENVELOPE)
    assert Entry.parse(other).leaf_hash != entry.leaf_hash
    assert entry.leaf_hash.hex() == hashlib.sha256(b"\x00" + raw).hexdigest()


# --------------------------------------------------------------------------
# Bad inputs.

GOOD = canonical.decode(encode_entry(index=3, prev=PREV, recorded_at=RECORDED, envelope=ENVELOPE))
_DELETE = object()


def _entry(**changes: Any) -> bytes:
    value = copy.deepcopy(GOOD)
    for name, item in changes.items():
        if item is _DELETE:
            del value[name]
        else:
            value[name] = item
    return canonical.encode(value)


def _envelope(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = copy.deepcopy(GOOD["envelope"])
    value.update(changes)
    return value


def _signed_payload(payload: bytes) -> dict[str, Any]:
    return sign_envelope(payload, [KEY]).to_json()


GOOD_RAW = canonical.encode(GOOD)

BAD_ENTRIES: dict[str, tuple[bytes, type[LedgerError]]] = {
    "not-canonical-whitespace": (GOOD_RAW.replace(b'"index":3', b'"index": 3'), NotCanonical),
    "not-canonical-order": (
        json.dumps(dict(reversed(GOOD.items())), separators=(",", ":"), ensure_ascii=False).encode(),
        NotCanonical,
    ),
    "trailing-newline": (GOOD_RAW + b"\n", NotCanonical),
    "garbage-after-json": (GOOD_RAW + b"x", TrailingData),
    "two-entries": (GOOD_RAW + GOOD_RAW, TrailingData),
    "a-list": (canonical.encode([GOOD]), MalformedEntry),
    "a-string": (b'"entry"', MalformedEntry),
    "entry-v2": (_entry(v="kcl/entry/v2"), UnknownVersion),
    "no-version": (_entry(v=_DELETE), UnknownVersion),
    "statement-version-as-entry": (_entry(v="kcl/statement/v1"), UnknownVersion),
    "missing-prev": (_entry(prev=_DELETE), MalformedEntry),
    "missing-index": (_entry(index=_DELETE), MalformedEntry),
    "missing-envelope": (_entry(envelope=_DELETE), MalformedEntry),
    "extra-field": (_entry(leaf="x"), MalformedEntry),
    "index-negative": (_entry(index=-1), MalformedEntry),
    "index-bool": (_entry(index=True), MalformedEntry),
    "index-string": (_entry(index="3"), MalformedEntry),
    "index-float": (GOOD_RAW.replace(b'"index":3', b'"index":3.0'), FloatNotAllowed),
    "index-huge": (GOOD_RAW.replace(b'"index":3', b'"index":9007199254740993'), IntegerOutOfRange),
    "prev-uppercase": (_entry(prev=PREV.hex().upper()), MalformedEntry),
    "prev-short": (_entry(prev=PREV.hex()[:62]), MalformedEntry),
    "prev-not-hex": (_entry(prev="z" * 64), MalformedEntry),
    "prev-number": (_entry(prev=0), MalformedEntry),
    "recorded-at-offset": (_entry(recorded_at="2026-11-28T10:15:02.123+00:00"), InvalidTimestamp),
    "recorded-at-feb-30": (_entry(recorded_at="2026-02-30T10:15:02.123Z"), InvalidTimestamp),
    "recorded-at-missing": (_entry(recorded_at=_DELETE), MalformedEntry),
    "envelope-not-an-object": (_entry(envelope="x"), MalformedEnvelope),
    "envelope-wrong-payload-type": (_entry(envelope=_envelope(payloadType="text/plain")), WrongPayloadType),
    "envelope-bad-base64": (_entry(envelope=_envelope(payload="!!!!")), InvalidBase64),
    "envelope-no-signatures": (_entry(envelope=_envelope(signatures=[])), MalformedEnvelope),
    "statement-not-canonical": (
        _entry(envelope=_signed_payload(STATEMENT.to_bytes().replace(b'"at":', b'"at": '))),
        NotCanonical,
    ),
    "statement-unknown-version": (
        _entry(
            envelope=_signed_payload(STATEMENT.to_bytes().replace(b"kcl/statement/v1", b"kcl/statement/v9"))
        ),
        UnknownVersion,
    ),
    "statement-bad-subject": (
        _entry(envelope=_signed_payload(STATEMENT.to_bytes().replace(b"party:WH-ESSEN-01", b"party:wh"))),
        InvalidIdentifier,
    ),
}


def test_good_entry_parses() -> None:
    assert Entry.parse(GOOD_RAW).index == 3


@pytest.mark.parametrize(("raw", "error"), BAD_ENTRIES.values(), ids=BAD_ENTRIES.keys())
def test_bad_entries(raw: bytes, error: type[LedgerError]) -> None:
    with pytest.raises(LedgerError) as caught:
        Entry.parse(raw)
    assert type(caught.value) is error, caught.value


def test_entry_version_constant() -> None:
    assert ENTRY_V1 == "kcl/entry/v1"
    assert isinstance(ENVELOPE, Envelope)
