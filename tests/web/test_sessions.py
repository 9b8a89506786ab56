"""Sessions, CSRF, cookie flags, role gates, headers and languages — plain HTTP (TestClient)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.api.middleware import API_CSP, PAGE_CSP, loggable_path
from app.services import people
from app.services.tokens import create_token
from tests.web.conftest import PASSWORD, WebApp


def _cookie_header(response: httpx.Response, name: str) -> str:
    headers = response.headers.get_list("set-cookie")
    return next(h for h in headers if h.startswith(f"{name}="))


def test_sign_in_sets_a_strict_cookie_and_a_new_session_each_time(web_app: WebApp) -> None:
    web_app.add_person("anna", "WH-01")
    response = web_app.sign_in("anna")
    assert (response.status_code, response.headers["location"]) == (303, "/")
    header = _cookie_header(response, "kcl_session")
    assert "HttpOnly" in header
    assert "SameSite=lax" in header
    assert "Path=/" in header
    assert "Secure" not in header  # plain HTTP here; see the next test
    first = web_app.client.cookies["kcl_session"]
    again = web_app.sign_in("anna")
    assert again.status_code == 303
    assert web_app.client.cookies["kcl_session"] != first  # never reuses (fixation)
    # The old session ended when the new one began.
    web_app.client.cookies.set("kcl_session", first)
    assert web_app.client.get("/", follow_redirects=False).status_code == 303


def test_secure_cookie_when_configured(web_app: WebApp) -> None:
    web_app.add_person("anna", "WH-01")
    web_app.client.app.state.web_settings.web_cookie_secure = True  # type: ignore[attr-defined]
    # Secure cookies only travel over HTTPS (the sign-in form's token cookie too).
    web_app.client.base_url = "https://testserver"
    assert "Secure" in _cookie_header(web_app.sign_in("anna"), "kcl_session")


def test_wrong_password_and_forged_sign_in_form(web_app: WebApp) -> None:
    web_app.add_person("anna", "WH-01")
    wrong = web_app.sign_in("anna", "not the password")
    assert wrong.status_code == 401
    assert "kcl_session" not in wrong.headers.get("set-cookie", "")
    assert "Benutzername oder Passwort ist falsch" in wrong.text
    # No pre-session token (another site's form): refused before the password is looked at.
    web_app.client.cookies.clear()
    forged = web_app.client.post(
        "/login", data={"login": "anna", "password": PASSWORD}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert forged.headers["content-type"].startswith("text/html")
    assert "kcl_session" not in forged.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"]
)
def test_next_never_leaves_the_site(web_app: WebApp, target: str) -> None:
    web_app.add_person("anna", "WH-01")
    assert web_app.sign_in("anna", next_path=target).headers["location"] == "/"


def test_next_returns_to_the_page_asked_for(web_app: WebApp) -> None:
    web_app.add_person("anna", "AUD-01")
    gate = web_app.client.get("/audit?x=1", follow_redirects=False)
    assert (gate.status_code, gate.headers["location"]) == (303, "/login?next=%2Faudit%3Fx%3D1")
    assert web_app.sign_in("anna", next_path="/audit?x=1").headers["location"] == "/audit?x=1"


def test_role_gates(web_app: WebApp) -> None:
    web_app.add_person("anna", "WH-01")
    web_app.sign_in("anna")
    assert web_app.client.get("/connectors").status_code == 200
    for path in ("/audit", "/admin"):
        page = web_app.client.get(path)
        assert page.status_code == 403
        assert "Kein Zugriff" in page.text
    home = web_app.client.get("/")
    assert 'href="/connectors"' in home.text
    assert 'href="/audit"' not in home.text
    web_app.add_person("otto", "AUD-01")
    web_app.sign_in("otto")
    assert web_app.client.get("/audit").status_code == 200
    assert web_app.client.get("/labels").status_code == 403


def test_logout_needs_the_token_and_ends_the_session(web_app: WebApp) -> None:
    web_app.add_person("anna", "WH-01")
    web_app.sign_in("anna")
    cookie = web_app.client.cookies["kcl_session"]
    home = web_app.client.get("/")
    token = web_app.csrf_of(home.text)
    forged = web_app.client.post("/logout", data={"csrf_token": "forged"}, follow_redirects=False)
    assert forged.status_code == 403
    assert "Sicherheitsprüfung" in forged.text
    assert web_app.client.get("/", follow_redirects=False).status_code == 200
    out = web_app.client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    web_app.client.cookies.set("kcl_session", cookie)  # a copy kept by an attacker is dead too
    assert web_app.client.get("/", follow_redirects=False).status_code == 303


def test_api_accepts_the_cookie_and_needs_the_csrf_header_for_writes(web_app: WebApp) -> None:
    web_app.add_person("anna", "WH-01")
    web_app.sign_in("anna")
    token = web_app.csrf_of(web_app.client.get("/").text)
    parties = web_app.client.get("/api/v1/parties")
    assert parties.status_code == 200
    refused = web_app.client.post("/api/v1/scan", json={"input": "X"})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "auth.csrf"
    wrong = web_app.client.post("/api/v1/scan", json={"input": "X"}, headers={"X-CSRF-Token": "nope"})
    assert wrong.json()["code"] == "auth.csrf"
    allowed = web_app.client.post("/api/v1/scan", json={"input": "X"}, headers={"X-CSRF-Token": token})
    assert allowed.status_code == 200, allowed.text


def test_bearer_tokens_work_as_before_and_win_over_a_cookie(web_app: WebApp) -> None:
    web_app.add_person("anna", "WH-01")
    web_app.sign_in("anna")
    bearer, _ = create_token(web_app.ctx, "AUD-01", roles=["auditor"])
    # A token request needs no CSRF header: browsers never attach bearer tokens by themselves.
    scan = web_app.client.post(
        "/api/v1/scan", json={"input": "X"}, headers={"Authorization": f"Bearer {bearer}"}
    )
    assert scan.status_code == 200
    bad = web_app.client.get("/api/v1/parties", headers={"Authorization": "Bearer kcl_" + "A" * 43})
    assert (bad.status_code, bad.json()["code"]) == (401, "auth.token_invalid")
    web_app.client.cookies.clear()
    missing = web_app.client.get("/api/v1/parties")
    assert (missing.status_code, missing.json()["code"]) == (401, "auth.token_missing")


def test_disabling_a_person_ends_their_sessions(web_app: WebApp) -> None:
    web_app.add_person("anna", "WH-01")
    web_app.sign_in("anna")
    assert web_app.client.get("/", follow_redirects=False).status_code == 200
    people.disable_person(web_app.ctx, "anna")
    assert web_app.client.get("/", follow_redirects=False).status_code == 303
    assert web_app.client.get("/api/v1/parties").status_code == 401


def test_a_new_password_ends_the_sessions_and_voids_a_pending_link(web_app: WebApp) -> None:
    web_app.add_person("anna", "WH-01")
    web_app.sign_in("anna")
    assert web_app.client.get("/", follow_redirects=False).status_code == 200
    token, _ = people.create_link(web_app.ctx, "anna")
    people.set_password(web_app.ctx, "anna", "a much better passphrase")
    assert web_app.client.get("/", follow_redirects=False).status_code == 303
    assert web_app.client.get("/api/v1/parties").status_code == 401
    with pytest.raises(people.SignInFailed):
        people.redeem_link(web_app.ctx, token)
    assert web_app.sign_in("anna").status_code == 401  # the old password
    assert web_app.sign_in("anna", "a much better passphrase").status_code == 303


def test_one_time_link_signs_in_on_post_only(web_app: WebApp) -> None:
    people.add_person(web_app.ctx, "anna", "WH-01")
    token, _ = people.create_link(web_app.ctx, "anna")
    shown = web_app.client.get(f"/login/link/{token}")  # a mail scanner's preview
    assert shown.status_code == 200
    assert "kcl_session" not in shown.headers.get("set-cookie", "")
    form_token = web_app.csrf_of(shown.text)
    used = web_app.client.post(
        f"/login/link/{token}", data={"csrf_token": form_token}, follow_redirects=False
    )
    assert used.status_code == 303
    assert "kcl_session" in used.headers["set-cookie"]
    web_app.client.cookies.clear()
    again_form = web_app.client.get(f"/login/link/{token}")
    again = web_app.client.post(
        f"/login/link/{token}", data={"csrf_token": web_app.csrf_of(again_form.text)}, follow_redirects=False
    )
    assert again.status_code == 401
    assert "ungültig" in again.text


def test_headers_pages_api_and_docs(web_app: WebApp) -> None:
    page = web_app.client.get("/login")
    assert page.headers["content-security-policy"] == PAGE_CSP.decode()
    assert "'unsafe-inline'" not in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert '<meta name="csrf-token"' in page.text
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text) is None  # no inline script
    assert " style=" not in page.text
    assert " onclick=" not in page.text.lower()
    assert web_app.client.get("/api/v1/health").headers["content-security-policy"] == API_CSP.decode()
    # The interactive docs are a page like any other (Swagger UI vendored under /static).
    assert web_app.client.get("/docs").headers["content-security-policy"] == PAGE_CSP.decode()
    static = web_app.client.get("/static/js/app.js")
    assert static.status_code == 200
    assert static.headers["cache-control"] == "no-cache"
    missing = web_app.client.get("/no-such-page")
    assert (missing.status_code, missing.headers["content-type"][:9]) == (404, "text/html")
    assert (
        web_app.client.get("/api/v1/no-such").headers["content-type"].startswith("application/problem+json")
    )


def test_languages(web_app: WebApp) -> None:
    assert '<html lang="de">' in web_app.client.get("/login").text
    english = web_app.client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9,de;q=0.5"})
    assert '<html lang="en">' in english.text
    assert "User name" in english.text
    chosen = web_app.client.get("/login?lang=en")
    assert "kcl_lang=en" in chosen.headers["set-cookie"]
    assert '<html lang="en">' in web_app.client.get("/login").text  # remembered
    assert '<html lang="de">' in web_app.client.get("/login?lang=de").text
    assert web_app.client.get("/i18n/en.json").json()["login.title"] == "Sign in"
    assert web_app.client.get("/i18n/xx.json").status_code == 404


def test_page_json_endpoints_answer_problems(web_app: WebApp) -> None:
    web_app.add_person("otto", "AUD-01")
    web_app.sign_in("otto")
    refused = web_app.client.post(
        "/audit/verify", headers={"Accept": "application/json", "X-CSRF-Token": "x"}
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "auth.csrf")
    missing = web_app.client.get("/audit/verify/nope", headers={"Accept": "application/json"})
    assert (missing.status_code, missing.json()["code"]) == (404, "web.job_not_found")


def test_a_sign_in_link_never_reaches_an_error_log(
    web_app: WebApp, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Also when redeeming it fails inside the server: error lines name the path without the token."""
    people.add_person(web_app.ctx, "anna", "WH-01")
    token, _ = people.create_link(web_app.ctx, "anna")
    form = web_app.client.get(f"/login/link/{token}")
    # The database goes away under the running app (its file is replaced by an empty one).
    web_app.ctx.engine.dispose()
    (tmp_path / "ledger.db").rename(tmp_path / "ledger.db.moved")
    # A client that receives the server's error page instead of re-raising the exception.
    client = TestClient(
        web_app.client.app,
        base_url="http://testserver",
        raise_server_exceptions=False,
        cookies=web_app.client.cookies,
    )
    failed = client.post(
        f"/login/link/{token}", data={"csrf_token": web_app.csrf_of(form.text)}, follow_redirects=False
    )
    assert failed.status_code == 500
    logged = capsys.readouterr().out
    assert token not in logged
    lines = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    errors = [line for line in lines if line["level"] == "error"]
    assert errors
    assert {line["path"] for line in errors} == {"/login/link/…"}


