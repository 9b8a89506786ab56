"""Canonical JSON: RFC 8785 (JCS) with the input rules of DESIGN §3.

Every byte string this project hashes or signs as JSON goes through
:func:`encode`. Values are validated *before* encoding, because RFC 8785
alone would happily canonicalise a float or a non-NFC string, and two
parties would then sign different bytes for what a person reads as the
same text.

Rules: objects with string keys, arrays, strings (NFC, valid Unicode),
integers within ±(2^53−1), booleans and null. No floats at all.

:func:`decode` is the strict inverse: it accepts only bytes that are exactly
the canonical encoding of a valid value (no duplicate keys, no whitespace,
no trailing data), so a parsed value has one and only one byte form.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import rfc8785

from ledger.errors import (
    DuplicateKey,
    FloatNotAllowed,
    IntegerOutOfRange,
    MalformedJSON,
    NotCanonical,
    NotNFC,
    TrailingData,
    UnsupportedValue,
)

MAX_SAFE_INTEGER = 2**53 - 1
MIN_SAFE_INTEGER = -(2**53 - 1)
# Nesting deeper than this is never legitimate in our formats and would let a
# hostile document exhaust the recursion limit.
MAX_DEPTH = 32

_BMP_LIMIT = "\U00010000"


def _check(value: Any, path: str, depth: int) -> bool:
    """Validate ``value``; return True if Python's ``json`` sorts it like JCS.

    Python sorts object keys by code point, RFC 8785 by UTF-16 code unit.
    The two orders differ only for keys holding characters outside the Basic
    Multilingual Plane, so we report whether any such key exists and fall
    back to the reference implementation for those rare documents.
    """
    if depth > MAX_DEPTH:
        raise UnsupportedValue(f"{path}: nested deeper than {MAX_DEPTH} levels")
    if value is None or value is True or value is False:
        return True
    if isinstance(value, str):
        _check_string(value, path)
        return True
    if isinstance(value, int):
        if not MIN_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise IntegerOutOfRange(f"{path}: integer {value} outside ±(2^53-1)")
        return True
    if isinstance(value, float):
        raise FloatNotAllowed(f"{path}: floats are not allowed ({value!r})")
    if isinstance(value, dict):
        fast = True
        for key, item in value.items():
            if not isinstance(key, str):
                raise UnsupportedValue(f"{path}: object key {key!r} is not a string")
            _check_string(key, f"{path}.<key>")
            if key and max(key) >= _BMP_LIMIT:
                fast = False
            fast = _check(item, f"{path}.{key}", depth + 1) and fast
        return fast
    if isinstance(value, (list, tuple)):
        fast = True
        for position, item in enumerate(value):
            fast = _check(item, f"{path}[{position}]", depth + 1) and fast
        return fast
    raise UnsupportedValue(f"{path}: unsupported type {type(value).__name__}")


def _check_string(text: str, path: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsupportedValue(f"{path}: string is not valid Unicode (lone surrogate)") from None
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        raise NotNFC(f"{path}: string is not in Unicode NFC form")


def validate(value: Any) -> None:
    """Raise a :class:`~ledger.errors.CanonicalJSONError` if ``value`` breaks a rule."""
    _check(value, "$", 0)


def encode(value: Any) -> bytes:
    """Validate ``value`` and return its RFC 8785 canonical bytes."""
    if _check(value, "$", 0):
        # Fast path: for validated values without astral-plane keys Python's
        # encoder emits exactly the JCS bytes (same escapes, lowercase \\u
        # hex, no whitespace, integers as decimal). A property test checks
        # this against the rfc8785 reference on random documents.
        return json.dumps(
            value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
        ).encode("utf-8")
    return rfc8785.dumps(value)


def encode_reference(value: Any) -> bytes:
    """Validate and encode with the ``rfc8785`` reference implementation only."""
    validate(value)
    return rfc8785.dumps(value)


def _reject_float(text: str) -> Any:
    raise FloatNotAllowed(f"number {text} is not an integer; floats are not allowed")


def _reject_constant(text: str) -> Any:
    raise FloatNotAllowed(f"{text} is not valid JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, item in pairs:
        if key in result:
            raise DuplicateKey(f"duplicate object key {key!r}")
        result[key] = item
    return result


def _checked_int(text: str) -> int:
    # Check the length first: int() refuses (or spends quadratic time on)
    # huge digit strings, and nothing beyond 16 digits can be in range.
    if len(text) > 17:
        raise IntegerOutOfRange(f"integer with {len(text)} digits outside ±(2^53-1)")
    value = int(text)
    if not MIN_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        raise IntegerOutOfRange(f"integer {text} outside ±(2^53-1)")
    return value


def _loads(raw: bytes) -> tuple[Any, bool]:
    """Strict parse and full validation; return the value and its fast-path flag."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedJSON(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_reject_float,
            parse_constant=_reject_constant,
            parse_int=_checked_int,
        )
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":
            raise TrailingData(f"unexpected data after the JSON value at offset {exc.pos}") from None
        raise MalformedJSON(f"{exc.msg} at offset {exc.pos}") from None
    except RecursionError:
        raise UnsupportedValue("JSON nested too deeply") from None
    return value, _check(value, "$", 0)


def loads_strict(raw: bytes) -> Any:
    """Parse JSON bytes strictly (no duplicates, no floats, nothing trailing).

    Unlike :func:`decode` this does not insist on canonical form; it is for
    input that arrives over the wire (an envelope in an HTTP body) and is
    re-encoded by us before anything is hashed.
    """
    return _loads(raw)[0]


# One decoder and one encoder for the fast paths: ``json.loads``/``json.dumps``
# with options build a new one on every call, which costs as much as a small
# document's parse. Both are reentrant (the C scanner and encoder keep no
# state between calls that matters for the result).
_FAST_DECODER = json.JSONDecoder(
    parse_float=_reject_float, parse_constant=_reject_constant, parse_int=_checked_int
)
_FAST_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _dumps_fast(value: Any) -> bytes:
    return _FAST_ENCODER.encode(value).encode("utf-8")


def decode(raw: bytes) -> Any:
    """Parse bytes that must already be canonical; return the value.

    Raises :class:`~ledger.errors.NotCanonical` if the bytes parse but are not
    the canonical encoding of what they contain.
    """
    # Fast path for the common case, pure-ASCII input with few containers:
    # parse without per-object hooks and accept only if re-encoding gives
    # back exactly these bytes. That equality already excludes duplicate
    # keys (a dict keeps one), escapes of non-ASCII characters (canonical
    # form never uses them, so non-NFC text, lone surrogates and
    # astral-plane keys cannot hide here) and any whitespace or ordering
    # choice. Floats and out-of-range integers are rejected by the hooks.
    # Anything else takes the slow path, which also names the precise error.
    if raw.isascii() and raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH:
        try:
            text = raw.decode("ascii")
            value = _FAST_DECODER.decode(text)
            if _FAST_ENCODER.encode(value) == text:
                return value
        except (ValueError, UnicodeEncodeError, RecursionError):
            pass
    value, fast = _loads(raw)
    if (_dumps_fast(value) if fast else rfc8785.dumps(value)) != raw:
        raise NotCanonical("JSON is valid but not in RFC 8785 canonical form")
    return value
