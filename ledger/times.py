"""RFC 3339 timestamps in UTC with a ``Z`` suffix, the only form we sign.

One textual form per instant keeps canonical bytes unique: no offsets other
than ``Z``, no lowercase ``t``/``z``, at most nine fractional digits.
Time is always a parameter in the core; nothing here reads a clock.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache

from ledger.errors import InvalidTimestamp

# re.ASCII: without it \d also matches non-ASCII digits (Arabic-Indic, fullwidth, …),
# which would give one instant many accepted spellings.
_PATTERN = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d{1,9}))?Z", re.ASCII
)


def parse_timestamp(text: object, field: str = "timestamp") -> datetime:
    """Parse ``YYYY-MM-DDTHH:MM:SS[.fraction]Z`` into an aware UTC datetime."""
    if not isinstance(text, str):
        raise InvalidTimestamp(f"{field}: expected an RFC 3339 UTC string, got {type(text).__name__}")
    try:
        return _parse_cached(text)
    except InvalidTimestamp as exc:
        raise InvalidTimestamp(f"{field}: {exc.message}") from None


@lru_cache(maxsize=8192)
def _parse_cached(text: str) -> datetime:
    # Replay parses the same timestamp several times (statement, rules,
    # time flags) and every entry of a batch shares recorded_at; datetimes
    # are immutable, so caching is safe. Errors are never cached.
    match = _PATTERN.fullmatch(text)
    if match is None:
        raise InvalidTimestamp(f"{text!r} is not RFC 3339 UTC with 'Z' (YYYY-MM-DDTHH:MM:SSZ)")
    micros = int((match["frac"] or "0").ljust(9, "0")[:6])
    try:
        # The constructor checks every range (month, day of month, hour,
        # minute, second ≤ 59 — no leap seconds), far faster than strptime.
        return datetime(
            int(text[0:4]), int(text[5:7]), int(text[8:10]),
            int(text[11:13]), int(text[14:16]), int(text[17:19]),
            micros, tzinfo=UTC,
        )  # fmt: skip
    except ValueError:
        raise InvalidTimestamp(f"{text!r} is not a real date and time") from None


def format_timestamp(moment: datetime, *, millis: bool = False) -> str:
    """Format an aware datetime as RFC 3339 UTC (``...Z``), seconds or milliseconds."""
    if moment.tzinfo is None:
        raise InvalidTimestamp("naive datetime: pass an aware datetime in UTC")
    moment = moment.astimezone(UTC)
    # Not strftime: its %Y does not zero-pad years before 1000 on every platform.
    text = f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}"
    if millis:
        return f"{text}.{moment.microsecond // 1000:03d}Z"
    return f"{text}Z"