def test_sign_in_links_never_reach_the_access_log() -> None:
    assert loggable_path("/login/link/SECRET-token") == "/login/link/…"
    assert loggable_path("/connectors") == "/connectors"


def test_cookies_are_secure_when_the_request_came_over_https(web_app: WebApp) -> None:
    """Without CUSTODY_WEB_COOKIE_SECURE, plain HTTP (local use) gets plain cookies, HTTPS secure ones."""
    web_app.add_person("anna", "WH-01")
    assert "secure" not in web_app.sign_in("anna").headers["set-cookie"].lower()
    https = TestClient(web_app.client.app, base_url="https://testserver")
    form = https.get("/login?lang=en")
    assert all("secure" in c.lower() for c in form.headers.get_list("set-cookie"))
    signed_in = https.post(
        "/login",
        data={"login": "anna", "password": PASSWORD, "next": "/", "csrf_token": web_app.csrf_of(form.text)},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    session = [c for c in signed_in.headers.get_list("set-cookie") if c.startswith("kcl_session=")]
    assert len(session) == 1
    assert "; secure" in session[0].lower()


def test_a_sign_in_link_made_on_the_admin_page_points_to_the_public_url(web_app: WebApp) -> None:
    web_app.add_person("root", "ADMIN-01")
    web_app.add_person("anna", "WH-01")
    web_app.sign_in("root")

    def make_link(host: str) -> str:
        page = web_app.client.get("/admin")
        made = web_app.client.post(
            "/admin/people/anna/link", data={"csrf_token": web_app.csrf_of(page.text)}, headers={"Host": host}
        )
        assert made.status_code == 200, made.text
        found = re.search(r"(https?://[^\s\"<]+)/login/link/[A-Za-z0-9_-]+", made.text)
        assert found, made.text
        return found.group(1)

    # Without a configured public URL the link is on the address the administrator used.
    assert make_link("testserver") == "http://testserver"
    settings = web_app.client.app.state.web_settings  # type: ignore[attr-defined]
    web_app.client.app.state.web_settings = settings.model_copy(  # type: ignore[attr-defined]
        update={"public_url": "https://custody.example.org"}
    )
    assert make_link("attacker.example") == "https://custody.example.org"
