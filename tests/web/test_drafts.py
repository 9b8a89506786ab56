"""Statement drafts: the server builds the bytes, the client signs them, the ledger appends them.

Runs the API in-process on a copy of the demo ledger (the API tests' fixtures); the
"browser" here signs with the demo's key files, exactly over the returned payload.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.canonical import encode as canonical_bytes
from ledger.envelope import PAYLOAD_TYPE, sign_envelope
from tests.app.api import conftest as api_tests
from tests.app.api.conftest import TECH, WH, Api, assert_problem

#: The API tests' demo ledger, built once per session (session fixture, reused here).
demo_template = api_tests.demo_template


@pytest.fixture
def api(demo_template: Path, tmp_path: Path) -> Iterator[Api]:
    """The app in-process (TestClient) on a private copy of the demo ledger, a token per role."""
    with api_tests.serve(api_tests.copy_ledger(demo_template, tmp_path)) as running:
        yield running


def _payload(answer: dict[str, Any]) -> bytes:
    raw = base64.b64decode(answer["payload"], validate=True)
    # What is signed is canonical JSON, and the parsed copy is the same statement.
    assert canonical_bytes(json.loads(raw)) == raw
    assert json.loads(raw) == answer["statement"]
    assert answer["payloadType"] == PAYLOAD_TYPE
    return raw


def test_draft_signed_by_the_client_is_appended(api: Api) -> None:
    subject = api.connector("IN_STOCK", WH)
    answer = api.ok(
        api.post(
            "/drafts",
            {"kind": "stored", "subject": subject, "data": {"location": f"location:{WH}", "bin": "A-01"}},
            as_="warehouse",
        )
    )
    payload = _payload(answer)
    statement = answer["statement"]
    assert (statement["by"], statement["kind"], statement["subject"]) == (f"party:{WH}", "stored", subject)
    assert statement["nonce"] == answer["nonce"]
    assert len(answer["nonce"]) == 22
    size = api.size()
    assert api.size() == size  # a draft appends nothing

    envelope = sign_envelope(payload, [api.key(WH)]).to_json()
    receipts = api.ok(api.post("/statements", envelope, as_="warehouse"), 201)["receipts"]
    assert api.verify_receipts(receipts) == [size]


def test_inspection_draft_fills_in_the_ledgers_seals(api: Api) -> None:
    subject = api.connector("IN_STOCK", WH)
    expected = api.ok(api.get(f"/connectors/{subject}", as_="warehouse"))["seals"]
    seal_ids = [s if isinstance(s, str) else s["seal_id"] for s in expected]
    observed = seal_ids[:-1]
    answer = api.ok(
        api.post(
            "/drafts",
            {"kind": "seal.inspected", "subject": subject, "data": {"observed": observed}, "place": WH},
            as_="warehouse",
        )
    )
    data = answer["statement"]["data"]
    assert data["expected"] == sorted(seal_ids)
    assert data["observed"] == sorted(observed)
    assert {r["seal"]: r["result"] for r in data["results"]}[seal_ids[-1]] == "missing"
    assert answer["statement"]["place"] == f"location:{WH}"
    _payload(answer)


def test_install_draft_uses_the_practice_digest_never_its_identifiers(api: Api) -> None:
    context = api.ok(api.get("/drafts/install-context", as_="technician"))
    assert context["party"] == f"party:{TECH}"
    assert context["connectors"], "the demo has a RECEIVED connector held by TECH-01"
    unit = context["connectors"][0]
    assert unit["state"] == "RECEIVED"
    assert unit["cert_not_after"]
    practice = context["practices"][0]
    assert set(practice) == {"practice_id", "name", "digest", "location"}
    answer = api.ok(
        api.post(
            "/drafts",
            {
                "kind": "installed",
                "subject": unit["subject"],
                "data": {"practice": practice["practice_id"], "seal_check": "A" * 22},
                "place": practice["location"],
            },
            as_="technician",
        )
    )
    data = answer["statement"]["data"]
    assert data["practice"] == practice["digest"]
    assert data["firmware"] == unit["firmware"]
    assert isinstance(data["remaining_validity_days"], int)
    assert data["remaining_validity_days"] > 0
    _payload(answer)
    # The data names the practice only by its salted digest (the place is the site, as the CLI's).
    assert practice["practice_id"] not in json.dumps(data)


def test_batch_and_refusals(api: Api) -> None:
    subject = api.connector("IN_STOCK", WH)
    made = api.ok(
        api.post(
            "/drafts/batch",
            {
                "drafts": [
                    {"kind": "stored", "subject": subject, "data": {"location": f"location:{WH}"}},
                    {"kind": "custody.transferred", "subject": subject, "data": {"to": f"party:{TECH}"}},
                ]
            },
            as_="warehouse",
        )
    )["drafts"]
    assert len({d["nonce"] for d in made}) == 2
    assert made[1]["statement"]["data"]["seals"]  # the ledger's seals, declared for the transfer

    # A statement the log would refuse by its schema is refused before anyone signs it.
    bad = api.post("/drafts", {"kind": "stored", "subject": subject, "data": {"shelf": 1}}, as_="warehouse")
    assert bad.status_code == 422, bad.text
    # Practice tokens do not get the technicians' work package.
    assert_problem(api.get("/drafts/install-context", as_="practice"), 403, "auth.forbidden")
    # Without a token: 401.
    assert api.post("/drafts", {"kind": "stored", "subject": subject}, as_=None).status_code == 401
