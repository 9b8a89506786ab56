"""Incidents, quarantine, loss and corrections.

An incident makes a connector SUSPECT; quarantine holds it; only someone
other than the reporter may release it, with an investigation note (rule 11,
four eyes). Corrections never edit: they reference the entry they correct,
as an EPCIS errorDeclaration does (rule 10).
"""

from __future__ import annotations

from ledger.custody.common import (
    ADMIN,
    AUDITOR,
    CARRIER,
    LOCATION,
    MANUFACTURER,
    NOTE,
    PRACTICE,
    SHORT,
    TECHNICIAN,
    WAREHOUSE,
    connector_kind,
    note_history,
)
from ledger.custody.connector import ACTIVE, epcis, open_incident, same
from ledger.custody.records import (
    DESTROYED,
    INCIDENT_QUARANTINED,
    INCIDENT_RELEASED,
    LOST,
    QUARANTINED,
    SUSPECT,
    ConnectorRecord,
    HistoryItem,
    IncidentRecord,
    custody,
)
from ledger.errors import RuleViolation
from ledger.kinds import REGISTRY, ROLES, EpcisMapping, KindSpec
from ledger.schema import Hex, Integer, Obj, OneOf, Text
from ledger.state import Context, LedgerState

INCIDENT_CATEGORIES = (
    "seal_mismatch", "seal_damage", "housing_damage", "tamper_suspected", "loss", "theft", "other",
)  # fmt: skip
REPORTERS = {WAREHOUSE, CARRIER, TECHNICIAN, MANUFACTURER, AUDITOR, PRACTICE}
INCIDENT = Text(max_length=24, pattern=r"INC-[0-9]{1,15}")


