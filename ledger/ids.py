"""Identifiers of subjects and parties.

Subjects are ``<type>:<id>``. Ids that people read aloud, type or scan are
upper-case ASCII so that a scanner on a German keyboard layout cannot turn
them into something else silently; the per-type patterns live here so that
every layer accepts exactly the same set.
"""

from __future__ import annotations

import re

from ledger.errors import InvalidIdentifier

SUBJECT_TYPES = ("connector", "seal", "party", "location", "ledger")

_PARTY = re.compile(r"[A-Z0-9][A-Z0-9._-]{0,63}")
_LOCATION = re.compile(r"[A-Z0-9][A-Z0-9._:/-]{0,95}")
_CONNECTOR = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,31}:[A-Z0-9][A-Z0-9._-]{0,63}")
_SEAL = re.compile(r"[A-Z0-9][A-Z0-9-]{0,63}")
# The origin doubles as the checkpoint note's key name: no spaces, no '+'.
_ORIGIN = re.compile(r"[\x21-\x2a\x2c-\x7e]{1,255}")

_PATTERNS = {
    "party": _PARTY,
    "location": _LOCATION,
    "connector": _CONNECTOR,
    "seal": _SEAL,
    "ledger": _ORIGIN,
}


def split_subject(subject: object, field: str = "subject") -> tuple[str, str]:
    """Split and validate ``<type>:<id>``; return ``(type, id)``."""
    if not isinstance(subject, str) or ":" not in subject:
        raise InvalidIdentifier(f"{field}: expected '<type>:<id>', got {subject!r}")
    kind, _, ident = subject.partition(":")
    pattern = _PATTERNS.get(kind)
    if pattern is None:
        raise InvalidIdentifier(f"{field}: unknown subject type {kind!r} (one of {', '.join(SUBJECT_TYPES)})")
    if pattern.fullmatch(ident) is None:
        raise InvalidIdentifier(f"{field}: {subject!r} is not a valid {kind} id")
    return kind, ident


def check_subject(subject: object, kind: str, field: str = "subject") -> str:
    """Validate a subject of a given type and return it."""
    got, _ = split_subject(subject, field)
    if got != kind:
        raise InvalidIdentifier(f"{field}: expected a {kind} subject, got {subject!r}")
    assert isinstance(subject, str)
    return subject


def party_subject(party_id: str) -> str:
    return check_subject(f"party:{party_id}", "party")


def check_origin(origin: object) -> str:
    if not isinstance(origin, str) or _ORIGIN.fullmatch(origin) is None:
        raise InvalidIdentifier(f"origin {origin!r}: 1-255 printable ASCII characters without spaces or '+'")
    return origin
