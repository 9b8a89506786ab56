"""Statements (kcl/statement/v1): building, canonical bytes, and a bad-input matrix."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from ledger import canonical
from ledger.errors import (
    DuplicateKey,
    FloatNotAllowed,
    IntegerOutOfRange,
    InvalidBase64,
    InvalidData,
    InvalidIdentifier,
    InvalidTimestamp,
    LedgerError,
    MalformedStatement,
    NotCanonical,
    NotNFC,
    TrailingData,
    UnknownVersion,
)
from ledger.statement import NONCE_BYTES, STATEMENT_V1, Statement, new_statement

AT = datetime(2026, 11, 28, 10, 15, 0, 987654, tzinfo=UTC)
NONCE = bytes(range(16))


def _statement(**overrides: Any) -> Statement:
    arguments: dict[str, Any] = {
        "kind": "party.registered",
        "subject": "party:WH-ESSEN-01",
        "by": "party:ADMIN-01",
        "data": {"name": "Lager Essen", "roles": ["warehouse"]},
        "at": AT,
        "nonce": NONCE,
    }
    arguments.update(overrides)
    return new_statement(**arguments)


def test_new_statement_known_bytes() -> None:
    statement = _statement()
    assert statement.to_bytes() == (
        b'{"at":"2026-11-28T10:15:00Z","by":"party:ADMIN-01",'
        b'"data":{"name":"Lager Essen","roles":["warehouse"]},"kind":"party.registered",'
        b'"nonce":"AAECAwQFBgcICQoLDA0ODw","subject":"party:WH-ESSEN-01","v":"kcl/statement/v1"}'
    )
    assert statement.at == "2026-11-28T10:15:00Z"
    assert statement.at_datetime == AT.replace(microsecond=0)
    assert statement.subject_type == "party"
    assert statement.place is None


def test_new_statement_round_trips() -> None:
    statement = _statement(place="location:WH-ESSEN-01", data={"name": "Straße"})
    raw = statement.to_bytes()
    assert Statement.from_bytes(raw) == statement
    assert Statement.from_json(statement.to_json()) == statement
    assert Statement.from_bytes(raw).to_bytes() == raw
    assert canonical.decode(raw)["place"] == "location:WH-ESSEN-01"
    assert statement.to_json()["v"] == STATEMENT_V1


def test_new_statement_copies_its_data() -> None:
    data = {"name": "A"}
    statement = _statement(data=data)
    data["name"] = "B"
    assert statement.data == {"name": "A"}


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"nonce": bytes(15)}, MalformedStatement),
        ({"nonce": bytes(17)}, MalformedStatement),
        ({"nonce": b""}, MalformedStatement),
        ({"at": datetime(2026, 11, 28, 10, 15)}, InvalidTimestamp),
        ({"data": {"weight": 1.5}}, FloatNotAllowed),
        ({"data": {"count": 2**53}}, IntegerOutOfRange),
        ({"data": {"name": "Cafe\u0301"}}, NotNFC),
        ({"subject": "party:lower-case"}, InvalidIdentifier),
        ({"by": "location:WH-01"}, InvalidIdentifier),
        ({"place": "party:WH-01"}, InvalidIdentifier),
        ({"kind": "Party.Registered"}, MalformedStatement),
    ],
    ids=[
        "nonce-15",
        "nonce-17",
        "nonce-empty",
        "naive-time",
        "float",
        "huge-int",
        "non-nfc",
        "bad-subject",
        "by-not-a-party",
        "place-not-a-location",
        "bad-kind",
    ],
)
def test_new_statement_refuses(overrides: dict[str, Any], error: type[LedgerError]) -> None:
    with pytest.raises(LedgerError) as caught:
        _statement(**overrides)
    assert type(caught.value) is error


# --------------------------------------------------------------------------
# The bad-input matrix over the parsed form.

GOOD = _statement(place="location:WH-ESSEN-01").to_json()


def _with(**changes: Any) -> dict[str, Any]:
    value = copy.deepcopy(GOOD)
    for name, item in changes.items():
        if item is _DELETE:
            del value[name]
        else:
            value[name] = item
    return value


_DELETE = object()

BAD_STATEMENTS: dict[str, tuple[Any, type[LedgerError]]] = {
    "not-an-object": (["v"], MalformedStatement),
    "missing-v": (_with(v=_DELETE), UnknownVersion),
    "v2": (_with(v="kcl/statement/v2"), UnknownVersion),
    "v0": (_with(v="kcl/statement/v0"), UnknownVersion),
    "v-as-number": (_with(v=1), UnknownVersion),
    "missing-kind": (_with(kind=_DELETE), MalformedStatement),
    "missing-subject": (_with(subject=_DELETE), MalformedStatement),
    "missing-at": (_with(at=_DELETE), MalformedStatement),
    "missing-by": (_with(by=_DELETE), MalformedStatement),
    "missing-data": (_with(data=_DELETE), MalformedStatement),
    "missing-nonce": (_with(nonce=_DELETE), MalformedStatement),
    "extra-field": (_with(note="hi"), MalformedStatement),
    "kind-uppercase": (_with(kind="Party.registered"), MalformedStatement),
    "kind-hyphen": (_with(kind="party-registered"), MalformedStatement),
    "kind-empty": (_with(kind=""), MalformedStatement),
    "kind-number": (_with(kind=5), MalformedStatement),
    "subject-no-type": (_with(subject="WH-ESSEN-01"), InvalidIdentifier),
    "subject-unknown-type": (_with(subject="truck:WH-ESSEN-01"), InvalidIdentifier),
    "subject-lowercase-id": (_with(subject="party:wh-essen-01"), InvalidIdentifier),
    "subject-empty-id": (_with(subject="party:"), InvalidIdentifier),
    "subject-number": (_with(subject=7), InvalidIdentifier),
    "subject-umlaut": (_with(subject="party:LAGER-ÖST"), InvalidIdentifier),
    "subject-bad-connector": (_with(subject="connector:SECUNET"), InvalidIdentifier),
    "by-not-a-party": (_with(by="location:WH-ESSEN-01"), InvalidIdentifier),
    "by-bad-id": (_with(by="party:admin"), InvalidIdentifier),
    "place-not-a-location": (_with(place="party:WH-ESSEN-01"), InvalidIdentifier),
    "place-null": (_with(place=None), InvalidIdentifier),
    "at-offset": (_with(at="2026-11-28T10:15:00+00:00"), InvalidTimestamp),
    "at-lowercase-t": (_with(at="2026-11-28t10:15:00Z"), InvalidTimestamp),
    "at-lowercase-z": (_with(at="2026-11-28T10:15:00z"), InvalidTimestamp),
    "at-feb-30": (_with(at="2026-02-30T10:15:00Z"), InvalidTimestamp),
    "at-leap-second": (_with(at="2016-12-31T23:59:60Z"), InvalidTimestamp),
    "at-number": (_with(at=1764324900), InvalidTimestamp),
    "data-list": (_with(data=["name"]), InvalidData),
    "data-string": (_with(data="name"), InvalidData),
    "nonce-15-bytes": (_with(nonce="AAECAwQFBgcICQoLDA0O"), MalformedStatement),
    "nonce-17-bytes": (_with(nonce="AAECAwQFBgcICQoLDA0ODxA"), MalformedStatement),
    "nonce-padded": (_with(nonce="AAECAwQFBgcICQoLDA0ODw=="), InvalidBase64),
    "nonce-standard-alphabet": (_with(nonce="AAECAwQFBgcICQoLDA0O+w"), InvalidBase64),
    "nonce-trailing-bits": (_with(nonce="AAECAwQFBgcICQoLDA0ODx"), InvalidBase64),
    "nonce-number": (_with(nonce=16), InvalidBase64),
}


def test_good_statement_parses() -> None:
    assert Statement.from_json(GOOD).to_json() == GOOD


@pytest.mark.parametrize(("value", "error"), BAD_STATEMENTS.values(), ids=BAD_STATEMENTS.keys())
def test_bad_statements(value: Any, error: type[LedgerError]) -> None:
    with pytest.raises(LedgerError) as caught:
        Statement.from_json(value)
    assert type(caught.value) is error, caught.value


GOOD_BYTES = canonical.encode(GOOD)


def _with_member(member: bytes) -> bytes:
    """GOOD_BYTES with one more member in ``data`` (after ``name``, in canonical order)."""
    return GOOD_BYTES.replace(b'"name":"Lager Essen"', b'"name":"Lager Essen",' + member)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (GOOD_BYTES.replace(b'"name":"Lager Essen"', b'"name":"Lager Essen","w":1.5'), FloatNotAllowed),
        (GOOD_BYTES.replace(b'"name":"Lager Essen"', b'"name":"Lager Essen","w":1e3'), FloatNotAllowed),
        (
            GOOD_BYTES.replace(b'"name":"Lager Essen"', b'"name":"Lager Essen","w":9007199254740992'),
            IntegerOutOfRange,
        ),
        (GOOD_BYTES.replace(b"Lager Essen", "Lager Esse\u0301n".encode()), NotNFC),
        (GOOD_BYTES.replace(b'{"name"', b'{"name":"x","name"'), DuplicateKey),
        (GOOD_BYTES + b"\n", NotCanonical),
        (GOOD_BYTES.replace(b'"at":', b'"at": '), NotCanonical),
        (GOOD_BYTES + b"{}", TrailingData),
        (GOOD_BYTES + b"garbage", TrailingData),
    ],
    ids=[
        "float",
        "exponent",
        "huge-int",
        "non-nfc",
        "duplicate-key",
        "trailing-newline",
        "whitespace",
        "second-object",
        "garbage",
    ],
)
def test_bad_statement_bytes(raw: bytes, error: type[LedgerError]) -> None:
    with pytest.raises(LedgerError) as caught:
        Statement.from_bytes(raw)
    assert type(caught.value) is error, caught.value


def test_nonce_size_constant() -> None:
    assert NONCE_BYTES == 16
    assert len(_statement().nonce) == 22
