"""The authorisation matrix: every role × every endpoint → allowed or denied.

The policy below is the specification (docs/api.md, "Endpoints and roles"),
written out by hand rather than read from the routes, so that a route whose
gate changes by accident fails here. The table must name every operation of
the app's own OpenAPI document: an endpoint added without a policy fails
``test_every_endpoint_has_a_policy``.

"Denied" means exactly: no token → 401 ``auth.token_missing``; a token
without the role → 403 ``auth.forbidden``. "Allowed" means the role gate let
the request through: any answer but those two (a GET with real ids answers
2xx; a POST with an empty body answers 422 ``input.request``, which proves
the gate was passed because roles are checked before the body).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.services import labels
from tests.app.api.conftest import PREFIX, Api, copy_ledger, serve

ROLES = ("admin", "manufacturer", "warehouse", "carrier", "technician", "practice", "auditor")
PUBLIC = "public"
ANY = frozenset(ROLES)
CUSTODY_READERS = frozenset({"admin", "manufacturer", "warehouse", "carrier", "technician", "auditor"})
LABEL_PRINTERS = frozenset({"admin", "manufacturer", "warehouse"})
AUDITORS = frozenset({"admin", "auditor"})
ADMIN = frozenset({"admin"})

#: (method, path template) → PUBLIC or the roles allowed.
POLICY: dict[tuple[str, str], str | frozenset[str]] = {
    ("GET", "/health"): PUBLIC,
    ("GET", "/log/checkpoint"): PUBLIC,
    ("GET", "/log/vkey"): PUBLIC,
    ("GET", "/log/witnesses"): PUBLIC,
    ("GET", "/log/proof/inclusion"): PUBLIC,
    ("GET", "/log/proof/consistency"): PUBLIC,
    ("GET", "/labels/vkey"): PUBLIC,
    ("GET", "/me"): ANY,
    ("GET", "/log/entries"): CUSTODY_READERS,
    ("POST", "/statements"): ANY,
    ("POST", "/statements/batch"): ANY,
    ("GET", "/parties"): ANY,
    ("GET", "/parties/{party}"): ANY,
    ("POST", "/handovers"): ANY,
    ("GET", "/handovers"): ANY,
    ("GET", "/handovers/{offer_id}"): ANY,
    ("POST", "/handovers/{offer_id}/accept"): ANY,
    ("POST", "/handovers/{offer_id}/reject"): ANY,
    ("POST", "/enrolments"): ANY,
    ("GET", "/enrolments"): ANY,
    ("GET", "/enrolments/{enrolment_id}"): ANY,
    ("POST", "/enrolments/{enrolment_id}/approve"): ADMIN,
    ("POST", "/enrolments/{enrolment_id}/reject"): ADMIN,
    ("GET", "/connectors"): CUSTODY_READERS,
    ("GET", "/connectors/{subject}"): CUSTODY_READERS,
    ("GET", "/seals"): CUSTODY_READERS,
    ("GET", "/seals/{seal_id}"): CUSTODY_READERS,
    ("GET", "/incidents"): CUSTODY_READERS,
    ("GET", "/incidents/{incident_id}"): CUSTODY_READERS,
    ("GET", "/fleet/expiring"): CUSTODY_READERS,
    ("POST", "/scan"): CUSTODY_READERS,
    ("GET", "/labels/delivery-note/{shipment}"): CUSTODY_READERS,
    ("POST", "/labels/seals"): LABEL_PRINTERS,
    ("GET", "/export"): AUDITORS,
    ("GET", "/export/all"): AUDITORS,
    ("GET", "/reports/connectors/{subject}"): AUDITORS,
    ("GET", "/reports/seals"): AUDITORS,
    ("GET", "/epcis"): AUDITORS,
    ("POST", "/drafts"): ANY,
    ("POST", "/drafts/batch"): ANY,
    ("GET", "/drafts/install-context"): frozenset({"technician", "admin"}),
}

#: Operations that always answer 2xx to an allowed caller with the sample values below.
ANSWERS_2XX = {
    ("GET", path)
    for path in (
        "/health",
        "/log/checkpoint",
        "/log/vkey",
        "/log/witnesses",
        "/log/proof/inclusion",
        "/log/proof/consistency",
        "/labels/vkey",
        "/me",
        "/log/entries",
        "/parties",
        "/parties/{party}",
        "/handovers",
        "/enrolments",
        "/connectors",
        "/connectors/{subject}",
        "/seals",
        "/seals/{seal_id}",
        "/incidents",
        "/fleet/expiring",
        "/export",
        "/reports/connectors/{subject}",
        "/reports/seals",
        "/epcis",
        "/drafts/install-context",
    )
}

#: POSTs whose body may be empty: what an allowed caller gets instead of 422.
EMPTY_BODY_ANSWERS = {
    # Every field is optional (meaning "every issued seal without a label"); the demo has none.
    ("POST", "/labels/seals"): (400, "input.labels_empty"),
}


@pytest.fixture(scope="module")
def running(demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    # Read-only for this module: denied requests change nothing and allowed POSTs carry an
    # empty body, so one copy of the demo ledger serves every case.
    with serve(copy_ledger(demo_template, tmp_path_factory.mktemp("authz"))) as api:
        labels.init_label_key(api.ctx)  # as `custody demo` does: GET /labels/vkey then answers
        yield api


def _samples(api: Api) -> dict[str, str]:
    connector = api.connectors()[0]["subject"]
    seal = api.ok(api.get("/seals", limit=1))["items"][0]["seal_id"]
    return {
        "party": "party:ADMIN-01",
        "offer_id": "0" * 32,
        "enrolment_id": "0" * 32,
        "subject": connector,
        "seal_id": seal,
        "incident_id": "INC-999999",
        "shipment": "LS-NONE",
    }


def _query(path: str, samples: dict[str, str]) -> dict[str, Any]:
    by_path: dict[str, dict[str, Any]] = {
        "/log/proof/inclusion": {"index": 0},
        "/log/proof/consistency": {"old": 1},
        "/export": {"connector": samples["subject"]},
    }
    return by_path.get(path, {})


def _call(api: Api, method: str, template: str, role: str | None, samples: dict[str, str]) -> Any:
    path = template.format(**samples)
    headers = api.headers(role)
    if method == "GET":
        return api.client.get(PREFIX + path, params=_query(template, samples), headers=headers)
    return api.client.post(PREFIX + path, json={}, headers=headers)


def test_every_endpoint_has_a_policy(running: Api) -> None:
    schema = running.client.get(PREFIX + "/openapi.json").json()
    served = {
        (method.upper(), path.removeprefix(PREFIX))
        for path, operations in schema["paths"].items()
        for method in operations
    }
    assert served == set(POLICY), {
        "without a policy": sorted(served - set(POLICY)),
        "policy for a missing endpoint": sorted(set(POLICY) - served),
    }


CASES = [
    pytest.param(method, path, role, id=f"{method} {path} as {role or 'anonymous'}")
    for (method, path) in POLICY
    for role in (None, *ROLES)
]


@pytest.mark.parametrize(("method", "path", "role"), CASES)
def test_role_gate(running: Api, method: str, path: str, role: str | None) -> None:
    policy = POLICY[(method, path)]
    response = _call(running, method, path, role, _samples(running))
    code = response.json().get("code") if "json" in response.headers.get("content-type", "") else None
    allowed = policy == PUBLIC or (role is not None and role in policy)
    if allowed:
        assert response.status_code not in (401, 403), (response.status_code, response.text[:300])
        if (method, path) in ANSWERS_2XX:
            assert 200 <= response.status_code < 300, (response.status_code, response.text[:300])
        elif method == "POST":
            expected = EMPTY_BODY_ANSWERS.get((method, path), (422, "input.request"))
            assert (response.status_code, code) == expected, response.text[:300]
    elif role is None:
        assert (response.status_code, code) == (401, "auth.token_missing"), response.text[:300]
        assert response.headers["www-authenticate"].startswith("Bearer")
    else:
        assert (response.status_code, code) == (403, "auth.forbidden"), response.text[:300]
