"""Connector lifecycle kinds: factory, sealing, storage, transport, site, return, end of life.

State machine (DESIGN §5)::

    PRODUCED → PERSONALISED → SEALED → IN_STOCK ⇄ IN_TRANSIT → RECEIVED → INSTALLED
      → IN_OPERATION → DEREGISTERED → REMOVED → RETURN_TRANSIT → RETURNED
      → DECOMMISSIONED → DESTROYED;   SUSPECT → QUARANTINED (incidents);   LOST

Guard rules carry the ids of DESIGN §5 (``rule.*``); the numbered rules are
cited where they are enforced.
"""

from __future__ import annotations

from datetime import MAXYEAR, datetime
from typing import Any

from ledger.custody.common import (
    AUDITOR,
    CARRIER,
    DIGEST,
    ICCSN,
    LOCATION,
    MANUFACTURER,
    NONCE_REF,
    NOTE,
    PARTY,
    PRACTICE,
    SEAL_ID,
    SEAL_LIST,
    SEAL_LIST_OR_EMPTY,
    SHORT,
    TECHNICIAN,
    WAREHOUSE,
    at_of,
    connector_kind,
    note_history,
    seal_set,
)
from ledger.custody.records import (
    BROKEN,
    DECOMMISSIONED,
    DEREGISTERED,
    DESTROYED,
    IN_OPERATION,
    IN_STOCK,
    IN_TRANSIT,
    INSTALLED,
    INTACT_VERIFIED,
    MISMATCH,
    PERSONALISED,
    PRODUCED,
    QUARANTINED,
    RECEIVED,
    REMOVED,
    RETURN_TRANSIT,
    RETURNED,
    SEAL_APPLIED,
    SEAL_ISSUED,
    SEAL_REMOVED,
    SEALED,
    SUSPECT,
    UNSEALED,
    UNVERIFIED,
    Certificate,
    ConnectorRecord,
    IncidentRecord,
    Inspection,
    custody,
)
from ledger.errors import InvalidData, RuleViolation
from ledger.kinds import REGISTRY, EpcisMapping, KindSpec
from ledger.schema import Date, Integer, ListOf, Obj, OneOf, Text, Timestamp
from ledger.state import Context, LedgerState
from ledger.times import parse_timestamp

#: Rule 4: a new installation needs this much gSMC-K validity left.
MIN_VALIDITY_YEARS = 4
SEAL_RESULTS = ("intact", "void_pattern", "torn", "missing", "mismatch")
CUSTODIAL_ROLES = {MANUFACTURER, WAREHOUSE, CARRIER, TECHNICIAN}
#: Every state but the terminal ones (DESTROYED, LOST).
ACTIVE = (
    PRODUCED, PERSONALISED, SEALED, IN_STOCK, IN_TRANSIT, RECEIVED, INSTALLED, IN_OPERATION,
    DEREGISTERED, REMOVED, RETURN_TRANSIT, RETURNED, DECOMMISSIONED, SUSPECT, QUARANTINED,
)  # fmt: skip


def same(*states: str) -> dict[str, str | None]:
    """Transitions that leave the state as it is."""
    return dict.fromkeys(states)


def epcis(event: str, action: str | None, step: str | None, disposition: str | None) -> EpcisMapping:
    return EpcisMapping(event, action, step, disposition)


def add_years(moment: datetime, years: int) -> datetime:
    """``moment`` plus whole years; 29 February becomes the 28th.

    Past the calendar's last year (9999) the answer is its last instant: a
    date that many years after an event in 9996–9999 is later than any
    certificate expiry, so the validity rule refuses such an install instead
    of the replay crashing on an unrepresentable date.
    """
    if moment.year + years > MAXYEAR:
        return datetime.max.replace(tzinfo=moment.tzinfo)
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


