"""Auditor toolkit: chain-of-custody and seal reconciliation reports (PDF), EPCIS 2.0 export.

Roles: auditor or admin tokens. The bodies are the same bytes the CLI
writes (``custody report …``, ``custody export --format epcis``): reports
are reproducible for a given checkpoint, the EPCIS document names the
checkpoint it was taken against.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from app.api.security import Ledger, require
from app.services import epcis, reports
from app.services.reconciliation import DEFAULT_ISSUED_DAYS, DEFAULT_REMOVED_DAYS
from app.services.tokens import Principal

router = APIRouter(tags=["reports"])

AUDITORS = frozenset({"auditor", "admin"})
Auditor = Annotated[Principal, Depends(require(AUDITORS))]

PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The report as a PDF document.",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}
EPCIS_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A GS1 EPCIS 2.0 `EPCISDocument` (JSON-LD), valid against the GS1 JSON schema.",
        "content": {"application/ld+json": {"schema": {"type": "object", "additionalProperties": True}}},
    }
}
Days = Annotated[int, Query(ge=0, le=3650)]


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@router.get(
    "/reports/connectors/{subject}",
    response_class=Response,
    responses=PDF_RESPONSE,
    summary="Chain-of-custody report of a connector (auditor, admin)",
)
def connector_report(
    ctx: Ledger,
    caller: Auditor,
    subject: Annotated[
        str,
        Path(
            min_length=3,
            max_length=130,
            description="`connector:VENDOR:SERIAL` or `VENDOR:SERIAL`.",
        ),
    ],
) -> Response:
    """Timeline, drawn custody timeline, seal history, certificate status, and the verification
    (checkpoint origin/size/root, per entry the leaf hash and a digest of its inclusion proof),
    with a QR code linking to the connector's page. Multi-page A4 landscape."""
    ctx.require_initialised()
    report, pdf = reports.custody_pdf(ctx, subject)
    name = f"custody-{report.vendor}-{report.serial}.pdf"
    return Response(pdf, media_type=reports.MEDIA_TYPE, headers=_attachment(name))


@router.get(
    "/reports/seals",
    response_class=Response,
    responses=PDF_RESPONSE,
    summary="Seal reconciliation report (auditor, admin)",
)
def seal_report(
    ctx: Ledger,
    caller: Auditor,
    removed_days: Days = DEFAULT_REMOVED_DAYS,
    issued_days: Days = DEFAULT_ISSUED_DAYS,
) -> Response:
    """Received vs issued vs applied vs removed/retained/destroyed/void/lost, stock per holder, and
    the open discrepancies (removed but not retained or destroyed after `removed_days`, lost, issued
    but not applied after `issued_days`, connectors with mismatched or broken seals, open
    seal-mismatch incidents)."""
    ctx.require_initialised()
    pdf = reports.seal_report_pdf(ctx, removed_days=removed_days, issued_days=issued_days)
    return Response(pdf, media_type=reports.MEDIA_TYPE, headers=_attachment("seal-reconciliation.pdf"))


@router.get(
    "/epcis",
    response_class=Response,
    responses=EPCIS_RESPONSE,
    summary="EPCIS 2.0 export (auditor, admin)",
)
def epcis_export(
    ctx: Ledger,
    caller: Auditor,
    connector: Annotated[
        str | None,
        Query(
            min_length=3,
            max_length=130,
            description="Only this connector's chain and its seals' events (default: every custody event).",
        ),
    ] = None,
) -> Response:
    """Custody events as a JSON-LD `EPCISDocument` with the CBV 2.0 mapping of each kind, event ids
    from the entries' leaf hashes, `kcl:` extension members, and corrections as `errorDeclaration`."""
    ctx.require_initialised()
    document = epcis.epcis_document(ctx, connector)
    return Response(epcis.document_bytes(document), media_type=epcis.MEDIA_TYPE)
