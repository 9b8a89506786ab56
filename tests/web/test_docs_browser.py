"""The interactive API docs (/docs) in Chromium: the vendored Swagger UI renders the API under
the strict page policy, with nothing fetched from another origin and no CSP violation."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.xdist_group("browser")


def test_docs_render_the_operations_from_this_origin_only(
    live: Any, page_for: Any, console_errors: Any, screenshot: Any
) -> None:
    page = page_for("anonymous")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    response = page.goto("/docs")
    assert response is not None
    assert response.status == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "unsafe-inline" not in csp
    assert "http" not in csp

    append = page.locator("#operations-statements-submit_one_api_v1_statements_post")
    append.wait_for(timeout=30_000)
    assert append.locator(".opblock-summary-method").inner_text() == "POST"
    assert append.locator(".opblock-summary-path").get_attribute("data-path") == "/api/v1/statements"
    assert "Append one signed statement" in append.inner_text()
    assert page.locator(".opblock").count() > 20
    screenshot(page, "api-docs")

    # Expanded, an operation renders its parameters and schemas; "Try it out" calls the API.
    health = page.locator(".opblock").filter(
        has=page.locator('.opblock-summary-path[data-path="/api/v1/health"]')
    )
    health.locator(".opblock-summary-control").click()
    health.get_by_role("button", name="Try it out").click()
    health.get_by_role("button", name="Execute").click()
    status = health.locator(".live-responses-table .response .response-col_status").first
    status.wait_for(timeout=30_000)
    assert status.inner_text().strip() == "200"
    assert '"status": "ok"' in health.locator(".live-responses-table .microlight").first.inner_text()
    page.get_by_role("button", name="Authorize").first.click()
    page.locator(".dialog-ux .modal-ux").wait_for()
    screenshot(page, "api-docs-try-it-out")

    origin = urlsplit(live.url).netloc
    foreign = [url for url in requested if urlsplit(url).scheme != "data" and urlsplit(url).netloc != origin]
    assert foreign == []
    assert f"{live.url}/static/vendor/swagger-ui/swagger-ui-bundle.js" in requested
    assert f"{live.url}/api/v1/openapi.json" in requested
    assert console_errors(page, http=True) == []
