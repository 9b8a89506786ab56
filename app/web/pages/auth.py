"""Sign-in and sign-out: a password, or a one-time link an administrator hands out.

The session cookie is HttpOnly (scripts cannot read it), SameSite=Lax (other
sites' forms and scripts do not carry it along on POSTs), Path=/, and Secure
when ``CUSTODY_WEB_COOKIE_SECURE`` is set. A successful sign-in always makes
a new session id (no fixation). Opening a sign-in link shows a button
rather than signing in on GET: mail scanners and link previews fetch links,
and must not use up the single use.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from app.api.problems import problem
from app.api.security import SESSION_COOKIE, web_session
from app.services import people, sessions
from app.services.people import SignInFailed
from app.web.deps import PRE_COOKIE, CheckedForm
from app.web.render import cookie_secure, render
from app.web.throttle import SignInThrottle

router = APIRouter()
THROTTLE = SignInThrottle()
Token = Annotated[str, Path(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


def safe_next(value: str | None) -> str:
    """Only a path on this site: never ``//host`` or ``\\host`` or a scheme (an open redirect)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")) or "\\" in value:
        return "/"
    if any(ord(ch) < 0x20 for ch in value):
        return "/"
    return value


@router.get("/login")
async def login_form(request: Request, next: str = "/") -> Response:
    if await web_session(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return await render(request, "login.html", next=safe_next(next), failed=False)


@router.post("/login")
async def login(
    request: Request,
    form: CheckedForm,
    login: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    ctx = request.app.state.ledger
    try:
        if not THROTTLE.allowed(login):
            raise SignInFailed("too many failed attempts")  # shown like a wrong password
        person = await run_in_threadpool(people.authenticate_password, ctx, login, password)
    except SignInFailed:
        THROTTLE.failed(login)
        return await render(
            request, "login.html", status_code=401, next=safe_next(next), failed=True, login=login
        )
    THROTTLE.succeeded(login)
    return await _signed_in(request, person, safe_next(next))


@router.get("/login/link/{token}")
async def link_form(request: Request, token: Token) -> Response:
    return await render(request, "login_link.html", token=token)


@router.post("/login/link/{token}")
async def link(request: Request, token: Token, form: CheckedForm) -> Response:
    ctx = request.app.state.ledger
    try:
        person = await run_in_threadpool(people.redeem_link, ctx, token)
    except SignInFailed:
        return await render(request, "login.html", status_code=401, next="/", failed=True, link_failed=True)
    return await _signed_in(request, person, "/")


@router.post("/logout")
async def logout(request: Request, form: CheckedForm) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await run_in_threadpool(sessions.end_session, request.app.state.ledger, cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


@router.get("/session/csrf")
async def csrf_token(request: Request) -> Response:
    """The session's CSRF token, for a page whose copy went stale (an install page opened
    offline from the service worker's cache, after the person signed in again elsewhere).

    It is what every page of the session already carries in ``<meta name="csrf-token">``;
    another site cannot read the answer (same-origin policy, no CORS), and it is never cached.
    """
    session = await web_session(request)
    if session is None:
        return problem(
            401, "auth.session_missing", "Authentication required", "not signed in", "/session/csrf"
        )
    return JSONResponse({"csrf_token": session.csrf})


async def _signed_in(request: Request, person: people.Person, target: str) -> Response:
    ctx = request.app.state.ledger
    settings = request.app.state.web_settings
    lifetime = timedelta(hours=settings.web_session_hours)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await run_in_threadpool(sessions.end_session, ctx, old)
    session_id, _ = await run_in_threadpool(sessions.create_session, ctx, person, lifetime)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, session_id, int(lifetime.total_seconds()), cookie_secure(request))
    response.delete_cookie(PRE_COOKIE, path="/")
    return response


def set_session_cookie(response: Response, session_id: str, max_age: int, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE, session_id, max_age=max_age, httponly=True, samesite="lax", secure=secure, path="/"
    )
