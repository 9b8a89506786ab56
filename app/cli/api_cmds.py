"""``custody serve`` and ``custody token …`` — the HTTP service and its API tokens."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from app.cli.common import DbOption, JsonOption, emit_json, existing_context
from app.services import tokens
from app.services.setup import ledger_status
from ledger.errors import InvalidInput
from ledger.kinds import ROLES

token_app = typer.Typer(
    help="API tokens for machines and scripts (stored only as SHA-256 + prefix).", no_args_is_help=True
)


def register(cli: typer.Typer) -> None:
    cli.command("serve")(serve)
    cli.add_typer(token_app, name="token")


def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes (share the database).")] = 1,
) -> None:
    """Run the HTTP API (and docs at /docs). Needs an initialised ledger and the log key passphrase."""
    ctx = existing_context(db)
    ctx.require_initialised()
    ctx.load_log_key()  # fail here, with one line, if the passphrase is wrong or missing
    import uvicorn

    # Workers are separate processes: they read the same settings from the environment.
    os.environ["CUSTODY_DATABASE_URL"] = ctx.settings.database_url
    if ctx.settings.key_dir is not None:
        os.environ["CUSTODY_KEY_DIR"] = str(ctx.settings.key_dir)
    typer.echo(f"serving {ledger_status(ctx)['origin']} on http://{host}:{port}/ (API docs: /docs)", err=True)
    uvicorn.run(
        "app.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="warning",
        proxy_headers=True,
        server_header=False,
    )


@token_app.command("create")
def create(
    party: Annotated[str, typer.Option(help="Party the token acts for.")],
    role: Annotated[
        list[str] | None, typer.Option("--role", help="Limit to these roles (default: all the party holds).")
    ] = None,
    label: Annotated[str, typer.Option(help="What the token is for (shown in lists).")] = "",
    expires_at: Annotated[
        str | None, typer.Option(help="RFC 3339 UTC expiry, e.g. 2027-01-01T00:00:00Z.")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Create a token; it is printed once and never stored in clear."""
    ctx = existing_context(db)
    ctx.require_initialised()
    token, info = tokens.create_token(ctx, party, roles=role, label=label, expires_at=expires_at)
    if json_out:
        emit_json({**info, "token": token})
    else:
        typer.echo(token)
        typer.echo(
            f"(token {info['token_id']} for {info['party']}, roles {', '.join(info['roles'])})", err=True
        )


@token_app.command("list")
def list_tokens(
    party: Annotated[str | None, typer.Option(help="Only this party's tokens.")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """List tokens (prefix, party, roles, state) — never the tokens themselves."""
    ctx = existing_context(db)
    ctx.require_initialised()
    rows = tokens.list_tokens(ctx, party)
    if json_out:
        emit_json(rows)
        return
    for row in rows:
        state = "revoked" if row["revoked_at"] else "active"
        typer.echo(
            f"{row['token_id']}  {row['prefix']}…  {row['party']:<26} "
            f"{','.join(row['roles']):<22} {state}  {row['label']}"
        )


@token_app.command("revoke")
def revoke(
    token_id: Annotated[str, typer.Argument(help="Token id (from `custody token list`).")],
    db: DbOption = None,
) -> None:
    """Revoke a token at once (other server processes notice within seconds)."""
    ctx = existing_context(db)
    ctx.require_initialised()
    tokens.revoke_token(ctx, token_id)
    typer.echo(f"revoked {token_id}")


@token_app.command("demo")
def demo(
    db: DbOption = None,
    url: Annotated[str, typer.Option(help="The service URL to print.")] = "http://127.0.0.1:8000",
    json_out: JsonOption = False,
) -> None:
    """DEMO LEDGERS ONLY: a fresh token per role (revoking earlier demo tokens), printed with the URL."""
    ctx = existing_context(db)
    ctx.require_initialised()
    for row in tokens.list_tokens(ctx):
        if row["label"].startswith("demo:") and not row["revoked_at"]:
            tokens.revoke_token(ctx, row["token_id"])
    state = ctx.store.trust_state()
    issued = {}
    for role in ROLES:
        holder = next(
            (p.subject for p in sorted(state.parties.values(), key=lambda p: p.subject) if role in p.roles),
            None,
        )
        if holder is None:
            continue
        token, _ = tokens.create_token(ctx, holder, roles=[role], label=f"demo:{role}")
        issued[role] = {"party": holder, "token": token}
    if not issued:
        raise InvalidInput("no parties with roles: seed the demo first (`custody demo`)")
    if json_out:
        emit_json({"url": url, "tokens": issued})
        return
    typer.echo(f"Konnektor Custody Ledger at {url}/  (API docs: {url}/docs)")
    typer.echo("Demo API tokens (Authorization: Bearer <token>):")
    for role, item in issued.items():
        typer.echo(f"  {role:<13} {item['party']:<24} {item['token']}")
