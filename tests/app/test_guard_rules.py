"""The guard rules of DESIGN §5 and every other custody rule id, each way it can fail.

Every case below builds its world twice over: once so that the rule is
violated (``ok=False``) and once so that the same action is allowed
(``ok=True``). ``test_violation`` checks the rejection carries exactly the
rule id, that NOTHING was appended (log size, latest checkpoint, projection
rows and handover offers unchanged) and that the verifier's replay of the
log rejects the very same batch with the same rule. ``test_allowed`` checks
the allowed path appends, and that projections and ``verify_ledger`` agree.

Rules 5 (receipt seal mismatch) and 12 (event time) are effects, not
rejections, and have their own tests, as do the two-party handovers. The
last test runs a compact matrix on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from app import queries
from app.projections import compare_projections, replay
from app.services import custody, handover
from app.services.signing import signed_statement
from app.services.trust import grant_role
from app.services.verification import verify_ledger
from ledger.custody.records import (
    BROKEN,
    IN_TRANSIT,
    INCIDENT_OPEN,
    INCIDENT_QUARANTINED,
    INCIDENT_RELEASED,
    INTACT_VERIFIED,
    MISMATCH,
    QUARANTINED,
    RECEIVED,
    RETURNED,
    SUSPECT,
    UNVERIFIED,
    HistoryItem,
)
from ledger.entry import Entry
from ledger.envelope import Envelope
from ledger.errors import Conflict, InvalidInput, MissingRole, NotFound
from tests.app.custody_scenarios import (
    AUD,
    CAR,
    FACTORY,
    MFR,
    PRACTICE,
    PRACTICE2,
    TECH,
    TECH2,
    VENDOR,
    WAREHOUSE,
    WH,
    Unit,
    World,
    expect_appended,
    expect_violation,
    snapshot,
)
from tests.helpers import ADMIN, LedgerFixture

Action = Callable[[], object]
Build = Callable[[World, bool], Action]

#: gSMC-K expiries relative to the test clock (2026-11-28): ~2.6 years left, and expired.
SHORT_VALIDITY = "2029-06-30T00:00:00Z"
EXPIRED = "2026-06-30T00:00:00Z"
FOREIGN_ICCSN = "80276883119999999999"
MADE_UP_NONCE = "AAAAAAAAAAAAAAAAAAAAAA"


@dataclass(frozen=True)
class RuleCase:
    rule: str
    variant: str
    build: Build

    @property
    def id(self) -> str:
        return f"{self.rule}/{self.variant}"


CASES: list[RuleCase] = []


def case(rule: str, variant: str) -> Callable[[Build], Build]:
    def register(build: Build) -> Build:
        CASES.append(RuleCase(rule, variant, build))
        return build

    return register


def party(party_id: str) -> str:
    return f"party:{party_id}"


def location(location_id: str) -> str:
    return f"location:{location_id}"


def ship(w: World, unit: Unit) -> Action:
    return lambda: custody.ship(
        w.ctx, WH, w.key(WH), [unit.subject], destination=PRACTICE, to=CAR, delivery_note="LS-4712"
    )


def transfer(
    w: World,
    unit: Unit,
    releaser: str,
    receiver: str,
    *,
    cosigners: Sequence[str] | None = None,
    **overrides: object,
) -> Action:
    """A direct two-party custody.transferred (both sign unless ``cosigners`` says otherwise)."""
    data = {"to": party(receiver), "seals": unit.seals, **overrides}
    signers = [receiver] if cosigners is None else cosigners
    return lambda: w.connector_statement(releaser, "custody.transferred", unit, data, cosigners=signers)


def destroy(w: World, unit: Unit, witness_signs: bool = True) -> Action:
    return lambda: w.connector_statement(
        WH,
        "destroyed",
        unit,
        {"method": "shredded", "witness": party(AUD)},
        cosigners=[AUD] if witness_signs else [],
    )


def install_envelope(w: World, unit: Unit, *, auditor: str, signers: list[str]) -> Envelope:
    """An install with an override naming ``auditor``, signed by exactly ``signers``."""
    record = unit.record
    at = w.ctx.clock()
    assert record.last_inspection is not None
    assert record.cert_not_after is not None
    data = {
        "practice": w.practice,
        "seal_check": record.last_inspection.nonce,
        "firmware": record.firmware,
        "remaining_validity_days": custody.remaining_validity_days(record.cert_not_after, at),
        "override": {"reason": "replacement unit on back order", "auditor": party(auditor)},
    }
    return signed_statement(
        w.ctx,
        at=at,
        kind="installed",
        subject=unit.subject,
        by=party(TECH),
        data=data,
        keys=[w.key(s) for s in signers],
        place=location(PRACTICE),
    )


def correction(w: World, actor: str, unit: Unit, index: int, leaf_hash: str) -> Action:
    data = {"corrects": index, "leaf_hash": leaf_hash, "reason": "incorrect_data", "explanation": "typo"}
    return lambda: w.connector_statement(actor, "correction", unit, data)


def history_item(unit: Unit, kind: str) -> HistoryItem:
    """The newest entry of ``kind`` in the connector's history."""
    return [h for h in unit.record.history if h.kind == kind][-1]


# ==========================================================================
# State machine and existence.


@case("rule.state_transition", "bind_twice")
def _bind_twice(w: World, ok: bool) -> Action:
    unit = w.unit("PRODUCED" if ok else "PERSONALISED")
    return lambda: custody.bind_smck(w.ctx, MFR, w.key(MFR), unit.subject, FACTORY)


@case("rule.state_transition", "receive_unshipped")
def _receive_unshipped(w: World, ok: bool) -> Action:
    unit = w.unit("IN_TRANSIT" if ok else "IN_STOCK")
    return lambda: custody.receive(w.ctx, WH, w.key(WH), unit.subject, unit.seals, place=WAREHOUSE)


@case("rule.state_transition", "release_unquarantined")
def _release_unquarantined(w: World, ok: bool) -> Action:
    unit = w.unit("QUARANTINED" if ok else "SUSPECT")
    return lambda: unit.release(by=AUD)


@case("rule.unknown_connector", "stored")
def _unknown_connector(w: World, ok: bool) -> Action:
    unit = w.unit("SEALED")
    subject = unit.subject if ok else f"connector:{VENDOR}:NEVER-COMMISSIONED"
    return lambda: w.connector_statement(
        MFR, "stored", subject, {"location": location(WAREHOUSE)}, place=WAREHOUSE
    )


@case("rule.unknown_connector", "correction")
def _unknown_connector_correction(w: World, ok: bool) -> Action:
    unit = w.unit("IN_STOCK")
    item = history_item(unit, "stored")
    target = unit if ok else w.new_unit()
    return correction(w, WH, target, item.index, item.leaf_hash)


@case("rule.connector_exists", "commission_twice")
def _commission_twice(w: World, ok: bool) -> Action:
    unit = w.unit("PRODUCED")
    return lambda: w.commission(w.new_unit() if ok else unit)


@case("rule.smck_matches_commissioning", "other_card")
def _smck_other_card(w: World, ok: bool) -> Action:
    unit = w.unit("PRODUCED")
    iccsns = unit.iccsns if ok else [unit.iccsns[0], FOREIGN_ICCSN]
    return lambda: w.connector_statement(
        MFR, "smck.bound", unit, {"iccsns": iccsns, "environment": location(FACTORY)}, place=FACTORY
    )


@case("rule.smck_matches_commissioning", "card_missing")
def _smck_card_missing(w: World, ok: bool) -> Action:
    unit = w.unit("PRODUCED")
    iccsns = unit.iccsns if ok else unit.iccsns[:1]
    return lambda: w.connector_statement(
        MFR, "smck.bound", unit, {"iccsns": iccsns, "environment": location(FACTORY)}, place=FACTORY
    )


@case("rule.custodian_only", "store")
def _custodian_store(w: World, ok: bool) -> Action:
    unit = w.unit("SEALED")  # the manufacturer still holds it
    actor = MFR if ok else WH
    return lambda: custody.store(w.ctx, actor, w.key(actor), unit.subject, WAREHOUSE)


