"""Custody use cases: one function per action of warehouse staff, technicians and auditors.

Each function builds the statement (filling in what the ledger already
knows, such as a connector's current seals), signs it with the actor's key
and appends it. Every rule is decided by the ledger core at append time;
nothing here second-guesses it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from app import queries
from app.logstore import AppendResult
from app.services.context import LedgerContext
from app.services.signing import signed_statement
from ledger.custody.connector import inspection_conformant
from ledger.custody.ids import seal_id
from ledger.envelope import Envelope
from ledger.errors import InvalidInput
from ledger.ids import party_subject
from ledger.keys import SigningKey
from ledger.times import format_timestamp, parse_timestamp

#: A well-formed statement nonce that no statement uses (all zero bits).
NO_REFERENCE = "AAAAAAAAAAAAAAAAAAAAAA"


def connector_subject(identifier: str) -> str:
    """Accept ``connector:VENDOR:SERIAL`` or ``VENDOR:SERIAL``."""
    return identifier if identifier.startswith("connector:") else f"connector:{identifier}"


def location_subject(identifier: str) -> str:
    return identifier if identifier.startswith("location:") else f"location:{identifier}"


def party_ref(identifier: str) -> str:
    return identifier if identifier.startswith("party:") else party_subject(identifier)


def envelope_for(
    ctx: LedgerContext,
    *,
    actor: str,
    keys: Sequence[SigningKey],
    kind: str,
    subject: str,
    data: Mapping[str, Any],
    place: str | None = None,
) -> Envelope:
    return signed_statement(
        ctx,
        kind=kind,
        subject=subject,
        by=party_ref(actor),
        data=data,
        keys=keys,
        place=None if place is None else location_subject(place),
    )


def record(
    ctx: LedgerContext,
    *,
    actor: str,
    key: SigningKey,
    kind: str,
    subject: str,
    data: Mapping[str, Any],
    place: str | None = None,
    cosigners: Sequence[SigningKey] = (),
) -> AppendResult:
    """Sign one statement as ``actor`` (plus co-signers) and append it."""
    envelope = envelope_for(
        ctx, actor=actor, keys=[key, *cosigners], kind=kind, subject=subject, data=data, place=place
    )
    return ctx.writer().append([envelope])


# --------------------------------------------------------------------------
# Factory.


def commission(
    ctx: LedgerContext,
    actor: str,
    key: SigningKey,
    *,
    vendor: str,
    serial: str,
    product_code: str,
    hw_version: str,
    fw_version: str,
    production_date: str,
    smck: Sequence[tuple[str, str]],
    certification_id: str,
    place: str | None = None,
) -> AppendResult:
    data = {
        "vendor": vendor,
        "serial": serial,
        "product_code": product_code,
        "hw_version": hw_version,
        "fw_version": fw_version,
        "production_date": production_date,
        "smck": [{"iccsn": iccsn, "not_after": not_after} for iccsn, not_after in smck],
        "certification_id": certification_id,
    }
    return record(
        ctx,
        actor=actor,
        key=key,
        kind="connector.commissioned",
        subject=f"connector:{vendor}:{serial}",
        data=data,
        place=place,
    )


def bind_smck(
    ctx: LedgerContext, actor: str, key: SigningKey, connector: str, environment: str
) -> AppendResult:
    subject = connector_subject(connector)
    current = queries.connector(ctx.engine, subject)
    data = {"iccsns": [c.iccsn for c in current.certificates], "environment": location_subject(environment)}
    return record(ctx, actor=actor, key=key, kind="smck.bound", subject=subject, data=data, place=environment)


# --------------------------------------------------------------------------
# Seals.


def receive_seals(
    ctx: LedgerContext,
    actor: str,
    key: SigningKey,
    *,
    series: str,
    first: int,
    count: int,
    supplier: str,
    lot: str | None = None,
) -> AppendResult:
    data: dict[str, Any] = {"series": series, "first": first, "count": count, "supplier": supplier}
    if lot:
        data["lot"] = lot
    return record(
        ctx, actor=actor, key=key, kind="seal.received", subject=f"seal:{seal_id(series, first)}", data=data
    )


def issue_seals(
    ctx: LedgerContext, actor: str, key: SigningKey, seal_ids: Sequence[str], to: str
) -> AppendResult:
    if not seal_ids:
        raise InvalidInput("name at least one seal to issue")
    envelopes = [
        envelope_for(
            ctx, actor=actor, keys=[key], kind="seal.issued", subject=f"seal:{s}", data={"to": party_ref(to)}
        )
        for s in seal_ids
    ]
    return ctx.writer().append(envelopes)


def seal_statement(
    ctx: LedgerContext, actor: str, key: SigningKey, kind: str, seal: str, data: Mapping[str, Any]
) -> AppendResult:
    """seal.retained / destroyed / voided / lost."""
    return record(ctx, actor=actor, key=key, kind=kind, subject=f"seal:{seal}", data=data)


def seal_statements(
    ctx: LedgerContext,
    actor: str,
    key: SigningKey,
    kind: str,
    seals: Sequence[str],
    data: Mapping[str, Any],
) -> AppendResult:
    """The same seal statement for several seals, appended as one batch (all or nothing)."""
    if not seals:
        raise InvalidInput("name at least one seal")
    envelopes = [
        envelope_for(ctx, actor=actor, keys=[key], kind=kind, subject=f"seal:{s}", data=data) for s in seals
    ]
    return ctx.writer().append(envelopes)


def apply_seals(
    ctx: LedgerContext, actor: str, key: SigningKey, connector: str, seals: Sequence[str]
) -> AppendResult:
    return record(
        ctx,
        actor=actor,
        key=key,
        kind="seal.applied",
        subject=connector_subject(connector),
        data={"seals": list(seals)},
    )


def inspection_data(
    expected: Sequence[str],
    observed: Sequence[str],
    results: Mapping[str, str] | None = None,
    checklist: str = "VVTT-1",
    photos: Sequence[str] = (),
) -> dict[str, Any]:
    """Default results: intact for matching seals, missing / mismatch for differences."""
    chosen = dict(results or {})
    table = []
    for seal in sorted(set(expected) | set(observed)):
        default = (
            "intact"
            if seal in expected and seal in observed
            else ("missing" if seal in expected else "mismatch")
        )
        table.append({"seal": seal, "result": chosen.pop(seal, default)})
    if chosen:
        raise InvalidInput(f"results given for seals neither expected nor observed: {sorted(chosen)}")
    data: dict[str, Any] = {
        "expected": sorted(expected),
        "observed": sorted(observed),
        "results": table,
        "checklist": checklist,
    }
    if photos:
        data["photos"] = list(photos)
    return data


def inspect_seals(
    ctx: LedgerContext,
    actor: str,
    key: SigningKey,
    connector: str,
    observed: Sequence[str],
    *,
    place: str | None,
    results: Mapping[str, str] | None = None,
    checklist: str = "VVTT-1",
    photos: Sequence[str] = (),
) -> tuple[AppendResult, bool]:
    """Record a seal check against the seals the ledger expects; return (result, conformant)."""
    subject = connector_subject(connector)
    expected = queries.connector(ctx.engine, subject).seals
    data = inspection_data(expected, observed, results, checklist, photos)
    result = record(ctx, actor=actor, key=key, kind="seal.inspected", subject=subject, data=data, place=place)
    return result, inspection_conformant(data)


def remove_seals(
    ctx: LedgerContext, actor: str, key: SigningKey, connector: str, seals: Sequence[str], reason: str
) -> AppendResult:
    return record(
        ctx,
        actor=actor,
        key=key,
        kind="seal.removed",
        subject=connector_subject(connector),
        data={"seals": list(seals), "reason": reason},
    )


# --------------------------------------------------------------------------
# Warehouse and transport.


def store(
    ctx: LedgerContext,
    actor: str,
    key: SigningKey,
    connector: str,
    location: str,
    bin_label: str | None = None,
) -> AppendResult:
    data: dict[str, Any] = {"location": location_subject(location)}
    if bin_label:
        data["bin"] = bin_label
    return record(
        ctx,
        actor=actor,
        key=key,
        kind="stored",
        subject=connector_subject(connector),
        data=data,
        place=location,
    )


def ship(
    ctx: LedgerContext,
    actor: str,
    key: SigningKey,
    connectors: Sequence[str],
    *,
    destination: str,
    to: str,
    delivery_note: str,
    kind: str = "shipped",
) -> AppendResult:
    """Goods-out for several connectors at once: one statement each, all or nothing."""
    if not connectors:
        raise InvalidInput("a shipment needs at least one connector")
    data = {"destination": location_subject(destination), "to": party_ref(to), "delivery_note": delivery_note}
    envelopes = [
        envelope_for(ctx, actor=actor, keys=[key], kind=kind, subject=connector_subject(c), data=data)
        for c in connectors
    ]
    return ctx.writer().append(envelopes)


def receive(
    ctx: LedgerContext,
    actor: str,
    key: SigningKey,
    connector: str,
    seals_observed: Sequence[str],
    *,
    delivery_note: str | None = None,
    place: str | None = None,
) -> AppendResult:
    data: dict[str, Any] = {"seals_observed": sorted(seals_observed)}
    if delivery_note:
        data["delivery_note"] = delivery_note
    return record(
        ctx,
        actor=actor,
        key=key,
        kind="received",
        subject=connector_subject(connector),
        data=data,
        place=place,
    )


# --------------------------------------------------------------------------
# At the practice.


def remaining_validity_days(not_after: str, at: datetime) -> int:
    return (parse_timestamp(not_after) - at).days


def install(
    ctx: LedgerContext,
    actor: str,
    key: SigningKey,
    connector: str,
    *,
    practice_digest: str,
    place: str,
    firmware: str | None = None,
    seal_check: str | None = None,
    override_reason: str | None = None,
    auditor: str | None = None,
    auditor_key: SigningKey | None = None,
) -> AppendResult:
    subject = connector_subject(connector)
    current = queries.connector(ctx.engine, subject)
    if seal_check is None:
        # With no inspection to cite, cite none that exists: the ledger then
        # refuses with whichever rule applies first (blocked state, rule 1 …),
        # exactly as it would for any other client.
        seal_check = current.last_inspection.nonce if current.last_inspection else NO_REFERENCE
    at = ctx.clock()
    not_after = current.cert_not_after
    if not_after is None:
        raise InvalidInput(f"{subject} has no gSMC-K certificate data")
    data: dict[str, Any] = {
        "practice": practice_digest,
        "seal_check": seal_check,
        "firmware": firmware or current.firmware,
        "remaining_validity_days": remaining_validity_days(not_after, at),
    }
    cosigners: list[SigningKey] = []
    if override_reason is not None or auditor is not None:
        if not (override_reason and auditor and auditor_key):
            raise InvalidInput("an override needs a reason, the auditor and the auditor's key")
        data["override"] = {"reason": override_reason, "auditor": party_ref(auditor)}
        cosigners.append(auditor_key)
    envelope = signed_statement(
        ctx,
        at=at,
        kind="installed",
        subject=subject,
        by=party_ref(actor),
        data=data,
        keys=[key, *cosigners],
        place=location_subject(place),
    )
    return ctx.writer().append([envelope])


def register_ti(ctx: LedgerContext, actor: str, key: SigningKey, connector: str) -> AppendResult:
    subject = connector_subject(connector)
    current = queries.connector(ctx.engine, subject)
    # Not installed: no practice to name; the ledger refuses with its own rule.
    practice = current.practice or "0" * 64
    return record(
        ctx, actor=actor, key=key, kind="ti.registered", subject=subject, data={"practice": practice}
    )


def update_firmware(ctx: LedgerContext, actor: str, key: SigningKey, connector: str, to: str) -> AppendResult:
    subject = connector_subject(connector)
    current = queries.connector(ctx.engine, subject)
    return record(
        ctx,
        actor=actor,
        key=key,
        kind="firmware.updated",
        subject=subject,
        data={"from": current.firmware, "to": to},
    )


def apply_lzv(
    ctx: LedgerContext, actor: str, key: SigningKey, connector: str, iccsn: str, not_after: datetime
) -> AppendResult:
    return record(
        ctx,
        actor=actor,
        key=key,
        kind="lzv.applied",
        subject=connector_subject(connector),
        data={"iccsn": iccsn, "not_after": format_timestamp(not_after)},
    )


def connector_statement(
    ctx: LedgerContext,
    actor: str,
    key: SigningKey,
    kind: str,
    connector: str,
    data: Mapping[str, Any],
    *,
    place: str | None = None,
    cosigners: Sequence[SigningKey] = (),
) -> AppendResult:
    """Any other connector statement whose data the caller gives in full."""
    return record(
        ctx,
        actor=actor,
        key=key,
        kind=kind,
        subject=connector_subject(connector),
        data=data,
        place=place,
        cosigners=cosigners,
    )


def destroy(
    ctx: LedgerContext,
    actor: str,
    key: SigningKey,
    connector: str,
    *,
    method: str,
    witness: str,
    witness_key: SigningKey,
) -> AppendResult:
    return connector_statement(
        ctx,
        actor,
        key,
        "destroyed",
        connector,
        {"method": method, "witness": party_ref(witness)},
        cosigners=[witness_key],
    )


def correct(
    ctx: LedgerContext,
    actor: str,
    key: SigningKey,
    connector: str,
    *,
    index: int,
    reason: str,
    explanation: str,
) -> AppendResult:
    subject = connector_subject(connector)
    item = next((h for h in queries.connector(ctx.engine, subject).history if h.index == index), None)
    if item is None:
        raise InvalidInput(f"entry {index} is not in the history of {subject}")
    data = {"corrects": index, "leaf_hash": item.leaf_hash, "reason": reason, "explanation": explanation}
    return record(ctx, actor=actor, key=key, kind="correction", subject=subject, data=data)
