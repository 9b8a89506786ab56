"""Strict byte encodings: one accepted text per byte string."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.encoding import b64decode, b64encode, b64url_decode, b64url_encode, hex_decode
from ledger.errors import InvalidBase64, InvalidInput


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=70))
def test_base64_round_trips(data: bytes) -> None:
    text = b64encode(data)
    assert text == base64.b64encode(data).decode()
    assert b64decode(text) == data
    url = b64url_encode(data)
    assert "=" not in url
    assert b64url_decode(url) == data
    assert hex_decode(data.hex(), length=len(data)) == data


@pytest.mark.parametrize(
    "text",
    [
        "YQ",  # missing padding
        "YWI",  # missing padding
        "YQ=",  # short padding
        "YQ===",  # too much padding
        "Y",  # not a whole quantum
        "YR==",  # non-canonical: stray bits in the padding
        "YWJ=",  # non-canonical: stray bits in the padding
        "YQ==YQ==",  # padding in the middle
        "=YQ=",  # padding first
        "YW$j",  # bad character
        "YW-j",  # base64url character
        "YW_j",  # base64url character
        "YW j",  # space
        "YWJj\n",  # newline
        " YWJj",  # leading space
        "ＹＷＪｊ",  # fullwidth letters
    ],
)
def test_b64decode_rejects_non_canonical_text(text: str) -> None:
    with pytest.raises(InvalidBase64) as caught:
        b64decode(text, "payload")
    assert type(caught.value) is InvalidBase64
    assert str(caught.value).startswith("payload: ")


@pytest.mark.parametrize("value", [None, b"YQ==", 5, ["YQ=="]], ids=["none", "bytes", "int", "list"])
def test_b64decode_rejects_non_strings(value: object) -> None:
    with pytest.raises(InvalidBase64):
        b64decode(value)


def test_b64decode_accepts_canonical_text() -> None:
    assert b64decode("") == b""
    assert b64decode("YQ==") == b"a"
    assert b64decode("YWI=") == b"ab"
    assert b64decode("YWJj") == b"abc"
    assert b64decode("+/+/") == bytes.fromhex("fbffbf")


@pytest.mark.parametrize(
    "text",
    ["YQ==", "YQ=", "Y", "YR", "YWJ", "+/8", "ab$c", "ab c", "ＹＱ"],
    ids=[
        "padded",
        "padded-short",
        "one-char",
        "stray-bits",
        "stray-bits-3",
        "std-alphabet",
        "bad-char",
        "space",
        "fw",
    ],
)
def test_b64url_decode_rejects_non_canonical_text(text: str) -> None:
    with pytest.raises(InvalidBase64):
        b64url_decode(text, "nonce")


def test_b64url_decode_accepts_canonical_text() -> None:
    assert b64url_decode("") == b""
    assert b64url_decode("YQ") == b"a"
    assert b64url_decode("-_8") == bytes.fromhex("fbff")
    with pytest.raises(InvalidBase64):
        b64url_decode(None)


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("ABCD", None),
        ("abc", None),
        ("zz", None),
        ("0x00", None),
        ("00", 2),
        ("0000", 1),
        (" 00", None),
        ("٠٠", None),
    ],
    ids=[
        "uppercase",
        "odd-length",
        "not-hex",
        "0x-prefix",
        "too-short",
        "too-long",
        "space",
        "arabic-digits",
    ],
)
def test_hex_decode_rejects(text: str, length: int | None) -> None:
    with pytest.raises(InvalidInput) as caught:
        hex_decode(text, "prev", length)
    assert not isinstance(caught.value, InvalidBase64)
    assert str(caught.value).startswith("prev: ")


def test_hex_decode_accepts_lowercase() -> None:
    assert hex_decode("00ff", length=2) == b"\x00\xff"
    assert hex_decode("") == b""
    with pytest.raises(InvalidInput):
        hex_decode(None)
