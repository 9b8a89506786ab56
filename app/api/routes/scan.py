"""Scanning: what the raw input of a keyboard-wedge scanner or a QR payload identifies.

Roles: custody readers (the people at goods-in, storage, goods-out and on
site). Practice tokens are refused (403), as for every custody read.

Any text is a valid question: unknown or garbage input is a 200 with
``kind: "unknown"``. An empty input or one over 2048 characters is a 422;
a body over the service's limit is a 413. A scanned seal label is also
checked against the published label key (``label``): a forged, altered or
truncated label says so, with the reason.
"""

from __future__ import annotations

from fastapi import APIRouter

from app.api.schemas import ScanIn, ScanOut
from app.api.security import CustodyReader, Ledger
from app.services.labels import verify_scan
from app.services.scan import lookup
from labels.payload import looks_like_label
from ledger.custody.scan import candidates

router = APIRouter(prefix="/scan", tags=["scan"])


@router.post("", response_model=ScanOut, summary="Identify a scanned seal or connector")
def scan(ctx: Ledger, caller: CustodyReader, body: ScanIn) -> ScanOut:
    """Normalise the input (tolerant of Y/Z swaps and punctuation garbled by a mismatched keyboard
    layout; a seal id is repaired only when its check character confirms it), then say what it
    identifies, its state, and the statement kinds that may come next."""
    ctx.require_initialised()
    found = lookup(ctx, body.input).as_dict()
    if any(looks_like_label(reading) for reading in candidates(body.input)):
        # A label's signature is what makes it trustworthy: a forged or altered
        # label is answered (200, it is a valid question) with label.ok false.
        verdict = verify_scan(ctx, body.input)
        found["label"] = {k: verdict.as_dict()[k] for k in ("verdict", "ok", "reason", "code")}
    return ScanOut.model_validate(found)
