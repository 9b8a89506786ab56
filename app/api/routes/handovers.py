"""Two-party custody handovers, signed client-side by both parties.

1. The releasing custodian's client signs one ``custody.transferred`` per
   connector and POSTs them as an offer to the receiver. The server checks
   them as the append will (signatures, roles, custodian, seals, state) and
   keeps them; nothing is appended yet.
2. The receiver lists offers addressed to it, reads the statements and
   countersigns each payload (DSSE PAE) with its own key.
3. Accepting appends every statement of the offer as ONE all-or-nothing
   unit and answers with receipts; rejecting closes the offer with a reason
   and appends any ``incident.reported`` the receiver signed (e.g. for
   seals that differ from those declared).

Roles: any token holder; an offer is visible only to its two parties
(anyone else gets 404). The ledger decides who may release or receive.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request

from app.api.paging import HEX32_PATTERN, Limit, Offset
from app.api.schemas import AcceptIn, HandoverIn, OfferList, OfferOut, Receipts, RejectIn, RejectOut
from app.api.security import Caller, Ledger
from app.services import handover
from app.services.handover import TRANSFER
from app.services.receipts import receipts_for
from ledger.encoding import b64decode
from ledger.envelope import Envelope

router = APIRouter(prefix="/handovers", tags=["handovers"])
OfferId = Annotated[str, Path(pattern=HEX32_PATTERN, description="The offer id (32 hex digits).")]


def _out(offer: handover.Offer) -> OfferOut:
    return OfferOut.model_validate({**offer.as_dict(), "envelopes": offer.envelopes})


@router.post("", response_model=OfferOut, status_code=201, summary="Offer connectors to another party")
def create(ctx: Ledger, caller: Caller, body: HandoverIn) -> OfferOut:
    """Each envelope must be `custody.transferred` by the caller's party to `to`, signed (only) by
    the releaser under a key valid now; the releaser must be the custodian and declare the seals
    the ledger knows. Refusals carry the ledger's error codes and rule ids, with the `position`
    of the envelope. Nothing is appended."""
    ctx.require_initialised()
    caller.require_role_for(TRANSFER)
    envelopes = [Envelope.from_json(e.model_dump()) for e in body.envelopes]
    return _out(handover.create_offer_from_envelopes(ctx, caller.party, body.to, envelopes))


@router.get("", response_model=OfferList, summary="Offers addressed to me, or made by me")
def list_offers(
    ctx: Ledger,
    caller: Caller,
    role: Annotated[
        Literal["to", "from"], Query(description="`to`: addressed to me; `from`: made by me.")
    ] = "to",
    status: Annotated[Literal["pending", "accepted", "rejected", "all"], Query()] = "pending",
    limit: Limit = 100,
    offset: Offset = 0,
) -> OfferList:
    ctx.require_initialised()
    wanted = None if status == "all" else status
    if role == "to":
        offers = handover.offers(ctx, to=caller.party, status=wanted)
    else:
        offers = handover.offers(ctx, from_party=caller.party, status=wanted)
    page = offers[offset : offset + limit]
    return OfferList(
        items=[_out(o) for o in page],
        limit=limit,
        offset=offset,
        next_offset=offset + len(page) if offset + len(page) < len(offers) else None,
    )


@router.get("/{offer_id}", response_model=OfferOut, summary="One offer (its two parties only)")
def get_offer(ctx: Ledger, caller: Caller, offer_id: OfferId) -> OfferOut:
    ctx.require_initialised()
    return _out(handover.offer_for(ctx, offer_id, caller.party))


@router.post(
    "/{offer_id}/accept", response_model=Receipts, status_code=201, summary="Accept with countersignatures"
)
def accept(request: Request, ctx: Ledger, caller: Caller, offer_id: OfferId, body: AcceptIn) -> Receipts:
    """One countersignature per statement of the offer, in order, by a key of the receiving party
    valid now. All statements are appended as one unit — every connector changes hands or none —
    and the answer holds an offline receipt per entry (as `POST /statements`)."""
    ctx.require_initialised()
    caller.require_role_for(TRANSFER, countersign=True)
    signatures = [(s.keyid, b64decode(s.sig, f"signatures[{i}].sig")) for i, s in enumerate(body.signatures)]
    result = handover.accept_offer_with_signatures(
        ctx, caller.party, offer_id, signatures, submit=request.app.state.appender.submit
    )
    return Receipts.model_validate({"receipts": receipts_for(ctx, result)})


@router.post("/{offer_id}/reject", response_model=RejectOut, summary="Reject with a reason (and incidents)")
def reject(request: Request, ctx: Ledger, caller: Caller, offer_id: OfferId, body: RejectIn) -> RejectOut:
    """Close the offer unaccepted. `incidents` are `incident.reported` statements signed by the
    receiver about connectors of the offer (e.g. the seals differ from those declared); they are
    appended as one unit before the offer closes, and their receipts are returned."""
    ctx.require_initialised()
    if body.incidents:
        caller.require_role_for("incident.reported")
    incidents = [Envelope.from_json(e.model_dump()) for e in body.incidents]
    offer, appended = handover.reject_offer_signed(
        ctx, caller.party, offer_id, body.reason, incidents, submit=request.app.state.appender.submit
    )
    receipts = receipts_for(ctx, appended) if appended is not None else []
    return RejectOut.model_validate({"offer": _out(offer), "receipts": receipts})