def _effect_reported(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    data = ctx.statement.data
    open_incident(state, ctx, record, data["category"], data["description"])


connector_kind(
    "incident.reported",
    roles=REPORTERS,
    schema=Obj(required={"category": OneOf(INCIDENT_CATEGORIES), "description": NOTE}),
    transitions=same(*ACTIVE),
    effect=_effect_reported,
    epcis=epcis("ObjectEvent", "OBSERVE", "inspecting", "non_conformant"),
    summary="Something is wrong with the unit: it becomes SUSPECT under incident INC-<index>.",
)


def _incident_of(state: LedgerState, ctx: Context, record: ConnectorRecord) -> IncidentRecord:
    incident_id = ctx.statement.data["incident"]
    incident = custody(state).incidents.get(incident_id)
    if incident is None or incident.connector != record.subject or record.open_incident != incident_id:
        raise RuleViolation(
            "rule.open_incident", f"{incident_id} is not the open incident of {record.subject}"
        )
    return incident


def _guard_quarantined(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    _incident_of(state, ctx, record)


def _effect_quarantined(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    incident = _incident_of(state, ctx, record)
    incident.status, incident.quarantined_by = INCIDENT_QUARANTINED, ctx.statement.by
    custody(state).incidents.put(incident.incident_id, incident)
    if "location" in ctx.statement.data:
        record.location = ctx.statement.data["location"]


connector_kind(
    "quarantined",
    roles={WAREHOUSE, MANUFACTURER, AUDITOR},
    schema=Obj(required={"incident": INCIDENT}, optional={"location": LOCATION}),
    transitions={SUSPECT: QUARANTINED},
    guard=_guard_quarantined,
    effect=_effect_quarantined,
    epcis=epcis("ObjectEvent", "OBSERVE", "holding", "non_sellable_other"),
    summary="A suspect unit is put in quarantine under its incident.",
)


def _all_open(state: LedgerState, ctx: Context, record: ConnectorRecord) -> list[IncidentRecord]:
    """The open incident and every incident that joined it."""
    primary = _incident_of(state, ctx, record)
    joined = [custody(state).incidents.get(i) for i in record.joined_incidents]
    return [primary, *(i for i in joined if i is not None)]


def _guard_released(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    # Rule 11: four eyes — no one who reported may also clear, including
    # the reporter of an incident that joined the open one.
    for incident in _all_open(state, ctx, record):
        if ctx.statement.by == incident.reported_by:
            raise RuleViolation(
                "rule.four_eyes_release",
                f"{ctx.statement.by} reported {incident.incident_id} and cannot release it",
            )


def _effect_released(state: LedgerState, ctx: Context, record: ConnectorRecord) -> None:
    for incident in _all_open(state, ctx, record):
        incident.status, incident.released_by = INCIDENT_RELEASED, ctx.statement.by
        incident.investigation, incident.closed_index = ctx.statement.data["investigation"], ctx.index
        custody(state).incidents.put(incident.incident_id, incident)
    record.state = record.state_before_incident or record.state
    record.state_before_incident = None
    record.open_incident = None
    record.joined_incidents = []


connector_kind(
    "quarantine.released",
    roles={AUDITOR, MANUFACTURER, WAREHOUSE},
    schema=Obj(
        required={
            "incident": INCIDENT,
            "investigation": Text(min_length=10, max_length=2000),
            "outcome": OneOf(("cleared", "reseal_required", "decommission")),
        }
    ),
    transitions={QUARANTINED: None},
    guard=_guard_released,
    effect=_effect_released,
    epcis=epcis("ObjectEvent", "OBSERVE", "holding", "active"),
    summary="Released from quarantine by someone other than the reporter, with the investigation.",
)

connector_kind(
    "lost",
    roles={WAREHOUSE, CARRIER, TECHNICIAN, MANUFACTURER, AUDITOR},
    schema=Obj(required={"circumstances": NOTE}),
    transitions={s: LOST for s in ACTIVE},
    epcis=epcis("ObjectEvent", "OBSERVE", "other", "unknown"),
    summary="The unit is missing.",
)

connector_kind(
    "stolen",
    roles={WAREHOUSE, CARRIER, TECHNICIAN, MANUFACTURER, AUDITOR, PRACTICE},
    schema=Obj(required={"circumstances": NOTE}, optional={"police_report": SHORT}),
    transitions={s: LOST for s in ACTIVE},
    epcis=epcis("ObjectEvent", "OBSERVE", "other", "stolen"),
    summary="The unit was stolen (state LOST).",
)


# --------------------------------------------------------------------------
# Corrections (rule 10).


def _history_item(record: ConnectorRecord, index: int) -> HistoryItem | None:
    return next((h for h in record.history if h.index == index), None)


def _check_correction(state: LedgerState, ctx: Context) -> None:
    statement, data = ctx.statement, ctx.statement.data
    if statement.subject_type != "connector":
        raise RuleViolation(
            "rule.correction_references_entry", "corrections are recorded on connector chains"
        )
    record = custody(state).connectors.get(statement.subject)
    if record is None:
        raise RuleViolation("rule.unknown_connector", f"{statement.subject} was never commissioned")
    item = _history_item(record, data["corrects"])
    if item is None or item.leaf_hash != data["leaf_hash"]:
        raise RuleViolation(
            "rule.correction_references_entry",
            f"entry {data['corrects']} with that leaf hash is not in the history of {record.subject}",
        )
    if item.kind == "correction":
        raise RuleViolation("rule.correction_references_entry", "a correction cannot itself be corrected")
    if item.corrected_by is not None:
        raise RuleViolation("rule.correction_references_entry", f"entry {item.index} is already corrected")
    if statement.by != item.by and not state.roles_of(statement.by) & {AUDITOR, ADMIN}:
        raise RuleViolation(
            "rule.correction_by_author_or_auditor",
            "only the original author or an auditor may correct an entry",
        )
    if record.state == DESTROYED and item.kind != "destroyed":
        # Rule 3: after destruction only the destruction itself may be corrected.
        raise RuleViolation(
            "rule.nothing_after_destroyed", "after destruction only the destruction may be corrected"
        )


def _apply_correction(state: LedgerState, ctx: Context) -> None:
    record = custody(state).connectors.get(ctx.statement.subject)
    assert record is not None
    item = _history_item(record, ctx.statement.data["corrects"])
    assert item is not None
    item.corrected_by = ctx.index
    before = record.state
    # Only the newest state change can be undone by a correction; older
    # ones stay in the history, declared erroneous, and later entries stand.
    # An incident is opened and closed only through the incident process
    # (rules 5 and 11): a correction never undoes the SUSPECT an incident
    # began with, nor a release (its incident stays closed).
    latest = next((h for h in reversed(record.history) if h.state_after != h.state_before), None)
    incident_step = item.state_after == SUSPECT or item.kind == "quarantine.released"
    if latest is item and item.state_before is not None and not incident_step:
        record.state = item.state_before
    note_history(record, ctx, before, record.state)
    custody(state).connectors.put(record.subject, record)


REGISTRY.register(
    KindSpec(
        "correction",
        "connector",
        frozenset(ROLES),
        Obj(
            required={
                "corrects": Integer(0),
                "leaf_hash": Hex(32),
                "reason": OneOf(("did_not_occur", "incorrect_data")),
                "explanation": NOTE,
            }
        ),
        _check_correction,
        _apply_correction,
        epcis=EpcisMapping("ObjectEvent", "OBSERVE", None, None),
        summary="Declares an earlier entry erroneous (EPCIS errorDeclaration); never edits it.",
    )
)
