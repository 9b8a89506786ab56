"""The auditor and administrator pages in Chromium: connector page and badge, verify-all,
labels, German and English, and no console errors or CSP violations on any page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.services import custody_views
from labels.payload import verify_payload
from tests.labels.raster import decoded_payloads

pytestmark = pytest.mark.xdist_group("browser")


def _connector(live: Any, state: str) -> str:
    rows = custody_views.list_connectors(live.ctx, state=state, limit=1)
    assert rows, f"the demo has no connector in {state}"
    return str(rows[0]["connector"])


def test_connector_page_shows_timeline_and_verification_badge(
    live: Any, page_for: Any, console_errors: Any, screenshot: Any
) -> None:
    subject = _connector(live, "IN_OPERATION")
    page = page_for("auditor")
    page.goto("/connectors")
    screenshot(page, "connectors-de")
    vendor_serial = subject.removeprefix("connector:")
    page.get_by_label("Suche").fill(vendor_serial)
    page.get_by_label("Suche").press("Enter")
    page.wait_for_url(f"**/connectors/{subject}")
    badge = page.get_by_test_id("verification-badge")
    size = live.ctx.store.size()
    assert badge.inner_text().strip() == f"✔ Kette geprüft, enthalten in Checkpoint {size}"
    timeline = page.get_by_test_id("timeline").locator("li")
    history = custody_views.connector_detail(live.ctx, subject)["history"]
    assert timeline.count() == len(history) > 3
    assert "Installiert" in page.get_by_test_id("timeline").inner_text()
    assert page.get_by_test_id("state").inner_text() == "In Betrieb"
    page.get_by_test_id("proof").locator("summary").click()
    proof = live.ctx.store.inclusion_proof(history[-1]["index"], size)
    shown = page.get_by_test_id("proof").inner_text()
    assert proof["root"] in shown
    assert all(h in shown for h in proof["proof"])
    screenshot(page, "connector-de")
    assert console_errors(page) == []


def test_connector_page_on_a_phone(live: Any, page_for: Any, console_errors: Any, screenshot: Any) -> None:
    page = page_for("technician", "en", viewport={"width": 390, "height": 844})
    page.goto("/connectors/" + _connector(live, "IN_STOCK"))
    assert page.get_by_test_id("verification-badge").inner_text().startswith("✔ Chain verified")
    # Nothing wider than the screen but tables (which scroll in their own box).
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "connector-en-phone")
    assert console_errors(page) == []


def test_auditor_verify_all_runs_to_100_percent(
    live: Any, page_for: Any, console_errors: Any, screenshot: Any
) -> None:
    page = page_for("auditor")
    page.goto("/audit")
    assert page.get_by_test_id("log-size").inner_text() == str(live.ctx.store.size())
    assert page.get_by_test_id("expiry-chart").count() == 1
    screenshot(page, "audit-de")
    page.get_by_test_id("verify-all").click()
    result = page.get_by_test_id("verify-result")
    result.filter(has_text="Gültig").wait_for(timeout=60_000)
    assert page.get_by_test_id("verify-progress").get_attribute("value") == "100"
    assert f"{live.ctx.store.size()} Einträge geprüft, keine Befunde" in result.inner_text()
    assert result.get_attribute("data-state") == "valid"
    screenshot(page, "audit-verified-de")
    assert console_errors(page) == []


def test_labels_page_downloads_a_pdf_whose_qr_codes_verify(
    live: Any, page_for: Any, console_errors: Any, screenshot: Any
) -> None:
    page = page_for("warehouse")
    page.goto("/labels")
    boxes = page.get_by_test_id("seal-choices").locator('input[name="seal"]')
    chosen = [boxes.nth(i).get_attribute("value") for i in range(2)]
    for i in range(2):
        boxes.nth(i).check()
    page.get_by_label("Etikettenbogen").select_option("zweckform-3474")
    page.get_by_label("Erste freie Position").fill("3")
    page.get_by_label("Nachdruck erlauben").check()  # another test may have printed these already
    screenshot(page, "labels-de")
    with page.expect_download() as info:
        page.get_by_test_id("download-labels").click()
    download = info.value
    assert download.suggested_filename.endswith(".pdf")
    pdf = Path(download.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    payloads = decoded_payloads(pdf)[0]
    assert len(payloads) == 2
    vkeys = page.request.get("/api/v1/labels/vkey").text().splitlines()
    base = live.ctx.settings.public_url
    assert {verify_payload(p, vkeys, base).seal_id for p in payloads} == set(chosen)
    assert console_errors(page) == []


def test_german_and_english(page_for: Any, screenshot: Any) -> None:
    german = page_for("auditor", "de")
    german.goto("/audit")
    assert german.locator("html").get_attribute("lang") == "de"
    assert german.get_by_role("heading", level=1).inner_text() == "Prüfung"
    german.get_by_role("link", name="English").click()
    german.wait_for_url("**/audit?lang=en")
    assert german.get_by_role("heading", level=1).inner_text() == "Audit"
    german.goto("/connectors")  # the choice is remembered
    assert german.get_by_role("button", name="Search").count() == 1
    english = page_for("auditor", "en")
    english.goto("/")
    assert english.locator("html").get_attribute("lang") == "en"
    assert english.get_by_role("heading", level=1).inner_text().startswith("Hello, ")
    screenshot(english, "home-en")


@pytest.mark.parametrize(
    ("role", "path", "name"),
    [
        ("admin", "/", "home-admin-de"),
        ("admin", "/admin", "admin-de"),
        ("warehouse", "/connectors?state=IN_STOCK", "connectors-in-stock-de"),
        ("auditor", "/no-such-page", "not-found-de"),
        ("warehouse", "/audit", "forbidden-de"),
        ("anonymous", "/login", "login-en"),
    ],
)
def test_every_page_has_the_csp_and_no_console_errors(
    page_for: Any, console_errors: Any, screenshot: Any, role: str, path: str, name: str
) -> None:
    page = page_for(role, "en" if name.endswith("-en") else "de")
    response = page.goto(path)
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self';" in csp
    assert "frame-ancestors 'none'" in csp
    if path != "/login":  # the sign-in form focuses its first field itself
        # Keyboard: the skip link is the first stop.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip-link"
    screenshot(page, name)
    assert console_errors(page) == []
