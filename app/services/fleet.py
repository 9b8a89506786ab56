"""Fleet certificate status: which connectors are due for exchange or LZV, by month."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.services.context import LedgerContext
from app.tables import CONNECTORS
from ledger.custody.records import DECOMMISSIONED, DESTROYED, LOST
from ledger.times import format_timestamp

RETIRED = (DESTROYED, LOST, DECOMMISSIONED)


def expiring(ctx: LedgerContext, within: timedelta, now: datetime | None = None) -> dict[str, Any]:
    """Active connectors whose earliest gSMC-K expiry is before ``now + within`` (expired ones included)."""
    moment = now or ctx.clock()
    horizon = format_timestamp(moment + within)
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(
                CONNECTORS.c.subject,
                CONNECTORS.c.state,
                CONNECTORS.c.cert_not_after,
                CONNECTORS.c.custodian,
                CONNECTORS.c.location,
            )
            .where(CONNECTORS.c.cert_not_after.is_not(None), CONNECTORS.c.cert_not_after <= horizon)
            .where(CONNECTORS.c.state.not_in(RETIRED))
            .order_by(CONNECTORS.c.cert_not_after, CONNECTORS.c.subject)
        ).all()
    months: dict[str, list[dict[str, Any]]] = defaultdict(list)
    now_text = format_timestamp(moment)
    for subject, state, not_after, custodian, location in rows:
        months[not_after[:7]].append(
            {
                "connector": subject,
                "state": state,
                "not_after": not_after,
                "expired": not_after <= now_text,
                "custodian": custodian,
                "location": location,
            }
        )
    return {
        "as_of": now_text,
        "within_days": within.days,
        "total": len(rows),
        "months": [
            {"month": m, "count": len(items), "connectors": items} for m, items in sorted(months.items())
        ],
    }


def parse_window(text: str) -> timedelta:
    """``180d``, ``26w``, ``6m`` (30-day months) or ``1y`` (365 days)."""
    from ledger.errors import InvalidInput

    units = {"d": 1, "w": 7, "m": 30, "y": 365}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise InvalidInput(f"window {text!r}: use a number with d, w, m or y (e.g. 180d)")
    days = int(text[:-1]) * units[text[-1]]
    if days > 365 * 20:
        raise InvalidInput("window longer than 20 years")
    return timedelta(days=days)
