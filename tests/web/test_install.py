"""Install at a practice on a phone: signed with a non-extractable WebCrypto key, made offline.

The technician's page enrols its device key on first use (an administrator approves it),
loads its work package while online, then loses the network: the seal label is read
locally, the VVTT check and the practice are answered, and the seal check plus the
installation are signed in the browser and kept in the IndexedDB outbox (pending count
visible). Back online, the outbox delivers them; the connector is INSTALLED at the
practice's salted digest, and the whole ledger verifies.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from app import queries
from app.services import custody, enrolment
from app.services.verification import verify_ledger
from ledger.entry import Entry
from tests.web.field_helpers import TECHNICIAN, open_with_approved_key, received_by, scan, sealed_connector

pytestmark = pytest.mark.xdist_group("browser")
PHONE = {"width": 390, "height": 844}


def test_offline_install_signed_with_webcrypto_then_synced(
    live: Any, page_for: Any, console_errors: Any, screenshot: Any
) -> None:
    subject, seals = sealed_connector(live)
    received_by(live, subject, TECHNICIAN, "LS-INST-1")

    page = page_for("technician", viewport=PHONE)
    open_with_approved_key(page, live, "/install", "install-page", TECHNICIAN)
    assert subject in page.get_by_test_id("in-package").inner_text()
    key_state = page.evaluate(
        """async () => {
            const keys = await import("/static/js/keys.js");
            const record = await keys.loadKey(document.getElementById("install-page").dataset.party);
            let exported = "refused";
            try { await crypto.subtle.exportKey("pkcs8", record.pair.privateKey); exported = "exported"; }
            catch (e) { exported = e.name; }
            return {algorithm: record.algorithm, keyid: record.keyid,
                    extractable: record.pair.privateKey.extractable, exported};
        }"""
    )
    # Chromium has WebCrypto Ed25519 (since 137); the private key can be used, never read.
    assert key_state["algorithm"] == "ed25519"
    assert key_state["extractable"] is False
    assert key_state["exported"] == "InvalidAccessError"

    page.context.set_offline(True)
    page.get_by_test_id("net-status").filter(has_text="Offline").wait_for()
    for seal in seals:
        # Offline, the label is read on the device (no /scan round trip).
        assert f"Siegel {seal} stimmt" in scan(page, seal, expect=seal)
    assert page.get_by_test_id("in-connector").inner_text() == subject
    assert page.get_by_test_id("in-verify").inner_text() == "Nummern stimmen überein"
    for check in ("in-view", "in-tug", "in-twist"):
        page.get_by_test_id(check).check()
    practice = live_practice(page)
    page.get_by_test_id("in-practice").select_option(practice)
    size_before = live.ctx.store.size()
    page.get_by_test_id("in-sign").click()
    page.get_by_test_id("feedback").filter(has_text="Postausgang").wait_for(timeout=15_000)
    outbox = page.get_by_test_id("outbox-status")
    assert outbox.get_attribute("data-pending") == "1"
    assert "1 ausstehend" in outbox.inner_text()
    screenshot(page, "install-offline-pending-de")
    assert live.ctx.store.size() == size_before  # nothing reached the server
    assert queries.connector(live.ctx.engine, subject).state == "RECEIVED"

    page.context.set_offline(False)
    page.wait_for_selector("[data-testid=outbox-status][data-pending='0']", timeout=30_000)
    screenshot(page, "install-synced-de")

    record = queries.connector(live.ctx.engine, subject)
    assert record.state == "INSTALLED"
    assert record.custodian == f"party:{TECHNICIAN}"
    digest = next(p for p in practices_of(page) if p["practice_id"] == practice)["digest"]
    assert record.practice == digest
    inspection = record.last_inspection
    assert inspection is not None
    assert inspection.conformant
    assert inspection.by == f"party:{TECHNICIAN}"
    assert inspection.place == f"location:{practice}"
    # Both entries carry exactly one signature: the device key's, approved by the administrator.
    approved = enrolment.enrolments(
        live.ctx, party=f"party:{TECHNICIAN}", status=enrolment.APPROVED, limit=1000
    )
    assert key_state["keyid"] in {e.keyid for e in approved}
    for item in record.history[-2:]:
        entry = Entry.parse(live.ctx.store.entry(item.index))
        assert [s.keyid for s in entry.envelope.signatures] == [key_state["keyid"]]
    assert [h.kind for h in record.history[-2:]] == ["seal.inspected", "installed"]

    report = verify_ledger(live.ctx, workers=1)
    assert report.valid, report.findings[:3]
    assert console_errors(page) == []


def practices_of(page: Any) -> list[dict[str, Any]]:
    cached = page.evaluate(
        """async () => {
            const db = await import("/static/js/idb.js");
            const party = document.getElementById("install-page").dataset.party;
            return JSON.stringify((await db.get("cache", `install-context:${party}`)).value.practices);
        }"""
    )
    return list(json.loads(cached))


def live_practice(page: Any) -> str:
    """The first practice of the work package (as the technician would pick it)."""
    options = page.get_by_test_id("in-practice").locator("option")
    value = options.nth(1).get_attribute("value")
    assert value
    return str(value)


def test_outbox_keeps_refusals_aside_and_counts_replays_as_delivered(
    live: Any, page_for: Any, console_errors: Any, screenshot: Any
) -> None:
    subject, seals = sealed_connector(live)
    received_by(live, subject, TECHNICIAN, "LS-INST-2")
    page = page_for("technician", "en", viewport=PHONE)
    open_with_approved_key(page, live, "/install", "install-page", TECHNICIAN)

    page.context.set_offline(True)
    page.get_by_test_id("net-status").filter(has_text="Offline").wait_for()
    for seal in seals:
        scan(page, seal, expect=seal)
    for check in ("in-view", "in-tug", "in-twist"):
        page.get_by_test_id(check).check()
    page.get_by_test_id("in-practice").select_option(live_practice(page))
    page.get_by_test_id("in-sign").click()
    page.wait_for_selector("[data-testid=outbox-status][data-pending='1']")

    # Meanwhile the manufacturer reports an incident: the unit is SUSPECT, and the ledger
    # refuses the installation signed offline (rule 2) — the whole batch, all or nothing.
    custody.connector_statement(
        live.ctx,
        "MFR-01",
        live.key("MFR-01"),
        "incident.reported",
        subject,
        {"category": "tamper_suspected", "description": "Rückruf: Charge wird geprüft"},
    )
    page.context.set_offline(False)
    page.wait_for_selector("[data-testid=outbox-status][data-pending='0']", timeout=30_000)
    refused = page.get_by_test_id("refused-list")
    refused.filter(has_text="rule.blocked_state").wait_for()
    assert subject in refused.inner_text()
    screenshot(page, "install-refused-en")
    assert queries.connector(live.ctx.engine, subject).state == "SUSPECT"

    # A statement that is already in the log (a retry whose answer was lost, under another
    # idempotency key) comes back 409 conflict.replayed_statement: delivered, not refused.
    received = next(h for h in queries.connector(live.ctx.engine, subject).history if h.kind == "received")
    envelope = Entry.parse(live.ctx.store.entry(received.index)).envelope.to_json()
    counts = page.evaluate(
        """async (envelope) => {
            const outbox = await import("/static/js/outbox.js");
            await outbox.add({ path: "/api/v1/statements", body: envelope, label: "replay" });
            const after = await outbox.sync();
            return { pending: after.pending, refused: after.refused.map((i) => i.label) };
        }""",
        envelope,
    )
    assert counts["pending"] == 0
    assert len(counts["refused"]) == 1
    assert "replay" not in counts["refused"]

    # Dismissing a refusal is a deliberate act of the person who read it.
    refused.get_by_role("button").click()
    page.wait_for_selector("#refused-box.hidden", state="attached")
    assert console_errors(page) == []
