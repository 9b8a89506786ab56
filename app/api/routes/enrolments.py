"""Key enrolment for browser-held keys: submit a public key, an administrator approves it.

* ``POST /enrolments`` — any token holder enrols a new key for its own
  party (only the public key is sent; the private key never leaves the
  browser).
* ``GET /enrolments`` / ``GET /enrolments/{id}`` — administrators see all,
  everyone else only their own party's (others' are 404).
* ``POST /enrolments/{id}/approve`` — an administrator token, with a
  ``key.added`` statement for exactly this party and key, signed client-side
  by that administrator; it is appended and the key signs from the next
  index on.
* ``POST /enrolments/{id}/reject`` — an administrator token, with a reason.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request

from app.api.paging import HEX32_PATTERN, PARTY_PATTERN, Limit, Offset, next_offset
from app.api.schemas import (
    ApproveIn,
    ApproveOut,
    EnrolmentIn,
    EnrolmentList,
    EnrolmentOut,
    RejectEnrolmentIn,
)
from app.api.security import Admin, Caller, Ledger
from app.services import enrolment
from app.services.receipts import receipts_for
from ledger.envelope import Envelope

router = APIRouter(prefix="/enrolments", tags=["enrolments"])
EnrolmentId = Annotated[str, Path(pattern=HEX32_PATTERN, description="The enrolment id (32 hex digits).")]


def _out(item: enrolment.Enrolment) -> EnrolmentOut:
    return EnrolmentOut.model_validate(item.as_dict())


@router.post("", response_model=EnrolmentOut, status_code=201, summary="Enrol a public key for my party")
def submit(ctx: Ledger, caller: Caller, body: EnrolmentIn) -> EnrolmentOut:
    """The key must be Ed25519, ECDSA P-256 or brainpoolP256r1, in canonical DER (uncompressed
    point), and new to the ledger and to enrolments. It waits for an administrator."""
    ctx.require_initialised()
    return _out(enrolment.submit_enrolment(ctx, caller.party, body.spki, body.label))


@router.get("", response_model=EnrolmentList, summary="Enrolments (administrators: all; others: own)")
def list_enrolments(
    ctx: Ledger,
    caller: Caller,
    status: Annotated[Literal["pending", "approved", "rejected", "all"], Query()] = "pending",
    party: Annotated[
        str | None,
        Query(max_length=70, pattern=PARTY_PATTERN, description="Administrators: only this party's."),
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> EnrolmentList:
    ctx.require_initialised()
    admin = "admin" in caller.roles
    items = enrolment.enrolments(
        ctx,
        party=(party if admin else caller.party),
        status=None if status == "all" else status,
        limit=limit,
        offset=offset,
    )
    return EnrolmentList(
        items=[_out(i) for i in items],
        limit=limit,
        offset=offset,
        next_offset=next_offset(offset, limit, len(items)),
    )


@router.get("/{enrolment_id}", response_model=EnrolmentOut, summary="One enrolment")
def get_enrolment(ctx: Ledger, caller: Caller, enrolment_id: EnrolmentId) -> EnrolmentOut:
    ctx.require_initialised()
    return _out(enrolment.enrolment_for(ctx, enrolment_id, caller.party, "admin" in caller.roles))


@router.post("/{enrolment_id}/approve", response_model=ApproveOut, summary="Approve (administrators)")
def approve(
    request: Request, ctx: Ledger, caller: Admin, enrolment_id: EnrolmentId, body: ApproveIn
) -> ApproveOut:
    """`envelope` is `key.added` with subject the enrolled party and data exactly `key_added_data`
    of the enrolment, by the caller, signed with the caller's administrator key. It is appended;
    the answer holds its offline receipt."""
    ctx.require_initialised()
    envelope = Envelope.from_json(body.envelope.model_dump())
    decided, result = enrolment.approve_enrolment(
        ctx, caller.party, enrolment_id, envelope, submit=request.app.state.appender.submit
    )
    return ApproveOut.model_validate({"enrolment": _out(decided), "receipts": receipts_for(ctx, result)})


@router.post("/{enrolment_id}/reject", response_model=EnrolmentOut, summary="Reject (administrators)")
def reject(ctx: Ledger, caller: Admin, enrolment_id: EnrolmentId, body: RejectEnrolmentIn) -> EnrolmentOut:
    ctx.require_initialised()
    return _out(enrolment.reject_enrolment(ctx, caller.party, enrolment_id, body.reason))
