"""Generated requests (schemathesis, from our own OpenAPI document) never get a 5xx.

For every operation of the API, valid and invalid requests
are generated from the published schema and sent with an administrator's
token (who may call all of them). Every answer must be below 500, and every
answer must match the documented response schema and media type — success
bodies their model, errors the problem model as application/problem+json.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from tests.app.api.conftest import Api

#: Every operation of the published document (checked below, so none is forgotten).
OPERATIONS = [
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/log/checkpoint"),
    ("GET", "/api/v1/log/witnesses"),
    ("GET", "/api/v1/log/vkey"),
    ("GET", "/api/v1/log/proof/inclusion"),
    ("GET", "/api/v1/log/proof/consistency"),
    ("GET", "/api/v1/log/entries"),
    ("POST", "/api/v1/statements"),
    ("POST", "/api/v1/statements/batch"),
    ("GET", "/api/v1/connectors"),
    ("GET", "/api/v1/connectors/{subject}"),
    ("GET", "/api/v1/seals"),
    ("GET", "/api/v1/seals/{seal_id}"),
    ("GET", "/api/v1/incidents"),
    ("GET", "/api/v1/incidents/{incident_id}"),
    ("GET", "/api/v1/parties"),
    ("GET", "/api/v1/parties/{party}"),
    ("GET", "/api/v1/fleet/expiring"),
    ("POST", "/api/v1/scan"),
    ("POST", "/api/v1/handovers"),
    ("GET", "/api/v1/handovers"),
    ("GET", "/api/v1/handovers/{offer_id}"),
    ("POST", "/api/v1/handovers/{offer_id}/accept"),
    ("POST", "/api/v1/handovers/{offer_id}/reject"),
    ("POST", "/api/v1/enrolments"),
    ("GET", "/api/v1/enrolments"),
    ("GET", "/api/v1/enrolments/{enrolment_id}"),
    ("POST", "/api/v1/enrolments/{enrolment_id}/approve"),
    ("POST", "/api/v1/enrolments/{enrolment_id}/reject"),
    ("POST", "/api/v1/labels/seals"),
    ("GET", "/api/v1/labels/delivery-note/{shipment}"),
    ("GET", "/api/v1/labels/vkey"),
    ("GET", "/api/v1/export"),
    ("GET", "/api/v1/export/all"),
    ("GET", "/api/v1/reports/connectors/{subject}"),
    ("GET", "/api/v1/reports/seals"),
    ("GET", "/api/v1/epcis"),
    ("POST", "/api/v1/drafts"),
    ("POST", "/api/v1/drafts/batch"),
    ("GET", "/api/v1/drafts/install-context"),
]
#: Operations whose every success builds a document of the whole demo ledger (a bundle, a
#: report): fewer examples, the input space is small.
HEAVY = {("GET", "/api/v1/export/all"), ("GET", "/api/v1/reports/seals"), ("GET", "/api/v1/epcis")}
EXAMPLES = 40


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_generated_requests_get_no_server_error(api: Api, method: str, path: str) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api.client.app)
    operation = schema[path][method]
    auth = {"Authorization": f"Bearer {api.tokens['admin']}"}
    statuses: set[int] = set()

    @settings(
        max_examples=5 if (method, path) in HEAVY else EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=st.one_of(
            operation.as_strategy(),
            operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE),
        )
    )
    def check(case: schemathesis.Case[Any]) -> None:
        case.headers = CaseInsensitiveDict({**case.headers, **auth})
        response = case.call()
        statuses.add(response.status_code)
        assert response.status_code < 500, response.text
        case.validate_response(
            response, checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
        )

    check()
    assert statuses, "no request was generated"
    assert all(400 <= s < 500 for s in statuses if s >= 300), statuses


def test_every_operation_is_fuzzed(api: Api) -> None:
    document = api.client.get("/api/v1/openapi.json").json()
    served = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    assert served == set(OPERATIONS), sorted(served ^ set(OPERATIONS))
