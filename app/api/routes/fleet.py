"""Fleet certificate status: connectors whose gSMC-K certificates expire soon (custody readers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.api.schemas import FleetExpiring
from app.api.security import CustodyReader, Ledger
from app.services.fleet import expiring, parse_window

router = APIRouter(prefix="/fleet", tags=["fleet"])


@router.get("/expiring", response_model=FleetExpiring, summary="Connectors with expiring certificates")
def fleet_expiring(
    ctx: Ledger,
    caller: CustodyReader,
    within: Annotated[
        str,
        Query(
            min_length=2,
            max_length=8,
            pattern=r"^[0-9]{1,6}[dwmy]$",
            description="Window: `180d`, `26w`, `6m` (30-day months) or `1y`; at most 20 years.",
        ),
    ] = "180d",
) -> FleetExpiring:
    """Active connectors whose earliest card expires within the window (expired ones included),
    grouped by month of expiry."""
    ctx.require_initialised()
    return FleetExpiring.model_validate(expiring(ctx, parse_window(within)))
