"""Reading what a scanner typed: keyboard-wedge input and QR payloads.

Handheld scanners "type" what they read and press Enter. When the
scanner's keyboard layout differs from the computer's (US vs German is the
usual case), letters Y and Z swap and punctuation arrives garbled: a ``/``
becomes ``-``, a ``:`` becomes ``Ö``, a ``-`` becomes ``ß``. Seal ids avoid
Y, Z and punctuation altogether and end in a check character, so a garbled
scan can be repaired and the repair confirmed, never guessed.

:func:`candidates` lists the readings of a raw scan, most literal first;
:func:`read_scan` returns the first reading that is a valid identifier.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ledger.custody.ids import SEAL_ID, has_valid_check

#: What a US-layout scanner's keys produce on a German-layout computer.
US_TO_DE = {
    "y": "z", "z": "y", "Y": "Z", "Z": "Y",
    "-": "ß", "/": "-", ":": "Ö", ";": "ö", "_": "?", "?": "_", "=": "´", "+": "`",
    "[": "ü", "]": "+", "{": "Ü", "}": "*", "'": "ä", '"': "Ä", "\\": "#", "|": "'",
    "<": ";", ">": ":", "@": '"', "#": "§", "^": "&", "&": "/", "*": "(", "(": ")", ")": "=",
}  # fmt: skip
#: Undo that: what the computer received → what the scanner read.
_DE_GARBLED_TO_US = {v: k for k, v in US_TO_DE.items()}
#: The opposite mismatch (German scanner, US computer).
_US_GARBLED_TO_DE = US_TO_DE
MAX_SCAN_LENGTH = 2048

_CONNECTOR = re.compile(r"(?:CONNECTOR:)?([A-Z0-9][A-Z0-9_-]{0,31}):([A-Z0-9][A-Z0-9._-]{0,63})")
_SEAL_IN_TEXT = re.compile(r"(?<![A-Z0-9])([ABCDEFGHJKMNPQRSTVWX]{2}[0-9]{7}[0-9A-HJKMNP-TV-X])(?![A-Z0-9])")
_SEAL_PATH = re.compile(r"/S/([0-9A-Z]{10})(?:[/?#]|$)")


def _translate(text: str, table: dict[str, str]) -> str:
    return "".join(table.get(ch, ch) for ch in text)


def _clean(raw: str) -> str:
    # NFKC folds full-width and compatibility forms some scanner drivers emit.
    text = unicodedata.normalize("NFKC", raw)
    return "".join(ch for ch in text if ch.isprintable()).strip()


def candidates(raw: str) -> list[str]:
    """Possible readings of a raw scan, upper-cased, most literal first, no duplicates."""
    text = _clean(raw[:MAX_SCAN_LENGTH])
    readings = [
        text,
        _translate(text, _DE_GARBLED_TO_US),
        _translate(text, _US_GARBLED_TO_DE),
        text.translate(str.maketrans("YZyz", "ZYzy")),
    ]
    out: list[str] = []
    for reading in readings:
        upper = reading.upper()
        if upper not in out:
            out.append(upper)
    return out


@dataclass(frozen=True)
class ScanReading:
    """What a scan identifies: ``kind`` is ``seal``, ``connector`` or ``unknown``."""

    kind: str
    identifier: str | None
    reading: str
    repaired: bool
    from_label_url: bool = False


def _seal_from(text: str) -> tuple[str, bool] | None:
    compact = re.sub(r"[\s-]", "", text)
    if SEAL_ID.fullmatch(compact) and has_valid_check(compact):
        return compact, False
    path = _SEAL_PATH.search(text)
    if path and SEAL_ID.fullmatch(path[1]) and has_valid_check(path[1]):
        return path[1], True
    for match in _SEAL_IN_TEXT.finditer(text):
        if has_valid_check(match[1]):
            return match[1], True
    return None


def read_scan(raw: str) -> ScanReading:
    """The first reading of ``raw`` that is a valid seal id or connector id."""
    readings = candidates(raw)
    for position, reading in enumerate(readings):
        seal = _seal_from(reading)
        if seal is not None:
            return ScanReading("seal", seal[0], reading, position > 0, seal[1])
    for position, reading in enumerate(readings):
        match = _CONNECTOR.fullmatch(reading.replace(" ", ""))
        if match is not None:
            return ScanReading("connector", f"connector:{match[1]}:{match[2]}", reading, position > 0)
    return ScanReading("unknown", None, readings[0] if readings else "", False)


def connector_readings(raw: str) -> list[str]:
    """Every connector subject a scan could mean (a store picks the one that exists)."""
    out = []
    for reading in candidates(raw):
        match = _CONNECTOR.fullmatch(reading.replace(" ", ""))
        if match is not None:
            subject = f"connector:{match[1]}:{match[2]}"
            if subject not in out:
                out.append(subject)
    return out
