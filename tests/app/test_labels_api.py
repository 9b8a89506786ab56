"""The label endpoints of the real app (in-process, lifespan included) on a real SQLite ledger:
PDF and ZPL responses, the public label vkey, delivery notes, refusals, role gates, OpenAPI."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.services import custody
from app.services.context import LedgerContext
from app.services.tokens import create_token
from labels.payload import verify_payload
from ledger.custody.ids import seal_id
from tests.app.custody_scenarios import AUD, CAR, MFR, PRACTICE, TECH, WH, World
from tests.helpers import SteppingClock, new_ledger_fixture, settings_for
from tests.labels.raster import decoded_payloads, page_texts

PREFIX = "/api/v1/labels"
PROBLEM = "application/problem+json"


@dataclass
class Api:
    client: TestClient
    ctx: LedgerContext
    tokens: dict[str, str]
    issued: list[str]
    applied: list[str]

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    lf = new_ledger_fixture(f"sqlite:///{tmp_path}/ledger.db", tmp_path)
    world = World(lf)
    unit = world.unit("IN_STOCK")
    custody.ship(
        world.ctx, WH, world.key(WH), [unit.subject], destination=PRACTICE, to=CAR, delivery_note="LS-77"
    )
    issued = world.issued_seals(3, to=TECH)
    tokens = {
        "warehouse": create_token(world.ctx, WH, roles=["warehouse"])[0],
        "manufacturer": create_token(world.ctx, MFR, roles=["manufacturer"])[0],
        "technician": create_token(world.ctx, TECH, roles=["technician"])[0],
        "auditor": create_token(world.ctx, AUD, roles=["auditor"])[0],
    }
    ctx = LedgerContext.open(settings_for(f"sqlite:///{tmp_path}/ledger.db", tmp_path), clock=SteppingClock())
    world.ctx.engine.dispose()
    app = create_app(ctx.settings, ctx)
    with TestClient(app) as client:
        yield Api(client, ctx, tokens, issued, list(unit.seals))
    ctx.engine.dispose()


def test_print_pdf_labels_then_the_vkey_verifies_them(api: Api) -> None:
    assert api.client.get(f"{PREFIX}/vkey").status_code == 404  # no label key before the first print
    response = api.client.post(f"{PREFIX}/seals", json={}, headers=api.headers("warehouse"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["x-label-count"] == "3"
    payloads = decoded_payloads(response.content)[0]
    assert len(payloads) == 3
    vkey = api.client.get(f"{PREFIX}/vkey")  # public: no token
    assert vkey.status_code == 200
    assert vkey.headers["content-type"].startswith("text/plain")
    keys = vkey.text.splitlines()
    assert {verify_payload(p, keys, "http://127.0.0.1:8000").seal_id for p in payloads} == set(api.issued)
    # Printed: the default batch is now empty, a named seal needs reprint.
    empty = api.client.post(f"{PREFIX}/seals", json={}, headers=api.headers("warehouse"))
    assert (empty.status_code, empty.headers["content-type"]) == (400, PROBLEM)
    assert empty.json()["code"] == "input.labels_empty"
    again = api.client.post(
        f"{PREFIX}/seals", json={"seal_ids": api.issued[:1]}, headers=api.headers("warehouse")
    )
    assert (again.status_code, again.json()["code"]) == (409, "conflict.label_printed")
    reprint = api.client.post(
        f"{PREFIX}/seals",
        json={"seal_ids": api.issued[:1], "reprint": True},
        headers=api.headers("warehouse"),
    )
    assert reprint.status_code == 200


def test_print_zpl_labels(api: Api) -> None:
    response = api.client.post(
        f"{PREFIX}/seals",
        json={"seal_ids": api.applied, "format": "zpl", "layout": "thermal-62x29", "dpi": 203},
        headers=api.headers("manufacturer"),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    zpl = response.text
    assert zpl.count("^XA") == zpl.count("^XZ") == 2
    keys = api.client.get(f"{PREFIX}/vkey").text.splitlines()
    for payload in re.findall(r"\^BQN,2,4\^FDQA,([^\^]+)\^FS", zpl):
        assert verify_payload(payload, keys).seal_id in api.applied


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"seal_ids": [seal_id("KC", 9_999_000)]}, 404, "input.not_found"),
        ({"layout": "avery-0000"}, 400, "input.label_layout"),
        ({"layout": "zweckform-3474", "start": 25}, 400, "input.label_start"),
        ({"format": "zpl", "layout": "avery-l7163"}, 400, "input.invalid"),
        ({"format": "tiff"}, 422, "input.request"),
        ({"seal_ids": ["not-a-seal"]}, 422, "input.request"),
    ],
)
def test_bad_label_requests(api: Api, body: dict[str, object], status: int, code: str) -> None:
    response = api.client.post(f"{PREFIX}/seals", json=body, headers=api.headers("warehouse"))
    assert (response.status_code, response.headers["content-type"]) == (status, PROBLEM)
    assert response.json()["code"] == code


def test_roles(api: Api) -> None:
    assert api.client.post(f"{PREFIX}/seals", json={}).status_code == 401
    assert api.client.post(f"{PREFIX}/seals", json={}, headers=api.headers("technician")).status_code == 403
    assert api.client.get(f"{PREFIX}/delivery-note/LS-77").status_code == 401


def test_delivery_note(api: Api) -> None:
    response = api.client.get(f"{PREFIX}/delivery-note/LS-77", headers=api.headers("auditor"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert "lieferschein-LS-77.pdf" in response.headers["content-disposition"]
    text = page_texts(response.content)[0]
    assert "LS-77" in text
    assert "Seite 1 von 1" in text
    assert decoded_payloads(response.content)[0] == ["HTTP://127.0.0.1:8000/H/LS-77"]
    missing = api.client.get(f"{PREFIX}/delivery-note/LS-0", headers=api.headers("auditor"))
    assert (missing.status_code, missing.json()["code"]) == (404, "input.not_found")


def test_openapi_declares_pdf_and_zpl(api: Api) -> None:
    schema = api.client.get("/api/v1/openapi.json").json()
    seals = schema["paths"][f"{PREFIX}/seals"]["post"]["responses"]["200"]["content"]
    assert set(seals) == {"application/pdf", "text/plain"}
    note = schema["paths"][f"{PREFIX}/delivery-note/{{shipment}}"]["get"]["responses"]["200"]["content"]
    assert set(note) == {"application/pdf"}
    assert "text/plain" in schema["paths"][f"{PREFIX}/vkey"]["get"]["responses"]["200"]["content"]
