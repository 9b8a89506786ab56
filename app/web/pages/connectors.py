"""Connectors: a searchable list, and one connector's custody with its verification.

The same read models back the API (``GET /api/v1/connectors/{subject}``):
every history entry is verified from its stored bytes on each request
(signatures under keys valid at its index, inclusion in the latest signed
checkpoint). The badge says "verified" only when every entry is; the proof
shown is the inclusion proof of the newest entry in that checkpoint.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from app.api.paging import CONNECTOR_PATTERN
from app.api.schemas import ConnectorState
from app.api.security import CUSTODY_READERS
from app.services import custody_views, scan
from app.services.context import LedgerContext
from app.services.sessions import WebSession
from app.web.deps import require_page
from app.web.nav import NavItem
from app.web.render import render

router = APIRouter()
NAV = (NavItem("/connectors", "nav.connectors", CUSTODY_READERS, "nav.connectors.hint", order=20),)
Reader = Annotated[WebSession, Depends(require_page(CUSTODY_READERS))]
PAGE = 50
STATES = ConnectorState.__args__  # type: ignore[attr-defined]
AUDITORS = frozenset({"auditor", "admin"})


def connector_path(subject: str) -> str:
    return "/connectors/" + quote(subject, safe=":")


def _search(ctx: LedgerContext, q: str, state: str | None, offset: int) -> dict[str, Any]:
    """A scanned or typed connector id goes straight to it; other text filters the list."""
    text = q.strip()
    if text:
        found = scan.lookup(ctx, text)
        if found.known and found.kind == "connector" and found.subject:
            return {"redirect": connector_path(found.subject)}
        if found.known and found.connector:
            return {"redirect": connector_path(found.connector)}
        needle = text.upper()
        rows = custody_views.list_connectors(ctx, state=state, limit=1000, offset=0)
        rows = [
            r
            for r in rows
            if needle in r["connector"]
            or needle in (r["custodian"] or "").upper()
            or needle in (r["location"] or "").upper()
        ]
        if len(rows) == 1:
            return {"redirect": connector_path(rows[0]["connector"])}
        return {"rows": rows[offset : offset + PAGE], "more": len(rows) > offset + PAGE}
    rows = custody_views.list_connectors(ctx, state=state, limit=PAGE + 1, offset=offset)
    return {"rows": rows[:PAGE], "more": len(rows) > PAGE}


@router.get("/connectors")
async def connectors(
    request: Request,
    user: Reader,
    q: Annotated[str, Query(max_length=200)] = "",
    # A plain string: the form's "any state" option sends an empty value.
    state: Annotated[str, Query(max_length=20)] = "",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    ctx: LedgerContext = request.app.state.ledger
    ctx.require_initialised()
    chosen = state if state in STATES else None
    result = await run_in_threadpool(_search, ctx, q, chosen, offset)
    if "redirect" in result:
        return RedirectResponse(result["redirect"], status_code=303)
    return await render(
        request,
        "connectors.html",
        rows=result["rows"],
        more=result["more"],
        q=q,
        state=chosen,
        states=STATES,
        offset=offset,
        page=PAGE,
        connector_path=connector_path,
    )


def _detail(ctx: LedgerContext, subject: str) -> dict[str, Any]:
    detail = custody_views.connector_detail(ctx, subject)
    checkpoint = detail["verified_against"]
    proof = None
    history = detail["history"]
    if history and checkpoint.get("size"):
        # The newest entry's inclusion proof: anyone can recompute the checkpoint's root from it.
        proof = ctx.store.inclusion_proof(history[-1]["index"], checkpoint["size"])
    return {"detail": detail, "proof": proof}


@router.get("/connectors/{subject}")
async def connector(
    request: Request,
    user: Reader,
    subject: Annotated[str, Path(min_length=3, max_length=130, pattern=CONNECTOR_PATTERN)],
) -> Response:
    ctx: LedgerContext = request.app.state.ledger
    ctx.require_initialised()
    data = await run_in_threadpool(_detail, ctx, subject)
    detail = data["detail"]
    return await render(
        request,
        "connector.html",
        c=detail,
        history=list(reversed(detail["history"])),
        proof=data["proof"],
        checkpoint=detail["verified_against"],
        auditor=user.has_any(AUDITORS),
        connector_path=connector_path,
    )
