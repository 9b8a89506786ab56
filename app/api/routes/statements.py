"""Submitting signed statements; the answer is an offline receipt."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.api.schemas import BatchIn, EnvelopeIn, Receipts
from app.api.security import Caller, Ledger
from app.services import idempotency
from app.services.receipts import receipts_for
from app.services.tokens import Forbidden, Principal
from ledger.envelope import Envelope
from ledger.errors import ReplayedStatement
from ledger.statement import Statement

router = APIRouter(prefix="/statements", tags=["statements"])
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="Retry safely: the same key with the same body returns the first response.",
    ),
]


def _envelopes(items: list[EnvelopeIn], principal: Principal) -> list[Envelope]:
    envelopes = [Envelope.from_json(item.model_dump()) for item in items]
    # The token decides who may submit: a party submits its own statements
    # (administrators may relay others'). The signatures decide who said it.
    # A party's own statements must also be of a kind the credential's roles may sign.
    for envelope in envelopes:
        statement = Statement.from_bytes(envelope.payload)
        if statement.by == principal.party:
            principal.require_role_for(statement.kind)
        elif "admin" not in principal.roles:
            raise Forbidden(
                f"{principal.party} may only submit its own statements (this one is by {statement.by})"
            )
    return envelopes


async def _submit(
    request: Request,
    response: Response,
    ctx: Any,
    principal: Principal,
    envelopes: list[Envelope],
    key: str | None,
) -> Receipts | Response:
    # A coroutine, so that a submission holds no thread while its group commits: the
    # appender thread does the database work. Only idempotency look-ups (a request
    # with an Idempotency-Key) read or write the database, in a worker thread.
    digest = None
    if key is not None:
        idempotency.check_key(key)
        digest = idempotency.request_digest(b"\n".join(e.payload for e in envelopes))
        stored = await run_in_threadpool(idempotency.recall, ctx, principal.party, key, digest)
        if stored is not None:
            response.status_code = stored[0]
            response.headers["Idempotent-Replayed"] = "true"
            return Receipts(**stored[1])
    try:
        result = await request.app.state.appender.submit_async(envelopes)
    except ReplayedStatement:
        if key is not None and digest is not None:
            stored = await run_in_threadpool(idempotency.recall, ctx, principal.party, key, digest)
            if stored is not None:  # a concurrent retry of the same request won the race
                response.status_code = stored[0]
                response.headers["Idempotent-Replayed"] = "true"
                return Receipts(**stored[1])
        raise
    # The receipts' proofs come from the nodes the append kept: no database round trip.
    # The body is built here in the shape of `Receipts` (the declared response model) and
    # sent as is, without validating our own output a second time.
    body = {"receipts": receipts_for(ctx, result)}
    if key is not None and digest is not None:
        await run_in_threadpool(idempotency.remember, ctx, principal.party, key, digest, 201, body)
    return JSONResponse(body, status_code=201)


@router.post("", response_model=Receipts, status_code=201, summary="Append one signed statement")
async def submit_one(
    request: Request,
    response: Response,
    ctx: Ledger,
    caller: Caller,
    envelope: EnvelopeIn,
    key: IdempotencyKey = None,
) -> Receipts | Response:
    """Append one envelope. The receipt holds the entry, a signed checkpoint that already
    includes it and the inclusion proof — verifiable offline with the log's vkey."""
    return await _submit(request, response, ctx, caller, _envelopes([envelope], caller), key)


@router.post("/batch", response_model=Receipts, status_code=201, summary="Append a batch, all or nothing")
async def submit_batch(
    request: Request,
    response: Response,
    ctx: Ledger,
    caller: Caller,
    batch: BatchIn,
    key: IdempotencyKey = None,
) -> Receipts | Response:
    """Append every envelope or none: the first refusal rejects the batch and names its `position`."""
    return await _submit(request, response, ctx, caller, _envelopes(batch.envelopes, caller), key)
