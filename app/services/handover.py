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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from app import queries
from app.logstore import AppendResult
from app.projections import CustodyProjection
from app.services.context import LedgerContext
from app.services.custody import connector_subject, envelope_for, party_ref
from app.services.tokens import Forbidden
from app.tables import ENTRIES, HANDOVER_OFFERS
from ledger.custody.records import DESTROYED, LOST
from ledger.custody.records import custody as custody_state
from ledger.envelope import Envelope, Signature
from ledger.errors import (
    Conflict,
    InvalidInput,
    KeyRevoked,
    LedgerError,
    MalformedEnvelope,
    MissingRole,
    NotFound,
    ReplayedStatement,
    RuleViolation,
    SignerMismatch,
    UnknownKey,
)
from ledger.keys import SigningKey
from ledger.kinds import KindSpec
from ledger.state import Context as StateContext
from ledger.state import LedgerState, resolve_keys, validate_statement, verify_signatures
from ledger.statement import Statement
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
    return _store_offer(ctx, releaser, receiver, summary, envelopes)


def _store_offer(
    ctx: LedgerContext,
    releaser: str,
    receiver: str,
    summary: list[dict[str, Any]],
    envelopes: list[dict[str, Any]],
) -> Offer:
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


# --------------------------------------------------------------------------
# Client-signed handovers (the HTTP API): private keys never reach the server.
#
# The releaser's client builds and signs the ``custody.transferred``
# statements; the receiver's client countersigns them (a signature over the
# same DSSE PAE bytes); the server only checks and stores. Nothing here
# signs anything.

TRANSFER = "custody.transferred"
INCIDENT = "incident.reported"
#: Appends one all-or-nothing unit (the API passes its group appender's ``submit``).
Submit = Callable[[Sequence[Envelope]], AppendResult]


class HandoverInvalid(InvalidInput):
    """An offer, acceptance or rejection does not fit the handover it is for."""

    code = "input.handover"


def _at_position(exc: LedgerError, position: int, total: int) -> LedgerError:
    exc.batch_position = position  # type: ignore[attr-defined]
    if total > 1:
        exc.message = f"envelope {position + 1} of {total}: {exc.message}"
        exc.args = (exc.message,)
    return exc


def _check_offer_envelope(
    trust: LedgerState,
    index: int,
    envelope: Envelope,
    releaser: str,
    receiver: str,
) -> tuple[Statement, KindSpec]:
    """One releaser-signed transfer: shape, signatures and roles (no custody state yet)."""
    statement = Statement.from_bytes(envelope.payload)
    if statement.kind != TRANSFER:
        raise HandoverInvalid(f"an offer holds {TRANSFER} statements, not {statement.kind}")
    if statement.by != releaser:
        raise Forbidden(f"{releaser} may only offer its own statements (this one is by {statement.by})")
    if statement.data.get("to") != receiver:
        raise HandoverInvalid(
            f"the statement hands over to {statement.data.get('to')}, the offer to {receiver}"
        )
    spec = validate_statement(statement)
    resolved = resolve_keys(trust, envelope, statement, index)
    foreign = sorted({key.party for _, key in resolved} - {releaser})
    if foreign:
        raise HandoverInvalid(
            f"an offer carries only the releaser's signature; {', '.join(foreign)} signed too "
            "(the receiver countersigns when accepting)"
        )
    verify_signatures(envelope, resolved)
    if not trust.roles_of(releaser) & spec.roles:
        raise MissingRole(f"{releaser} needs one of the roles {', '.join(sorted(spec.roles))} for {TRANSFER}")
    if not trust.roles_of(receiver) & spec.counterparty_roles:
        raise MissingRole(
            f"{receiver} needs one of the roles {', '.join(sorted(spec.counterparty_roles))} "
            f"to countersign {TRANSFER}"
        )
    return statement, spec


def create_offer_from_envelopes(
    ctx: LedgerContext, releaser: str, to: str, envelopes: Sequence[Envelope]
) -> Offer:
    """Check releaser-signed transfers as the append will, then keep them as an offer.

    Fails early, with the ledger's own errors and rule ids: signatures under
    keys valid now, the roles of both parties, and the custody guards of
    ``custody.transferred`` (the releaser is the custodian, the declared seals
    are the ledger's, the connector's state allows a transfer). Only the
    receiver's countersignature is missing — nothing is appended.
    """
    if not envelopes:
        raise InvalidInput("a handover needs at least one connector")
    releaser, receiver = party_ref(releaser), party_ref(to)
    if releaser == receiver:
        raise InvalidInput("a handover needs two different parties")
    trust = ctx.store.trust_state()
    if receiver not in trust.parties:
        raise NotFound(f"unknown receiving party {receiver}")
    size = ctx.store.size()
    checked: list[tuple[Statement, KindSpec]] = []
    seen: set[str] = set()
    for position, envelope in enumerate(envelopes):
        try:
            statement, spec = _check_offer_envelope(trust, size + position, envelope, releaser, receiver)
            if statement.subject in seen:
                raise HandoverInvalid(f"{statement.subject} appears twice in the handover")
        except LedgerError as exc:
            raise _at_position(exc, position, len(envelopes)) from None
        seen.add(statement.subject)
        checked.append((statement, spec))
    statements = [s for s, _ in checked]
    with ctx.engine.connect() as conn:
        used = conn.execute(
            select(ENTRIES.c.nonce).where(ENTRIES.c.nonce.in_([s.nonce for s in statements]))
        ).first()
        if used is not None:
            raise ReplayedStatement(f"a statement with nonce {used[0]} is already in the log")
        # The custody guards of the kind itself, on the records the append would load.
        CustodyProjection().hydrate(conn, trust, statements)
        recorded_at = format_timestamp(ctx.clock(), millis=True)
        for position, (statement, spec) in enumerate(checked):
            context = StateContext(
                index=size + position,
                statement=statement,
                spec=spec,
                signers=frozenset({releaser, receiver}),
                recorded_at=recorded_at,
            )
            try:
                spec.check(trust, context)
            except LedgerError as exc:
                raise _at_position(exc, position, len(envelopes)) from None
    summary = []
    for statement in statements:
        record = custody_state(trust).connectors.get(statement.subject)
        assert record is not None
        summary.append({"connector": statement.subject, "seals": sorted(record.seals), "state": record.state})
    return _store_offer(ctx, releaser, receiver, summary, [e.to_json() for e in envelopes])


