"""RFC 3339 UTC timestamps: one textual form per instant we sign."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import InvalidTimestamp
from ledger.times import format_timestamp, parse_timestamp


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28T10:15:00Z", datetime(2026, 11, 28, 10, 15, tzinfo=UTC)),
        ("2026-11-28T10:15:02.123Z", datetime(2026, 11, 28, 10, 15, 2, 123000, tzinfo=UTC)),
        ("2026-11-28T10:15:02.1Z", datetime(2026, 11, 28, 10, 15, 2, 100000, tzinfo=UTC)),
        ("2026-11-28T10:15:02.123456789Z", datetime(2026, 11, 28, 10, 15, 2, 123456, tzinfo=UTC)),
        ("2024-02-29T23:59:59Z", datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
        ("9999-12-31T23:59:59.999999Z", datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    ],
)
def test_valid_timestamps(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-28T10:15:00+00:00",
        "2026-11-28T10:15:00+01:00",
        "2026-11-28T10:15:00-05:00",
        "2026-11-28T10:15:00",
        "2026-11-28t10:15:00Z",
        "2026-11-28T10:15:00z",
        "2026-11-28 10:15:00Z",
        "2026-02-30T00:00:00Z",
        "2025-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2016-12-31T23:59:60Z",
        "2026-11-28T24:00:00Z",
        "2026-11-28T10:60:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "2026-11-28T10:15:00.Z",
        "2026-11-28T10:15:00.1234567890Z",
        "2026-11-28T10:15:00,5Z",
        "2026-11-28T10:15Z",
        "26-11-28T10:15:00Z",
        "+2026-11-28T10:15:00Z",
        "2026-11-28",
        "",
        " 2026-11-28T10:15:00Z",
        "2026-11-28T10:15:00Z\n",
        "2026-11-28T10:15:00ZZ",
        "٢٠٢٦-١١-٢٨T10:15:00Z",
        "２０２６-11-28T10:15:00Z",
        "2026-11-28T10:15:00.١Z",
    ],
    ids=[
        "offset-zero",
        "offset-plus",
        "offset-minus",
        "no-zone",
        "lowercase-t",
        "lowercase-z",
        "space-separator",
        "feb-30",
        "feb-29-non-leap-year",
        "april-31",
        "leap-second",
        "hour-24",
        "minute-60",
        "month-13",
        "month-0",
        "year-0",
        "empty-fraction",
        "ten-fraction-digits",
        "comma-fraction",
        "no-seconds",
        "two-digit-year",
        "signed-year",
        "date-only",
        "empty",
        "leading-space",
        "trailing-newline",
        "double-z",
        "arabic-indic-digits",
        "fullwidth-digits",
        "arabic-indic-fraction",
    ],
)
def test_invalid_timestamps(text: str) -> None:
    with pytest.raises(InvalidTimestamp) as caught:
        parse_timestamp(text, "at")
    assert str(caught.value).startswith("at: ")


@pytest.mark.parametrize(
    "value", [None, 1_764_324_900, datetime(2026, 11, 28, tzinfo=UTC), b"2026-11-28T10:15:00Z"]
)
def test_non_strings_are_invalid(value: object) -> None:
    with pytest.raises(InvalidTimestamp):
        parse_timestamp(value)


def test_format_timestamp() -> None:
    moment = datetime(2026, 11, 28, 10, 15, 2, 123999, tzinfo=UTC)
    assert format_timestamp(moment) == "2026-11-28T10:15:02Z"
    assert format_timestamp(moment, millis=True) == "2026-11-28T10:15:02.123Z"
    assert format_timestamp(moment.replace(microsecond=0), millis=True) == "2026-11-28T10:15:02.000Z"
    cet = timezone(timedelta(hours=1))
    assert format_timestamp(datetime(2026, 11, 28, 11, 15, tzinfo=cet)) == "2026-11-28T10:15:00Z"
    assert format_timestamp(datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0999-01-02T03:04:05Z"
    assert format_timestamp(datetime(1, 1, 1, tzinfo=UTC), millis=True) == "0001-01-01T00:00:00.000Z"
    with pytest.raises(InvalidTimestamp, match="naive"):
        format_timestamp(datetime(2026, 11, 28, 10, 15))


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59), timezones=st.just(UTC)
    )
)
def test_format_and_parse_round_trip(moment: datetime) -> None:
    text = format_timestamp(moment, millis=True)
    parsed = parse_timestamp(text)
    assert parsed == moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    assert format_timestamp(parsed, millis=True) == text
    assert parse_timestamp(format_timestamp(moment)) == moment.replace(microsecond=0)
