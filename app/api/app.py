"""The FastAPI application: `/api/v1`, problem errors, limits, the group appender."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI

from app import web
from app.api import docs_page, problems
from app.api.middleware import EdgeMiddleware, RateLimiter
from app.api.routes import (
    connectors,
    drafts,
    enrolments,
    export,
    fleet,
    handovers,
    incidents,
    labels,
    log,
    meta,
    parties,
    reports,
    scan,
    seals,
    statements,
)
from app.logging_setup import configure_logging
from app.services.appender import GroupAppender
from app.services.context import LedgerContext
from app.settings import Settings, load_settings

service_log = structlog.get_logger("custody.service")
ROUTE_MODULES = (
    meta,
    log,
    statements,
    connectors,
    seals,
    parties,
    incidents,
    fleet,
    scan,
    handovers,
    enrolments,
    labels,
    export,
    reports,
    drafts,
)
API_PREFIX = "/api/v1"
DESCRIPTION = """
Konnektor Custody Ledger — signed chain-of-custody statements for TI connectors in an RFC 6962
log with C2SP checkpoints.

**Public** (no token): `GET /api/v1/health`, `/log/checkpoint`, `/log/vkey`, `/log/witnesses`,
`/log/proof/inclusion`, `/log/proof/consistency`, `/labels/vkey`. Everything else needs
`Authorization: Bearer <API token>`; the token's roles gate reads and writes — a statement of the
token's own party must be of a kind one of the token's roles may sign (or countersign), and
administrators may relay other parties' statements — and every write is a statement signed by
keys the ledger authorises.

Errors are RFC 9457 `application/problem+json` with a stable `code`. Formats: `docs/format.md`.
"""


def create_app(settings: Settings | None = None, ctx: LedgerContext | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ledger = ctx or LedgerContext.open(settings)
        # Fail at start, not at the first write: the log key must open.
        writer = ledger.writer()
        app.state.ledger = ledger
        app.state.appender = GroupAppender(writer)
        if ctx is None:
            # A server process (uvicorn's factory): what is loaded by now — modules, the
            # app, the ledger's trust state — lives as long as the process. Taking it out
            # of the collector's reach keeps full collections short; otherwise each one
            # walks every object of FastAPI, SQLAlchemy and pydantic and stalls all
            # requests for 100-200 ms under load (docs/benchmarks.md, HTTP service).
            gc.collect()
            gc.freeze()
        service_log.info(
            "service_started", origin=writer.signer.name if writer.signer else None, log_size=writer.size()
        )
        try:
            yield
        finally:
            service_log.info("service_stopping")
            app.state.appender.stop()
            if ctx is None:
                ledger.engine.dispose()

    app = FastAPI(
        title="Konnektor Custody Ledger",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_url=f"{API_PREFIX}/openapi.json",
        # Our own /docs (app.api.docs_page): Swagger UI from /static, no CDN, no inline script.
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        responses={
            400: {"model": problems_model(), "description": "Bad request"},
            401: {"model": problems_model(), "description": "Missing or invalid token"},
            403: {"model": problems_model(), "description": "Forbidden"},
            404: {"model": problems_model(), "description": "Not found"},
            409: {"model": problems_model(), "description": "Conflict or guard rule"},
            413: {"model": problems_model(), "description": "Body too large"},
            422: {"model": problems_model(), "description": "Invalid request"},
            429: {"model": problems_model(), "description": "Rate limited"},
            503: {"model": problems_model(), "description": "Unavailable"},
        },
    )
    problems.install(app)
    _document_problems_as_problem_json(app)
    # Explicit, so that the API a build serves is what this list says (and a typo is an
    # ImportError at start, not a silently missing endpoint).
    for module in ROUTE_MODULES:
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(docs_page.router)
    web.install(app, settings)
    app.add_middleware(
        EdgeMiddleware,
        max_body=settings.api_max_body_bytes,
        limiter=RateLimiter(settings.api_rate_per_second, settings.api_rate_burst),
        hsts=settings.api_hsts,
    )
    return app


def problems_model() -> type:
    from app.api.schemas import Problem

    return Problem


def _document_problems_as_problem_json(app: FastAPI) -> None:
    """Describe every error response as `application/problem+json`, as it is served.

    FastAPI documents a response model under the route's media type (`application/json`, or
    `text/plain` for the checkpoint); clients, and schemathesis' content-type check, should
    see the media type they will actually receive.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    if status[:1] not in ("4", "5"):
                        continue
                    # Whatever the route's own response class (JSON, text, PDF), errors are
                    # problem documents.
                    content = response.get("content", {})
                    schemas = [media["schema"] for media in content.values() if "schema" in media]
                    if schemas:
                        response["content"] = {problems.PROBLEM_JSON: {"schema": schemas[0]}}
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