def offer_for(ctx: LedgerContext, offer_id: str, party: str) -> Offer:
    """An offer, only for its two parties (anyone else learns nothing, not even that it exists)."""
    offer = get_offer(ctx, offer_id)
    if party_ref(party) not in (offer.from_party, offer.to_party):
        raise NotFound(f"unknown handover offer {offer_id}")
    return offer


def accept_offer_with_signatures(
    ctx: LedgerContext,
    actor: str,
    offer_id: str,
    signatures: Sequence[tuple[str, bytes]],
    submit: Submit | None = None,
) -> AppendResult:
    """Add the receiver's countersignatures (one per statement, in order) and append them as one unit."""
    offer = _pending_for(ctx, offer_id, actor)
    receiver = party_ref(actor)
    if len(signatures) != len(offer.envelopes):
        raise HandoverInvalid(
            f"the offer holds {len(offer.envelopes)} statement(s): give one countersignature each, "
            f"not {len(signatures)}"
        )
    trust = ctx.store.trust_state()
    size = ctx.store.size()
    countersigned = []
    for position, (raw, (keyid, sig)) in enumerate(zip(offer.envelopes, signatures, strict=True)):
        try:
            envelope = Envelope.from_json(raw)
            key = trust.keys.get(keyid)
            if key is None:
                raise UnknownKey(f"key {keyid[:16]}… is not registered")
            if not key.usable_at(size + position):
                raise KeyRevoked(f"key {keyid[:16]}… of {key.party} was revoked at index {key.revoked_at}")
            if key.party != receiver:
                raise SignerMismatch(
                    f"key {keyid[:16]}… belongs to {key.party}, not to the receiver {receiver}"
                )
            if any(s.keyid == keyid for s in envelope.signatures):
                raise MalformedEnvelope(f"key {keyid[:16]}… has already signed this statement")
            key.public_key.verify(sig, envelope.signed_bytes)
        except LedgerError as exc:
            raise _at_position(exc, position, len(signatures)) from None
        countersigned.append(
            Envelope(envelope.payload_type, envelope.payload, (*envelope.signatures, Signature(keyid, sig)))
        )
    append = submit if submit is not None else ctx.writer().append
    result = append(countersigned)
    _close(ctx, offer_id, ACCEPTED, None, {"indices": [e.index for e in result.entries], "size": result.size})
    return result


def reject_offer_signed(
    ctx: LedgerContext,
    actor: str,
    offer_id: str,
    reason: str,
    incidents: Sequence[Envelope] = (),
    submit: Submit | None = None,
) -> tuple[Offer, AppendResult | None]:
    """Close an offer unaccepted; append the receiver's signed incidents (e.g. seal mismatches), one unit."""
    if not reason.strip():
        raise InvalidInput("a rejection needs a reason")
    offer = _pending_for(ctx, offer_id, actor)
    receiver = party_ref(actor)
    subjects = {c["connector"] for c in offer.connectors}
    for position, envelope in enumerate(incidents):
        try:
            statement = Statement.from_bytes(envelope.payload)
            if statement.kind != INCIDENT:
                raise HandoverInvalid(f"a rejection carries {INCIDENT} statements, not {statement.kind}")
            if statement.by != receiver:
                raise Forbidden(
                    f"{receiver} may only submit its own incidents (this one is by {statement.by})"
                )
            if statement.subject not in subjects:
                raise HandoverInvalid(f"{statement.subject} is not part of handover offer {offer_id}")
        except LedgerError as exc:
            raise _at_position(exc, position, len(incidents)) from None
    appended = None
    if incidents:
        append = submit if submit is not None else ctx.writer().append
        appended = append(list(incidents))
    result: dict[str, Any] = {"incidents": [e.index for e in appended.entries] if appended else []}
    _close(ctx, offer_id, REJECTED, reason.strip(), result)
    return get_offer(ctx, offer_id), appended
