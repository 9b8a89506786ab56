"""What a page handler depends on: the signed-in person, role gates and CSRF-checked forms.

Use in page modules::

    @router.get("/thing")
    async def thing(request: Request, user: Annotated[WebSession, Depends(require_page(ROLES))]): ...

    @router.post("/thing")
    async def change(request: Request, user: ..., form: CheckedForm): ...

Not signed in → a redirect to ``/login?next=…``; signed in without the role → the 403 page.
Every form POST must carry the session's CSRF token in the hidden field ``csrf_token``
(templates: ``{{ csrf_field() }}``); forms of people not yet signed in (the sign-in form)
use a double-submit token (cookie ``kcl_pre`` = hidden field) — without it a foreign site
could sign a victim in to the attacker's account ("login CSRF").
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from app.api.security import web_session
from app.services.sessions import CsrfRefused, WebSession

CSRF_FIELD = "csrf_token"
PRE_COOKIE = "kcl_pre"


class LoginRequired(Exception):
    """Not signed in: the page handler answers with a redirect to the sign-in page."""


class PageForbidden(Exception):
    """Signed in, but the roles do not allow this page."""


async def page_user(request: Request) -> WebSession:
    session = await web_session(request)
    if session is None:
        raise LoginRequired
    return session


def require_page(roles: frozenset[str]) -> Callable[..., Awaitable[WebSession]]:
    """A dependency admitting signed-in people with one of ``roles``."""

    async def dependency(user: Annotated[WebSession, Depends(page_user)]) -> WebSession:
        if not user.has_any(roles):
            raise PageForbidden
        return user

    return dependency


async def checked_form(request: Request) -> FormData:
    """The posted form, after checking its CSRF token against the session (or the pre-session cookie)."""
    form = await request.form()
    presented = form.get(CSRF_FIELD)
    presented = presented if isinstance(presented, str) else ""
    session = await web_session(request)
    if session is not None:
        if session.csrf_matches(presented):
            return form
    else:
        expected = request.cookies.get(PRE_COOKIE, "")
        if expected and presented and hmac.compare_digest(expected.encode(), presented.encode()):
            return form
    raise CsrfRefused("the form is missing its security token or it does not match; reload the page")


PageUser = Annotated[WebSession, Depends(page_user)]
CheckedForm = Annotated[FormData, Depends(checked_form)]


async def check_csrf(request: Request, user: WebSession) -> None:
    """For page endpoints posted by script (``X-CSRF-Token``) or by a plain form (``csrf_token``)."""
    header = request.headers.get("x-csrf-token")
    if header is not None:
        if user.csrf_matches(header):
            return
        raise CsrfRefused("the X-CSRF-Token header does not match this session; reload the page")
    form = await request.form()
    presented = form.get(CSRF_FIELD)
    if not (isinstance(presented, str) and user.csrf_matches(presented)):
        raise CsrfRefused("the form is missing its security token or it does not match; reload the page")
