"""Scannable identifiers: an alphabet without look-alikes, a check character.

People read, type and scan seal ids. The alphabet leaves out I, L, O, U
(confused with 1, 1, 0, V) and Y, Z (swapped by keyboard-wedge scanners on
a German layout), so a scanned Y or Z can never be part of an id. The last
character is a Luhn mod-30 check character: it catches every single-character
error and every swap of two adjacent characters.

A seal id is ``<series: 2 letters><number: 7 digits><check>``, e.g.
``KC0001237H`` (number 1237); batches are consecutive numbers of one series.
"""

from __future__ import annotations

import re

from ledger.errors import InvalidIdentifier

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWX"
_BASE = len(ALPHABET)
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_LETTERS = "ABCDEFGHJKMNPQRSTVWX"
SEAL_ID = re.compile(rf"[{_LETTERS}]{{2}}[0-9]{{7}}[{ALPHABET}]")
SEAL_NUMBER_MAX = 9_999_999


def check_character(payload: str) -> str:
    """The Luhn mod-30 check character for ``payload`` (characters of ALPHABET)."""
    total, factor = 0, 2
    for ch in reversed(payload):
        try:
            addend = factor * _VALUE[ch]
        except KeyError:
            raise InvalidIdentifier(f"{ch!r} is not in the id alphabet") from None
        total += addend // _BASE + addend % _BASE
        factor = 3 - factor
    return ALPHABET[(-total) % _BASE]


def has_valid_check(identifier: str) -> bool:
    if len(identifier) < 2 or any(ch not in _VALUE for ch in identifier):
        return False
    return check_character(identifier[:-1]) == identifier[-1]


def seal_id(series: str, number: int) -> str:
    if len(series) != 2 or any(ch not in _LETTERS for ch in series):
        raise InvalidIdentifier(f"seal series {series!r} must be two letters of {_LETTERS}")
    if not 0 <= number <= SEAL_NUMBER_MAX:
        raise InvalidIdentifier(f"seal number {number} out of range")
    payload = f"{series}{number:07d}"
    return payload + check_character(payload)


def parse_seal_id(identifier: str) -> tuple[str, int]:
    """Validate a seal id (format and check character); return (series, number)."""
    if SEAL_ID.fullmatch(identifier) is None:
        raise InvalidIdentifier(f"{identifier!r} is not a seal id (two letters, 7 digits, check character)")
    if not has_valid_check(identifier):
        raise InvalidIdentifier(f"{identifier!r}: check character does not match")
    return identifier[:2], int(identifier[2:9])


def format_seal_id(identifier: str) -> str:
    """Human display in groups: ``KC 000 0123 7``."""
    return f"{identifier[:2]} {identifier[2:5]} {identifier[5:9]} {identifier[9:]}"
