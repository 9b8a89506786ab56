"""Two-party handovers: offer (signed by the releaser), then accept (countersigned) or reject.

An offer is not in the log: it is a set of ``custody.transferred``
statements, one per connector, signed by the releasing custodian and kept
in ``handover_offers`` until the receiving party decides. Accepting adds the
receiver's signature to every statement and appends them as ONE batch —
all connectors change hands or none. Rejecting closes the offer with a
reason; if the receiver saw other seals than declared, an incident is
recorded for each such connector, signed by the receiver.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from app import queries
from app.logstore import AppendResult
from app.services.context import LedgerContext
from app.services.custody import connector_subject, envelope_for, party_ref
from app.tables import HANDOVER_OFFERS
from ledger.custody.records import DESTROYED, LOST
from ledger.envelope import Envelope
from ledger.errors import Conflict, InvalidInput, NotFound, RuleViolation
from ledger.keys import SigningKey
from ledger.times import format_timestamp

PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"


@dataclass(frozen=True)
class Offer:
    offer_id: str
    from_party: str
    to_party: str
    status: str
    created_at: str
    connectors: list[dict[str, Any]]
    envelopes: list[dict[str, Any]]
    reason: str | None = None
    closed_at: str | None = None
    result: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "offer_id": self.offer_id,
            "from": self.from_party,
            "to": self.to_party,
            "status": self.status,
            "created_at": self.created_at,
            "closed_at": self.closed_at,
            "reason": self.reason,
            "connectors": self.connectors,
            "result": self.result,
        }


def _row_to_offer(row: Any) -> Offer:
    m = row._mapping
    return Offer(
        m["offer_id"],
        m["from_party"],
        m["to_party"],
        m["status"],
        m["created_at"],
        json.loads(m["connectors"]),
        json.loads(m["envelopes"]),
        m["reason"],
        m["closed_at"],
        json.loads(m["result"]) if m["result"] else None,
    )


def create_offer(
    ctx: LedgerContext,
    actor: str,
    key: SigningKey,
    connectors: list[str],
    to: str,
    *,
    delivery_note: str | None = None,
    shipment: str | None = None,
) -> Offer:
    """The releasing custodian signs one transfer per connector; nothing is appended yet."""
    if not connectors:
        raise InvalidInput("a handover needs at least one connector")
    releaser, receiver = party_ref(actor), party_ref(to)
    if releaser == receiver:
        raise InvalidInput("a handover needs two different parties")
    if receiver not in ctx.store.trust_state().parties:
        raise NotFound(f"unknown receiving party {receiver}")
    subjects = [connector_subject(c) for c in connectors]
    if len(set(subjects)) != len(subjects):
        raise InvalidInput("a connector appears twice in the handover")
    envelopes, summary = [], []
    for subject in subjects:
        current = queries.connector(ctx.engine, subject)
        # Fail early with the rule the append would apply later (rule 6).
        if current.custodian != releaser:
            raise RuleViolation(
                "rule.transfer_from_custodian",
                f"{releaser} is not the custodian of {subject} ({current.custodian} is)",
            )
        if current.state == DESTROYED:
            raise RuleViolation("rule.nothing_after_destroyed", f"{subject} is {current.state}")
        if current.state == LOST:
            raise RuleViolation("rule.state_transition", f"{subject} is {current.state}")
        data: dict[str, Any] = {"to": receiver, "seals": sorted(current.seals)}
        if delivery_note:
            data["delivery_note"] = delivery_note
        if shipment:
            data["shipment"] = shipment
        envelope = envelope_for(
            ctx, actor=actor, keys=[key], kind="custody.transferred", subject=subject, data=data
        )
        envelopes.append(envelope.to_json())
        summary.append({"connector": subject, "seals": sorted(current.seals), "state": current.state})
    offer = Offer(
        ctx.random_bytes(16).hex(),
        releaser,
        receiver,
        PENDING,
        format_timestamp(ctx.clock()),
        summary,
        envelopes,
    )
    with ctx.engine.begin() as conn:
        conn.execute(
            HANDOVER_OFFERS.insert(),
            {
                "offer_id": offer.offer_id,
                "from_party": offer.from_party,
                "to_party": offer.to_party,
                "status": PENDING,
                "created_at": offer.created_at,
                "connectors": json.dumps(summary),
                "envelopes": json.dumps(envelopes),
            },
        )
    return offer


def get_offer(ctx: LedgerContext, offer_id: str) -> Offer:
    with ctx.engine.connect() as conn:
        row = conn.execute(select(HANDOVER_OFFERS).where(HANDOVER_OFFERS.c.offer_id == offer_id)).first()
    if row is None:
        raise NotFound(f"unknown handover offer {offer_id}")
    return _row_to_offer(row)


def offers(
    ctx: LedgerContext, *, to: str | None = None, from_party: str | None = None, status: str | None = PENDING
) -> list[Offer]:
    query = select(HANDOVER_OFFERS).order_by(HANDOVER_OFFERS.c.created_at, HANDOVER_OFFERS.c.offer_id)
    if to is not None:
        query = query.where(HANDOVER_OFFERS.c.to_party == party_ref(to))
    if from_party is not None:
        query = query.where(HANDOVER_OFFERS.c.from_party == party_ref(from_party))
    if status is not None:
        query = query.where(HANDOVER_OFFERS.c.status == status)
    with ctx.engine.connect() as conn:
        return [_row_to_offer(r) for r in conn.execute(query)]


def _pending_for(ctx: LedgerContext, offer_id: str, actor: str) -> Offer:
    offer = get_offer(ctx, offer_id)
    if offer.to_party != party_ref(actor):
        raise NotFound(f"handover offer {offer_id} is not addressed to {party_ref(actor)}")
    if offer.status != PENDING:
        raise Conflict(f"handover offer {offer_id} is already {offer.status}")
    return offer


def _close(
    ctx: LedgerContext, offer_id: str, status: str, reason: str | None, result: dict[str, Any]
) -> None:
    with ctx.engine.begin() as conn:
        changed = conn.execute(
            update(HANDOVER_OFFERS)
            .where(HANDOVER_OFFERS.c.offer_id == offer_id, HANDOVER_OFFERS.c.status == PENDING)
            .values(
                status=status,
                reason=reason,
                closed_at=format_timestamp(ctx.clock()),
                result=json.dumps(result),
            )
        ).rowcount
    if changed != 1:
        raise Conflict(f"handover offer {offer_id} was closed concurrently")


def accept_offer(ctx: LedgerContext, actor: str, key: SigningKey, offer_id: str) -> AppendResult:
    """Countersign every statement of the offer and append them together."""
    offer = _pending_for(ctx, offer_id, actor)
    countersigned = [Envelope.from_json(e).with_signature(key) for e in offer.envelopes]
    result = ctx.writer().append(countersigned)
    # The log is the record; the offer row only follows it. Should this
    # update fail, the append still stands and a retry sees a replay.
    _close(ctx, offer_id, ACCEPTED, None, {"indices": [e.index for e in result.entries], "size": result.size})
    return result


def reject_offer(
    ctx: LedgerContext,
    actor: str,
    key: SigningKey,
    offer_id: str,
    reason: str,
    observed_seals: dict[str, list[str]] | None = None,
) -> tuple[Offer, AppendResult | None]:
    """Close an offer unaccepted; on a seal mismatch record an incident per connector."""
    if not reason.strip():
        raise InvalidInput("a rejection needs a reason")
    offer = _pending_for(ctx, offer_id, actor)
    observed = {connector_subject(k): sorted(v) for k, v in (observed_seals or {}).items()}
    declared = {c["connector"]: c["seals"] for c in offer.connectors}
    unknown = set(observed) - set(declared)
    if unknown:
        raise InvalidInput(f"connectors not in the offer: {sorted(unknown)}")
    incidents = []
    for subject, seen in sorted(observed.items()):
        if set(seen) != set(declared[subject]):
            description = (
                f"handover {offer_id} rejected: declared seals {declared[subject]}, observed {seen}. {reason}"
            )[:1000]
            incidents.append(
                envelope_for(
                    ctx,
                    actor=actor,
                    keys=[key],
                    kind="incident.reported",
                    subject=subject,
                    data={"category": "seal_mismatch", "description": description},
                )
            )
    appended = ctx.writer().append(incidents) if incidents else None
    result: dict[str, Any] = {"incidents": [e.index for e in appended.entries] if appended else []}
    _close(ctx, offer_id, REJECTED, reason, result)
    return get_offer(ctx, offer_id), appended
