"""Set-up for the field-page tests (scan station, handover, install) on the shared live ledger.

The live ledger is shared by every browser test of the session, so each test makes its
own connectors here (commissioned, personalised, sealed by the manufacturer, then moved
along with the same services the CLI uses) instead of borrowing the demo's few units.
Device keys that the pages enrol are approved as an administrator would, through the
enrolment service with a ``key.added`` signed by ``ADMIN-01``.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from app import queries
from app.services import custody, enrolment, handover
from app.services.signing import signed_statement
from ledger.custody.ids import seal_id

ADMIN = "ADMIN-01"
MFR = "MFR-01"
WAREHOUSE = "WH-ESSEN-01"  # the demo person "warehouse" acts for this party
TECHNICIAN = "TECH-01"  # … and "technician" for this one
#: Seal series no demo seal uses (the demo prints KC…), so random numbers cannot collide.
SERIES = "WT"


def approve_device_keys(live: Any, party: str) -> int:
    """Approve every pending enrolment of ``party`` (the admin page's job); return how many."""
    admin_key = live.key(ADMIN)
    pending = enrolment.enrolments(live.ctx, party=party, status=enrolment.PENDING)
    for item in pending:
        envelope = signed_statement(
            live.ctx,
            kind="key.added",
            subject=item.party,
            by=f"party:{ADMIN}",
            data=item.key_added_data(),
            keys=[admin_key],
        )
        enrolment.approve_enrolment(live.ctx, ADMIN, item.enrolment_id, envelope)
    return len(pending)


def new_seals(live: Any, holder: str, count: int = 2) -> list[str]:
    """Fresh seals received by the manufacturer and issued to ``holder``."""
    first = secrets.randbelow(9_000_000)
    key = live.key(MFR)
    custody.receive_seals(
        live.ctx, MFR, key, series=SERIES, first=first, count=count, supplier="Testlieferant"
    )
    ids = [seal_id(SERIES, first + i) for i in range(count)]
    custody.issue_seals(live.ctx, MFR, key, ids, holder)
    return ids


def sealed_connector(live: Any) -> tuple[str, list[str]]:
    """A new connector, personalised and sealed, in stock at the manufacturer: (subject, seals)."""
    key = live.key(MFR)
    serial = f"W2{secrets.randbelow(10**10):010d}"
    not_after = datetime.now(UTC) + timedelta(days=5 * 366)  # more than 4 years: no override needed
    custody.commission(
        live.ctx,
        MFR,
        key,
        vendor="SECUNET",
        serial=serial,
        product_code="KONN-TEST",
        hw_version="2.1.0",
        fw_version="5.50.3",
        production_date=datetime.now(UTC).strftime("%Y-%m-%d"),
        smck=[(f"80276{secrets.randbelow(10**15):015d}", not_after.strftime("%Y-%m-%dT%H:%M:%SZ"))],
        certification_id="BSI-K-TR-TEST",
        place="MFR-01",
    )
    subject = f"connector:SECUNET:{serial}"
    custody.bind_smck(live.ctx, MFR, key, subject, "MFR-01-SECURE")
    seals = new_seals(live, MFR)
    custody.apply_seals(live.ctx, MFR, key, subject, seals)
    custody.store(live.ctx, MFR, key, subject, "MFR-01-FG", "FG-TEST")
    return subject, sorted(seals)


def in_transit_to(live: Any, subject: str, to: str, note: str) -> None:
    """The manufacturer ships ``subject`` to ``to`` and hands custody over (both sign)."""
    mfr = live.key(MFR)
    custody.ship(live.ctx, MFR, mfr, [subject], destination=to, to=to, delivery_note=note)
    offer = handover.create_offer(live.ctx, MFR, mfr, [subject], to, delivery_note=note)
    handover.accept_offer(live.ctx, to, live.key(to), offer.offer_id)


def received_by(live: Any, subject: str, party: str, note: str) -> None:
    """Shipped to ``party``, handed over and received there with the seals intact (state RECEIVED)."""
    in_transit_to(live, subject, party, note)
    seals = queries.connector(live.ctx.engine, subject).seals
    custody.receive(live.ctx, party, live.key(party), subject, seals, delivery_note=note, place=party)


def wait_ready(page: Any, root: str) -> None:
    """The page's module has started (device key looked up, data loaded)."""
    page.wait_for_selector(f"#{root}[data-ready=true]", timeout=20_000)


def open_with_approved_key(page: Any, live: Any, path: str, root: str, party: str) -> None:
    """First use enrols the device key; an administrator approves it; the page then shows it."""
    page.goto(path)
    wait_ready(page, root)
    status = page.get_by_test_id("key-status")
    assert status.get_attribute("data-state") == "pending", status.inner_text()
    assert approve_device_keys(live, f"party:{party}") >= 1
    page.reload()
    wait_ready(page, root)
    assert page.get_by_test_id("key-status").get_attribute("data-state") == "approved"


def scan(page: Any, code: str, expect: str | None = None) -> str:
    """Type a code into the focused scan input and press Enter, as a wedge scanner does."""
    field = page.get_by_test_id("scan-input")
    assert page.evaluate("document.activeElement && document.activeElement.id") == "scan-input"
    before = page.get_by_test_id("feedback").inner_text()
    page.keyboard.type(code)
    page.keyboard.press("Enter")
    assert field.input_value() == ""
    feedback = page.get_by_test_id("feedback")
    if expect is not None:
        feedback.filter(has_text=expect).wait_for(timeout=10_000)
    else:
        page.wait_for_function(
            "(before) => document.getElementById('feedback').innerText !== before", arg=before, timeout=10_000
        )
    return str(feedback.inner_text())
