"""The scan endpoint checks a scanned seal label's signature with the published label key."""

from __future__ import annotations

from typing import Any

from app import queries
from app.services.labels import seal_labels
from ledger.custody.scan import US_TO_DE
from tests.app.api.conftest import Api


def _scan(api: Api, text: str) -> dict[str, Any]:
    response = api.post("/scan", {"input": text}, as_="warehouse")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_scan_verifies_genuine_and_rejects_forged_labels(api: Api) -> None:
    seal = queries.seals(api.ctx.engine, status="APPLIED", limit=1)[0]["seal_id"]
    labels, _ = seal_labels(api.ctx, [seal], reprint=True)
    payload = labels[0].payload

    genuine = _scan(api, payload)
    assert (genuine["kind"], genuine["id"]) == ("seal", seal)
    assert genuine["label"]["verdict"] == "genuine"
    assert genuine["label"]["ok"] is True

    last = payload[-1]
    altered = _scan(api, payload[:-1] + ("A" if last != "A" else "B"))
    assert altered["label"]["ok"] is False
    assert altered["label"]["verdict"] == "forged"
    assert altered["label"]["reason"]

    truncated = _scan(api, payload[:-20])
    assert truncated["label"]["ok"] is False

    # A US-layout scanner on a German-layout computer garbles the whole payload
    # (Y/Z swapped, ':' → 'Ö', '/' → '-'): repaired, it still verifies.
    garbled = "".join(US_TO_DE.get(ch, ch) for ch in payload)
    assert garbled != payload
    assert _scan(api, garbled)["label"]["verdict"] == "genuine"

    # A bare seal id is not a label: nothing to verify.
    assert _scan(api, seal)["label"] is None
