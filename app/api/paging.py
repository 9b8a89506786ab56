"""Query parameters shared by the list endpoints, with bounds (a wrong value is a 422)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

MAX_LIMIT = 1000
MAX_OFFSET = 2**31 - 1

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size (1–{MAX_LIMIT}).")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip.")]

#: ``connector:VENDOR:SERIAL`` or ``VENDOR:SERIAL`` (ids are upper-case).
CONNECTOR_PATTERN = r"^(connector:)?[A-Z0-9][A-Z0-9_-]{0,31}:[A-Z0-9][A-Z0-9._-]{0,63}$"
#: ``party:ID`` or ``ID``.
PARTY_PATTERN = r"^(party:)?[A-Z0-9][A-Z0-9._-]{0,63}$"
SEAL_PATTERN = r"^[A-Z0-9]{10}$"
HEX32_PATTERN = r"^[0-9a-f]{32}$"


def next_offset(offset: int, limit: int, returned: int) -> int | None:
    """Where the next page starts, or None when this page was not full."""
    return offset + returned if returned == limit else None
