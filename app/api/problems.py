"""RFC 9457 problem details for every error, with the stable ``code`` of the error.

Mapping (first match wins): a request the caller must fix is 4xx, never
5xx; 5xx is reserved for the environment (503) and for bugs (500, logged
with a reference the client can quote, never with internals).
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.middleware import loggable_path
from app.errors import IntegrityFailure, LedgerNotInitialised, OperationalError
from app.services.tokens import Forbidden, TokenInvalid, TokenMissing
from ledger.errors import (
    AuthorizationError,
    Conflict,
    InvalidData,
    InvalidInput,
    LedgerError,
    NotFound,
    RuleViolation,
    UnknownKind,
    VerificationError,
)

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger("custody.api")

_STATUS: list[tuple[type[Exception], int, str]] = [
    (TokenMissing, 401, "Authentication required"),
    (TokenInvalid, 401, "Invalid API token"),
    (Forbidden, 403, "Forbidden"),
    (LedgerNotInitialised, 503, "Ledger not initialised"),
    (NotFound, 404, "Not found"),
    (UnknownKind, 422, "Unknown statement kind"),
    (InvalidData, 422, "Invalid statement data"),
    (InvalidInput, 400, "Bad request"),
    (AuthorizationError, 403, "Statement not authorised"),
    (RuleViolation, 409, "Refused by a guard rule"),
    (Conflict, 409, "Conflict"),
    (VerificationError, 422, "Verification failed"),
    (IntegrityFailure, 500, "Stored data is inconsistent"),
    (OperationalError, 503, "Service unavailable"),
]


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON


def problem(
    status: int, code: str, title: str, detail: str, instance: str | None = None, **extra: Any
) -> ProblemResponse:
    body: dict[str, Any] = {
        "type": f"urn:kcl:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance is not None:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {"Retry-After": "1"} if status == 503 else None
    return ProblemResponse(body, status_code=status, headers=headers)


def status_of(exc: Exception) -> tuple[int, str]:
    for cls, status, title in _STATUS:
        if isinstance(exc, cls):
            return status, title
    return 400, "Bad request"


def ledger_error_response(request: Request, exc: LedgerError) -> ProblemResponse:
    status, title = status_of(exc)
    extra: dict[str, Any] = {}
    if isinstance(exc, RuleViolation):
        extra["rule"] = exc.rule
    position = getattr(exc, "batch_position", None)
    if position is not None:
        extra["position"] = position
    headers_401 = status == 401
    response = problem(status, exc.code, title, exc.message, request.url.path, **extra)
    if headers_401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="custody"'
    if status >= 500:
        log.error("server_error", code=exc.code, path=loggable_path(request.url.path), detail=exc.message)
    return response


def install(app: FastAPI) -> None:
    @app.exception_handler(LedgerError)
    async def _ledger(request: Request, exc: LedgerError) -> ProblemResponse:
        return ledger_error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> ProblemResponse:
        errors = [
            {"location": [str(p) for p in e.get("loc", ())], "message": str(e.get("msg", ""))}
            for e in exc.errors()
        ][:20]
        return problem(
            422,
            "input.request",
            "Invalid request",
            "the request does not match the API schema",
            request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> ProblemResponse:
        codes = {
            400: "http.bad_request",  # e.g. a body that is not JSON (or not UTF-8) at all
            404: "http.not_found",
            405: "http.method_not_allowed",
            413: "http.too_large",
            415: "http.media_type",
        }
        code = codes.get(exc.status_code, f"http.{exc.status_code}")
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        response = problem(exc.status_code, code, detail, detail, request.url.path)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> ProblemResponse:
        reference = uuid.uuid4().hex[:12]
        log.exception("internal_error", reference=reference, path=loggable_path(request.url.path))
        return problem(
            500,
            "internal",
            "Internal error",
            f"an internal error occurred (reference {reference})",
            request.url.path,
        )
