"""``custody`` — the command-line interface. Thin: parse, call a service, print.

See :mod:`app.cli.common` for the exit codes; they are a stable interface.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click
import typer
from sqlalchemy.exc import SQLAlchemyError

from app.cli.common import EXIT_CODES_HELP, EXIT_ENVIRONMENT, EXIT_INPUT, EXIT_INTERNAL, exit_code_for
from ledger.errors import LedgerError

# typer ≥ 0.20 raises its own vendored copies of click's exceptions (typer.Exit,
# typer.Abort, typer._click…ClickException), not click's classes: catch both.
_CLICK_EXCEPTION: Any = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
_EXIT_ERRORS = (click.exceptions.Exit, typer.Exit)
_ABORT_ERRORS = (click.exceptions.Abort, typer.Abort)
_USAGE_ERRORS = (click.ClickException, _CLICK_EXCEPTION)

_HELP = (
    "Konnektor Custody Ledger: a tamper-evident chain-of-custody log for TI connectors.\n\n" + EXIT_CODES_HELP
)


def _group(attribute: str, name: str) -> Callable[[Any, typer.Typer], None]:
    def register(module: Any, cli: typer.Typer) -> None:
        cli.add_typer(getattr(module, attribute), name=name)

    return register


def _own(module: Any, cli: typer.Typer) -> None:
    module.register(cli)


#: Command modules in help order, each with how it adds itself to ``custody``.
REGISTRATIONS: dict[str, tuple[Callable[[Any, typer.Typer], None], ...]] = {
    "ledger_cmds": (_own,),
    "log": (_group("app", "log"),),
    "admin": (_group("party_app", "party"), _group("key_app", "key"), _group("role_app", "role")),
    "bench": (_group("app", "bench"),),
    "connector_cmds": (_group("app", "connector"),),
    "seal_cmds": (_group("app", "seal"),),
    "custody_cmds": (_own,),
    "handover_cmds": (_group("app", "handover"),),
    "incident_cmds": (_group("app", "incident"),),
    "practice_cmds": (_group("app", "practice"),),
    "fleet_cmds": (_group("app", "fleet"),),
    "report_cmds": (_group("app", "report"),),
    "user_cmds": (_group("app", "user"),),
    "enrolment_cmds": (_group("app", "enrolment"),),
    "demo_cmds": (_own,),
    "api_cmds": (_own,),
    "hsm_cmds": (_group("app", "hsm"),),
    "labels_cmds": (_own,),
    "export_cmds": (_own,),
    "witness_cmds": (_own,),
    "audit_cmds": (_own,),
}

#: Top-level command → the modules that define it (``log cosign`` comes from the witness
#: module). A process imports only these: every command module pulls in its services, and
#: importing all of them (PDF rendering, reports, the HTTP client …) would cost each short
#: command most of a second. tests/app/test_cli_startup.py checks this table against the
#: commands the full CLI has.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("init", "status", "verify"), ("ledger_cmds",)),
    "log": ("log", "witness_cmds"),
    **dict.fromkeys(("party", "key", "role"), ("admin",)),
    "bench": ("bench",),
    "connector": ("connector_cmds",),
    "seal": ("seal_cmds",),
    **dict.fromkeys(
        (
            "store",
            "ship",
            "receive",
            "install",
            "ti-register",
            "firmware",
            "lzv",
            "service-visit",
            "deregister",
            "remove",
            "return-ship",
            "decommission",
            "destroy",
            "lost",
            "stolen",
            "correct",
            "rebuild-projections",
        ),
        ("custody_cmds",),
    ),
    "handover": ("handover_cmds",),
    "incident": ("incident_cmds",),
    "practice": ("practice_cmds",),
    "fleet": ("fleet_cmds",),
    "report": ("report_cmds",),
    "user": ("user_cmds",),
    "enrolment": ("enrolment_cmds",),
    "demo": ("demo_cmds",),
    **dict.fromkeys(("serve", "token"), ("api_cmds",)),
    "hsm": ("hsm_cmds",),
    **dict.fromkeys(("labels", "scan"), ("labels_cmds",)),
    "export": ("export_cmds",),
    "witness": ("witness_cmds",),
    "audit": ("audit_cmds",),
}


def _root() -> None:
    pass


def build_cli(argv: Sequence[str] | None = None) -> typer.Typer:
    """The ``custody`` command, with only the modules ``argv``'s command needs (all for help)."""
    cli = typer.Typer(
        name="custody", help=_HELP, no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False
    )
    # A callback keeps ``custody`` a group even when only one command is registered (typer
    # would otherwise run a lone command without its name).
    cli.callback()(_root)
    command = next((arg for arg in argv or () if not arg.startswith("-")), None)
    modules = COMMAND_MODULES.get(command or "", tuple(REGISTRATIONS))
    for name in modules:
        module = importlib.import_module(f"app.cli.{name}")
        for register in REGISTRATIONS[name]:
            register(module, cli)
    return cli


def __getattr__(name: str) -> Any:
    # ``app.cli.cli``: the whole command tree, for tools that introspect it.
    if name == "cli":
        return build_cli()
    raise AttributeError(name)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``custody`` script: no traceback ever reaches the user."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = build_cli(args)(args=args, prog_name="custody", standalone_mode=False)
    except _EXIT_ERRORS as exc:
        code = exc.exit_code
    except _ABORT_ERRORS:
        print("error: aborted [cli.aborted]", file=sys.stderr)
        code = EXIT_INPUT
    except _USAGE_ERRORS as exc:
        exc.show()
        code = EXIT_INPUT
    except LedgerError as exc:
        print(f"error: {exc.message} [{exc.code}]", file=sys.stderr)
        code = exit_code_for(exc)
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", exc)).strip().splitlines()
        print(
            f"error: database failure: {first[0] if first else type(exc).__name__} [operational.database]",
            file=sys.stderr,
        )
        code = EXIT_ENVIRONMENT
    except KeyboardInterrupt:
        print("error: interrupted [cli.interrupted]", file=sys.stderr)
        code = 130
    except Exception as exc:
        print(f"error: internal error: {type(exc).__name__}: {exc} [internal]", file=sys.stderr)
        code = EXIT_INTERNAL
    sys.exit(code if isinstance(code, int) else 0)
