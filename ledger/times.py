"""RFC 3339 timestamps in UTC with a ``Z`` suffix, the only form we sign.

One textual form per instant keeps canonical bytes unique: no offsets other
than ``Z``, no lowercase ``t``/``z``, at most nine fractional digits.
Time is always a parameter in the core; nothing here reads a clock.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

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
    match = _PATTERN.fullmatch(text)
    if match is None:
        raise InvalidTimestamp(f"{field}: {text!r} is not RFC 3339 UTC with 'Z' (YYYY-MM-DDTHH:MM:SSZ)")
    try:
        moment = datetime.strptime(f"{match['date']}T{match['time']}", "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise InvalidTimestamp(f"{field}: {text!r} is not a real date and time") from None
    micros = int((match["frac"] or "0").ljust(9, "0")[:6])
    return moment.replace(microsecond=micros, tzinfo=UTC)


def format_timestamp(moment: datetime, *, millis: bool = False) -> str:
    """Format an aware datetime as RFC 3339 UTC (``...Z``), seconds or milliseconds."""
    if moment.tzinfo is None:
        raise InvalidTimestamp("naive datetime: pass an aware datetime in UTC")
    moment = moment.astimezone(UTC)
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
