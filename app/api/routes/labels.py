"""Seal labels (PDF or ZPL), delivery notes (PDF) and the published label verifier key.

Printing labels needs the role admin, manufacturer or warehouse (the label
key signs each QR code); delivery notes are for custody readers; the label
vkey is public, like the log's, so that scanners can verify labels offline.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.api.security import CustodyReader, Ledger, require
from app.services import labels as service
from app.services.tokens import Principal
from labels.layouts import DEFAULT_LAYOUT, DEFAULT_ZPL_LAYOUT, LAYOUTS
from ledger.errors import NotFound

router = APIRouter(prefix="/labels", tags=["labels"])

LABEL_PRINTERS = frozenset({"admin", "manufacturer", "warehouse"})
LabelPrinter = Annotated[Principal, Depends(require(LABEL_PRINTERS))]
SealId = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}[0-9]{7}[0-9A-Z]$")]
PDF = {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}
ZPL = {"text/plain": {"schema": {"type": "string"}}}


class SealLabelsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seal_ids: list[SealId] = Field(
        default_factory=list,
        max_length=service.MAX_BATCH,
        description="Seals to print, in this order; empty: every ISSUED seal that has no label yet.",
    )
    layout: str | None = Field(
        default=None,
        max_length=40,
        description=(
            f"One of {', '.join(layout.name for layout in LAYOUTS)}; "
            f"default {DEFAULT_LAYOUT} (pdf) or {DEFAULT_ZPL_LAYOUT} (zpl)."
        ),
    )
    start: int = Field(default=1, ge=1, le=1000, description="First free position on a part-used sheet.")
    format: Literal["pdf", "zpl"] = "pdf"
    dpi: Literal[203, 300] = Field(default=203, description="ZPL printer resolution.")
    reprint: bool = Field(default=False, description="Print seals that already have a label again.")


@router.post(
    "/seals",
    response_class=Response,
    responses={
        200: {
            "content": {**PDF, **ZPL},
            "description": "The labels: `application/pdf`, or ZPL as `text/plain` for `format: zpl`. "
            "Headers `X-Label-Count` and `X-Print-Job`.",
        }
    },
    summary="Print seal labels (admin, manufacturer, warehouse)",
)
def seal_labels(ctx: Ledger, caller: LabelPrinter, body: SealLabelsIn) -> Response:
    """Render the labels and record that these seals got one. Unknown seals, seals that are not
    ISSUED or APPLIED, an empty batch, an unknown layout or a start position past the sheet are
    refused (400/404) and nothing is recorded; a seal that already has a label needs `reprint` (409)."""
    ctx.require_initialised()
    rendered = service.render_seal_labels(
        ctx,
        seal_ids=body.seal_ids,
        layout=body.layout,
        start=body.start,
        fmt=body.format,
        dpi=body.dpi,
        reprint=body.reprint,
    )
    job = service.record_prints(ctx, rendered)
    return Response(
        rendered.content,
        media_type=rendered.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="seal-labels-{job}.{rendered.format}"',
            "X-Label-Count": str(len(rendered.seal_ids)),
            "X-Print-Job": job,
        },
    )


@router.get(
    "/delivery-note/{shipment}",
    response_class=Response,
    responses={200: {"content": PDF, "description": "The delivery note (Lieferschein) as PDF."}},
    summary="Delivery note of a shipment (custody readers)",
)
def delivery_note(
    ctx: Ledger,
    caller: CustodyReader,
    shipment: Annotated[str, Path(min_length=1, max_length=80, description="Delivery note number.")],
) -> Response:
    ctx.require_initialised()
    rendered = service.render_delivery_note(ctx, shipment)
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in shipment)
    return Response(
        rendered.content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="lieferschein-{safe}.pdf"'},
    )


@router.get(
    "/vkey",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}, "description": "One label vkey a line."}},
    summary="Label verifier key(s) (public)",
)
def vkey(ctx: Ledger) -> PlainTextResponse:
    """The published label verifier keys (`<name>+<hex8>+<base64>`, one a line): a scanner checks a
    label's signature offline with these."""
    ctx.require_initialised()
    keys = service.published_vkeys(ctx)
    if not keys:
        raise NotFound("this ledger has no label key yet")
    return PlainTextResponse("".join(f"{k}\n" for k in keys), media_type="text/plain; charset=utf-8")
