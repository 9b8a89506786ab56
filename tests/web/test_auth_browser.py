"""Sign-in and sign-out in a real browser, and a forged form refused by the CSRF check."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.xdist_group("browser")


def test_sign_in_with_password_then_sign_out(
    live: Any, page_for: Any, console_errors: Any, screenshot: Any
) -> None:
    page = page_for("anonymous")
    response = page.goto("/connectors")
    assert response is not None
    assert "/login?next=%2Fconnectors" in page.url
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    screenshot(page, "login-de")
    person = live.people["auditor"]
    page.get_by_label("Benutzername").fill(person["login"])
    page.get_by_label("Passwort").fill("not the password")
    page.get_by_role("button", name="Anmelden").click()
    assert page.get_by_test_id("login-error").is_visible()
    page.get_by_label("Passwort").fill(person["password"])
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url("**/connectors")
    assert person["party"] in page.get_by_test_id("who").inner_text()
    cookie = next(c for c in page.context.cookies() if c["name"] == "kcl_session")
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Lax", "/")
    page.get_by_role("button", name="Abmelden").click()
    page.wait_for_url("**/login")
    page.goto("/")
    assert "/login" in page.url
    assert console_errors(page) == []


def test_a_forged_form_from_another_page_is_refused(live: Any, page_for: Any, screenshot: Any) -> None:
    page = page_for("admin")
    page.goto("/")
    # A form another site could make the browser submit: everything but the session's token.
    page.set_content(
        f'<form method="post" action="{live.url}/logout"><input name="csrf_token" value="forged">'
        '<button type="submit">go</button></form>'
    )
    with page.expect_navigation():
        page.get_by_role("button", name="go").click()
    assert "Sicherheitsprüfung fehlgeschlagen" in page.content()
    screenshot(page, "csrf-refused")
    page.goto("/")
    assert "/login" not in page.url  # still signed in: the forged sign-out did nothing
