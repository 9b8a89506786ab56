"""Fixtures for the web pages: a live server on a small demo ledger, Chromium, signed-in pages.

Browser fixtures (mark such tests ``pytest.mark.xdist_group("browser")``):

``live`` (session) → :class:`LiveServer`
    The real app (``create_app``) served by uvicorn in a background thread on a free
    port of 127.0.0.1, over a fresh SQLite ledger seeded once with ``build_demo(ctx, 20,
    seed=1)`` (~470 entries, every role) plus one demo person per role (login = the role
    name, e.g. ``warehouse`` acting for ``party:WH-ESSEN-01``). ``live.url`` is the base URL,
    ``live.ctx`` a :class:`LedgerContext` on the same database (to pick connectors and
    check results), ``live.people[role]`` the person's login, password and party,
    ``live.key(party_id)`` a party's signing key from the demo's key files. The ledger
    is shared by every test of the session: append freely, but pick your own
    connectors and never rely on what another test did.

``browser`` (session) → ``playwright.sync_api.Browser``
    Headless Debian Chromium (``/usr/bin/chromium``, never a downloaded browser).
    Skips with the reason when Chromium or Playwright is missing — fails under CI=true.

``page_for`` (function) → ``page_for(role: str, lang: str = "de", *, signed_in: bool = True,
    viewport: dict | None = None, service_workers: str = "allow") -> Page``
    A new browser context per call (closed after the test) with the demo person of
    ``role`` signed in (session cookie set directly) and the language cookie set; its
    console errors, page errors and CSP violations are collected — see ``console_errors``.
    ``page_for("anonymous")`` (or ``signed_in=False``) gives a page without a session.
    Service workers (the install page registers one) are allowed, as in a real browser;
    each context starts without any, and ``context.set_offline`` covers their requests too
    (Playwright routes service-worker network through the context); ``"block"`` disables them.

``console_errors`` (function) → ``console_errors(page, *, http: bool = False) -> list[str]``
    Console errors, uncaught exceptions and Content-Security-Policy violations seen by a
    page made by ``page_for``. "Failed to load resource" lines (an HTTP error status of
    a request the page made on purpose) are left out unless ``http=True``.

``screenshot`` (function) → ``screenshot(page, name: str) -> Path``
    A full-page PNG at ``tests/screenshots/<name>.png`` (git-ignored) for people to look at.

Plain (non-browser) fixtures:

``web_app`` (function) → :class:`WebApp`
    A ``TestClient`` on the real app over a fresh, small ledger (administrator
    ``ADMIN-01``, ``WH-01`` warehouse, ``AUD-01`` auditor, ``MULTI-01`` warehouse+carrier)
    with ``sign_in(client, login, password)`` and ``add_person(...)`` helpers.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.app import create_app
from app.api.security import SESSION_COOKIE
from app.keyfiles import read_key_file
from app.services import people, sessions
from app.services.context import LedgerContext
from app.services.demo import build_demo
from ledger.keys import SigningKey
from tests.app.tlog_servers import free_port
from tests.helpers import KEY_PASSPHRASE, LedgerFixture, new_ledger_fixture, settings_for

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
DEMO_CONNECTORS = 20
#: A password long enough for the people service, used by the plain tests.
PASSWORD = "correct horse battery staple"


# --------------------------------------------------------------------------
# The live server


@dataclass
class LiveServer:
    url: str
    ctx: LedgerContext
    people: dict[str, dict[str, str]]
    _keys: dict[str, SigningKey] = field(default_factory=dict)

    def key(self, party_id: str) -> SigningKey:
        """A demo party's signing key (from its encrypted key file; tests sign client-side)."""
        if party_id not in self._keys:
            path = self.ctx.actor_key_path(party_id)
            self._keys[party_id] = read_key_file(path, KEY_PASSPHRASE.encode())
        return self._keys[party_id]

    def session_cookie(self, role: str) -> str:
        """A fresh session for the demo person of ``role`` (the cookie's value)."""
        person = people.get_person(self.ctx, self.people[role]["login"])
        session_id, _ = sessions.create_session(self.ctx, person)
        return session_id


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    import uvicorn

    base = tmp_path_factory.mktemp("web-live")
    settings = settings_for(f"sqlite:///{base}/ledger.db", base)
    seed_ctx = LedgerContext.open(settings)
    try:
        summary = build_demo(seed_ctx, DEMO_CONNECTORS, seed=1, verify_workers=1)
        assert summary.valid
        issued = {p["role"]: p for p in people.demo_people(seed_ctx)}
    finally:
        seed_ctx.engine.dispose()
    ctx = LedgerContext.open(settings)
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, ctx), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="web-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", ctx, issued)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        ctx.engine.dispose()


