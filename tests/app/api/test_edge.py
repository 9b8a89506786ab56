"""What every response gets: size and rate limits, security headers, problem errors, tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.api.middleware import RateLimiter
from app.services import tokens
from ledger.errors import InvalidInput
from tests.app.api.conftest import PREFIX, Api, assert_problem, copy_ledger, serve

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


@pytest.fixture
def limited(demo_template: Path, tmp_path: Path) -> Iterator[Api]:
    """The app with a 4 KiB body limit and 5 requests (burst) at 1 a second per caller."""
    settings = copy_ledger(demo_template, tmp_path).model_copy(
        update={"api_max_body_bytes": 4096, "api_rate_per_second": 1.0, "api_rate_burst": 5}
    )
    with serve(settings) as running:
        yield running


def test_security_headers_on_success_and_on_errors(api: Api) -> None:
    for response in (
        api.client.get(PREFIX + "/health"),
        api.client.get(PREFIX + "/me"),  # 401
        api.client.get(PREFIX + "/nowhere"),  # 404
    ):
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (response.url, name)
        assert response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_unknown_paths_and_methods_are_problems(api: Api) -> None:
    assert_problem(api.client.get(PREFIX + "/nowhere"), 404, "http.not_found")
    assert_problem(api.client.delete(PREFIX + "/log/checkpoint"), 405, "http.method_not_allowed")
    not_json = api.client.post(
        PREFIX + "/statements",
        content=b"\xff\xfe not json",
        headers={**api.headers("admin"), "Content-Type": "application/json"},
    )
    assert_problem(not_json, 400, "http.bad_request")


def test_a_body_over_the_limit_is_refused_before_it_is_read(limited: Api) -> None:
    size = limited.size()
    big = b'{"envelopes": [' + b" " * 5000 + b"]}"
    declared = limited.client.post(
        PREFIX + "/statements/batch",
        content=big,
        headers={**limited.headers("admin"), "Content-Type": "application/json"},
    )
    assert_problem(declared, 413, "http.too_large")

    # Without Content-Length (chunked): counted while it streams.
    def chunks() -> Iterator[bytes]:
        yield b'{"envelopes": ['
        for _ in range(10):
            yield b" " * 1000
        yield b"]}"

    streamed = limited.client.post(
        PREFIX + "/statements/batch",
        content=chunks(),
        headers={**limited.headers("admin"), "Content-Type": "application/json"},
    )
    assert_problem(streamed, 413, "http.too_large")
    assert limited.size() == size


def test_callers_over_their_rate_get_429_with_retry_after(limited: Api) -> None:
    answers = [limited.get("/me", as_="auditor").status_code for _ in range(8)]
    assert answers[:5] == [200] * 5
    assert 429 in answers[5:]
    refused = limited.get("/me", as_="auditor")
    assert_problem(refused, 429, "http.rate_limited")
    assert int(refused.headers["retry-after"]) >= 1
    # Buckets are per caller: another token is not held back by the first one's burst.
    assert limited.get("/me", as_="technician").status_code == 200


def test_made_up_authorization_headers_share_the_address_bucket(limited: Api) -> None:
    """A client cannot pick a fresh bucket per request by sending a new junk token each time."""
    answers = [
        limited.client.get(PREFIX + "/health", headers={"Authorization": f"Bearer junk-{n}"}).status_code
        for n in range(8)
    ]
    assert answers[:5] == [200] * 5
    assert 429 in answers[5:]
    # A real token still has its own bucket.
    assert limited.get("/me", as_="auditor").status_code == 200


def test_sign_in_attempts_have_a_tighter_bucket_per_address(api: Api) -> None:
    """POST /login costs scrypt per try: 10 at once per address, then one every 5 s (429)."""
    answers = [api.client.post("/login", data={"login": "x", "password": "y"}).status_code for _ in range(12)]
    assert 429 not in answers[:10]
    assert answers[10:] == [429, 429]
    assert_problem(api.client.post("/login", data={"login": "x", "password": "y"}), 429, "http.rate_limited")
    # Other requests from the same address are not held back by it.
    assert api.client.get(PREFIX + "/health").status_code == 200


def test_a_full_bucket_table_keeps_the_callers_being_limited() -> None:
    limiter = RateLimiter(rate=1.0, burst=2, max_keys=10)
    assert [limiter.take("victim", now=0.0), limiter.take("victim", now=0.0)] == [0.0, 0.0]
    assert limiter.take("victim", now=0.0) > 0
    for number in range(100):  # many one-off callers, later
        limiter.take(f"other{number}", now=0.1 + number / 1000)
        assert len(limiter) <= 10
    # The exhausted bucket was not reset by the churn: still limited until it refills.
    assert limiter.take("victim", now=0.3) > 0
    assert limiter.take("victim", now=1.5) == 0.0


def test_a_revoked_token_is_refused_at_once(api: Api) -> None:
    token, info = tokens.create_token(api.ctx, "party:TECH-01", roles=["technician"], label="phone")
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.get(PREFIX + "/me", headers=headers).status_code == 200
    tokens.revoke_token(api.ctx, info["token_id"])
    assert_problem(api.client.get(PREFIX + "/me", headers=headers), 401, "auth.token_invalid")


def test_tokens_are_stored_as_digests_only(api: Api) -> None:
    token, info = tokens.create_token(api.ctx, "party:AUDIT-01", roles=["auditor"], label="laptop")
    assert token.startswith("kcl_")
    listed = {row["token_id"]: row for row in tokens.list_tokens(api.ctx, "AUDIT-01")}
    row = listed[info["token_id"]]
    assert token not in repr(row)
    assert row["prefix"] == token[: len(row["prefix"])]
    assert len(row["prefix"]) < 16
    with api.ctx.engine.connect() as conn:
        dump = "\n".join(str(r) for r in conn.exec_driver_sql("SELECT * FROM api_tokens").all())
    assert token not in dump
    assert tokens.digest_of(token) in dump


def test_a_token_gets_only_roles_its_party_holds(api: Api) -> None:
    with pytest.raises(InvalidInput, match="does not hold"):
        tokens.create_token(api.ctx, "party:TECH-01", roles=["admin"], label="escalate")
