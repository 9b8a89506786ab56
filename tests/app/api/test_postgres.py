"""The API on PostgreSQL: reads with verified histories, a scan, a handover and an enrolment."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from app.services.context import LedgerContext
from app.services.demo import build_demo
from ledger.envelope import pae
from ledger.keys import Algorithm, SigningKey
from ledger.trust import key_description
from tests.app.api.conftest import ADMIN, CARRIER, WH, N, assert_problem, serve
from tests.helpers import settings_for

pytestmark = pytest.mark.postgres


def test_the_api_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    settings = settings_for(pg_url, tmp_path)
    ctx = LedgerContext.open(settings)
    try:
        assert build_demo(ctx, N, seed=1, verify_workers=1).valid
    finally:
        ctx.engine.dispose()
    with serve(settings) as api:
        # Reads: every connector's history verifies.
        listed = api.ok(api.get("/connectors", as_="auditor", limit=1000))["items"]
        assert len(listed) == N
        for row in listed[:5]:
            assert api.ok(api.get(f"/connectors/{row['connector']}", as_="auditor"))["all_verified"] is True
        subject = api.connector("IN_STOCK", WH)
        scanned = api.ok(
            api.post(
                "/scan", {"input": subject.removeprefix("connector:").replace(":", "Ö")}, as_="warehouse"
            )
        )
        assert (scanned["id"], scanned["known"], scanned["repaired"]) == (subject, True, True)

        # A handover, signed by both parties on their side.
        seals = api.ok(api.get(f"/connectors/{subject}"))["seals"]
        envelope = api.sign("custody.transferred", subject, WH, {"to": f"party:{CARRIER}", "seals": seals})
        offer = api.ok(api.post("/handovers", {"to": CARRIER, "envelopes": [envelope]}, as_="warehouse"), 201)
        key = api.key(CARRIER)
        signatures = [
            {
                "keyid": key.keyid,
                "sig": base64.b64encode(
                    key.sign(pae(e["payloadType"], base64.b64decode(e["payload"])))
                ).decode(),
            }
            for e in offer["envelopes"]
        ]
        receipts = api.ok(
            api.post(f"/handovers/{offer['offer_id']}/accept", {"signatures": signatures}, as_="carrier"), 201
        )["receipts"]
        api.verify_receipts(receipts)
        assert api.ok(api.get(f"/connectors/{subject}"))["custodian"] == f"party:{CARRIER}"

        # An enrolment approved by the administrator.
        browser = SigningKey.generate(Algorithm.ECDSA_P256_SHA256, os.urandom(64))
        spki = base64.b64encode(browser.public_key.spki_der).decode()
        enrolment = api.ok(api.post("/enrolments", {"spki": spki, "label": "Edge"}, as_="carrier"), 201)
        approval = api.sign("key.added", f"party:{CARRIER}", ADMIN, key_description(browser.public_key))
        approved = api.ok(
            api.post(f"/enrolments/{enrolment['enrolment_id']}/approve", {"envelope": approval})
        )
        api.verify_receipts(approved["receipts"])
        assert_problem(api.get("/connectors", as_="practice"), 403, "auth.forbidden")