# --------------------------------------------------------------------------
# The browser


def browser_unavailable(reason: str, what: str = "browser tests") -> None:
    """Skip ``what`` with ``reason`` — or fail under CI=true, where the browser must be there."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} need Chromium under CI=true: {reason}")
    pytest.skip(f"{what} skipped: {reason} (run scripts/install-test-deps.sh)")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        browser_unavailable(f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        browser_unavailable("the playwright package is not installed (pip install -e '.[test]')")
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
    except Exception as exc:
        playwright.stop()
        browser_unavailable(f"Chromium did not start: {str(exc).splitlines()[0]}")
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


# Recorded in the page (the init script runs outside the page's CSP): violations that the
# console might word differently across Chromium versions.
_CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


@pytest.fixture
def console_errors() -> Callable[..., list[str]]:
    def collect(page: Any, *, http: bool = False) -> list[str]:
        seen: list[str] = list(getattr(page, "_kcl_errors", []))
        # A closed page has nothing more to report.
        with contextlib.suppress(Exception):
            seen += page.evaluate("window.__cspViolations || []")
        if not http:
            seen = [line for line in seen if "Failed to load resource" not in line]
        return seen

    return collect


@pytest.fixture
def page_for(browser: Any, live: LiveServer) -> Iterator[Callable[..., Any]]:
    contexts: list[Any] = []

    def make(
        role: str,
        lang: str = "de",
        *,
        signed_in: bool = True,
        viewport: dict[str, int] | None = None,
        service_workers: str = "allow",
    ) -> Any:
        context = browser.new_context(
            base_url=live.url,
            locale="de-DE" if lang == "de" else "en-GB",
            viewport=viewport or {"width": 1280, "height": 900},
            service_workers=service_workers,
        )
        contexts.append(context)
        cookies: list[dict[str, Any]] = [{"name": "kcl_lang", "value": lang, "url": live.url}]
        if signed_in and role != "anonymous":
            cookies.append(
                {
                    "name": SESSION_COOKIE,
                    "value": live.session_cookie(role),
                    "url": live.url,
                    "httpOnly": True,
                }
            )
        context.add_cookies(cookies)
        context.add_init_script(_CSP_LISTENER)
        page = context.new_page()
        errors: list[str] = []
        page._kcl_errors = errors
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    def take(page: Any, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
        path = SCREENSHOTS / f"{safe}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


# --------------------------------------------------------------------------
# Plain tests: TestClient on a small ledger


@dataclass
class WebApp:
    client: TestClient
    ledger: LedgerFixture

    @property
    def ctx(self) -> LedgerContext:
        return self.ledger.ctx

    def add_person(
        self, login: str, party: str, roles: list[str] | None = None, password: str = PASSWORD
    ) -> None:
        people.add_person(self.ctx, login, party, roles=roles, password=password)

    def csrf_of(self, html: str) -> str:
        found = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert found, "no CSRF field on the page"
        return found.group(1)

    def sign_in(self, login: str, password: str = PASSWORD, next_path: str = "/") -> Any:
        form = self.client.get("/login")
        return self.client.post(
            "/login",
            data={
                "login": login,
                "password": password,
                "next": next_path,
                "csrf_token": self.csrf_of(form.text),
            },
            follow_redirects=False,
        )


@pytest.fixture
def web_app(tmp_path: Path) -> Iterator[WebApp]:
    ledger = new_ledger_fixture(f"sqlite:///{tmp_path}/ledger.db", tmp_path)
    ledger.party("WH-01", ["warehouse"])
    ledger.party("AUD-01", ["auditor"])
    ledger.party("MULTI-01", ["warehouse", "carrier"])
    try:
        with TestClient(create_app(ledger.ctx.settings, ledger.ctx), base_url="http://testserver") as client:
            yield WebApp(client, ledger)
    finally:
        sessions.forget_cached()
        ledger.ctx.engine.dispose()
        shutil.rmtree(tmp_path / "keys", ignore_errors=True)
