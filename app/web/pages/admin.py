"""Administration: pending key enrolments (approve, reject) and the people who sign in.

Approving an enrolment appends a ``key.added`` statement that the
administrator signs *in the browser* with their own approved device key
(``static/js/admin.js``): the server never holds a private key, so it cannot
approve on anyone's behalf. Rejecting needs no signature (nothing is
appended), only the session's CSRF token and a reason.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from app.api.problems import status_of
from app.services import enrolment, people
from app.services.context import LedgerContext
from app.services.sessions import WebSession
from app.settings import DEFAULT_PUBLIC_URL
from app.web.deps import CheckedForm, require_page
from app.web.nav import NavItem
from app.web.render import render
from ledger.errors import LedgerError

router = APIRouter()
ADMINS = frozenset({"admin"})
NAV = (NavItem("/admin", "nav.admin", ADMINS, "nav.admin.hint", order=50),)
Administrator = Annotated[WebSession, Depends(require_page(ADMINS))]
EnrolmentId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Login = Annotated[str, Path(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]+$")]


def _overview(ctx: LedgerContext) -> dict[str, Any]:
    return {
        "pending": [e.as_dict() for e in enrolment.enrolments(ctx, status="pending", limit=200)],
        "people": [p.as_dict() for p in people.list_people(ctx)],
    }


async def _page(request: Request, status_code: int = 200, **extra: Any) -> Response:
    ctx: LedgerContext = request.app.state.ledger
    ctx.require_initialised()
    data = await run_in_threadpool(_overview, ctx)
    return await render(request, "admin.html", status_code=status_code, **data, **extra)


@router.get("/admin")
async def admin(request: Request, user: Administrator) -> Response:
    return await _page(request)


@router.post("/admin/enrolments/{enrolment_id}/reject")
async def reject(
    request: Request, user: Administrator, form: CheckedForm, enrolment_id: EnrolmentId
) -> Response:
    ctx: LedgerContext = request.app.state.ledger
    reason = str(form.get("reason") or "")[:500]
    try:
        await run_in_threadpool(enrolment.reject_enrolment, ctx, user.party, enrolment_id, reason)
    except LedgerError as exc:
        return await _failed(request, exc)
    return RedirectResponse("/admin?done=rejected", status_code=303)


@router.post("/admin/people/{login}/link")
async def link(request: Request, user: Administrator, form: CheckedForm, login: Login) -> Response:
    """A one-time sign-in link, shown once to the administrator (who passes it on)."""
    ctx: LedgerContext = request.app.state.ledger
    try:
        token, expires_at = await run_in_threadpool(people.create_link, ctx, login)
    except LedgerError as exc:
        return await _failed(request, exc)
    # The configured public URL when there is one: the link goes to another person, so it
    # must not depend on the Host header of the administrator's request.
    public_url = request.app.state.web_settings.public_url
    base = (public_url if public_url != DEFAULT_PUBLIC_URL else str(request.base_url)).rstrip("/")
    return await _page(
        request, link={"login": login, "url": f"{base}/login/link/{token}", "expires_at": expires_at}
    )


@router.post("/admin/people/{login}/disable")
async def disable(request: Request, user: Administrator, form: CheckedForm, login: Login) -> Response:
    ctx: LedgerContext = request.app.state.ledger
    try:
        await run_in_threadpool(people.disable_person, ctx, login)
    except LedgerError as exc:
        return await _failed(request, exc)
    return RedirectResponse("/admin?done=disabled", status_code=303)


async def _failed(request: Request, exc: LedgerError) -> Response:
    status, _ = status_of(exc)
    if status >= 500:
        raise exc
    return await _page(request, status_code=status, error=exc.message)
