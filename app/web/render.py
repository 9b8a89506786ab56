"""Rendering pages: one Jinja2 environment, and the context every template gets.

Autoescaping is on for every template (``.html``): a value from the ledger is
text, never markup. Templates get

* ``t(key, **values)`` — the translation in the request's language, ``lang``;
* ``user`` — the signed-in :class:`~app.services.sessions.WebSession` or None;
* ``csrf_token`` and ``csrf_field()`` — the hidden field every POST form needs;
* ``nav`` — the menu entries the person's roles allow; ``path`` and ``lang_links``.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from app.api.security import web_session
from app.web import i18n
from app.web.deps import CSRF_FIELD, PRE_COOKIE
from app.web.nav import NavItem, visible

TEMPLATES = Path(__file__).parent / "templates"

env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "svg", "xml"], default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _nav_items(request: Request) -> list[NavItem]:
    items: list[NavItem] = getattr(request.app.state, "web_nav", [])
    return items


async def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    user = await web_session(request)
    lang = i18n.language_of(request)
    pre_token = None
    if user is None:
        # People not signed in get a random double-submit token for their forms (sign-in).
        pre_token = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(32)
    token = user.csrf if user is not None else pre_token
    query = request.query_params
    lang_links = {
        code: request.url.path + "?" + urlencode({**dict(query), "lang": code}) for code in i18n.LANGUAGES
    }
    values = {
        "request": request,
        "t": i18n.translator(lang),
        "label": i18n.labeller(lang),
        "lang": lang,
        "languages": i18n.LANGUAGE_NAMES,
        "lang_links": lang_links,
        "user": user,
        "csrf_token": token,
        "csrf_field": lambda: csrf_input(token),
        "nav": visible(_nav_items(request), user.roles) if user is not None else [],
        "path": request.url.path,
        "query": query,
        **context,
    }
    body = env.get_template(template).render(values)
    response = HTMLResponse(body, status_code=status_code, headers=headers)
    secure = cookie_secure(request)
    if pre_token is not None and request.cookies.get(PRE_COOKIE) != pre_token:
        response.set_cookie(PRE_COOKIE, pre_token, httponly=True, samesite="lax", secure=secure, path="/")
    remember_language(request, response)
    return response


def cookie_secure(request: Request) -> bool:
    """Mark cookies ``Secure`` when configured, and always when the request came over HTTPS.

    Behind a TLS-terminating proxy listed in ``--forwarded-allow-ips`` the scheme is the
    client's (X-Forwarded-Proto), so a deployment that forgets the setting still gets
    cookies a browser will never send over plain HTTP.
    """
    return bool(request.app.state.web_settings.web_cookie_secure) or request.url.scheme == "https"


def remember_language(request: Request, response: Any) -> None:
    """``?lang=xx`` is remembered for a year (a preference, not a secret)."""
    explicit = i18n.requested_lang(request)
    if explicit and request.cookies.get(i18n.LANG_COOKIE) != explicit:
        secure = cookie_secure(request)
        response.set_cookie(
            i18n.LANG_COOKIE, explicit, max_age=365 * 86400, samesite="lax", secure=secure, path="/"
        )


def csrf_input(token: str | None) -> Markup:
    """The hidden form field with the CSRF token (escaped; the token is base64url anyway)."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token or "")