@case("rule.custodian_only", "receive")
def _custodian_receive(w: World, ok: bool) -> Action:
    unit = w.unit("AT_TECHNICIAN" if ok else "WITH_CARRIER")
    return lambda: custody.receive(w.ctx, TECH, w.key(TECH), unit.subject, unit.seals, place=PRACTICE)


@case("rule.custodian_only", "install_by_other_technician")
def _custodian_install(w: World, ok: bool) -> Action:
    unit = w.unit("RECEIVED")  # held by TECH
    technician = TECH if ok else TECH2
    nonce = w.inspect(unit, by=technician)
    return lambda: w.install(unit, by=technician, seal_check=nonce)


# ==========================================================================
# Seals (rule 7 and the seal lifecycle).


@case("rule.unknown_seal", "apply")
def _unknown_seal_apply(w: World, ok: bool) -> Action:
    unit = w.unit("PERSONALISED")
    seals = w.issued_seals(2, to=MFR) if ok else w.next_seal_ids(2)
    return lambda: custody.apply_seals(w.ctx, MFR, w.key(MFR), unit.subject, seals)


@case("rule.unknown_seal", "issue")
def _unknown_seal_issue(w: World, ok: bool) -> Action:
    seals = w.stock_seals(1) if ok else w.next_seal_ids(1)
    return lambda: custody.issue_seals(w.ctx, MFR, w.key(MFR), seals, TECH)


@case("rule.seal_unique", "overlapping_batch")
def _seal_unique(w: World, ok: bool) -> Action:
    stocked = w.stock_seals(5)
    first = w.next_seal_ids(5)[0] if ok else stocked[3]
    return lambda: custody.receive_seals(
        w.ctx, WH, w.key(WH), series=first[:2], first=int(first[2:9]), count=5, supplier="Plombenwerk GmbH"
    )


@case("rule.seal_state", "issue_twice")
def _seal_issue_twice(w: World, ok: bool) -> Action:
    seals = w.stock_seals(1) if ok else w.issued_seals(1, to=MFR)
    return lambda: custody.issue_seals(w.ctx, MFR, w.key(MFR), seals, TECH)


@case("rule.seal_state", "retain_unused")
def _seal_retain_unused(w: World, ok: bool) -> Action:
    if ok:
        unit = w.unit("SEALED")
        custody.remove_seals(w.ctx, MFR, w.key(MFR), unit.subject, unit.seals[:1], "damaged while packing")
        seal = unit.seals[0]
    else:
        seal = w.stock_seals(1)[0]
    return lambda: custody.seal_statement(
        w.ctx, AUD, w.key(AUD), "seal.retained", seal, {"location": location("EVIDENCE-01")}
    )


@case("rule.seal_holder", "issue_by_non_holder")
def _seal_holder(w: World, ok: bool) -> Action:
    seals = w.stock_seals(1, holder=MFR)
    actor = MFR if ok else WH
    return lambda: custody.issue_seals(w.ctx, actor, w.key(actor), seals, TECH)


@case("rule.seal_holder", "void_by_non_holder")
def _seal_void_holder(w: World, ok: bool) -> Action:
    seal = w.issued_seals(1, to=TECH)[0]  # the holder is now TECH
    actor = TECH if ok else MFR
    return lambda: custody.seal_statement(
        w.ctx, actor, w.key(actor), "seal.voided", seal, {"reason": "misprinted"}
    )


@case("rule.seal_issued_to_applier", "issued_to_other")
def _seal_issued_to_other(w: World, ok: bool) -> Action:
    unit = w.unit("PERSONALISED")
    seals = w.issued_seals(2, to=MFR if ok else TECH)
    return lambda: custody.apply_seals(w.ctx, MFR, w.key(MFR), unit.subject, seals)


@case("rule.seal_single_use", "not_issued")
def _seal_not_issued(w: World, ok: bool) -> Action:
    unit = w.unit("PERSONALISED")
    seals = w.issued_seals(2, to=MFR) if ok else w.stock_seals(2)
    return lambda: custody.apply_seals(w.ctx, MFR, w.key(MFR), unit.subject, seals)


@case("rule.seal_single_use", "reused_after_removal")
def _seal_reused(w: World, ok: bool) -> Action:
    donor = w.unit("SEALED")
    custody.remove_seals(w.ctx, MFR, w.key(MFR), donor.subject, donor.seals, "housing reworked")
    unit = w.unit("PERSONALISED")
    seals = w.issued_seals(2, to=MFR) if ok else donor.seals
    return lambda: custody.apply_seals(w.ctx, MFR, w.key(MFR), unit.subject, seals)


@case("rule.seal_single_use", "applied_elsewhere")
def _seal_applied_elsewhere(w: World, ok: bool) -> Action:
    donor = w.unit("SEALED")
    unit = w.unit("PERSONALISED")
    seals = w.issued_seals(1, to=MFR) if ok else donor.seals[:1]
    return lambda: custody.apply_seals(w.ctx, MFR, w.key(MFR), unit.subject, seals)


@case("rule.reseal_requires_removal", "still_sealed")
def _reseal_requires_removal(w: World, ok: bool) -> Action:
    unit = w.unit("IN_STOCK")
    if ok:
        custody.remove_seals(w.ctx, MFR, w.key(MFR), unit.subject, unit.seals, "housing opened for repair")
    seals = w.issued_seals(2, to=MFR)
    return lambda: custody.apply_seals(w.ctx, MFR, w.key(MFR), unit.subject, seals)


@case("rule.reseal_requires_removal", "partly_removed")
def _reseal_partly_removed(w: World, ok: bool) -> Action:
    unit = w.unit("IN_STOCK")
    removed = unit.seals if ok else unit.seals[:1]
    custody.remove_seals(w.ctx, MFR, w.key(MFR), unit.subject, removed, "one seal torn")
    seals = w.issued_seals(2, to=MFR)
    return lambda: custody.apply_seals(w.ctx, MFR, w.key(MFR), unit.subject, seals)


@case("rule.reseal_by_manufacturer", "technician_reseals")
def _reseal_by_technician(w: World, ok: bool) -> Action:
    unit = w.unit("RECEIVED")  # held by TECH at the practice
    custody.remove_seals(w.ctx, TECH, w.key(TECH), unit.subject, unit.seals, "seal torn on arrival")
    actor = MFR if ok else TECH
    seals = w.issued_seals(2, to=actor)
    return lambda: custody.apply_seals(w.ctx, actor, w.key(actor), unit.subject, seals)


@case("rule.seal_on_connector", "foreign_seal")
def _seal_on_connector(w: World, ok: bool) -> Action:
    unit, other = w.unit("SEALED"), w.unit("SEALED")
    seals = unit.seals[:1] if ok else other.seals[:1]
    return lambda: custody.remove_seals(w.ctx, MFR, w.key(MFR), unit.subject, seals, "inspection")


@case("rule.inspection_expects_ledger_seals", "wrong_expected")
def _inspection_expected(w: World, ok: bool) -> Action:
    unit = w.unit("RECEIVED")
    data = custody.inspection_data(unit.seals if ok else unit.seals[:1], unit.seals)
    return lambda: w.connector_statement(TECH, "seal.inspected", unit, data, place=PRACTICE)


# ==========================================================================
# Shipping and custody transfer (rules 2, 6).


@case("rule.ship_sealed", "unsealed")
def _ship_unsealed(w: World, ok: bool) -> Action:
    unit = w.unit("IN_STOCK")
    if not ok:
        custody.remove_seals(w.ctx, MFR, w.key(MFR), unit.subject, unit.seals, "seals damaged in storage")
    return ship(w, unit)


@case("rule.transfer_from_custodian", "direct")
def _transfer_not_custodian(w: World, ok: bool) -> Action:
    unit = w.unit("IN_TRANSIT")  # shipped; the warehouse is still the custodian
    return transfer(w, unit, WH, CAR) if ok else transfer(w, unit, CAR, TECH)


