"""Seal labels: choose seals, a layout and the first free position; download PDF or ZPL.

Same rules and bookkeeping as ``POST /api/v1/labels/seals`` and ``custody labels``
(:mod:`app.services.labels`): the labels are signed with the label key, and
each printed seal is recorded; a seal that has a label needs "reprint".
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from app.api.problems import status_of
from app.services import custody_views
from app.services import labels as service
from app.services.context import LedgerContext
from app.services.sessions import WebSession
from app.web.deps import CheckedForm, require_page
from app.web.nav import NavItem
from app.web.render import render
from labels.layouts import DEFAULT_LAYOUT, LAYOUTS
from ledger.errors import InvalidInput, LedgerError

router = APIRouter()
LABEL_PRINTERS = frozenset({"admin", "manufacturer", "warehouse"})
NAV = (NavItem("/labels", "nav.labels", LABEL_PRINTERS, "nav.labels.hint", order=40),)
Printer = Annotated[WebSession, Depends(require_page(LABEL_PRINTERS))]
SHOWN = 300
SEAL_ID = re.compile(r"^[A-Z]{2}[0-9]{7}[0-9A-Z]$")


def _choices(ctx: LedgerContext) -> dict[str, Any]:
    """Issued seals first (they need their first label), then applied ones (a damaged label)."""
    seals = custody_views.list_seals(ctx, status="ISSUED", limit=SHOWN)
    seals += custody_views.list_seals(ctx, status="APPLIED", limit=SHOWN)
    printed = service._printed(ctx, [s["seal_id"] for s in seals])
    return {
        "seals": [{**s, "labelled": s["seal_id"] in printed} for s in seals],
        "unlabelled_count": len(service.unlabelled_seals(ctx, limit=service.MAX_BATCH)),
    }


async def _page(request: Request, status_code: int = 200, **extra: Any) -> Response:
    ctx: LedgerContext = request.app.state.ledger
    ctx.require_initialised()
    choices = await run_in_threadpool(_choices, ctx)
    values = {
        "layout": DEFAULT_LAYOUT,
        "start": 1,
        "format": "pdf",
        "dpi": 203,
        "chosen": [],
        "reprint": False,
    }
    values.update(extra.pop("values", {}))
    return await render(
        request, "labels.html", status_code=status_code, layouts=LAYOUTS, values=values, **choices, **extra
    )


@router.get("/labels")
async def labels_form(request: Request, user: Printer) -> Response:
    return await _page(request)


def _request_of(form: FormData) -> dict[str, Any]:
    typed = re.split(r"[\s,;]+", str(form.get("more_seals") or "").strip().upper())
    chosen = [str(v) for v in form.getlist("seal")] + [s for s in typed if s]
    bad = [s for s in chosen if not SEAL_ID.match(s)]
    if bad:
        raise InvalidInput(f"not a seal id: {', '.join(bad[:5])}")
    try:
        start = int(str(form.get("start") or "1"))
        dpi = int(str(form.get("dpi") or "203"))
    except ValueError:
        raise InvalidInput("start position and resolution are numbers") from None
    return {
        "chosen": list(dict.fromkeys(chosen)),
        "layout": str(form.get("layout") or "") or None,
        "start": start,
        "format": str(form.get("format") or "pdf"),
        "dpi": dpi,
        "reprint": form.get("reprint") == "on",
    }


def _print(ctx: LedgerContext, wanted: dict[str, Any]) -> tuple[service.RenderedLabels, str]:
    rendered = service.render_seal_labels(
        ctx,
        seal_ids=wanted["chosen"],
        layout=wanted["layout"],
        start=wanted["start"],
        fmt=wanted["format"],
        dpi=wanted["dpi"],
        reprint=wanted["reprint"],
    )
    return rendered, service.record_prints(ctx, rendered)


@router.post("/labels")
async def print_labels(request: Request, user: Printer, form: CheckedForm) -> Response:
    ctx: LedgerContext = request.app.state.ledger
    wanted: dict[str, Any] = {}
    try:
        wanted = _request_of(form)
        if not wanted["chosen"]:
            raise InvalidInput("choose at least one seal")
        rendered, job = await run_in_threadpool(_print, ctx, wanted)
    except LedgerError as exc:
        status, _ = status_of(exc)
        if status >= 500:
            raise
        # Back to the form with what was chosen, and why it was refused.
        return await _page(request, status_code=status, error=exc.message, values=wanted)
    return Response(
        rendered.content,
        media_type=rendered.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="seal-labels-{job}.{rendered.format}"',
            "X-Label-Count": str(len(rendered.seal_ids)),
            "X-Print-Job": job,
        },
    )
