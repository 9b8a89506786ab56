"""Pages over plain HTTP against the live demo server: label refusals and ZPL, connector 404s."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest


@pytest.fixture
def as_warehouse(live: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, cookies={"kcl_session": live.session_cookie("warehouse")}) as client:
        yield client


def _token(html: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert found
    return found.group(1)


def test_labels_zpl_and_refusals(as_warehouse: httpx.Client) -> None:
    form = as_warehouse.get("/labels")
    assert form.status_code == 200
    token = _token(form.text)
    seal = re.findall(r'name="seal" value="([^"]+)"', form.text)[-1]
    zpl = as_warehouse.post(
        "/labels",
        data={
            "csrf_token": token,
            "seal": seal,
            "layout": "thermal-4x2in",
            "format": "zpl",
            "dpi": "300",
            "reprint": "on",
        },
    )
    assert zpl.status_code == 200
    assert zpl.headers["content-type"].startswith("text/plain")
    assert zpl.text.startswith("^XA")
    assert zpl.headers["x-label-count"] == "1"
    again = as_warehouse.post("/labels", data={"csrf_token": token, "seal": seal, "format": "pdf"})
    assert again.status_code == 409  # printed already, and "reprint" not ticked
    assert 'data-testid="labels-error"' in again.text
    assert f'value="{seal}" id="seal-{seal}" checked' in again.text  # the choice is kept
    bad = as_warehouse.post(
        "/labels", data={"csrf_token": token, "more_seals": "NOT-A-SEAL", "format": "pdf"}
    )
    assert bad.status_code == 400
    assert "not a seal id" in bad.text
    start = as_warehouse.post(
        "/labels",
        data={"csrf_token": token, "seal": seal, "layout": "zweckform-3474", "start": "99", "reprint": "on"},
    )
    assert start.status_code == 400
    forged = as_warehouse.post("/labels", data={"seal": seal, "format": "pdf"})
    assert forged.status_code == 403


def test_unknown_connector_is_a_friendly_404(as_warehouse: httpx.Client) -> None:
    missing = as_warehouse.get("/connectors/connector:NOPE:123")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "Nicht gefunden" in missing.text
    assert as_warehouse.get("/connectors?q=zzz-nothing").status_code == 200