@case("rule.transfer_from_custodian", "handover_offer")
def _transfer_offer_not_custodian(w: World, ok: bool) -> Action:
    unit = w.unit("IN_TRANSIT")
    return (lambda: w.hand_over(unit, WH, CAR)) if ok else (lambda: w.hand_over(unit, CAR, TECH))


@case("rule.transfer_declares_ledger_seals", "partial")
def _transfer_seals(w: World, ok: bool) -> Action:
    unit = w.unit("IN_TRANSIT")
    return transfer(w, unit, WH, CAR, seals=unit.seals if ok else unit.seals[:1])


@case("rule.transfer_declares_ledger_seals", "foreign_seal")
def _transfer_foreign_seal(w: World, ok: bool) -> Action:
    unit, other = w.unit("IN_TRANSIT"), w.unit("SEALED")
    return transfer(w, unit, WH, CAR, seals=unit.seals if ok else [unit.seals[0], other.seals[0]])


@case("rule.transfer_needs_both_signatures", "receiver_did_not_sign")
def _transfer_one_signature(w: World, ok: bool) -> Action:
    unit = w.unit("IN_TRANSIT")
    return transfer(w, unit, WH, CAR, cosigners=[CAR] if ok else [])


@case("rule.transfer_needs_both_signatures", "offer_appended_unaccepted")
def _transfer_offer_unaccepted(w: World, ok: bool) -> Action:
    unit = w.unit("IN_TRANSIT")
    offer = handover.create_offer(w.ctx, WH, w.key(WH), [unit.subject], CAR)
    envelope = Envelope.from_json(offer.envelopes[0])
    if ok:
        envelope = envelope.with_signature(w.key(CAR))
    return lambda: w.ctx.writer().append([envelope])


# ==========================================================================
# Rule 2: blocked states.


@case("rule.blocked_state", "ship_suspect")
def _ship_suspect(w: World, ok: bool) -> Action:
    return ship(w, w.unit("IN_STOCK" if ok else "SUSPECT", base="IN_STOCK"))


@case("rule.blocked_state", "ship_quarantined")
def _ship_quarantined(w: World, ok: bool) -> Action:
    unit = w.unit("QUARANTINED", base="IN_STOCK")
    if ok:
        unit.release(by=AUD)  # back to IN_STOCK
    return ship(w, unit)


@case("rule.blocked_state", "ship_lost")
def _ship_lost(w: World, ok: bool) -> Action:
    return ship(w, w.unit("IN_STOCK" if ok else "LOST", base="IN_STOCK"))


@case("rule.blocked_state", "ship_decommissioned")
def _ship_decommissioned(w: World, ok: bool) -> Action:
    unit = w.unit("IN_STOCK")
    if not ok:
        w.connector_statement(WH, "decommissioned", unit, {"reason": "recalled"})
    return ship(w, unit)


@case("rule.blocked_state", "install_quarantined")
def _install_quarantined(w: World, ok: bool) -> Action:
    unit = w.unit("INSPECTED") if ok else w.unit("QUARANTINED", base="INSPECTED")
    return lambda: w.install(unit)


@case("rule.blocked_state", "register_suspect")
def _register_suspect(w: World, ok: bool) -> Action:
    unit = w.unit("INSTALLED") if ok else w.unit("SUSPECT", base="INSTALLED")
    return lambda: custody.register_ti(w.ctx, TECH, w.key(TECH), unit.subject)


@case("rule.blocked_state", "firmware_quarantined")
def _firmware_quarantined(w: World, ok: bool) -> Action:
    unit = w.unit("IN_OPERATION") if ok else w.unit("QUARANTINED", base="IN_OPERATION")
    return lambda: custody.update_firmware(w.ctx, TECH, w.key(TECH), unit.subject, "5.2.0")


# ==========================================================================
# Rule 3: nothing after destroyed but a correction of it.


@case("rule.nothing_after_destroyed", "incident")
def _destroyed_incident(w: World, ok: bool) -> Action:
    unit = w.unit("DECOMMISSIONED" if ok else "DESTROYED")
    return lambda: unit.report_incident(by=AUD)


@case("rule.nothing_after_destroyed", "correct_other_entry")
def _destroyed_correct_other(w: World, ok: bool) -> Action:
    unit = w.unit("DESTROYED")
    item = history_item(unit, "destroyed" if ok else "decommissioned")
    return correction(w, WH, unit, item.index, item.leaf_hash)


@case("rule.nothing_after_destroyed", "transfer")
def _destroyed_transfer(w: World, ok: bool) -> Action:
    unit = w.unit("DECOMMISSIONED" if ok else "DESTROYED")
    return transfer(w, unit, WH, MFR)


@case("rule.nothing_after_destroyed", "handover_offer")
def _destroyed_offer(w: World, ok: bool) -> Action:
    unit = w.unit("DECOMMISSIONED" if ok else "DESTROYED")
    return lambda: w.hand_over(unit, WH, MFR)


# ==========================================================================
# Rule 1: install only after a conformant on-site seal check by the installer.


@case("rule.install_requires_conformant_seal_check", "no_inspection")
def _install_no_inspection(w: World, ok: bool) -> Action:
    unit = w.unit("RECEIVED")
    nonce = w.inspect(unit) if ok else MADE_UP_NONCE
    return lambda: w.install(unit, seal_check=nonce)


@case("rule.install_requires_conformant_seal_check", "seal_missing")
def _install_seal_missing(w: World, ok: bool) -> Action:
    unit = w.unit("RECEIVED")
    nonce = w.inspect(unit, observed=unit.seals if ok else unit.seals[:1])
    return lambda: w.install(unit, seal_check=nonce)


@case("rule.install_requires_conformant_seal_check", "seal_torn")
def _install_seal_torn(w: World, ok: bool) -> Action:
    unit = w.unit("RECEIVED")
    nonce = w.inspect(unit, results=None if ok else {unit.seals[0]: "torn"})
    return lambda: w.install(unit, seal_check=nonce)


@case("rule.install_requires_conformant_seal_check", "different_technician")
def _install_other_inspector(w: World, ok: bool) -> Action:
    unit = w.unit("RECEIVED")
    nonce = w.inspect(unit, by=TECH if ok else TECH2)
    return lambda: w.install(unit, seal_check=nonce)


@case("rule.install_requires_conformant_seal_check", "other_place")
def _install_other_place(w: World, ok: bool) -> Action:
    unit = w.unit("RECEIVED")
    nonce = w.inspect(unit, place=PRACTICE if ok else PRACTICE2)
    return lambda: w.install(unit, seal_check=nonce)


@case("rule.install_requires_conformant_seal_check", "stale_nonce")
def _install_stale_nonce(w: World, ok: bool) -> Action:
    unit = w.unit("RECEIVED")
    first = w.inspect(unit)
    latest = w.inspect(unit)
    return lambda: w.install(unit, seal_check=latest if ok else first)


@case("rule.install_requires_conformant_seal_check", "resealed_since_check")
def _install_resealed(w: World, ok: bool) -> Action:
    unit = w.unit("INSPECTED")
    custody.remove_seals(w.ctx, TECH, w.key(TECH), unit.subject, unit.seals, "housing opened by mistake")
    unit.seals = sorted(w.issued_seals(2, to=MFR))
    custody.apply_seals(w.ctx, MFR, w.key(MFR), unit.subject, unit.seals)
    if ok:
        w.inspect(unit)
    return lambda: w.install(unit)


@case("rule.install_requires_conformant_seal_check", "receipt_mismatch_since_check")
def _install_mismatch_since_check(w: World, ok: bool) -> Action:
    """A conformant check on site, then a receipt with other seal ids: the old check no longer counts."""
    unit = w.unit("AT_TECHNICIAN")
    nonce = w.inspect(unit)  # on site, conformant, before the goods-in is recorded
    stranger = w.stock_seals(1)[0]
    custody.receive(w.ctx, TECH, w.key(TECH), unit.subject, [unit.seals[0], stranger], place=PRACTICE)
    unit.incident = unit.record.open_incident
    unit.quarantine(by=WH)
    unit.release(by=AUD)  # cleared: back to RECEIVED, seal status still MISMATCH
    if ok:
        nonce = w.inspect(unit)
    return lambda: w.install(unit, seal_check=nonce)


