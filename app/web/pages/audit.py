"""The auditor's dashboard: the log, its checkpoint and cosignatures, verify-all, incidents,
quarantine, seal reconciliation, certificate expiries per month, exports and reports.

Auditors and administrators only. Everything is read through the services
the API and CLI use; verify-all runs as a background job
(:mod:`app.services.verify_jobs`) that every server process can answer polls about.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from app.api.problems import problem
from app.services import custody_views, fleet
from app.services.context import LedgerContext
from app.services.cosign import cosignature_lines, witness_listing
from app.services.reconciliation import reconcile_seals
from app.services.sessions import WebSession
from app.services.verify_jobs import KEEP, VerifyJobs
from app.web.charts import expiry_chart, month_range
from app.web.deps import check_csrf, require_page
from app.web.i18n import language_of, translate
from app.web.nav import NavItem
from app.web.pages.connectors import connector_path
from app.web.render import render
from ledger.checkpoint import parse_checkpoint_unverified

router = APIRouter()
AUDITORS = frozenset({"auditor", "admin"})
NAV = (NavItem("/audit", "nav.audit", AUDITORS, "nav.audit.hint", order=30),)
Auditor = Annotated[WebSession, Depends(require_page(AUDITORS))]
#: The expiry chart: this month and the next three years.
CHART_MONTHS = 36
WATCHED_STATES = ("SUSPECT", "QUARANTINED", "LOST")


def _jobs(request: Request) -> VerifyJobs:
    state = request.app.state
    if not hasattr(state, "verify_jobs"):
        state.verify_jobs = VerifyJobs(state.ledger)
    jobs: VerifyJobs = state.verify_jobs
    return jobs


def _dashboard(ctx: LedgerContext) -> dict[str, Any]:
    note = ctx.store.checkpoint()
    checkpoint = parse_checkpoint_unverified(note)
    now = ctx.clock()
    today = date(now.year, now.month, 1)
    expiring = fleet.expiring(ctx, timedelta(days=CHART_MONTHS * 31))
    months = month_range(today, CHART_MONTHS)
    counts = {m["month"]: m["count"] for m in expiring["months"]}
    overdue = sum(c for m, c in counts.items() if m < months[0])
    reconciliation = reconcile_seals(ctx)
    watched = [
        row for state in WATCHED_STATES for row in custody_views.list_connectors(ctx, state=state, limit=200)
    ]
    incidents = [
        i
        for status in ("OPEN", "QUARANTINED")
        for i in custody_views.list_incidents(ctx, status=status, limit=200)
    ]
    return {
        "size": ctx.store.size(),
        "checkpoint": {"origin": checkpoint.origin, "size": checkpoint.size, "root": checkpoint.root.hex()},
        "note": note,
        "cosignatures": cosignature_lines(ctx, checkpoint.size),
        "witnesses": witness_listing(ctx),
        "chart": (counts, months, months[0], overdue, expiring["total"]),
        "reconciliation": reconciliation.as_dict(),
        "discrepancy_counts": reconciliation.discrepancy_counts(),
        "watched": watched,
        "incidents": incidents,
    }


@router.get("/audit")
async def audit(
    request: Request, user: Auditor, job: Annotated[str | None, Query(max_length=40)] = None
) -> Response:
    ctx: LedgerContext = request.app.state.ledger
    ctx.require_initialised()
    data = await run_in_threadpool(_dashboard, ctx)
    counts, months, current, overdue, total = data.pop("chart")
    lang = language_of(request)
    chart = expiry_chart(counts, months, current, translate(lang, "audit.chart_title"))
    found = await run_in_threadpool(_jobs(request).get, job) if job else None
    return await render(
        request,
        "audit.html",
        chart=chart,
        overdue=overdue,
        expiring_total=total,
        job=found.as_dict(ctx.clock()) if found else None,
        connector_path=connector_path,
        **data,
    )


@router.post("/audit/verify")
async def start_verify(request: Request, user: Auditor) -> Response:
    await check_csrf(request, user)
    ctx: LedgerContext = request.app.state.ledger
    job = await run_in_threadpool(_jobs(request).start, user.party)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(job.as_dict(ctx.clock()), status_code=202)
    return RedirectResponse(f"/audit?job={job.job_id}#verify", status_code=303)


@router.get("/audit/verify/{job_id}")
async def verify_status(
    request: Request, user: Auditor, job_id: Annotated[str, Path(max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
) -> JSONResponse:
    job = await run_in_threadpool(_jobs(request).get, job_id)
    if job is None:
        # Polled by script: a problem, not an HTML page.
        detail = f"no verification job {job_id} (only the last {KEEP} are kept)"
        return problem(404, "web.job_not_found", "Not found", detail, request.url.path)
    return JSONResponse(job.as_dict(request.app.state.ledger.clock()))