def open_incident(
    state: LedgerState, ctx: Context, record: ConnectorRecord, category: str, description: str
) -> None:
    """Make the connector SUSPECT under a new incident INC-<index> (rule 5, incident.reported)."""
    incident_id = f"INC-{ctx.index}"
    custody(state).incidents.put(
        incident_id,
        IncidentRecord(incident_id, record.subject, category, ctx.statement.by, ctx.index, description),
    )
    if record.open_incident is not None:
        # One investigation per unit: a further report joins the open one,
        # and its reporter is also barred from the release (rule 11).
        record.joined_incidents.append(incident_id)
        return
    if record.state not in (SUSPECT, QUARANTINED):
        record.state_before_incident = record.state
    record.state = SUSPECT
    record.open_incident = incident_id


# --------------------------------------------------------------------------
# Factory: commissioning, gSMC-K binding, sealing.

SMCK_ITEM = Obj(required={"iccsn": ICCSN, "not_after": Timestamp()})


def _unique_iccsns(value: Any, path: str) -> None:
    iccsns = [c["iccsn"] for c in value["smck"]]
    if len(set(iccsns)) != len(iccsns):
        raise InvalidData(f"{path}.smck: ICCSNs must be unique")


def _check_commissioned(state: LedgerState, ctx: Context) -> None:
    data = ctx.statement.data
    expected = f"connector:{data['vendor']}:{data['serial']}"
    if ctx.statement.subject != expected:
        raise InvalidData(f"subject must be {expected} (vendor and serial from data)")
    if custody(state).connectors.get(ctx.statement.subject) is not None:
        raise RuleViolation("rule.connector_exists", f"{ctx.statement.subject} was already commissioned")


def _apply_commissioned(state: LedgerState, ctx: Context) -> None:
    data = ctx.statement.data
    record = ConnectorRecord(
        subject=ctx.statement.subject,
        vendor=data["vendor"],
        serial=data["serial"],
        product_code=data["product_code"],
        state=PRODUCED,
        custodian=ctx.statement.by,
        certificates=[Certificate(c["iccsn"], c["not_after"]) for c in data["smck"]],
        firmware=data["fw_version"],
    )
    note_history(record, ctx, None, PRODUCED)
    custody(state).connectors.put(record.subject, record)


REGISTRY.register(
    KindSpec(
        "connector.commissioned",
        "connector",
        frozenset({MANUFACTURER}),
        Obj(
            required={
                "vendor": Text(max_length=32, pattern=r"[A-Z0-9][A-Z0-9_-]{0,31}"),
                "serial": Text(max_length=64, pattern=r"[A-Z0-9][A-Z0-9._-]{0,63}"),
                "product_code": SHORT,
                "hw_version": SHORT,
                "fw_version": SHORT,
                "production_date": Date(),
                "smck": ListOf(SMCK_ITEM, min_items=1, max_items=4),
                "certification_id": SHORT,
            },
            check=_unique_iccsns,
        ),
        _check_commissioned,
        _apply_commissioned,
        epcis=epcis("ObjectEvent", "ADD", "commissioning", "active"),
        summary="A connector leaves production: vendor, serial, versions, gSMC-K cards and their expiry.",
        transitions=(("(new)", PRODUCED),),
    )
)


