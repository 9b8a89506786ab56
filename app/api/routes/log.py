"""The transparency log: checkpoint, verifier key, entries, proofs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from app.api.schemas import ConsistencyProof, EntriesPage, InclusionProof
from app.api.security import CustodyReader, Ledger
from app.services.cosign import cosigned_checkpoint, witness_listing
from ledger.entry import Entry

router = APIRouter(prefix="/log", tags=["log"])
MAX_PAGE = 1000


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    responses={
        200: {
            "content": {"text/plain": {}},
            "description": "The signed checkpoint note as stored, plus every stored cosignature line.",
        }
    },
    summary="Signed checkpoint with cosignatures (public)",
)
def checkpoint(
    ctx: Ledger, size: Annotated[int | None, Query(ge=1, le=2**53 - 1)] = None
) -> PlainTextResponse:
    """The latest checkpoint, or the one issued at `size`: a C2SP signed note.

    Witness cosignatures (tlog-cosignature v1) the ledger collected for that size are appended
    as further signature lines; verifiers ignore lines from keys they do not trust.
    """
    ctx.require_initialised()
    return PlainTextResponse(cosigned_checkpoint(ctx, size), media_type="text/plain; charset=utf-8")


@router.get("/witnesses", summary="Witnesses asked to cosign checkpoints (public)")
def witnesses(ctx: Ledger) -> dict[str, Any]:
    """The witnesses this ledger asks to cosign (name, key id, vkey of type 0x04)."""
    return {"witnesses": witness_listing(ctx)}


@router.get(
    "/vkey",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}, "description": "`<name>+<hex8>+<base64>`"}},
    summary="Checkpoint verifier key (public)",
)
def vkey(ctx: Ledger) -> PlainTextResponse:
    ctx.require_initialised()
    genesis = Entry.parse(ctx.store.entry(0))
    return PlainTextResponse(
        str(genesis.statement.data["log_vkey"]) + "\n", media_type="text/plain; charset=utf-8"
    )


@router.get("/proof/inclusion", response_model=InclusionProof, summary="Inclusion proof (public)")
def inclusion(
    ctx: Ledger,
    index: Annotated[int, Query(ge=0, le=2**53 - 1)],
    size: Annotated[int | None, Query(ge=1, le=2**53 - 1)] = None,
) -> InclusionProof:
    ctx.require_initialised()
    return InclusionProof(**ctx.store.inclusion_proof(index, size))


@router.get("/proof/consistency", response_model=ConsistencyProof, summary="Consistency proof (public)")
def consistency(
    ctx: Ledger,
    old: Annotated[int, Query(ge=1, le=2**53 - 1)],
    new: Annotated[int | None, Query(ge=1, le=2**53 - 1)] = None,
) -> ConsistencyProof:
    ctx.require_initialised()
    return ConsistencyProof(**ctx.store.consistency_proof(old, new))


@router.get("/entries", response_model=EntriesPage, summary="Entries by range (token)")
def entries(
    ctx: Ledger,
    # Every entry of every party: what the custody views show, so the same readers.
    # A practice sees its own connectors through its receipts, not the whole log.
    caller: CustodyReader,
    start: Annotated[int, Query(ge=0, le=2**53 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> EntriesPage:
    """Entry bytes in index order, `limit` at a time; follow `next` to page on."""
    ctx.require_initialised()
    rows = [raw.decode("utf-8") for raw in ctx.store.entries(start, start + limit)]
    size = ctx.store.size()
    following = start + len(rows)
    return EntriesPage(start=start, entries=rows, next=following if following < size else None)
