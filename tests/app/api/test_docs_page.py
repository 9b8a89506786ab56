"""The interactive docs at /docs: self-hosted Swagger UI under the strict page policy."""

from __future__ import annotations

import re

from app.api.middleware import PAGE_CSP
from tests.app.api.conftest import PREFIX, Api

SCRIPT_TYPES = ("text/javascript", "application/javascript")


def test_docs_page_is_strict_and_self_hosted(api: Api) -> None:
    page = api.client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert csp == PAGE_CSP.decode()
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert re.search(r"https?:|//|\*", csp) is None  # no other origin, no wildcard
    assert page.headers["x-frame-options"] == "DENY"

    html = page.text
    # Nothing inline: every script has a src, no <style> element or style attribute, no handler.
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None
    assert "<style" not in html
    assert " style=" not in html
    assert re.search(r"\son[a-z]+=", html) is None

    references = re.findall(r'\b(?:src|href)="([^"]*)"', html)
    assets = [ref for ref in references if ref != "data:,"]  # the empty favicon
    assert {
        "/static/vendor/swagger-ui/swagger-ui.css",
        "/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "/static/js/api_docs.js",
    } == set(assets)
    for asset in assets:
        assert re.match(r"/[^/]", asset), asset  # same origin: a path, not //host
        served = api.client.get(asset)
        assert served.status_code == 200, asset
        media_type = served.headers["content-type"].split(";")[0]
        expected = ("text/css",) if asset.endswith(".css") else SCRIPT_TYPES
        assert media_type in expected, (asset, media_type)
        assert served.headers["content-security-policy"] == PAGE_CSP.decode()
        assert "cdn.jsdelivr.net" not in served.text

    # The page names the OpenAPI document that Swagger UI loads.
    found = re.search(r'data-openapi-url="([^"]+)"', html)
    assert found is not None
    assert found.group(1) == f"{PREFIX}/openapi.json"
    document = api.client.get(found.group(1))
    assert document.status_code == 200
    assert "/docs" not in document.json()["paths"]


def test_no_other_docs_routes(api: Api) -> None:
    for path in ("/docs/oauth2-redirect", "/redoc"):
        response = api.client.get(path)
        assert response.status_code == 404, path