def _guard_smck(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    declared = {c.iccsn for c in record.certificates}
    if set(ctx.statement.data["iccsns"]) != declared:
        raise RuleViolation(
            "rule.smck_matches_commissioning", "bound gSMC-K cards differ from those commissioned"
        )


def _effect_smck(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    record.smck_bound = True


connector_kind(
    "smck.bound",
    roles={MANUFACTURER},
    schema=Obj(required={"iccsns": ListOf(ICCSN, min_items=1, max_items=4), "environment": LOCATION}),
    transitions={PRODUCED: PERSONALISED},
    guard=_guard_smck,
    effect=_effect_smck,
    custodian_only=True,
    epcis=epcis("ObjectEvent", "OBSERVE", "encoding", "active"),
    summary="The gSMC-K cards are bound to the connector in a secure environment.",
)


def _guard_seal_applied(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    # Rule 7: a seal must be ISSUED to the applying person and never applied
    # before; a re-seal needs the old seals removed, and only a manufacturer
    # may re-seal a housing.
    if record.ever_sealed:
        if record.seals:
            raise RuleViolation(
                "rule.reseal_requires_removal",
                f"{record.subject} still carries seals {sorted(record.seals)}; record seal.removed first",
            )
        if MANUFACTURER not in state.roles_of(ctx.statement.by):
            raise RuleViolation("rule.reseal_by_manufacturer", "only a manufacturer may re-seal a housing")
    elif record.state != PERSONALISED:
        raise RuleViolation("rule.state_transition", "a housing is first sealed after gSMC-K binding")
    seals = custody(state).seals.get_many(ctx.statement.data["seals"])
    for seal_id, seal in seals.items():
        if seal is None:
            raise RuleViolation("rule.unknown_seal", f"seal {seal_id} is not on the ledger")
        if seal.status != SEAL_ISSUED:
            raise RuleViolation(
                "rule.seal_single_use", f"seal {seal_id} is {seal.status}, not ISSUED (single use)"
            )
        if seal.issued_to != ctx.statement.by:
            raise RuleViolation(
                "rule.seal_issued_to_applier",
                f"seal {seal_id} was issued to {seal.issued_to}, not {ctx.statement.by}",
            )


def _effect_seal_applied(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    seals = custody(state).seals
    for seal_id in ctx.statement.data["seals"]:
        seal = seals.get(seal_id)
        assert seal is not None
        seal.status, seal.connector, seal.last_index = SEAL_APPLIED, record.subject, ctx.index
        seals.put(seal_id, seal)
    record.seals = sorted(ctx.statement.data["seals"])
    record.ever_sealed = True
    record.seal_status = UNVERIFIED


connector_kind(
    "seal.applied",
    roles={MANUFACTURER, TECHNICIAN},
    schema=Obj(required={"seals": SEAL_LIST}),
    transitions={PERSONALISED: SEALED, **same(SEALED, IN_STOCK, RECEIVED, RETURNED, QUARANTINED, SUSPECT)},
    guard=_guard_seal_applied,
    effect=_effect_seal_applied,
    epcis=epcis("ObjectEvent", "OBSERVE", "packing", "container_closed"),
    summary="Seals are applied to the housing (first sealing at the factory, or a manufacturer's re-seal).",
)


# --------------------------------------------------------------------------
# Seal checks.


def _check_results(value: Any, path: str) -> None:
    listed = [r["seal"] for r in value["results"]]
    if len(set(listed)) != len(listed):
        raise InvalidData(f"{path}.results: one result per seal")
    wanted = set(value["expected"]) | set(value["observed"])
    if set(listed) != wanted:
        raise InvalidData(f"{path}.results: need exactly one result for every expected and observed seal")


def inspection_conformant(data: Any) -> bool:
    results = {r["seal"]: r["result"] for r in data["results"]}
    return set(data["observed"]) == set(data["expected"]) and all(v == "intact" for v in results.values())


def _guard_inspected(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    if set(ctx.statement.data["expected"]) != set(record.seals):
        raise RuleViolation(
            "rule.inspection_expects_ledger_seals",
            f"expected seals {sorted(ctx.statement.data['expected'])} differ from the ledger's "
            f"{sorted(record.seals)}",
        )


def _effect_inspected(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    data = ctx.statement.data
    results = {r["seal"]: r["result"] for r in data["results"]}
    conformant = inspection_conformant(data)
    record.last_inspection = Inspection(
        nonce=ctx.statement.nonce,
        index=ctx.index,
        by=ctx.statement.by,
        place=ctx.statement.place,
        at=ctx.statement.at,
        expected=sorted(data["expected"]),
        observed=sorted(data["observed"]),
        results=results,
        conformant=conformant,
    )
    if conformant:
        record.seal_status = INTACT_VERIFIED
    elif any(v in ("torn", "void_pattern") for v in results.values()):
        record.seal_status = BROKEN
    else:
        record.seal_status = MISMATCH


connector_kind(
    "seal.inspected",
    roles={WAREHOUSE, CARRIER, TECHNICIAN, MANUFACTURER, AUDITOR},
    schema=Obj(
        required={
            "expected": SEAL_LIST_OR_EMPTY,
            "observed": SEAL_LIST_OR_EMPTY,
            "results": ListOf(Obj(required={"seal": SEAL_ID, "result": OneOf(SEAL_RESULTS)}), 1, 32),
            "checklist": SHORT,
        },
        optional={"photos": ListOf(DIGEST, 0, 16)},
        check=_check_results,
    ),
    transitions=same(*ACTIVE),
    guard=_guard_inspected,
    effect=_effect_inspected,
    epcis=epcis("ObjectEvent", "OBSERVE", "inspecting", None),
    summary="A seal check (VVTT: view, verify number, tug, twist): expected and observed seals, results.",
)


def _guard_seal_removed(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    missing = seal_set(ctx.statement.data["seals"]) - set(record.seals)
    if missing:
        raise RuleViolation("rule.seal_on_connector", f"seals {sorted(missing)} are not on {record.subject}")


def _effect_seal_removed(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    seals = custody(state).seals
    for seal_id in ctx.statement.data["seals"]:
        seal = seals.get(seal_id)
        if seal is not None:
            seal.status, seal.holder, seal.last_index = SEAL_REMOVED, ctx.statement.by, ctx.index
            seals.put(seal_id, seal)
    record.seals = sorted(set(record.seals) - set(ctx.statement.data["seals"]))
    record.seal_status = BROKEN if record.seals else UNSEALED


connector_kind(
    "seal.removed",
    roles={MANUFACTURER, TECHNICIAN},
    schema=Obj(required={"seals": SEAL_LIST, "reason": NOTE}),
    transitions=same(*(s for s in ACTIVE if s not in (PRODUCED, PERSONALISED))),
    guard=_guard_seal_removed,
    effect=_effect_seal_removed,
    epcis=epcis("ObjectEvent", "OBSERVE", "unpacking", "container_open"),
    summary="Seals are removed from the housing, with the reason.",
)


# --------------------------------------------------------------------------
# Warehouse and transport.


def _effect_stored(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    record.location = ctx.statement.data["location"]
    record.bin = ctx.statement.data.get("bin")


connector_kind(
    "stored",
    roles={WAREHOUSE, MANUFACTURER},
    schema=Obj(required={"location": LOCATION}, optional={"bin": SHORT}),
    transitions={
        SEALED: IN_STOCK,
        RECEIVED: IN_STOCK,
        IN_STOCK: IN_STOCK,
        **same(RETURNED, DECOMMISSIONED, QUARANTINED),
    },
    effect=_effect_stored,
    custodian_only=True,
    epcis=epcis("ObjectEvent", "OBSERVE", "storing", "sellable_not_accessible"),
    summary="Put away in a storage location and bin.",
)


def _guard_sealed_for_transport(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    if not record.seals:
        raise RuleViolation("rule.ship_sealed", f"{record.subject} carries no seals and cannot be shipped")


def _effect_shipped(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    record.seal_status = UNVERIFIED
    record.bin = None


SHIPMENT = Obj(
    required={"destination": LOCATION, "to": PARTY, "delivery_note": SHORT},
    optional={"carton_seal": SEAL_ID},
)

connector_kind(
    "shipped",
    roles={WAREHOUSE, MANUFACTURER},
    schema=SHIPMENT,
    transitions={IN_STOCK: IN_TRANSIT},
    guard=_guard_sealed_for_transport,
    effect=_effect_shipped,
    custodian_only=True,
    blocked_action=True,
    epcis=epcis("ObjectEvent", "OBSERVE", "shipping", "in_transit"),
    summary="Goods-out: the connector leaves for a destination under a delivery note.",
)


def _guard_transfer(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    # Rule 6: the releasing party must be the current custodian (both
    # signatures are enforced through counterparty_rule).
    if ctx.statement.by != record.custodian:
        raise RuleViolation(
            "rule.transfer_from_custodian",
            f"{ctx.statement.by} is not the custodian of {record.subject} ({record.custodian} is)",
        )
    if set(ctx.statement.data["seals"]) != set(record.seals):
        raise RuleViolation(
            "rule.transfer_declares_ledger_seals",
            f"declared seals {sorted(ctx.statement.data['seals'])} differ from the ledger's "
            f"{sorted(record.seals)}",
        )


def _effect_transfer(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    record.custodian = ctx.statement.data["to"]
    record.seal_status = UNVERIFIED


connector_kind(
    "custody.transferred",
    roles=CUSTODIAL_ROLES,
    schema=Obj(
        required={"to": PARTY, "seals": SEAL_LIST_OR_EMPTY},
        optional={"delivery_note": SHORT, "shipment": SHORT},
    ),
    transitions=same(*ACTIVE),
    guard=_guard_transfer,
    effect=_effect_transfer,
    counterparty_field="to",
    counterparty_roles=CUSTODIAL_ROLES,
    counterparty_rule="rule.transfer_needs_both_signatures",
    epcis=epcis("ObjectEvent", "OBSERVE", "accepting", "in_transit"),
    summary="Two-party handover: signed by the releasing custodian and the receiving party.",
)


def _effect_received(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    # Rule 5: a receipt with other seal ids than shipped is recorded, and
    # raises an incident by itself — no one has to remember to report it.
    observed = set(ctx.statement.data["seals_observed"])
    if observed != set(record.seals):
        record.seal_status = MISMATCH
        missing, extra = sorted(set(record.seals) - observed), sorted(observed - set(record.seals))
        open_incident(
            state,
            ctx,
            record,
            "seal_mismatch",
            f"receipt seal mismatch: missing {missing}, unexpected {extra}",
        )
    else:
        record.seal_status = UNVERIFIED


connector_kind(
    "received",
    roles={WAREHOUSE, TECHNICIAN, MANUFACTURER},
    schema=Obj(required={"seals_observed": SEAL_LIST_OR_EMPTY}, optional={"delivery_note": SHORT}),
    transitions={IN_TRANSIT: RECEIVED, RETURN_TRANSIT: RETURNED},
    effect=_effect_received,
    custodian_only=True,
    epcis=epcis("ObjectEvent", "OBSERVE", "receiving", "in_progress"),
    summary="Goods-in: the custodian receives the unit and records the seal ids it observed.",
)


# --------------------------------------------------------------------------
# At the practice.


def _guard_installed(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    statement, data = ctx.statement, ctx.statement.data
    if statement.place is None:
        raise InvalidData("installed needs the place (the practice's location)")
    # Rule 1: the latest seal check is conformant, done on site by the
    # installing technician, over the seals the ledger knows — and no later
    # observation (a receipt with other seal ids) contradicts it.
    inspection = record.last_inspection
    if (
        inspection is None
        or inspection.nonce != data["seal_check"]
        or inspection.by != statement.by
        or inspection.place != statement.place
        or not inspection.conformant
        or set(inspection.expected) != set(record.seals)
        or not record.seals
        or record.seal_status in (MISMATCH, BROKEN)
    ):
        raise RuleViolation(
            "rule.install_requires_conformant_seal_check",
            "the latest seal inspection must be conformant, referenced by seal_check, and done on site "
            "by the installing technician",
        )
    # Rule 4: gSMC-K validity.
    not_after_text = record.cert_not_after
    assert not_after_text is not None
    at = at_of(ctx)
    not_after = parse_timestamp(not_after_text)
    # "Never with expired certificates" holds against the log's own clock
    # too, so a back-dated event time cannot sneak an expired unit in.
    if not_after <= max(at, parse_timestamp(ctx.recorded_at, "recorded_at")):
        raise RuleViolation("rule.certificate_expired", f"the gSMC-K certificate expired at {not_after_text}")
    remaining_days = (not_after - at).days
    if abs(data["remaining_validity_days"] - remaining_days) > 1:
        raise InvalidData(f"remaining_validity_days is {remaining_days} by the ledger's certificate data")
    if not_after < add_years(at, MIN_VALIDITY_YEARS):
        override = data.get("override")
        if override is None:
            raise RuleViolation(
                "rule.certificate_validity",
                f"only {remaining_days} days of gSMC-K validity left; "
                f"{MIN_VALIDITY_YEARS} years are required "
                "(an override needs a reason and an auditor's co-signature)",
            )
        auditor = override["auditor"]
        if auditor == ctx.statement.by:
            # Four eyes: a technician who also holds `auditor` cannot approve their own
            # exception to the validity rule; the override is a second person's decision.
            raise RuleViolation(
                "rule.certificate_validity",
                f"the override auditor must be another party than the installer {auditor}",
            )
        if auditor not in ctx.signers or AUDITOR not in state.roles_of(auditor):
            raise RuleViolation(
                "rule.certificate_validity", f"the override needs the co-signature of auditor {auditor}"
            )


def _effect_installed(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    record.practice = ctx.statement.data["practice"]
    record.firmware = ctx.statement.data["firmware"]
    record.bin = None


connector_kind(
    "installed",
    roles={TECHNICIAN},
    schema=Obj(
        required={
            "practice": DIGEST,
            "seal_check": NONCE_REF,
            "firmware": SHORT,
            "remaining_validity_days": Integer(-100_000, 100_000),
        },
        optional={"override": Obj(required={"reason": NOTE, "auditor": PARTY})},
    ),
    transitions={RECEIVED: INSTALLED},
    # Rule 9: one site at a time.
    refuse={
        s: ("rule.one_site_at_a_time", "installed at a site already")
        for s in (INSTALLED, IN_OPERATION, DEREGISTERED)
    },
    guard=_guard_installed,
    custodian_only=True,
    blocked_action=True,
    effect=_effect_installed,
    epcis=epcis("ObjectEvent", "OBSERVE", "installing", "active"),
    summary="Installed at a practice (salted practice digest) after a conformant on-site seal check.",
)


def _guard_practice(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    if ctx.statement.data["practice"] != record.practice:
        raise RuleViolation(
            "rule.same_practice", "the practice differs from the one the unit is installed at"
        )


connector_kind(
    "ti.registered",
    roles={TECHNICIAN, PRACTICE},
    schema=Obj(required={"practice": DIGEST}, optional={"telematik_id_digest": DIGEST}),
    transitions={INSTALLED: IN_OPERATION},
    guard=_guard_practice,
    blocked_action=True,
    epcis=epcis("ObjectEvent", "OBSERVE", "installing", "active"),
    summary="Registered in the Telematikinfrastruktur: the unit is in operation.",
)


def _guard_firmware(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    if ctx.statement.data["from"] == ctx.statement.data["to"]:
        raise InvalidData("firmware.updated needs a different target version")
    if ctx.statement.data["from"] != record.firmware:
        raise RuleViolation(
            "rule.firmware_from",
            f"the unit runs firmware {record.firmware}, not {ctx.statement.data['from']}",
        )


def _effect_firmware(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    record.firmware = ctx.statement.data["to"]


connector_kind(
    "firmware.updated",
    roles={TECHNICIAN, MANUFACTURER},
    schema=Obj(required={"from": SHORT, "to": SHORT}),
    transitions=same(PERSONALISED, SEALED, IN_STOCK, RECEIVED, INSTALLED, IN_OPERATION),
    guard=_guard_firmware,
    effect=_effect_firmware,
    blocked_action=True,
    epcis=epcis("ObjectEvent", "OBSERVE", "repairing", "active"),
    summary="Firmware update from one version to another.",
)


def _guard_lzv(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    data = ctx.statement.data
    card = next((c for c in record.certificates if c.iccsn == data["iccsn"]), None)
    if card is None:
        raise RuleViolation("rule.lzv_known_card", f"{record.subject} has no gSMC-K {data['iccsn']}")
    if parse_timestamp(data["not_after"]) <= parse_timestamp(card.not_after):
        raise RuleViolation("rule.lzv_extends", "a runtime extension must move the expiry later")


def _effect_lzv(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    for card in record.certificates:
        if card.iccsn == ctx.statement.data["iccsn"]:
            card.not_after = ctx.statement.data["not_after"]


connector_kind(
    "lzv.applied",
    roles={TECHNICIAN, MANUFACTURER},
    schema=Obj(required={"iccsn": ICCSN, "not_after": Timestamp()}),
    transitions=same(PERSONALISED, SEALED, IN_STOCK, RECEIVED, INSTALLED, IN_OPERATION),
    guard=_guard_lzv,
    effect=_effect_lzv,
    blocked_action=True,
    epcis=epcis("ObjectEvent", "OBSERVE", "repairing", "active"),
    summary="Runtime extension (LZV) of a gSMC-K certificate: the new expiry.",
)

connector_kind(
    "service.visit",
    roles={TECHNICIAN},
    schema=Obj(required={"reason": NOTE}, optional={"notes": NOTE}),
    transitions=same(INSTALLED, IN_OPERATION),
    blocked_action=True,
    epcis=epcis("ObjectEvent", "OBSERVE", "inspecting", "active"),
    summary="A technician's visit to an installed unit.",
)


# --------------------------------------------------------------------------
# Exchange and return.

connector_kind(
    "deregistered",
    roles={TECHNICIAN, PRACTICE},
    schema=Obj(required={"reason": NOTE}),
    transitions={IN_OPERATION: DEREGISTERED},
    epcis=epcis("ObjectEvent", "OBSERVE", "decommissioning", "inactive"),
    summary="Deregistered from the Telematikinfrastruktur (before removal).",
)


def _effect_removed(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    record.practice = None


connector_kind(
    "removed",
    roles={TECHNICIAN},
    schema=Obj(required={"reason": NOTE}),
    transitions={DEREGISTERED: REMOVED, INSTALLED: REMOVED},
    # Rule 8: no removal of an operating unit before deregistration.
    refuse={IN_OPERATION: ("rule.deregister_before_removal", "deregister it from the TI first")},
    effect=_effect_removed,
    custodian_only=True,
    epcis=epcis("ObjectEvent", "OBSERVE", "removing", "inactive"),
    summary="Removed from the practice (rule 8: only after deregistration).",
)

connector_kind(
    "returned.shipped",
    roles={TECHNICIAN, WAREHOUSE, CARRIER},
    schema=SHIPMENT,
    transitions={REMOVED: RETURN_TRANSIT},
    custodian_only=True,
    epcis=epcis("ObjectEvent", "OBSERVE", "shipping", "returned"),
    summary="A removed unit is sent back for decommissioning.",
)


connector_kind(
    "decommissioned",
    roles={MANUFACTURER, WAREHOUSE},
    schema=Obj(required={"reason": NOTE}),
    transitions={s: DECOMMISSIONED for s in (RETURNED, IN_STOCK, RECEIVED, SEALED, PERSONALISED, PRODUCED)},
    refuse={
        s: ("rule.deregister_before_removal", "deregister and remove it first")
        for s in (INSTALLED, IN_OPERATION)
    },
    epcis=epcis("ObjectEvent", "DELETE", "decommissioning", "inactive"),
    summary="Taken out of service for good (before destruction).",
)


connector_kind(
    "destroyed",
    roles={MANUFACTURER, WAREHOUSE},
    schema=Obj(
        required={"method": OneOf(("shredded", "crushed", "incinerated", "other")), "witness": PARTY},
        optional={"certificate": SHORT},
    ),
    transitions={DECOMMISSIONED: DESTROYED},
    # Rule 8: destruction needs a prior decommissioning (and a witness, below).
    refuse={
        s: ("rule.destroy_requires_decommission", "decommission it first")
        for s in ACTIVE
        if s != DECOMMISSIONED
    },
    counterparty_field="witness",
    counterparty_roles={AUDITOR, MANUFACTURER, WAREHOUSE},
    counterparty_rule="rule.destroy_requires_witness",
    epcis=epcis("ObjectEvent", "DELETE", "destroying", "destroyed"),
    summary="Physically destroyed, co-signed by a witness (rule 8).",
)
