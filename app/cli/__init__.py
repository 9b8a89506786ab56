"""``custody`` — the command-line interface. Thin: parse, call a service, print.

See :mod:`app.cli.common` for the exit codes; they are a stable interface.
"""

from __future__ import annotations

import sys
from typing import Any

import click
import typer
from sqlalchemy.exc import SQLAlchemyError

import app.cli.api_cmds as api_cmds
import app.cli.audit_cmds as audit_cmds
import app.cli.connector_cmds as connector_cmds
import app.cli.custody_cmds as custody_cmds
import app.cli.demo_cmds as demo_cmds
import app.cli.export_cmds as export_cmds
import app.cli.fleet_cmds as fleet_cmds
import app.cli.handover_cmds as handover_cmds
import app.cli.incident_cmds as incident_cmds
import app.cli.labels_cmds as labels_cmds
import app.cli.practice_cmds as practice_cmds
import app.cli.report_cmds as report_cmds
import app.cli.seal_cmds as seal_cmds
import app.cli.witness_cmds as witness_cmds
from app.cli import admin, bench, ledger_cmds, log
from app.cli.common import EXIT_CODES_HELP, EXIT_ENVIRONMENT, EXIT_INPUT, EXIT_INTERNAL, exit_code_for
from ledger.errors import LedgerError

# typer ≥ 0.20 raises its own vendored copies of click's exceptions (typer.Exit,
# typer.Abort, typer._click…ClickException), not click's classes: catch both.
_CLICK_EXCEPTION: Any = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
_EXIT_ERRORS = (click.exceptions.Exit, typer.Exit)
_ABORT_ERRORS = (click.exceptions.Abort, typer.Abort)
_USAGE_ERRORS = (click.ClickException, _CLICK_EXCEPTION)

cli = typer.Typer(
    name="custody",
    help="Konnektor Custody Ledger: a tamper-evident chain-of-custody log for TI connectors.\n\n"
    + EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
ledger_cmds.register(cli)
cli.add_typer(log.app, name="log")
cli.add_typer(admin.party_app, name="party")
cli.add_typer(admin.key_app, name="key")
cli.add_typer(admin.role_app, name="role")
cli.add_typer(bench.app, name="bench")
cli.add_typer(connector_cmds.app, name="connector")
cli.add_typer(seal_cmds.app, name="seal")
custody_cmds.register(cli)
cli.add_typer(handover_cmds.app, name="handover")
cli.add_typer(incident_cmds.app, name="incident")
cli.add_typer(practice_cmds.app, name="practice")
cli.add_typer(fleet_cmds.app, name="fleet")
cli.add_typer(report_cmds.app, name="report")
demo_cmds.register(cli)
api_cmds.register(cli)
labels_cmds.register(cli)
export_cmds.register(cli)
witness_cmds.register(cli)
audit_cmds.register(cli)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``custody`` script: no traceback ever reaches the user."""
    try:
        code = cli(args=argv, standalone_mode=False)
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
