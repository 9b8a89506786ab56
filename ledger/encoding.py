"""Strict byte encodings: base64 (standard, padded), base64url, lowercase hex.

Strict means one accepted text per byte string. A lenient decoder would let
two different envelope texts carry the same signature, which is harmless for
the signature but breaks "same input, same bytes" for everything we store.
"""

from __future__ import annotations

import base64
import binascii
import re

from ledger.errors import InvalidBase64, InvalidInput

_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_HEX = re.compile(r"[0-9a-f]*")


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: object, field: str = "base64") -> bytes:
    """Decode standard padded base64; reject anything not in canonical form."""
    if not isinstance(text, str) or _B64.fullmatch(text) is None or len(text) % 4:
        raise InvalidBase64(f"{field}: not standard padded base64")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidBase64(f"{field}: not standard padded base64") from None
    if base64.b64encode(data).decode("ascii") != text:
        raise InvalidBase64(f"{field}: non-canonical base64 (stray bits in padding)")
    return data


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: object, field: str = "base64url") -> bytes:
    """Decode unpadded base64url; reject anything not in canonical form."""
    if not isinstance(text, str) or _B64URL.fullmatch(text) is None or len(text) % 4 == 1:
        raise InvalidBase64(f"{field}: not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidBase64(f"{field}: not unpadded base64url") from None
    if b64url_encode(data) != text:
        raise InvalidBase64(f"{field}: non-canonical base64url")
    return data


def hex_decode(text: object, field: str = "hex", length: int | None = None) -> bytes:
    """Decode lowercase hex, optionally of an exact byte length."""
    if not isinstance(text, str) or _HEX.fullmatch(text) is None or len(text) % 2:
        raise InvalidInput(f"{field}: not lowercase hex")
    data = bytes.fromhex(text)
    if length is not None and len(data) != length:
        raise InvalidInput(f"{field}: expected {length} bytes, got {len(data)}")
    return data
