"""An administrator approves a device key in the browser, signing key.added with their own
browser-held key — the server never holds a private key."""

from __future__ import annotations

import os
from typing import Any

import pytest

from app.services import enrolment
from app.services.signing import signed_statement
from app.services.tokens import create_token
from ledger.keys import Algorithm, SigningKey

pytestmark = pytest.mark.xdist_group("browser")
ENROLLING = "TECH-03"


def test_admin_approves_an_enrolment_with_the_browser_key(
    live: Any, page_for: Any, console_errors: Any, screenshot: Any
) -> None:
    ctx = live.ctx
    page = page_for("admin")
    page.goto("/admin")
    # 1. This browser enrols its own key for ADMIN-01 …
    with page.expect_navigation():
        page.get_by_role("button", name="Schlüssel dieses Browsers beantragen").click()
    mine = enrolment.enrolments(ctx, party="ADMIN-01", status="pending")
    assert len(mine) == 1
    # … which an administrator approves elsewhere (here: the CLI's key file, over the API).
    approval = signed_statement(
        ctx,
        kind="key.added",
        subject="party:ADMIN-01",
        by="party:ADMIN-01",
        data=mine[0].key_added_data(),
        keys=[live.key("ADMIN-01")],
    )
    admin_token, _ = create_token(ctx, "ADMIN-01", roles=["admin"])
    approved = page.request.post(
        f"/api/v1/enrolments/{mine[0].enrolment_id}/approve",
        data={"envelope": approval.to_json()},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert approved.status == 200, approved.text()
    # 2. A technician's device enrols a key (over the API with a token, for brevity).
    device = SigningKey.generate(Algorithm.ED25519, os.urandom(64))
    tech_token, _ = create_token(ctx, ENROLLING, roles=["technician"])
    made = page.request.post(
        "/api/v1/enrolments",
        data={"spki": enrolment.spki_of(device.public_key), "label": "Phone"},
        headers={"Authorization": f"Bearer {tech_token}"},
    )
    assert made.status == 201, made.text()
    enrolment_id = made.json()["enrolment_id"]
    # 3. The administrator approves it on the page: signed in this browser.
    page.reload()
    screenshot(page, "admin-enrolments-de")
    size = ctx.store.size()
    with page.expect_navigation():
        page.locator(f'button[data-approve="{enrolment_id}"]').click()
    assert "freigegeben" in page.locator("#flash").inner_text()
    decided = enrolment.get_enrolment(ctx, enrolment_id)
    assert decided.status == "approved"
    assert decided.decided_by == "party:ADMIN-01"
    assert decided.entry_index is not None
    assert decided.entry_index >= size
    # Signed by the browser's key, which the ledger now knows for ADMIN-01.
    state = ctx.store.trust_state()
    assert state.keys[mine[0].keyid].party == "party:ADMIN-01"
    assert state.keys[decided.keyid].party == f"party:{ENROLLING}"
    assert console_errors(page) == []
