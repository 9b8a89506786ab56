"""``custody user …`` — people who sign in to the web pages (not API tokens: see ``custody token``).

Errors are one line on stderr with the usual exit codes (``app.cli.common``):
2 for bad input (unknown party or login, a role the party does not hold, a
short password, an existing login), 3 when the database fails.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Annotated

import typer

from app.cli.common import DbOption, JsonOption, emit_json, existing_context
from app.services import people
from ledger.errors import InvalidInput

app = typer.Typer(
    help="People who sign in to the web pages: a login bound to a party and some of its roles.",
    no_args_is_help=True,
)

LoginArg = Annotated[str, typer.Argument(help="Login name (a–z, 0–9, '.', '_', '-').")]


def _password(from_stdin: bool, *, required: bool) -> str | None:
    """From stdin (one line, for scripts) or a prompt at a terminal; never from the command line,
    where it would end up in the shell history and the process list."""
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise InvalidInput("--password-stdin: no password on stdin")
        return line
    if not sys.stdin.isatty():
        if required:
            raise InvalidInput("no password: use --password-stdin, run at a terminal, or --no-password")
        return None
    import getpass

    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise InvalidInput("passwords do not match")
    return first


@app.command("add")
def add(
    login: LoginArg,
    party: Annotated[str, typer.Option(help="Party the person acts for, e.g. WH-ESSEN-01.")],
    role: Annotated[
        list[str] | None,
        typer.Option("--role", help="Limit to these roles of the party (default: all it holds)."),
    ] = None,
    name: Annotated[str, typer.Option(help="Display name (default: the login).")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
    ] = False,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="No password: the person signs in with one-time links only.")
    ] = False,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add a person; the password comes from --password-stdin or a prompt (never an argument)."""
    ctx = existing_context(db)
    ctx.require_initialised()
    password = None if no_password else _password(password_stdin, required=True)
    person = people.add_person(ctx, login, party, display_name=name, roles=role, password=password)
    if json_out:
        emit_json(person.as_dict())
        return
    typer.echo(f"added {person.login} for {person.party} with roles {', '.join(sorted(person.roles))}")


@app.command("passwd")
def passwd(
    login: LoginArg,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Set a person's password (from --password-stdin or a prompt); their sessions end."""
    ctx = existing_context(db)
    ctx.require_initialised()
    password = _password(password_stdin, required=True)
    assert password is not None
    people.set_password(ctx, login, password)
    typer.echo(f"password of {people.check_login(login)} set; their sessions and sign-in link are ended")


@app.command("list")
def list_people(
    party: Annotated[str | None, typer.Option(help="Only this party's people.")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """List people (login, name, party, roles, state) — never a password hash."""
    ctx = existing_context(db)
    ctx.require_initialised()
    rows = [p.as_dict() for p in people.list_people(ctx, party)]
    if json_out:
        emit_json(rows)
        return
    for row in rows:
        state = "disabled" if row["disabled"] else "active"
        typer.echo(
            f"{row['login']:<20} {row['party']:<26} {','.join(row['roles']):<22} {state:<8} "
            f"{row['display_name']}"
        )


@app.command("disable")
def disable(login: LoginArg, db: DbOption = None) -> None:
    """Disable a person: their sessions end at once, their links stop working."""
    ctx = existing_context(db)
    ctx.require_initialised()
    people.disable_person(ctx, login)
    typer.echo(f"disabled {people.check_login(login)}")


@app.command("enable")
def enable(login: LoginArg, db: DbOption = None) -> None:
    """Enable a disabled person again."""
    ctx = existing_context(db)
    ctx.require_initialised()
    people.enable_person(ctx, login)
    typer.echo(f"enabled {people.check_login(login)}")


@app.command("link")
def link(
    login: LoginArg,
    minutes: Annotated[int, typer.Option(min=1, max=7 * 24 * 60, help="How long the link is valid.")] = 30,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Print a one-time sign-in link (valid once, for --minutes; replaces an earlier link)."""
    ctx = existing_context(db)
    ctx.require_initialised()
    token, expires_at = people.create_link(ctx, login, timedelta(minutes=minutes))
    url = f"{ctx.settings.public_url.rstrip('/')}/login/link/{token}"
    if json_out:
        emit_json({"login": people.check_login(login), "url": url, "expires_at": expires_at})
        return
    typer.echo(url)
    typer.echo(f"(valid once, until {expires_at})", err=True)
