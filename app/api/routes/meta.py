"""Service health and the caller's identity."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.schemas import Health, Me
from app.api.security import Caller, Ledger

router = APIRouter(tags=["meta"])


@router.get("/health", response_model=Health, summary="Liveness and log size (public)")
def health(ctx: Ledger) -> Health:
    ctx.require_initialised()
    return Health(status="ok", log_size=ctx.store.size())


@router.get("/me", response_model=Me, summary="Who the token belongs to")
def me(caller: Caller) -> Me:
    return Me(party=caller.party, roles=sorted(caller.roles), token_id=caller.token_id)
