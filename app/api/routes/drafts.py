"""Statement drafts for clients that sign with keys the server never sees (browsers).

* ``POST /drafts`` — one statement by the caller's party, built by the same code the
  CLI uses (time and nonce from the ledger, schema-checked, what the ledger knows
  filled in): the canonical payload bytes (base64) and the DSSE payload type. The
  client signs ``PAE(payloadType, payload)`` and posts the envelope to ``/statements``.
* ``POST /drafts/batch`` — several at once (e.g. a shipment).
* ``GET /drafts/install-context`` — the work package of the install page (connectors
  the technician may install, practices with their salted digests), kept by the
  browser so that installations can be signed offline.

A draft appends nothing and reserves nothing: an unsigned draft is simply forgotten.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from app.api.security import Caller, Ledger, require
from app.services import drafts as service
from app.services.tokens import Principal

router = APIRouter(prefix="/drafts", tags=["drafts"])
Installer = Annotated[Principal, Depends(require(frozenset({"technician", "admin"})))]


class DraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, max_length=64, description="The statement kind, e.g. `received`.")
    subject: str = Field(min_length=1, max_length=300, description="E.g. `connector:SECUNET:1234567890`.")
    data: dict[str, Any] = Field(
        default_factory=dict,
        description="The kind's data; members the ledger knows may be left out (see the summary).",
    )
    place: str | None = Field(default=None, max_length=110, description="`location:` subject or its id.")


class DraftsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    drafts: list[DraftIn] = Field(min_length=1, max_length=service.MAX_DRAFTS)


class DraftOut(BaseModel):
    payloadType: str
    payload: str = Field(description="Standard base64 of the canonical statement bytes: what is signed.")
    statement: dict[str, Any] = Field(description="The same statement, parsed (for display only).")
    nonce: str


class DraftsOut(BaseModel):
    drafts: list[DraftOut]


@router.post("", response_model=DraftOut, summary="Draft one statement for client-side signing")
def draft_one(ctx: Ledger, caller: Caller, body: DraftIn) -> DraftOut:
    """The statement is by the caller's party. Filled in when left out: `seal.inspected` —
    `expected` (the ledger's seals) and per-seal `results` (`observed` given); `custody.transferred`
    — `seals`; `installed` — `firmware`, `remaining_validity_days`, `seal_check`, and `practice`
    given as a master-data id becomes its salted digest. Invalid statements are refused (422)
    before anyone signs them."""
    ctx.require_initialised()
    made = service.draft(
        ctx, caller.party, kind=body.kind, subject=body.subject, data=body.data, place=body.place
    )
    return DraftOut.model_validate(made.as_dict())


@router.post("/batch", response_model=DraftsOut, summary="Draft several statements")
def draft_many(ctx: Ledger, caller: Caller, body: DraftsIn) -> DraftsOut:
    ctx.require_initialised()
    made = service.drafts(ctx, caller.party, [d.model_dump() for d in body.drafts])
    return DraftsOut.model_validate({"drafts": [d.as_dict() for d in made]})


@router.get("/install-context", summary="Work package of the install page (technicians)")
def install_context(ctx: Ledger, caller: Installer) -> dict[str, Any]:
    """Connectors the caller holds in state RECEIVED (seals, firmware, earliest certificate
    expiry) and the practices to choose from (id, name, salted digest, location) — never a
    practice's BSNR or Telematik-ID."""
    ctx.require_initialised()
    return service.install_context(ctx, caller.party)
