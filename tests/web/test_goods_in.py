"""Scan station, goods-in: a keyboard-wedge scanner, the VVTT check, and a seal mismatch.

The scanner is a keyboard: the test types each code into the focused input and presses
Enter. One seal on the housing is not the one the ledger expects; booking the receipt
signs a ``seal.inspected`` (with per-seal results) and a ``received`` with the observed
seals in the browser, and the ledger opens a ``seal_mismatch`` incident (rule 5).
"""

from __future__ import annotations

from typing import Any

import pytest

from app import queries
from ledger.custody.ids import seal_id
from tests.web.field_helpers import WAREHOUSE, in_transit_to, open_with_approved_key, scan, sealed_connector

pytestmark = pytest.mark.xdist_group("browser")


def test_goods_in_with_a_seal_mismatch_opens_an_incident(
    live: Any, page_for: Any, console_errors: Any, screenshot: Any
) -> None:
    subject, seals = sealed_connector(live)
    in_transit_to(live, subject, WAREHOUSE, "LS-GI-1")
    foreign = seal_id("WT", 9_999_001)  # a well-formed seal id, not the one on the ledger

    page = page_for("warehouse")
    open_with_approved_key(page, live, "/scan", "scan-station", WAREHOUSE)
    assert page.get_by_test_id("mode-goods-in").is_checked()

    # The scanner is set to a US layout, the PC to German: ":" arrives as "Ö". The server's
    # scan reading undoes that (POST /api/v1/scan) — the page just passes the input on.
    garbled = subject.removeprefix("connector:").replace(":", "Ö")
    assert f"{subject}: 2 Siegel erwartet" in scan(page, garbled, expect="erwartet")
    assert f"Siegel {seals[0]} stimmt" in scan(page, seals[0], expect=seals[0])
    assert "NICHT erwartet" in scan(page, foreign, expect=foreign)
    assert page.get_by_test_id("gi-verify").inner_text() == "Nummern weichen ab"
    for check in ("gi-view", "gi-tug", "gi-twist"):
        page.get_by_test_id(check).check()
    page.get_by_test_id("gi-book").click()
    feedback = page.get_by_test_id("feedback")
    feedback.filter(has_text="Vorfall").wait_for(timeout=15_000)
    assert "bad" in (feedback.get_attribute("class") or "")
    assert page.get_by_test_id("done-table").locator("tbody tr").count() == 1
    screenshot(page, "scan-goods-in-mismatch-de")

    record = queries.connector(live.ctx.engine, subject)
    assert record.state == "SUSPECT"
    assert record.seal_status == "MISMATCH"
    assert record.custodian == f"party:{WAREHOUSE}"
    assert record.open_incident is not None
    assert record.open_incident in feedback.inner_text()
    inspection = record.last_inspection
    assert inspection is not None
    assert not inspection.conformant
    assert inspection.by == f"party:{WAREHOUSE}"
    assert inspection.place == f"location:{WAREHOUSE}"
    assert inspection.results == {seals[0]: "intact", seals[1]: "missing", foreign: "mismatch"}
    incident = queries.incident(live.ctx.engine, record.open_incident)
    assert incident.category == "seal_mismatch"
    # The scan input had the focus all along (no click on it), and the page stayed clean.
    assert page.evaluate("document.activeElement.id") == "scan-input"
    assert console_errors(page) == []


def test_store_scans_a_bin_then_items(live: Any, page_for: Any, console_errors: Any, screenshot: Any) -> None:
    subject, _ = sealed_connector(live)
    in_transit_to(live, subject, WAREHOUSE, "LS-ST-1")
    page = page_for("warehouse", "en")
    open_with_approved_key(page, live, "/scan", "scan-station", WAREHOUSE)
    # Received first (goods-in, seals in order), then stored in the bin.
    record = queries.connector(live.ctx.engine, subject)
    scan(page, subject.removeprefix("connector:"), expect="expected")
    for seal in record.seals:
        scan(page, seal, expect=seal)
    for check in ("gi-view", "gi-tug", "gi-twist"):
        page.get_by_test_id(check).check()
    page.get_by_test_id("gi-book").click()
    page.get_by_test_id("feedback").filter(has_text="seals in order").wait_for(timeout=15_000)

    page.get_by_test_id("mode-store").check()
    assert "Bin B-07-3" in scan(page, "B-07-3", expect="B-07-3")
    scan(page, record.seals[0], expect="bin B-07-3")
    page.get_by_test_id("st-book").click()
    page.get_by_test_id("feedback").filter(has_text="stored in bin").wait_for(timeout=15_000)
    screenshot(page, "scan-store-en")
    stored = queries.connector(live.ctx.engine, subject)
    assert (stored.state, stored.bin, stored.location) == ("IN_STOCK", "B-07-3", f"location:{WAREHOUSE}")
    assert console_errors(page) == []