@case("rule.install_requires_conformant_seal_check", "seals_removed_since_check")
def _install_seals_removed(w: World, ok: bool) -> Action:
    unit = w.unit("INSPECTED")
    if not ok:
        custody.remove_seals(w.ctx, TECH, w.key(TECH), unit.subject, unit.seals, "seals cut by mistake")
    return lambda: w.install(unit)


# ==========================================================================
# Rule 4: gSMC-K validity.


@case("rule.certificate_validity", "too_little_left")
def _validity_too_little(w: World, ok: bool) -> Action:
    unit = w.unit("INSPECTED", not_after=SHORT_VALIDITY)
    if ok:
        return lambda: w.install(
            unit, override_reason="no replacement in stock", auditor=AUD, auditor_key=w.key(AUD)
        )
    return lambda: w.install(unit)


@case("rule.certificate_validity", "weakest_card_counts")
def _validity_weakest_card(w: World, ok: bool) -> Action:
    unit = w.unit("INSPECTED", not_after=SHORT_VALIDITY)  # card 1 short, card 2 a year later (still short)
    if ok:
        for iccsn in unit.iccsns:
            custody.apply_lzv(w.ctx, TECH, w.key(TECH), unit.subject, iccsn, datetime(2035, 1, 1, tzinfo=UTC))
    else:
        custody.apply_lzv(
            w.ctx, TECH, w.key(TECH), unit.subject, unit.iccsns[1], datetime(2035, 1, 1, tzinfo=UTC)
        )
    return lambda: w.install(unit)


@case("rule.certificate_validity", "install_dated_near_year_9999")
def _validity_at_the_end_of_the_calendar(w: World, ok: bool) -> Action:
    """Cards valid until 9998–9999 and an install dated 9998: four more years do not exist, so the
    rule refuses (the date arithmetic used to crash the append with a 500 and the verifier)."""
    if ok:
        usual = w.unit("INSPECTED")
        return lambda: w.install(usual)
    unit = w.unit("INSPECTED", not_after="9998-12-31T00:00:00Z")  # the second card: 9999
    record = unit.record
    assert record.last_inspection is not None
    assert record.cert_not_after is not None
    at = datetime(9998, 6, 1, 12, 0, tzinfo=UTC)
    envelope = signed_statement(
        w.ctx,
        at=at,
        kind="installed",
        subject=unit.subject,
        by=party(TECH),
        data={
            "practice": w.practice,
            "seal_check": record.last_inspection.nonce,
            "firmware": record.firmware,
            "remaining_validity_days": custody.remaining_validity_days(record.cert_not_after, at),
        },
        keys=[w.key(TECH)],
        place=location(PRACTICE),
    )
    return lambda: w.ctx.writer().append([envelope])


@case("rule.certificate_validity", "override_without_auditor_signature")
def _validity_unsigned_override(w: World, ok: bool) -> Action:
    unit = w.unit("INSPECTED", not_after=SHORT_VALIDITY)
    envelope = install_envelope(w, unit, auditor=AUD, signers=[TECH, AUD] if ok else [TECH])
    return lambda: w.ctx.writer().append([envelope])


@case("rule.certificate_validity", "override_by_non_auditor")
def _validity_non_auditor(w: World, ok: bool) -> Action:
    unit = w.unit("INSPECTED", not_after=SHORT_VALIDITY)
    auditor = AUD if ok else TECH2  # TECH2 co-signs but holds no auditor role
    return lambda: w.install(
        unit, override_reason="urgent exchange", auditor=auditor, auditor_key=w.key(auditor)
    )


@case("rule.certificate_validity", "override_by_the_installer")
def _validity_self_override(w: World, ok: bool) -> Action:
    """Four eyes: the installer may hold `auditor` too, but cannot approve their own override."""
    if "auditor" not in w.ctx.store.trust_state().roles_of(party(TECH)):
        grant_role(w.ctx, w.lf.admin_key, ADMIN, TECH, "auditor")
    unit = w.unit("INSPECTED", not_after=SHORT_VALIDITY)
    if ok:
        envelope = install_envelope(w, unit, auditor=AUD, signers=[TECH, AUD])
    else:
        envelope = install_envelope(w, unit, auditor=TECH, signers=[TECH])
    return lambda: w.ctx.writer().append([envelope])


@case("rule.certificate_expired", "no_override")
def _expired(w: World, ok: bool) -> Action:
    unit = w.unit("INSPECTED", not_after=EXPIRED, cards=1)
    if ok:  # a runtime extension (LZV) of the card makes it installable
        custody.apply_lzv(
            w.ctx, TECH, w.key(TECH), unit.subject, unit.iccsns[0], datetime(2035, 1, 1, tzinfo=UTC)
        )
    return lambda: w.install(unit)


@case("rule.certificate_expired", "with_override")
def _expired_override(w: World, ok: bool) -> Action:
    unit = w.unit("INSPECTED", not_after=EXPIRED, cards=1)
    if ok:
        custody.apply_lzv(
            w.ctx, TECH, w.key(TECH), unit.subject, unit.iccsns[0], datetime(2029, 1, 1, tzinfo=UTC)
        )
    return lambda: w.install(unit, override_reason="urgent", auditor=AUD, auditor_key=w.key(AUD))


# ==========================================================================
# Firmware and LZV.


@case("rule.firmware_from", "wrong_from")
def _firmware_from(w: World, ok: bool) -> Action:
    unit = w.unit("IN_OPERATION")
    current = unit.record.firmware
    return lambda: w.connector_statement(
        TECH, "firmware.updated", unit, {"from": current if ok else "4.9.9", "to": "5.2.0"}
    )


@case("rule.lzv_known_card", "unknown_iccsn")
def _lzv_unknown_card(w: World, ok: bool) -> Action:
    unit = w.unit("IN_OPERATION")
    iccsn = unit.iccsns[0] if ok else FOREIGN_ICCSN
    return lambda: custody.apply_lzv(
        w.ctx, TECH, w.key(TECH), unit.subject, iccsn, datetime(2040, 1, 1, tzinfo=UTC)
    )


@case("rule.lzv_extends", "earlier_expiry")
def _lzv_earlier(w: World, ok: bool) -> Action:
    unit = w.unit("IN_OPERATION")
    moment = datetime(2040, 1, 1, tzinfo=UTC) if ok else datetime(2030, 1, 1, tzinfo=UTC)
    return lambda: custody.apply_lzv(w.ctx, TECH, w.key(TECH), unit.subject, unit.iccsns[0], moment)


@case("rule.lzv_extends", "same_expiry")
def _lzv_same(w: World, ok: bool) -> Action:
    unit = w.unit("IN_OPERATION")  # card 1 expires at FAR_FUTURE = 2036-06-30
    moment = datetime(2036, 7, 1, tzinfo=UTC) if ok else datetime(2036, 6, 30, tzinfo=UTC)
    return lambda: custody.apply_lzv(w.ctx, TECH, w.key(TECH), unit.subject, unit.iccsns[0], moment)


@case("rule.same_practice", "other_practice")
def _same_practice(w: World, ok: bool) -> Action:
    unit = w.unit("INSTALLED")
    digest = w.practice if ok else w.practice2
    return lambda: w.connector_statement(TECH, "ti.registered", unit, {"practice": digest})


# ==========================================================================
# Rule 9: one site at a time.


@case("rule.one_site_at_a_time", "installed")
def _second_site_installed(w: World, ok: bool) -> Action:
    unit = w.unit("INSPECTED" if ok else "INSTALLED")
    nonce = w.inspect(unit, place=PRACTICE2)
    return lambda: w.install(unit, place=PRACTICE2, seal_check=nonce)


