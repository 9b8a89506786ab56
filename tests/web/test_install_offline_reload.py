"""The install page opens offline: a service worker keeps it after one online visit.

The technician loads /install online (the worker installs and keeps the page and its
files), loses the network and reloads: the page comes from the worker's cache, the work
package and the device key from IndexedDB, and an installation signed offline waits in
the outbox. Meanwhile the person signed in again (a new session, a new CSRF token): the
cached page's token is stale, and the outbox, back online, fetches the fresh one and
delivers. The connector is INSTALLED and the ledger verifies. Signing out drops the copy.

The plain tests check what the browser test relies on: ``/sw.js`` itself, that it keeps
every file the page loads, and the CSRF endpoint.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from app import queries
from app.api.security import SESSION_COOKIE
from app.services.verification import verify_ledger
from app.web import STATIC
from app.web.i18n import LANGUAGES
from app.web.pages.offline import worker_version
from app.web.render import TEMPLATES
from tests.web.conftest import WebApp
from tests.web.field_helpers import TECHNICIAN, open_with_approved_key, received_by, scan, sealed_connector
from tests.web.test_install import live_practice

PHONE = {"width": 390, "height": 844}
#: In the page: is /install kept by the worker? (the cache's name carries the version)
KEPT_PAGE = """async () => {
    for (const name of await caches.keys()) {
        if (!name.startsWith("kcl-install-page-")) continue;
        if (await (await caches.open(name)).match("/install")) return true;
    }
    return false;
}"""
CSRF = "document.querySelector('meta[name=csrf-token]').content"


@pytest.mark.xdist_group("browser")
def test_install_page_reloads_offline_and_syncs_with_a_fresh_csrf_token(
    live: Any, page_for: Any, console_errors: Any, screenshot: Any
) -> None:
    from playwright.sync_api import Error as PlaywrightError

    subject, seals = sealed_connector(live)
    received_by(live, subject, TECHNICIAN, "LS-INST-SW")
    page = page_for("technician", viewport=PHONE, service_workers="allow")
    open_with_approved_key(page, live, "/install", "install-page", TECHNICIAN)
    assert page.evaluate("navigator.serviceWorker.ready.then(() => true)") is True
    page.wait_for_function(KEPT_PAGE, timeout=10_000)
    assert subject in page.get_by_test_id("in-package").inner_text()
    cached_token = page.evaluate(CSRF)

    # Offline, the page reloads from the worker's cache: nothing reaches the server (the
    # worker is offline too — Playwright routes its network through the context).
    page.context.set_offline(True)
    (worker,) = page.context.service_workers
    assert worker.url == f"{live.url}/sw.js"
    assert worker.evaluate("fetch('/install').then(() => 'online', () => 'offline')") == "offline"
    response = page.reload()
    assert response is not None
    assert response.from_service_worker
    page.wait_for_selector("#install-page[data-ready=true]", timeout=20_000)
    page.get_by_test_id("net-status").filter(has_text="Offline").wait_for()
    assert page.get_by_test_id("key-status").get_attribute("data-state") == "approved"
    assert subject in page.get_by_test_id("in-package").inner_text()  # the work package, from IndexedDB
    assert page.evaluate(CSRF) == cached_token
    for seal in seals:
        assert f"Siegel {seal} stimmt" in scan(page, seal, expect=seal)
    for check in ("in-view", "in-tug", "in-twist"):
        page.get_by_test_id(check).check()
    page.get_by_test_id("in-practice").select_option(live_practice(page))
    size_before = live.ctx.store.size()
    page.get_by_test_id("in-sign").click()
    page.get_by_test_id("feedback").filter(has_text="Postausgang").wait_for(timeout=15_000)
    assert page.get_by_test_id("outbox-status").get_attribute("data-pending") == "1"
    screenshot(page, "install-offline-reload-pending-de")
    assert live.ctx.store.size() == size_before
    assert queries.connector(live.ctx.engine, subject).state == "RECEIVED"

    # Meanwhile the person signed in again: the kept page's CSRF token belongs to the old
    # session, and the API refuses it (403 auth.csrf) until the page fetches the new one.
    page.context.add_cookies(
        [
            {
                "name": SESSION_COOKIE,
                "value": live.session_cookie("technician"),
                "url": live.url,
                "httpOnly": True,
            }
        ]
    )
    deliveries: list[int] = []
    page.on(
        "response",
        lambda answer: deliveries.append(answer.status) if answer.url.endswith("/statements/batch") else None,
    )
    page.context.set_offline(False)
    page.wait_for_selector("[data-testid=outbox-status][data-pending='0']", timeout=30_000)
    assert deliveries == [403, 201]  # refused for the stale token, then sent again with the fresh one
    assert page.evaluate(CSRF) != cached_token
    assert page.locator("form.logout input[name=csrf_token]").input_value() == page.evaluate(CSRF)
    screenshot(page, "install-offline-reload-synced-de")

    record = queries.connector(live.ctx.engine, subject)
    assert record.state == "INSTALLED"
    assert record.custodian == f"party:{TECHNICIAN}"
    assert [h.kind for h in record.history[-2:]] == ["seal.inspected", "installed"]
    report = verify_ledger(live.ctx, workers=1)
    assert report.valid, report.findings[:3]
    assert console_errors(page) == []

    # Signing out drops the kept page: offline, /install no longer opens.
    page.get_by_role("button", name="Abmelden").click()
    page.wait_for_url("**/login")
    page.wait_for_function(f"({KEPT_PAGE})().then((kept) => !kept)", timeout=10_000)
    page.context.set_offline(True)
    with pytest.raises(PlaywrightError):
        page.goto("/install")


# --------------------------------------------------------------------------
# Plain tests


def worker_assets(text: str) -> list[str]:
    block = re.search(r"const ASSETS = \[(.*?)\];", text, re.S)
    assert block, "sw.js has no ASSETS list"
    return re.findall(r'"([^"]+)"', block.group(1))


def module_graph(start: str) -> set[str]:
    """The static imports of a module under /static/js, followed transitively."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        source = (STATIC / "js" / name).read_text(encoding="utf-8")
        todo += re.findall(r'^import [^;]*?from "\./([\w.]+)";', source, re.M)
    return {f"/static/js/{name}" for name in seen}


