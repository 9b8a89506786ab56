"""Structured logs: one JSON object per line on stdout (or readable lines for a console).

Two sources write to stdout: our own structlog loggers (access log, appender,
errors) and the standard-library loggers of uvicorn (start-up, shutdown,
exceptions it catches). Both go through the same processors and renderer,
so with ``CUSTODY_LOG_FORMAT=json`` every line is one JSON object with
``event``, ``level``, ``timestamp``, ``logger`` and ``pid`` (which worker
process wrote it) — ready for a log shipper.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog


def _add_pid(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event.setdefault("pid", os.getpid())
    return event


def _renderer(fmt: str) -> structlog.types.Processor:
    if fmt == "json":
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=False)


def _shared() -> list[structlog.types.Processor]:
    return [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_pid,
    ]


class _CurrentStdout:
    """``sys.stdout`` as it is when a line is written, not when logging was configured.

    Loggers are cached on first use; writing through this keeps them on the stream the
    process (or a test capturing its output) has at that moment.
    """

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def configure_logging(fmt: str = "json", level: int = logging.INFO) -> None:
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *_shared(),
            structlog.processors.format_exc_info,
            _renderer(fmt),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # One write per line (message and newline together), flushed: lines of
        # several threads — and of several worker processes sharing stdout — never mix.
        logger_factory=structlog.WriteLoggerFactory(file=_CurrentStdout()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )


def stdlib_formatter(fmt: str = "json") -> logging.Formatter:
    """A :mod:`logging` formatter that renders records like our own log lines."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *_shared()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _renderer(fmt),
        ],
    )


def uvicorn_log_config(fmt: str = "json", level: str = "info") -> dict[str, Any]:
    """``uvicorn.run(log_config=…)``: uvicorn's own messages as structured lines on stdout.

    Plain data only (names, not objects): uvicorn hands it to every worker process.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": {"()": "app.logging_setup.stdlib_formatter", "fmt": fmt}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "structured",
                "stream": "ext://sys.stdout",
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["stdout"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
            # The access log is ours (app.api.middleware): one line per request, with the party.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
