"""Errors on pages are friendly HTML; errors on the API stay RFC 9457 problems.

``install`` wraps the API's exception handlers: a request for a page (not
``/api/…``, ``/docs``, ``/static/…``) gets an HTML page with the status and a
short, translated explanation — never internals (a 500 shows a reference
that the log line carries). Not signed in → 303 to ``/login?next=…``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.middleware import loggable_path
from app.api.problems import status_of
from app.web.deps import LoginRequired, PageForbidden
from app.web.render import render
from ledger.errors import LedgerError

log = structlog.get_logger("custody.web")
Handler = Callable[[Request, Any], Awaitable[Response]]


def is_page(request: Request) -> bool:
    """A request for a page (HTML errors), not for the API or a page's JSON endpoint (problems)."""
    path = request.url.path
    if path.startswith(("/api/", "/static/", "/docs")) or path == "/redoc":
        return False
    accept = request.headers.get("accept", "")
    # Scripts polling a page's JSON endpoint (e.g. /audit/verify/…) ask for JSON.
    return not ("application/json" in accept and "text/html" not in accept)


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


async def error_page(request: Request, status: int, message_key: str, detail: str | None = None) -> Response:
    return await render(
        request, "error.html", status_code=status, status=status, message_key=message_key, detail=detail
    )


def install(app: FastAPI) -> None:
    api_handlers: dict[Any, Handler] = dict(app.exception_handlers)

    async def delegate(cls: Any, request: Request, exc: Exception) -> Response:
        return await api_handlers[cls](request, exc)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return login_redirect(request)

    @app.exception_handler(PageForbidden)
    async def _forbidden(request: Request, exc: PageForbidden) -> Response:
        return await error_page(request, 403, "error.forbidden")

    @app.exception_handler(LedgerError)
    async def _ledger(request: Request, exc: LedgerError) -> Response:
        if not is_page(request):
            return await delegate(LedgerError, request, exc)
        status, _ = status_of(exc)
        if status >= 500:
            log.error("page_error", code=exc.code, path=loggable_path(request.url.path))
            return await error_page(request, status, "error.server")
        # The message of a 4xx is about the caller's own input (unknown id, refused rule).
        key = {401: "error.forbidden", 403: "error.forbidden", 404: "error.not_found"}.get(
            status, "error.bad"
        )
        if exc.code == "auth.csrf":
            key = "error.csrf"
        return await error_page(request, status, key, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if not is_page(request):
            return await delegate(RequestValidationError, request, exc)
        return await error_page(request, 400, "error.bad")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if not is_page(request):
            return await delegate(StarletteHTTPException, request, exc)
        key = {404: "error.not_found", 405: "error.bad"}.get(exc.status_code, "error.bad")
        return await error_page(request, exc.status_code, key)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        if not is_page(request):
            return await delegate(Exception, request, exc)
        reference = uuid.uuid4().hex[:12]
        log.exception("internal_error", reference=reference, path=loggable_path(request.url.path))
        return await error_page(request, 500, "error.server", f"reference {reference}")
