"""Handover between two parties, each in its own browser context.

The warehouse (context A) builds a shipment at the scan station's goods-out: it signs
the ``shipped`` statements and offers one ``custody.transferred`` per connector to the
technician, and gets the delivery note PDF. The technician (context B) sees the offer
addressed to them, scans each connector and seal, and countersigns with their own
device key — or, in the second test, sees a foreign seal and rejects with an incident.
"""

from __future__ import annotations

from typing import Any

import pytest

from app import queries
from app.services import custody, handover
from ledger.custody.ids import seal_id
from tests.web.field_helpers import (
    TECHNICIAN,
    WAREHOUSE,
    open_with_approved_key,
    received_by,
    scan,
    sealed_connector,
)

pytestmark = pytest.mark.xdist_group("browser")


def in_stock_at_warehouse(live: Any, note: str) -> tuple[str, list[str]]:
    subject, seals = sealed_connector(live)
    received_by(live, subject, WAREHOUSE, note)
    custody.store(live.ctx, WAREHOUSE, live.key(WAREHOUSE), subject, WAREHOUSE, "A-01")
    return subject, seals


def ship_from_goods_out(page: Any, subjects: list[str], note: str) -> None:
    page.get_by_test_id("mode-goods-out").check()
    for subject in subjects:
        scan(page, subject.removeprefix("connector:"), expect=subject)
    page.get_by_test_id("go-to").fill(TECHNICIAN)
    page.get_by_test_id("go-destination").fill(f"{TECHNICIAN}-BASE")
    page.get_by_test_id("go-note").fill(note)
    page.get_by_test_id("go-book").click()
    page.get_by_test_id("feedback").filter(has_text="Übergabe").wait_for(timeout=15_000)


def test_goods_out_offer_then_countersigned_in_another_context(
    live: Any, page_for: Any, console_errors: Any, screenshot: Any
) -> None:
    units = [in_stock_at_warehouse(live, "LS-HO-IN-1"), in_stock_at_warehouse(live, "LS-HO-IN-2")]
    subjects = [s for s, _ in units]

    sender = page_for("warehouse")
    open_with_approved_key(sender, live, "/scan", "scan-station", WAREHOUSE)
    ship_from_goods_out(sender, subjects, "LS-HO-OUT-1")
    screenshot(sender, "scan-goods-out-de")
    for subject in subjects:
        record = queries.connector(live.ctx.engine, subject)
        assert (record.state, record.custodian) == ("IN_TRANSIT", f"party:{WAREHOUSE}")
    # The delivery note comes from the labels API, with the page's session.
    pdf = sender.request.get(sender.get_by_test_id("go-pdf").get_attribute("href"))
    assert pdf.status == 200
    assert pdf.body().startswith(b"%PDF")

    receiver = page_for("technician", "en")
    open_with_approved_key(receiver, live, "/handovers", "handover-page", TECHNICIAN)
    offer = receiver.get_by_test_id("offer").filter(has_text=subjects[0])
    offer.wait_for()
    accept = offer.get_by_test_id("offer-accept")
    assert accept.is_disabled()
    for subject, seals in units:
        scan(receiver, subject.removeprefix("connector:"), expect="part of the offer")
        for seal in seals:
            scan(receiver, seal, expect=seal)
    assert "6 of 6 scanned" in offer.inner_text()
    assert accept.is_enabled()
    screenshot(receiver, "handover-ready-en")
    accept.click()
    receiver.get_by_test_id("feedback").filter(has_text="taken over").wait_for(timeout=15_000)
    screenshot(receiver, "handover-accepted-en")

    for subject in subjects:
        record = queries.connector(live.ctx.engine, subject)
        assert (record.state, record.custodian) == ("IN_TRANSIT", f"party:{TECHNICIAN}")
        last = record.history[-1]
        assert last.kind == "custody.transferred"
    offers = handover.offers(live.ctx, to=TECHNICIAN, status=handover.ACCEPTED)
    assert any({c["connector"] for c in o.connectors} == set(subjects) for o in offers)
    assert console_errors(sender) == []
    assert console_errors(receiver) == []


def test_receiver_rejects_an_offer_with_a_foreign_seal(
    live: Any, page_for: Any, console_errors: Any, screenshot: Any
) -> None:
    subject, seals = in_stock_at_warehouse(live, "LS-HO-IN-3")
    sender = page_for("warehouse")
    open_with_approved_key(sender, live, "/scan", "scan-station", WAREHOUSE)
    ship_from_goods_out(sender, [subject], "LS-HO-OUT-2")

    receiver = page_for("technician")
    open_with_approved_key(receiver, live, "/handovers", "handover-page", TECHNICIAN)
    offer = receiver.get_by_test_id("offer").filter(has_text=subject)
    scan(receiver, subject.removeprefix("connector:"), expect="Teil des Angebots")
    scan(receiver, seals[0], expect=seals[0])
    foreign = seal_id("WT", 9_999_002)
    assert "NICHT erwartet" in scan(receiver, foreign, expect=foreign)
    assert offer.get_by_test_id("offer-accept").is_disabled()
    offer.get_by_test_id("offer-reason").fill("Fremdes Siegel am Gehäuse")
    offer.get_by_test_id("offer-reject").click()
    receiver.get_by_test_id("feedback").filter(has_text="abgelehnt").wait_for(timeout=15_000)
    screenshot(receiver, "handover-rejected-de")

    record = queries.connector(live.ctx.engine, subject)
    # Custody stays with the sender; the receiver's incident makes the unit suspect.
    assert record.custodian == f"party:{WAREHOUSE}"
    assert record.state == "SUSPECT"
    assert record.open_incident is not None
    incident = queries.incident(live.ctx.engine, record.open_incident)
    assert incident.category == "seal_mismatch"
    assert incident.reported_by == f"party:{TECHNICIAN}"
    assert console_errors(sender) == []
    assert console_errors(receiver) == []