@case("rule.one_site_at_a_time", "in_operation")
def _second_site_operating(w: World, ok: bool) -> Action:
    unit = w.unit("INSPECTED" if ok else "IN_OPERATION")
    nonce = w.inspect(unit, place=PRACTICE2)
    return lambda: w.install(unit, place=PRACTICE2, seal_check=nonce)


@case("rule.one_site_at_a_time", "deregistered")
def _second_site_deregistered(w: World, ok: bool) -> Action:
    unit = w.unit("INSPECTED" if ok else "DEREGISTERED")
    nonce = w.inspect(unit, place=PRACTICE2)
    return lambda: w.install(unit, place=PRACTICE2, seal_check=nonce)


# ==========================================================================
# Rule 8: deregistration before removal; decommissioning and a witness before destruction.


@case("rule.deregister_before_removal", "remove_operating")
def _remove_operating(w: World, ok: bool) -> Action:
    unit = w.unit("DEREGISTERED" if ok else "IN_OPERATION")
    return lambda: w.connector_statement(TECH, "removed", unit, {"reason": "exchange"})


@case("rule.deregister_before_removal", "decommission_operating")
def _decommission_operating(w: World, ok: bool) -> Action:
    unit = w.unit("RETURNED" if ok else "IN_OPERATION")
    return lambda: w.connector_statement(WH, "decommissioned", unit, {"reason": "end of life"})


@case("rule.deregister_before_removal", "decommission_installed")
def _decommission_installed(w: World, ok: bool) -> Action:
    unit = w.unit("RETURNED" if ok else "INSTALLED")
    return lambda: w.connector_statement(WH, "decommissioned", unit, {"reason": "end of life"})


@case("rule.destroy_requires_decommission", "returned")
def _destroy_returned(w: World, ok: bool) -> Action:
    return destroy(w, w.unit("DECOMMISSIONED" if ok else "RETURNED"))


@case("rule.destroy_requires_decommission", "in_stock")
def _destroy_in_stock(w: World, ok: bool) -> Action:
    unit = w.unit("IN_STOCK")
    if ok:
        w.connector_statement(WH, "decommissioned", unit, {"reason": "recalled"})
    return destroy(w, unit)


@case("rule.destroy_requires_witness", "witness_did_not_sign")
def _destroy_unwitnessed(w: World, ok: bool) -> Action:
    return destroy(w, w.unit("DECOMMISSIONED"), witness_signs=ok)


# ==========================================================================
# Incidents (rule 11) and corrections (rule 10).


@case("rule.open_incident", "quarantine_other_incident")
def _quarantine_other(w: World, ok: bool) -> Action:
    unit, other = w.unit("SUSPECT"), w.unit("SUSPECT")
    incident = unit.incident if ok else other.incident
    return lambda: w.connector_statement(WH, "quarantined", unit, {"incident": incident})


@case("rule.open_incident", "quarantine_unknown_incident")
def _quarantine_unknown(w: World, ok: bool) -> Action:
    unit = w.unit("SUSPECT")
    incident = unit.incident if ok else "INC-999999"
    return lambda: w.connector_statement(WH, "quarantined", unit, {"incident": incident})


@case("rule.open_incident", "release_other_incident")
def _release_other(w: World, ok: bool) -> Action:
    unit, other = w.unit("QUARANTINED"), w.unit("QUARANTINED")
    incident = unit.incident if ok else other.incident
    data = {"incident": incident, "investigation": "seals intact, no tampering", "outcome": "cleared"}
    return lambda: w.connector_statement(AUD, "quarantine.released", unit, data)


@case("rule.four_eyes_release", "reporter_releases")
def _four_eyes(w: World, ok: bool) -> Action:
    unit = w.unit("QUARANTINED", base="IN_STOCK")  # reported by WH
    return lambda: unit.release(by=AUD if ok else WH)


@case("rule.four_eyes_release", "receiver_of_mismatch_releases")
def _four_eyes_auto_incident(w: World, ok: bool) -> Action:
    unit = w.unit("RETURN_AT_WAREHOUSE")
    other = w.stock_seals(1)
    custody.receive(w.ctx, WH, w.key(WH), unit.subject, [unit.seals[0], other[0]], place=WAREHOUSE)
    unit.incident = unit.record.open_incident
    unit.quarantine(by=WH)
    return lambda: unit.release(by=AUD if ok else WH)


@case("rule.correction_by_author_or_auditor", "auditor_may")
def _correction_auditor(w: World, ok: bool) -> Action:
    unit = w.unit("IN_STOCK")
    item = history_item(unit, "stored")  # by WH
    return correction(w, AUD if ok else TECH, unit, item.index, item.leaf_hash)


@case("rule.correction_by_author_or_auditor", "author_may")
def _correction_author(w: World, ok: bool) -> Action:
    unit = w.unit("IN_STOCK")
    item = history_item(unit, "stored")
    return correction(w, WH if ok else CAR, unit, item.index, item.leaf_hash)


@case("rule.correction_references_entry", "wrong_leaf_hash")
def _correction_leaf_hash(w: World, ok: bool) -> Action:
    unit = w.unit("IN_STOCK")
    item = history_item(unit, "stored")
    return correction(w, WH, unit, item.index, item.leaf_hash if ok else "00" * 32)


@case("rule.correction_references_entry", "other_connectors_entry")
def _correction_other_chain(w: World, ok: bool) -> Action:
    unit, other = w.unit("IN_STOCK"), w.unit("IN_STOCK")
    item = history_item(unit if ok else other, "stored")
    return correction(w, WH, unit, item.index, item.leaf_hash)


@case("rule.correction_references_entry", "not_a_connector_entry")
def _correction_seal_entry(w: World, ok: bool) -> Action:
    unit = w.unit("IN_STOCK")
    if ok:
        item = history_item(unit, "stored")
        index, leaf = item.index, item.leaf_hash
    else:
        index = w.size()
        w.stock_seals(1, holder=WH)
        leaf = Entry.parse(w.ctx.store.entry(index)).leaf_hash.hex()
    return correction(w, WH, unit, index, leaf)


@case("rule.correction_references_entry", "correct_a_correction")
def _correction_of_correction(w: World, ok: bool) -> Action:
    unit = w.unit("IN_STOCK")
    item = history_item(unit, "stored")
    correction(w, WH, unit, item.index, item.leaf_hash)()
    target = history_item(unit, "seal.applied") if ok else history_item(unit, "correction")
    return correction(w, AUD, unit, target.index, target.leaf_hash)


@case("rule.correction_references_entry", "already_corrected")
def _correction_twice(w: World, ok: bool) -> Action:
    unit = w.unit("IN_STOCK")
    item = history_item(unit, "stored")
    correction(w, WH, unit, item.index, item.leaf_hash)()
    target = history_item(unit, "seal.applied") if ok else item
    return correction(w, AUD, unit, target.index, target.leaf_hash)


CASE_IDS = [c.id for c in CASES]


@pytest.mark.parametrize("rule_case", CASES, ids=CASE_IDS)
def test_violation(sqlite_ledger: LedgerFixture, rule_case: RuleCase) -> None:
    world = World(sqlite_ledger)
    action = rule_case.build(world, False)
    expect_violation(world.ctx, rule_case.rule, action)


@pytest.mark.parametrize("rule_case", CASES, ids=CASE_IDS)
def test_allowed(sqlite_ledger: LedgerFixture, rule_case: RuleCase) -> None:
    world = World(sqlite_ledger)
    action = rule_case.build(world, True)
    expect_appended(world.ctx, action)
    assert compare_projections(world.ctx.engine, replay(world.ctx.store.entries())) == []
    report = verify_ledger(world.ctx, workers=1)
    assert report.valid, report.findings


