"""Export bundles over HTTP: the same zip `custody export` writes (docs/format.md §15).

Roles: auditor or admin tokens. The bundle is written to a temporary file
(complete before the first byte is sent, never half a bundle) and streamed;
the file is removed when the response is done.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from app.api.security import Ledger, require
from app.services.export import ExportResult, export_all, export_connectors
from app.services.tokens import Principal

router = APIRouter(prefix="/export", tags=["export"])

EXPORTERS = frozenset({"auditor", "admin"})
Exporter = Annotated[Principal, Depends(require(EXPORTERS))]
MEDIA_TYPE = "application/zip"
ZIP_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An export bundle: log.vkey, checkpoint, entries.jsonl (and proofs.jsonl if partial).",
        "content": {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
    }
}
Size = Annotated[
    int | None,
    Query(ge=1, le=2**53 - 1, description="Export at the checkpoint of this size (default: the latest)."),
]


def _send(result: ExportResult, workdir: tempfile.TemporaryDirectory[str], name: str) -> FileResponse:
    return FileResponse(
        result.path,
        media_type=MEDIA_TYPE,
        filename=name,
        headers={"X-Checkpoint-Size": str(result.checkpoint_size), "X-Bundle-Sha256": result.sha256},
        background=BackgroundTask(workdir.cleanup),
    )


def _workdir() -> tuple[tempfile.TemporaryDirectory[str], Path]:
    workdir = tempfile.TemporaryDirectory(prefix="custody-export-")
    return workdir, Path(workdir.name) / "bundle.zip"


@router.get(
    "", response_class=FileResponse, responses=ZIP_RESPONSE, summary="Partial bundle (auditor, admin)"
)
def export_connector(
    ctx: Ledger,
    caller: Exporter,
    connector: Annotated[
        list[str],
        Query(
            min_length=1,
            max_length=100,
            description="`VENDOR:SERIAL` or `connector:VENDOR:SERIAL`; repeat for several connectors.",
        ),
    ],
    size: Size = None,
) -> FileResponse:
    """The connectors' chains, their seals', genesis and the trust entries of every party involved,
    each with its inclusion proof against one checkpoint: verifiable offline with the vkey alone."""
    ctx.require_initialised()
    workdir, path = _workdir()
    try:
        result = export_connectors(ctx, connector, path, size=size)
    except BaseException:
        workdir.cleanup()
        raise
    name = "bundle-" + "-".join(s.partition(":")[2].replace(":", "_") for s in result.subjects[:3]) + ".zip"
    return _send(result, workdir, name)


@router.get(
    "/all", response_class=FileResponse, responses=ZIP_RESPONSE, summary="Full bundle (auditor, admin)"
)
def export_everything(ctx: Ledger, caller: Exporter, size: Size = None) -> FileResponse:
    """Every entry up to the checkpoint, streamed from the database into the zip."""
    ctx.require_initialised()
    workdir, path = _workdir()
    try:
        result = export_all(ctx, path, size=size)
    except BaseException:
        workdir.cleanup()
        raise
    return _send(result, workdir, f"bundle-all-{result.checkpoint_size}.zip")
