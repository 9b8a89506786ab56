"""Shared CLI plumbing: options, output, and the error → exit-code contract.

Exit codes (documented in README and ``custody --help``):

==  =====================================================================
0   success
1   verification failed, a guard rule or an authorisation check refused
2   usage error or bad input: unknown id, malformed value, wrong passphrase or
    HSM PIN, a conflict such as a replayed statement, a missing or unreadable ledger
3   the environment failed: database unreachable or locked, file not writable,
    HSM module not loadable or HSM failing
4   internal error (a bug: please report it with the command you ran)
==  =====================================================================

Errors are one line on stderr, ``error: <message> [<code>]``; never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from app.errors import IntegrityFailure, LedgerNotInitialised, OperationalError
from app.services.context import LedgerContext
from app.settings import load_settings, sqlite_path
from ledger.errors import (
    AuthorizationError,
    Conflict,
    InvalidInput,
    LedgerError,
    RuleViolation,
    VerificationError,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INPUT = 2
EXIT_ENVIRONMENT = 3
EXIT_INTERNAL = 4

EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 verification failed or a rule/authorisation refused; "
    "2 usage or input error; 3 environment failure (database, files); 4 internal error."
)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (sqlite:///FILE or postgresql://…); default $CUSTODY_DATABASE_URL or sqlite:///var/custody.db.",
        show_default=False,
    ),
]
KeyDirOption = Annotated[
    Path | None,
    typer.Option(
        "--key-dir",
        help="Directory of key files; default next to the SQLite file, else ./var/keys.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def exit_code_for(exc: LedgerError) -> int:
    if isinstance(exc, (VerificationError, RuleViolation, AuthorizationError, IntegrityFailure)):
        return EXIT_FAILED
    if isinstance(exc, OperationalError):
        return EXIT_ENVIRONMENT
    if isinstance(exc, (InvalidInput, Conflict)):
        return EXIT_INPUT
    return EXIT_FAILED


def fail(message: str, code: str, exit_code: int) -> None:
    typer.echo(f"error: {message} [{code}]", err=True)
    raise typer.Exit(exit_code)


def context(db: str | None, key_dir: Path | None = None) -> LedgerContext:
    settings = load_settings(database_url=db, key_dir=key_dir)
    return LedgerContext.open(settings)


def existing_context(db: str | None, key_dir: Path | None = None) -> LedgerContext:
    """Like :func:`context` for commands that need a ledger: a missing SQLite file
    is bad input (exit 2) and is not created as an empty database."""
    settings = load_settings(database_url=db, key_dir=key_dir)
    path = sqlite_path(settings.database_url)
    if path is not None and not path.exists():
        raise LedgerNotInitialised(f"no ledger at {path}: run `custody init` first")
    return LedgerContext.open(settings)


def emit_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=None, sort_keys=True, ensure_ascii=False))


P = ParamSpec("P")
R = TypeVar("R")


def handles_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn every expected error into one stderr line and its exit code."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except LedgerError as exc:
            typer.echo(f"error: {exc.message} [{exc.code}]", err=True)
            raise typer.Exit(exit_code_for(exc)) from None

    return wrapper


def stderr(message: str) -> None:
    print(message, file=sys.stderr)