def test_every_rule_id_of_the_custody_domain_has_a_case() -> None:
    """The matrix covers every rule id the custody kinds can raise."""
    import ast
    import pathlib

    import ledger.custody as package

    raised: set[object] = set()
    for path in pathlib.Path(package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "RuleViolation":
                first = node.args[0]
                if isinstance(first, ast.Constant):
                    raised.add(first.value)
            if (
                isinstance(node, ast.keyword)
                and node.arg == "counterparty_rule"
                and isinstance(node.value, ast.Constant)
            ):
                raised.add(node.value.value)
    assert raised, "found no rule ids"
    assert raised <= {c.rule for c in CASES}, sorted(raised - {c.rule for c in CASES}, key=str)


# ==========================================================================
# Rule 5: a receipt with other seal ids than shipped raises an incident by itself.


def test_receipt_with_other_seals_is_recorded_and_raises_an_incident(sqlite_ledger: LedgerFixture) -> None:
    w = World(sqlite_ledger)
    unit = w.unit("AT_TECHNICIAN")
    stranger = w.stock_seals(1)[0]
    observed = [unit.seals[0], stranger]
    result = expect_appended(
        w.ctx, lambda: custody.receive(w.ctx, TECH, w.key(TECH), unit.subject, observed, place=PRACTICE)
    )
    index = result.entries[0].index
    record = unit.record
    assert record.state == SUSPECT
    assert record.state_before_incident == RECEIVED
    assert record.open_incident == f"INC-{index}"
    assert record.seal_status == MISMATCH
    incident = queries.incident(w.ctx.engine, f"INC-{index}")
    assert incident.status == INCIDENT_OPEN
    assert incident.category == "seal_mismatch"
    assert incident.reported_by == party(TECH)
    assert incident.opened_index == index
    assert unit.seals[1] in incident.description
    assert stranger in incident.description
    # The mismatch entry is the receipt itself, with what was observed.
    entry = Entry.parse(w.ctx.store.entry(index))
    assert entry.statement.kind == "received"
    assert entry.statement.data["seals_observed"] == sorted(observed)
    # A suspect unit cannot be installed, even after a conformant-looking check.
    expect_violation(w.ctx, "rule.blocked_state", lambda: w.install(unit, seal_check=MADE_UP_NONCE))
    # Quarantine and a four-eyes release bring it back to RECEIVED.
    unit.incident = record.open_incident
    unit.quarantine(by=WH)
    assert unit.state == QUARANTINED
    assert queries.incident(w.ctx.engine, unit.incident).status == INCIDENT_QUARANTINED
    unit.release(by=AUD)
    assert unit.state == RECEIVED
    assert unit.record.open_incident is None
    released = queries.incident(w.ctx.engine, f"INC-{index}")
    assert released.status == INCIDENT_RELEASED
    assert released.released_by == party(AUD)
    report = verify_ledger(w.ctx, workers=1)
    assert report.valid, report.findings


def test_receipt_with_the_shipped_seals_raises_nothing(sqlite_ledger: LedgerFixture) -> None:
    w = World(sqlite_ledger)
    unit = w.unit("RECEIVED")
    record = unit.record
    assert record.state == RECEIVED
    assert record.seal_status == UNVERIFIED
    assert record.open_incident is None
    assert queries.incidents(w.ctx.engine) == []
    w.inspect(unit)
    assert unit.record.seal_status == INTACT_VERIFIED


def test_receipt_with_missing_seals_on_return_raises_an_incident(sqlite_ledger: LedgerFixture) -> None:
    w = World(sqlite_ledger)
    unit = w.unit("RETURN_AT_WAREHOUSE")
    result = custody.receive(w.ctx, WH, w.key(WH), unit.subject, [], place=WAREHOUSE)
    index = result.entries[0].index
    record = unit.record
    assert (record.state, record.state_before_incident) == (SUSPECT, RETURNED)
    assert record.open_incident == f"INC-{index}"
    assert record.seal_status == MISMATCH
    assert queries.incident(w.ctx.engine, f"INC-{index}").reported_by == party(WH)


def test_torn_seal_found_on_inspection_marks_broken(sqlite_ledger: LedgerFixture) -> None:
    w = World(sqlite_ledger)
    unit = w.unit("RECEIVED")
    w.inspect(unit, results={unit.seals[0]: "torn"})
    assert unit.record.seal_status == BROKEN
    w.inspect(unit, observed=unit.seals[:1])
    assert unit.record.seal_status == MISMATCH


# ==========================================================================
# Rule 10 effects: a correction marks the entry and undoes only the newest state change —
# but never opens or closes an incident behind the incident process (rules 5, 11).


def test_correction_of_the_newest_state_change_restores_the_state(sqlite_ledger: LedgerFixture) -> None:
    w = World(sqlite_ledger)
    unit = w.unit("IN_STOCK")
    result = unit.lose(by=WH)
    assert unit.state == "LOST"
    index = result.entries[0].index
    expect_appended(
        w.ctx,
        lambda: custody.correct(
            w.ctx, WH, w.key(WH), unit.subject, index=index, reason="did_not_occur", explanation="found it"
        ),
    )
    record = unit.record
    assert record.state == "IN_STOCK"
    assert history_item(unit, "lost").corrected_by == record.history[-1].index
    # An older entry is declared erroneous but the state stays.
    stored = history_item(unit, "stored")
    correction(w, WH, unit, stored.index, stored.leaf_hash)()
    assert unit.state == "IN_STOCK"
    report = verify_ledger(w.ctx, workers=1)
    assert report.valid, report.findings


def test_correcting_a_mismatched_receipt_does_not_lift_its_incident(sqlite_ledger: LedgerFixture) -> None:
    """The receiver cannot undo the automatic rule-5 incident alone by correcting its receipt."""
    w = World(sqlite_ledger)
    unit = w.unit("AT_TECHNICIAN")
    stranger = w.stock_seals(1)[0]
    receipt = custody.receive(
        w.ctx, TECH, w.key(TECH), unit.subject, [unit.seals[0], stranger], place=PRACTICE
    )
    index = receipt.entries[0].index
    expect_appended(
        w.ctx,
        lambda: custody.correct(
            w.ctx, TECH, w.key(TECH), unit.subject, index=index, reason="incorrect_data", explanation="typo"
        ),
    )
    record = unit.record
    assert record.state == SUSPECT
    assert record.open_incident == f"INC-{index}"
    assert history_item(unit, "received").corrected_by is not None
    # Still blocked, and it cannot be received again either; only quarantine + four eyes clear it.
    expect_violation(
        w.ctx,
        "rule.state_transition",
        lambda: custody.receive(w.ctx, TECH, w.key(TECH), unit.subject, unit.seals, place=PRACTICE),
    )
    unit.incident = record.open_incident
    unit.quarantine(by=WH)
    unit.release(by=AUD)
    assert unit.state == RECEIVED
    report = verify_ledger(w.ctx, workers=1)
    assert report.valid, report.findings


def test_correcting_an_incident_report_keeps_the_unit_suspect(sqlite_ledger: LedgerFixture) -> None:
    w = World(sqlite_ledger)
    unit = w.unit("SUSPECT", base="IN_STOCK")
    item = history_item(unit, "incident.reported")
    correction(w, WH, unit, item.index, item.leaf_hash)()
    assert unit.state == SUSPECT
    expect_violation(w.ctx, "rule.blocked_state", ship(w, unit))


def test_correcting_a_release_leaves_the_incident_closed_and_the_unit_usable(
    sqlite_ledger: LedgerFixture,
) -> None:
    w = World(sqlite_ledger)
    unit = w.unit("QUARANTINED", base="IN_STOCK")
    released = unit.release(by=AUD).entries[0].index
    correction(w, AUD, unit, released, history_item(unit, "quarantine.released").leaf_hash)()
    record = unit.record
    assert record.state == "IN_STOCK"
    assert record.open_incident is None
    assert queries.incident(w.ctx.engine, unit.incident or "").status == INCIDENT_RELEASED
    # Not stuck: a new incident goes through the whole process and the unit ships again.
    unit.report_incident(by=WH)
    unit.quarantine(by=WH)
    unit.release(by=AUD)
    assert unit.state == "IN_STOCK"
    expect_appended(w.ctx, ship(w, unit))
    report = verify_ledger(w.ctx, workers=1)
    assert report.valid, report.findings


# ==========================================================================
# Rule 12: event times ahead of the log or out of order are flagged, never dropped.


def _inspection_at(w: World, unit: Unit, at: datetime) -> int:
    envelope = signed_statement(
        w.ctx,
        at=at,
        kind="seal.inspected",
        subject=unit.subject,
        by=party(WH),
        data=custody.inspection_data(unit.seals, unit.seals),
        keys=[w.key(WH)],
        place=location(WAREHOUSE),
    )
    result = expect_appended(w.ctx, lambda: w.ctx.writer().append([envelope]))
    return int(result.entries[0].index)


def _time_warnings(w: World) -> dict[int, list[str]]:
    report = verify_ledger(w.ctx, workers=1)
    assert report.valid, report.findings
    flagged: dict[int, list[str]] = {}
    for warning in report.warnings:
        assert warning.index is not None
        flagged.setdefault(warning.index, []).append(warning.message)
    return flagged


def test_event_time_in_the_future_is_flagged_not_dropped(sqlite_ledger: LedgerFixture) -> None:
    w = World(sqlite_ledger)
    unit = w.unit("IN_STOCK")
    ahead = _inspection_at(w, unit, w.now() + timedelta(hours=1))
    still_ahead = _inspection_at(w, unit, w.now() + timedelta(minutes=6))  # earlier than `ahead`, too
    flagged = _time_warnings(w)
    assert ahead in flagged
    assert still_ahead in flagged
    assert len(flagged[ahead]) == 1
    assert "rule.event_time" in flagged[ahead][0]
    assert "ahead of the log time" in flagged[ahead][0]
    # `still_ahead` is both ahead of the log and > 5 min before the newest event about the unit.
    assert any("before the previous event" in m for m in flagged[still_ahead])
    # The entries are in the log and took effect.
    assert Entry.parse(w.ctx.store.entry(ahead)).statement.kind == "seal.inspected"
    assert unit.record.last_inspection is not None
    assert unit.record.last_inspection.index == still_ahead


def test_event_time_within_tolerance_is_not_flagged(sqlite_ledger: LedgerFixture) -> None:
    w = World(sqlite_ledger)
    unit = w.unit("IN_STOCK")
    _inspection_at(w, unit, w.now() + timedelta(minutes=4))  # 4 min ahead of the log: tolerated
    _inspection_at(w, unit, w.now())  # ~4 min before the previous event: tolerated
    assert _time_warnings(w) == {}


def test_event_time_out_of_order_is_flagged_not_dropped(sqlite_ledger: LedgerFixture) -> None:
    w = World(sqlite_ledger)
    unit = w.unit("IN_STOCK")
    last = unit.record.last_at
    assert last is not None
    before = _inspection_at(w, unit, w.now() - timedelta(minutes=10))
    slightly = _inspection_at(w, unit, w.now() - timedelta(minutes=4))
    flagged = _time_warnings(w)
    assert list(flagged) == [before]
    assert "before the previous event" in flagged[before][0]
    assert slightly not in flagged
    assert unit.record.last_inspection is not None
    assert unit.record.last_inspection.index == slightly


def test_late_sync_of_an_offline_technician_is_normal(sqlite_ledger: LedgerFixture) -> None:
    """recorded_at long after at is not a finding as long as the event order holds."""
    w = World(sqlite_ledger)
    unit = w.unit("IN_STOCK")
    at = w.now()
    w.clock.now += timedelta(hours=6)
    index = _inspection_at(w, unit, at)
    entry = Entry.parse(w.ctx.store.entry(index))
    assert entry.recorded_at > entry.statement.at
    assert _time_warnings(w) == {}


# ==========================================================================
# Two-party handovers.


def test_offer_is_not_in_the_log_until_accepted(sqlite_ledger: LedgerFixture) -> None:
    w = World(sqlite_ledger)
    unit = w.unit("IN_TRANSIT")
    before = snapshot(w.ctx)
    offer = handover.create_offer(w.ctx, WH, w.key(WH), [unit.subject], CAR, delivery_note="LS-1")
    after = snapshot(w.ctx)
    assert after["size"] == before["size"]
    assert after["checkpoint"] == before["checkpoint"]
    assert after["connectors"] == before["connectors"]
    assert [o.offer_id for o in handover.offers(w.ctx, to=CAR)] == [offer.offer_id]
    assert offer.status == handover.PENDING
    assert unit.record.custodian == party(WH)
    # The offer's statement is signed by the releaser only.
    assert len(Envelope.from_json(offer.envelopes[0]).signatures) == 1


def test_accept_appends_one_entry_with_both_signatures(sqlite_ledger: LedgerFixture) -> None:
    w = World(sqlite_ledger)
    unit = w.unit("IN_TRANSIT")
    offer = handover.create_offer(w.ctx, WH, w.key(WH), [unit.subject], CAR)
    size = w.size()
    result = handover.accept_offer(w.ctx, CAR, w.key(CAR), offer.offer_id)
    assert [e.index for e in result.entries] == [size]
    assert w.size() == size + 1
    entry = Entry.parse(w.ctx.store.entry(size))
    assert entry.statement.kind == "custody.transferred"
    assert entry.statement.by == party(WH)
    assert entry.statement.data["to"] == party(CAR)
    assert entry.statement.data["seals"] == unit.seals
    assert [s.keyid for s in entry.envelope.signatures] == [w.key(WH).keyid, w.key(CAR).keyid]
    assert unit.record.custodian == party(CAR)
    assert unit.record.state == IN_TRANSIT
    closed = handover.get_offer(w.ctx, offer.offer_id)
    assert closed.status == handover.ACCEPTED
    assert closed.result == {"indices": [size], "size": size + 1}
    # A second acceptance is a conflict; an acceptance by someone else is not theirs to give.
    with pytest.raises(Conflict):
        handover.accept_offer(w.ctx, CAR, w.key(CAR), offer.offer_id)
    with pytest.raises(NotFound):
        handover.accept_offer(w.ctx, TECH, w.key(TECH), offer.offer_id)
    assert w.size() == size + 1
    report = verify_ledger(w.ctx, workers=1)
    assert report.valid, report.findings


def test_accept_by_a_party_without_a_custodial_role_is_refused(sqlite_ledger: LedgerFixture) -> None:
    w = World(sqlite_ledger)
    unit = w.unit("IN_TRANSIT")
    offer = handover.create_offer(w.ctx, WH, w.key(WH), [unit.subject], AUD)
    before = snapshot(w.ctx)
    with pytest.raises(MissingRole, match="AUDIT-01 needs one of the roles"):
        handover.accept_offer(w.ctx, AUD, w.key(AUD), offer.offer_id)
    assert snapshot(w.ctx) == before
    assert handover.get_offer(w.ctx, offer.offer_id).status == handover.PENDING


def test_reject_with_mismatching_seals_closes_offer_and_records_incident(
    sqlite_ledger: LedgerFixture,
) -> None:
    w = World(sqlite_ledger)
    unit = w.unit("IN_TRANSIT")
    offer = handover.create_offer(w.ctx, WH, w.key(WH), [unit.subject], CAR)
    size = w.size()
    closed, appended = handover.reject_offer(
        w.ctx, CAR, w.key(CAR), offer.offer_id, "seal number differs", {unit.subject: unit.seals[:1]}
    )
    assert closed.status == handover.REJECTED
    assert closed.reason == "seal number differs"
    assert appended is not None
    assert [e.index for e in appended.entries] == [size]
    assert closed.result == {"incidents": [size]}
    entry = Entry.parse(w.ctx.store.entry(size))
    assert (entry.statement.kind, entry.statement.by) == ("incident.reported", party(CAR))
    assert entry.statement.data["category"] == "seal_mismatch"
    record = unit.record
    assert record.state == SUSPECT
    assert record.custodian == party(WH)  # custody never changed hands
    assert record.open_incident == f"INC-{size}"
    assert queries.incident(w.ctx.engine, f"INC-{size}").status == INCIDENT_OPEN
    # The offer cannot be accepted afterwards.
    with pytest.raises(Conflict):
        handover.accept_offer(w.ctx, CAR, w.key(CAR), offer.offer_id)
    report = verify_ledger(w.ctx, workers=1)
    assert report.valid, report.findings


def test_reject_with_matching_seals_appends_nothing(sqlite_ledger: LedgerFixture) -> None:
    w = World(sqlite_ledger)
    unit = w.unit("IN_TRANSIT")
    offer = handover.create_offer(w.ctx, WH, w.key(WH), [unit.subject], CAR)
    size = w.size()
    closed, appended = handover.reject_offer(
        w.ctx, CAR, w.key(CAR), offer.offer_id, "wrong delivery", {unit.subject: unit.seals}
    )
    assert appended is None
    assert closed.status == handover.REJECTED
    assert w.size() == size
    assert unit.record.state == IN_TRANSIT
    with pytest.raises(InvalidInput):
        handover.reject_offer(w.ctx, CAR, w.key(CAR), offer.offer_id, "  ")


@pytest.mark.parametrize(
    ("spoiler", "rule"),
    [
        ("lost", "rule.state_transition"),
        ("seal_removed", "rule.transfer_declares_ledger_seals"),
        ("handed_elsewhere", "rule.transfer_from_custodian"),
        ("destroyed", "rule.nothing_after_destroyed"),
    ],
)
def test_batch_handover_is_all_or_nothing(sqlite_ledger: LedgerFixture, spoiler: str, rule: str) -> None:
    w = World(sqlite_ledger)
    units = [w.unit("IN_STOCK") for _ in range(3)]
    if spoiler == "destroyed":
        units[1] = w.unit("DECOMMISSIONED")
    offer = handover.create_offer(w.ctx, WH, w.key(WH), [u.subject for u in units], CAR, shipment="TOUR-7")
    assert len(offer.envelopes) == 3
    spoilt = units[1]
    if spoiler == "lost":
        spoilt.lose(by=WH)
    elif spoiler == "seal_removed":
        custody.remove_seals(w.ctx, MFR, w.key(MFR), spoilt.subject, spoilt.seals[:1], "seal damaged")
    elif spoiler == "handed_elsewhere":
        w.hand_over(spoilt, WH, TECH)
    else:
        destroy(w, spoilt)()
    error = expect_violation(
        w.ctx, rule, lambda: handover.accept_offer(w.ctx, CAR, w.key(CAR), offer.offer_id)
    )
    assert getattr(error, "batch_position", None) == 1
    assert "statement 2 of 3" in str(error)
    assert handover.get_offer(w.ctx, offer.offer_id).status == handover.PENDING
    assert [u.record.custodian for u in (units[0], units[2])] == [party(WH)] * 2
    # The receiver rejects it; a new offer of the two transferable units goes through in ONE batch.
    handover.reject_offer(w.ctx, CAR, w.key(CAR), offer.offer_id, "one unit not transferable")
    size = w.size()
    result = w.hand_over([units[0], units[2]], WH, CAR)
    assert [e.index for e in result.entries] == [size, size + 1]
    assert result.size == size + 2
    assert [u.record.custodian for u in (units[0], units[2])] == [party(CAR)] * 2
    report = verify_ledger(w.ctx, workers=1)
    assert report.valid, report.findings


# ==========================================================================
# Both engines: a compact matrix on SQLite and PostgreSQL.

COMPACT = {
    "rule.state_transition/receive_unshipped",
    "rule.custodian_only/store",
    "rule.seal_single_use/reused_after_removal",
    "rule.reseal_by_manufacturer/technician_reseals",
    "rule.transfer_from_custodian/direct",
    "rule.transfer_needs_both_signatures/receiver_did_not_sign",
    "rule.blocked_state/ship_quarantined",
    "rule.nothing_after_destroyed/correct_other_entry",
    "rule.install_requires_conformant_seal_check/stale_nonce",
    "rule.certificate_validity/override_by_non_auditor",
    "rule.certificate_expired/with_override",
    "rule.one_site_at_a_time/in_operation",
    "rule.deregister_before_removal/remove_operating",
    "rule.destroy_requires_witness/witness_did_not_sign",
    "rule.four_eyes_release/reporter_releases",
    "rule.correction_references_entry/already_corrected",
}
COMPACT_CASES = [c for c in CASES if c.id in COMPACT]


@pytest.mark.parametrize("rule_case", COMPACT_CASES, ids=[c.id for c in COMPACT_CASES])
def test_guard_rules_on_both_engines(ledger: LedgerFixture, rule_case: RuleCase) -> None:
    world = World(ledger)
    expect_violation(world.ctx, rule_case.rule, rule_case.build(world, False))
    expect_appended(world.ctx, rule_case.build(world, True))
    assert compare_projections(world.ctx.engine, replay(world.ctx.store.entries())) == []
    report = verify_ledger(world.ctx, workers=1)
    assert report.valid, report.findings


def test_compact_matrix_is_complete() -> None:
    assert {c.id for c in COMPACT_CASES} == COMPACT


# ==========================================================================
# Loopholes closed after review.


def test_reporter_of_a_joined_incident_cannot_release(sqlite_ledger: LedgerFixture) -> None:
    """Rule 11 holds across incidents: a second report joins the open one, and its
    reporter is barred from the release just like the first reporter."""
    w = World(sqlite_ledger)
    unit = w.unit("QUARANTINED", base="IN_STOCK")  # first incident reported by WH
    first = unit.incident
    second = w.connector_statement(
        AUD,
        "incident.reported",
        unit,
        {"category": "housing_damage", "description": "second look: scratches"},
    )
    record = unit.record
    assert record.open_incident == first
    assert record.joined_incidents == [f"INC-{second.entries[0].index}"]
    assert unit.state == "QUARANTINED"
    expect_violation(w.ctx, "rule.four_eyes_release", lambda: unit.release(by=AUD))
    expect_appended(w.ctx, lambda: unit.release(by=MFR))
    for incident_id in (first, f"INC-{second.entries[0].index}"):
        assert queries.incident(w.ctx.engine, str(incident_id)).status == "RELEASED"
    assert unit.record.joined_incidents == []


def test_backdated_install_cannot_use_an_expired_card(sqlite_ledger: LedgerFixture) -> None:
    """Rule 4 "never with expired certificates" also holds against the log's clock:
    an event time from before the expiry does not let an expired unit in."""
    w = World(sqlite_ledger)
    unit = w.unit("INSPECTED", not_after=EXPIRED, cards=1)
    inspection = unit.record.last_inspection
    assert inspection is not None
    at = datetime(2026, 6, 1, tzinfo=UTC)  # a month before the card expired; the log is months later
    data = {
        "practice": w.practice,
        "seal_check": inspection.nonce,
        "firmware": unit.record.firmware,
        "remaining_validity_days": (datetime(2026, 6, 30, tzinfo=UTC) - at).days,
        "override": {"reason": "claimed to be installed in June", "auditor": f"party:{AUD}"},
    }
    envelope = signed_statement(
        w.ctx,
        kind="installed",
        subject=unit.subject,
        by=f"party:{TECH}",
        data=data,
        keys=[w.key(TECH), w.key(AUD)],
        place=f"location:{PRACTICE}",
        at=at,
    )
    expect_violation(w.ctx, "rule.certificate_expired", lambda: w.ctx.writer().append([envelope]))


def test_firmware_update_needs_a_new_version(sqlite_ledger: LedgerFixture) -> None:
    w = World(sqlite_ledger)
    unit = w.unit("IN_OPERATION")
    current = unit.record.firmware
    with pytest.raises(InvalidInput, match="different target version"):
        w.connector_statement(TECH, "firmware.updated", unit, {"from": current, "to": current})