def test_worker_served_from_the_root_with_its_version(web_app: WebApp) -> None:
    response = web_app.client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["service-worker-allowed"] == "/"
    assert response.headers["cache-control"] == "no-store"  # the browser looks for updates each visit
    assert "worker-src 'self'" in response.headers["content-security-policy"]
    version = worker_version()
    assert re.fullmatch(r"[0-9a-f]{16}", version)
    assert f'const VERSION = "{version}";' in response.text
    assert 'const VERSION = "dev";' not in response.text
    page = web_app.client.get("/login")
    assert "worker-src 'self'" in page.headers["content-security-policy"]
    assert "script-src 'self';" in page.headers["content-security-policy"]


def test_worker_keeps_every_file_the_install_page_loads(web_app: WebApp) -> None:
    assets = worker_assets((STATIC / "js" / "sw.js").read_text(encoding="utf-8"))
    html = "".join((TEMPLATES / name).read_text(encoding="utf-8") for name in ("base.html", "install.html"))
    linked = set(re.findall(r'(?:href|src)="(/static/[^"]+)"', html))
    needed = linked | module_graph("install.js") | {"/static/vendor/jsqr/jsQR.js"}
    needed |= {f"/i18n/{lang}.json" for lang in LANGUAGES}
    assert needed <= set(assets), sorted(needed - set(assets))
    for url in assets:  # every one exists (a missing file would fail the worker's install)
        assert web_app.client.get(url).status_code == 200, url
        if url.startswith("/static/"):
            assert Path(STATIC, url.removeprefix("/static/")).is_file()
    # Nothing personal: no API path, no page but the install page (which is not in ASSETS).
    assert not [url for url in assets if not url.startswith(("/static/", "/i18n/"))]


def test_csrf_token_endpoint(web_app: WebApp) -> None:
    anonymous = web_app.client.get("/session/csrf", headers={"Accept": "application/json"})
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "auth.session_missing"
    web_app.add_person("lager", "WH-01", roles=["warehouse"])
    assert web_app.sign_in("lager").status_code == 303
    page = web_app.client.get("/")
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert meta
    answer = web_app.client.get("/session/csrf")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    assert answer.json() == {"csrf_token": meta.group(1)}
