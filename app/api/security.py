"""Who is calling: bearer API tokens (machines) or a session cookie (people), and role gates.

Reads are gated by the roles of the caller's token; writes additionally
need statements signed by keys that the ledger authorises at that moment —
the token says who may *submit*, the signatures say who *said* it.

A request without an ``Authorization`` header may be authenticated by the
web session cookie instead (the pages' JavaScript calls the API that way).
A browser sends cookies with requests other sites make it send, so an
unsafe method authenticated by cookie must also carry the session's CSRF
token in ``X-CSRF-Token`` (403 ``auth.csrf`` otherwise); a bearer token is
never sent by a browser on its own, so token requests need no such check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from app.services.context import LedgerContext
from app.services.sessions import CsrfRefused, WebSession, session_for
from app.services.tokens import Forbidden, Principal, TokenInvalid, authenticate, cached_principal

bearer = HTTPBearer(auto_error=False, description="API token: `Authorization: Bearer kcl_…`")

#: Everyone with a token may read the log's entries.
ANY_ROLE = frozenset({"admin", "manufacturer", "warehouse", "carrier", "technician", "practice", "auditor"})
#: Who may read custody state (connectors, seals, incidents, fleet).
CUSTODY_READERS = frozenset({"admin", "manufacturer", "warehouse", "carrier", "technician", "auditor"})


#: The session cookie of the web pages (HttpOnly, SameSite=Lax; see app/web/session.py).
SESSION_COOKIE = "kcl_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


# The dependencies are coroutines: FastAPI runs a plain ``def`` dependency in a worker
# thread, and three thread hand-offs per request cost more than everything they do.


async def ledger_context(request: Request) -> LedgerContext:
    ctx: LedgerContext = request.app.state.ledger
    return ctx


Ledger = Annotated[LedgerContext, Depends(ledger_context)]


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if "authorization" not in request.headers:
        session = await web_session(request)
        if session is not None:
            if request.method not in SAFE_METHODS and not session.csrf_matches(
                request.headers.get(CSRF_HEADER)
            ):
                raise CsrfRefused("a request signed in by cookie needs the page's X-CSRF-Token header")
            request.state.party = session.party
            return Principal(session.party, session.roles, f"web:{session.login}")
    if credentials is not None and credentials.scheme.lower() != "bearer":
        raise TokenInvalid("use the Bearer scheme")
    token = credentials.credentials if credentials else None
    # A recently verified token is answered from memory; only a miss reads the database,
    # and that happens in a worker thread, never on the event loop.
    principal = cached_principal(token)
    if principal is None:
        principal = await run_in_threadpool(authenticate, request.app.state.ledger, token)
    request.state.party = principal.party
    return principal


async def web_session(request: Request) -> WebSession | None:
    """The signed-in person behind the session cookie, once per request (None if not signed in)."""
    if "web_session" not in request.state._state:
        cookie = request.cookies.get(SESSION_COOKIE)
        session = None
        if cookie:
            session = await run_in_threadpool(session_for, request.app.state.ledger, cookie)
        request.state.web_session = session
        if session is not None:
            # The access log names the acting party, as it does for tokens.
            request.state.party = session.party
    found: WebSession | None = request.state.web_session
    return found


def require(roles: frozenset[str]) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits callers whose token carries one of ``roles``."""

    async def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.has_any(roles):
            raise Forbidden(f"this needs one of the roles {', '.join(sorted(roles))}")
        return principal

    return dependency


Caller = Annotated[Principal, Depends(require(ANY_ROLE))]
CustodyReader = Annotated[Principal, Depends(require(CUSTODY_READERS))]
Admin = Annotated[Principal, Depends(require(frozenset({"admin"})))]
