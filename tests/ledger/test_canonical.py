"""Canonical JSON (RFC 8785 with the input rules of DESIGN §3)."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import canonical
from ledger.canonical import MAX_DEPTH, decode, encode, encode_reference, loads_strict, validate
from ledger.errors import (
    CanonicalJSONError,
    DuplicateKey,
    FloatNotAllowed,
    IntegerOutOfRange,
    MalformedJSON,
    NotCanonical,
    NotNFC,
    TrailingData,
    UnsupportedValue,
)

MAX_SAFE = 2**53 - 1

# Characters that stress the encoder: controls, the JSON escapes, DEL, the
# line/paragraph separators, a BOM, BMP private use above the surrogates
# (sorts differently in UTF-16 than by code point), astral characters.
SPECIAL = list('\x00\x01\x08\x09\x0a\x0c\x0d\x1f"\\/\x7f\u0080\u00e9\u2028\u2029\ufeff\ue000\uffef\ufb01')
SPECIAL += ["\U0001f600", "\U00010000", "\U0010fffd", "\U0001d11e", "€", "ß", "日"]


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


texts = st.text(
    alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from(SPECIAL)),
    max_size=10,
).map(_nfc)
keys = st.one_of(
    texts, st.sampled_from(SPECIAL), st.sampled_from(["a", "b", "aa", "", "\U0001f600a", "\ue000", "日本"])
)
integers = st.one_of(
    st.integers(-MAX_SAFE, MAX_SAFE), st.sampled_from([0, -1, 1, MAX_SAFE, -MAX_SAFE, 10**15, -(10**15)])
)
scalars = st.one_of(st.none(), st.booleans(), integers, texts)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25,
)

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------
# Agreement with the rfc8785 reference, and idempotence.


@PROPERTY
@given(documents)
def test_encode_equals_the_rfc8785_reference(document: Any) -> None:
    assert encode(document) == encode_reference(document)


@PROPERTY
@given(documents)
def test_encode_and_decode_are_inverse(document: Any) -> None:
    raw = encode(document)
    assert decode(raw) == document
    assert encode(decode(raw)) == raw
    assert loads_strict(raw) == document


@PROPERTY
@given(st.dictionaries(keys, scalars, min_size=2, max_size=6))
def test_any_other_spelling_of_a_document_is_not_canonical(document: dict[str, Any]) -> None:
    raw = encode(document)
    for other in (
        json.dumps(document, ensure_ascii=False, indent=1).encode(),
        json.dumps(document, ensure_ascii=True, separators=(",", ":")).encode(),
        json.dumps(
            dict(reversed(list(document.items()))), ensure_ascii=False, separators=(",", ":")
        ).encode(),
    ):
        if other == raw:
            continue
        with pytest.raises(NotCanonical):
            decode(other)
        assert loads_strict(other) == document


def test_known_answers() -> None:
    assert encode({"b": 1, "a": [True, None, False, "é"]}) == '{"a":[true,null,false,"é"],"b":1}'.encode()
    assert encode("\x00\x1f\x7f") == b'"\\u0000\\u001f\x7f"'
    assert encode("\b\t\n\f\r") == b'"\\b\\t\\n\\f\\r"'
    assert encode('"\\/') == b'"\\"\\\\/"'
    assert encode("\u2028\u2029") == "\u2028\u2029".encode().join([b'"', b'"'])
    assert encode([MAX_SAFE, -MAX_SAFE, 0]) == b"[9007199254740991,-9007199254740991,0]"
    assert encode({}) == b"{}"
    assert encode(()) == b"[]"
    assert encode(("a", 1)) == b'["a",1]'


def test_keys_sort_by_utf16_code_units() -> None:
    # RFC 8785 §3.2.3 sorts by UTF-16 code units: U+1F600 (D83D DE00) sorts
    # before U+E000 and U+FB01, though its code point is larger.
    document = {
        "\ufb01": 7,
        "\U0001f600": 5,
        "\ue000": 6,
        "\u20ac": 4,
        "\u00f6": 3,
        "\u0080": 2,
        "1": 1,
        "\r": 0,
    }
    raw = encode(document)
    assert raw == encode_reference(document)
    assert list(json.loads(raw).values()) == [0, 1, 2, 3, 4, 5, 6, 7]
    assert decode(raw) == document
    # Python's own sort would put U+E000 first: that spelling is not canonical.
    python_sorted = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    assert python_sorted != raw
    with pytest.raises(NotCanonical):
        decode(python_sorted)


# --------------------------------------------------------------------------
# Rejections, each with its own error class.


@pytest.mark.parametrize(
    "value",
    [1.0, 0.5, -0.0, float("nan"), float("inf"), float("-inf"), {"a": 1.0}, [1, [2.5]], {"a": {"b": 1e5}}],
    ids=["1.0", "0.5", "-0.0", "nan", "inf", "-inf", "in-object", "in-array", "nested-1e5"],
)
def test_encode_rejects_floats(value: Any) -> None:
    with pytest.raises(FloatNotAllowed):
        encode(value)
    with pytest.raises(FloatNotAllowed):
        encode_reference(value)


@pytest.mark.parametrize(
    "raw",
    [
        b"1e5",
        b"1.0",
        b"-0.0",
        b"1E+2",
        b"0.1",
        b'{"a":1.5}',
        b"[1,2e0]",
        b"NaN",
        b"Infinity",
        b"-Infinity",
        b"[NaN]",
    ],
)
def test_decode_rejects_floats_and_non_finite_numbers(raw: bytes) -> None:
    with pytest.raises(FloatNotAllowed):
        decode(raw)
    with pytest.raises(FloatNotAllowed):
        loads_strict(raw)


@pytest.mark.parametrize("value", [2**53, -(2**53), 2**64, -(2**100), {"a": [2**53]}])
def test_encode_rejects_integers_beyond_2_53(value: Any) -> None:
    with pytest.raises(IntegerOutOfRange):
        encode(value)


@pytest.mark.parametrize(
    "raw",
    [
        b"9007199254740992",
        b"-9007199254740992",
        b"99999999999999999",
        b'{"a":18446744073709551616}',
        b"1" * 5000,
    ],
    ids=["2^53", "-2^53", "17-digits", "2^64-in-object", "5000-digits"],
)
def test_decode_rejects_integers_beyond_2_53(raw: bytes) -> None:
    with pytest.raises(IntegerOutOfRange):
        decode(raw)


def test_integer_boundaries_are_accepted() -> None:
    for value in (MAX_SAFE, -MAX_SAFE):
        assert decode(encode(value)) == value


@pytest.mark.parametrize(
    "value",
    ["e\u0301", {"e\u0301": 1}, {"a": ["A\u030a"]}, "\u212b", {"k": {"\ufb33": 1}}],
    ids=["string", "key", "nested", "angstrom-sign", "composition-exclusion-key"],
)
def test_encode_rejects_non_nfc(value: Any) -> None:
    with pytest.raises(NotNFC):
        encode(value)


@pytest.mark.parametrize(
    "raw",
    ['"e\u0301"'.encode(), '{"e\u0301":1}'.encode(), b'"e\\u0301"', '["\u212b"]'.encode()],
    ids=["string", "key", "escaped", "angstrom-sign"],
)
def test_decode_rejects_non_nfc(raw: bytes) -> None:
    with pytest.raises(NotNFC):
        decode(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a":1,"a":1}',
        b'{"a":1,"b":2,"a":3}',
        b'{"x":{"a":1,"a":2}}',
        b'{"a":1,"\\u0061":2}',
        b'[{"":1,"":1}]',
    ],
    ids=["same-value", "apart", "nested", "escaped-twin", "empty-key"],
)
def test_duplicate_keys(raw: bytes) -> None:
    with pytest.raises(DuplicateKey):
        decode(raw)
    with pytest.raises(DuplicateKey):
        loads_strict(raw)


@pytest.mark.parametrize("raw", [b"{}x", b"1 2", b"{}{}", b'"a""b"', b"[]]", b"null,"])
def test_trailing_data(raw: bytes) -> None:
    with pytest.raises(TrailingData):
        decode(raw)
    with pytest.raises(TrailingData):
        loads_strict(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"[1,]",
        b"{'a':1}",
        b"\xff",
        b'"\x01"',
        b"tru",
        b'"\\x"',
        b'"abc',
        b"{1:2}",
        b"\xed\xa0\x80",
    ],
    ids=[
        "empty",
        "open-brace",
        "trailing-comma",
        "single-quotes",
        "not-utf8",
        "raw-control-char",
        "bad-literal",
        "bad-escape",
        "unterminated",
        "number-key",
        "cesu-surrogate",
    ],
)
def test_malformed_json(raw: bytes) -> None:
    with pytest.raises(MalformedJSON):
        decode(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a": 1}',
        b" 1",
        b"1\n",
        b'{"b":1,"a":2}',
        b'"\\u0041"',
        b'"\\/"',
        b'"\\u00e9"',
        b'"\\u001F"',
        b'"\\u000a"',
        b"-0",
        b'["a" ,1]',
        b'"\\ud83d\\ude00"',
    ],
    ids=[
        "space-after-colon",
        "leading-space",
        "trailing-newline",
        "key-order",
        "escaped-ascii",
        "escaped-slash",
        "escaped-non-ascii",
        "uppercase-hex-escape",
        "long-newline-escape",
        "minus-zero",
        "space-before-comma",
        "escaped-astral",
    ],
)
def test_non_canonical_spellings(raw: bytes) -> None:
    with pytest.raises(NotCanonical):
        decode(raw)
    # They are valid JSON, just not canonical: the lenient parser takes them.
    loads_strict(raw)


@pytest.mark.parametrize(
    "value", ["\ud800", "a\udfff", {"\ud83d": 1}, ["ok", "\udc00"]], ids=["high", "low", "key", "nested"]
)
def test_encode_rejects_lone_surrogates(value: Any) -> None:
    with pytest.raises(UnsupportedValue, match="surrogate"):
        encode(value)


@pytest.mark.parametrize("raw", [b'"\\ud800"', b'"\\udc00x"', b'{"\\ud83d":1}', b'["\\ude00"]'])
def test_decode_rejects_escaped_lone_surrogates(raw: bytes) -> None:
    with pytest.raises(UnsupportedValue, match="surrogate"):
        decode(raw)


def _nest(depth: int, inner: Any = 1) -> Any:
    value = inner
    for _ in range(depth):
        value = [value]
    return value


def test_nesting_up_to_the_limit_is_fine_and_deeper_is_refused() -> None:
    assert decode(encode(_nest(MAX_DEPTH))) == _nest(MAX_DEPTH)
    with pytest.raises(UnsupportedValue, match="nested"):
        encode(_nest(MAX_DEPTH + 1))
    deep_object: Any = 1
    for _ in range(MAX_DEPTH + 1):
        deep_object = {"a": deep_object}
    with pytest.raises(UnsupportedValue, match="nested"):
        encode(deep_object)
    with pytest.raises(UnsupportedValue):
        decode(b"[" * (MAX_DEPTH + 1) + b"1" + b"]" * (MAX_DEPTH + 1))
    # Far beyond the interpreter's recursion limit: still a clean error.
    with pytest.raises(UnsupportedValue):
        decode(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(UnsupportedValue):
        loads_strict(b'{"a":' * 50_000 + b"1" + b"}" * 50_000)


@pytest.mark.parametrize(
    "value",
    [b"bytes", {1, 2}, object(), {1: "int key"}, {("t",): 1}, 1 + 2j],
    ids=["bytes", "set", "object", "int-key", "tuple-key", "complex"],
)
def test_unsupported_values(value: Any) -> None:
    with pytest.raises(UnsupportedValue):
        encode(value)
    with pytest.raises(UnsupportedValue):
        validate(value)


def test_every_error_is_a_canonical_json_error_with_its_code() -> None:
    cases: list[tuple[bytes, type[CanonicalJSONError], str]] = [
        (b"1.5", FloatNotAllowed, "input.json.float"),
        (b"9007199254740992", IntegerOutOfRange, "input.json.integer_range"),
        ('"e\u0301"'.encode(), NotNFC, "input.json.not_nfc"),
        (b'{"a":1,"a":1}', DuplicateKey, "input.json.duplicate_key"),
        (b"1 1", TrailingData, "input.json.trailing_data"),
        (b"{", MalformedJSON, "input.json.malformed"),
        (b" 1", NotCanonical, "input.json.not_canonical"),
        (b'"\\ud800"', UnsupportedValue, "input.json.unsupported_value"),
    ]
    for raw, error, code in cases:
        with pytest.raises(CanonicalJSONError) as caught:
            decode(raw)
        assert type(caught.value) is error, raw
        assert caught.value.code == code


def test_module_exports_the_documented_limits() -> None:
    assert canonical.MAX_SAFE_INTEGER == MAX_SAFE
    assert canonical.MIN_SAFE_INTEGER == -MAX_SAFE
