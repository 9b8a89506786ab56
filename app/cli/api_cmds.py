"""``custody serve`` and ``custody token …`` — the HTTP service and its API tokens."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from app.cli.common import DbOption, JsonOption, emit_json, existing_context
from app.keyfiles import log_key_passphrase, read_key_file
from app.logging_setup import uvicorn_log_config
from app.services import people, tokens
from app.services.context import require_log_key
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
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes (they share the database and its lock).")
    ] = 1,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Proxies whose X-Forwarded-For/-Proto are trusted (comma-separated, '*' = any); "
            "default $FORWARDED_ALLOW_IPS or 127.0.0.1,::1.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the HTTP API (and docs at /docs). Needs an initialised ledger and its log key (file or HSM).

    Logs go to stdout, one JSON object per line (CUSTODY_LOG_FORMAT=console for people).
    Ctrl-C (SIGINT) or SIGTERM stops it: requests in flight finish first.
    """
    ctx = existing_context(db)
    ctx.require_initialised()
    settings = ctx.settings
    state = ctx.store.trust_state()
    assert state.origin is not None
    origin = state.origin
    # Fail here, with one line, if the log key does not open or is not this ledger's
    # (a person at a terminal is asked once for the passphrase or PIN).
    worker_env = {
        "CUSTODY_DATABASE_URL": settings.database_url,
        "CUSTODY_KEY_DIR": str(settings.resolved_key_dir()),
    }
    if settings.log_key_in_hsm:
        from app import hsm

        config = hsm.config_from_settings(settings)
        # In a short-lived process: this one goes on to start the workers, and must not
        # hold an initialised PKCS#11 module then (app/hsm.py). Each worker opens its own.
        public_key = hsm.check_in_subprocess(config)
        worker_env.update(config.environment())
    else:
        passphrase = log_key_passphrase(settings)
        public_key = read_key_file(settings.resolved_log_key_file(), passphrase).public_key
        worker_env["CUSTODY_LOG_KEY_FILE"] = str(settings.resolved_log_key_file())
        worker_env["CUSTODY_LOG_KEY_PASSPHRASE"] = passphrase.decode("utf-8")
    require_log_key(origin, state.log_vkey, public_key, ctx.log_key_location())
    ctx.engine.dispose()
    import uvicorn

    # The app is built by each server process from the environment (uvicorn's factory):
    # hand it what the command line decided, including a passphrase or PIN typed at the prompt.
    os.environ.update(worker_env)
    shown = f"[{host}]" if ":" in host else host
    typer.echo(
        f"serving {origin} on http://{shown}:{port}/ with {workers} worker process"
        f"{'es' if workers > 1 else ''} (API docs: /docs; Ctrl-C stops)",
        err=True,
    )
    uvicorn.run(
        "app.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=uvicorn_log_config(settings.log_format),
        log_level="info",
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        server_header=False,
        timeout_graceful_shutdown=10,
        timeout_keep_alive=settings.api_keepalive_seconds,
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
    """DEMO LEDGERS ONLY: a fresh token per role (revoking earlier demo tokens) and a demo person per
    role for the web pages (login = the role, a fresh password), printed with the URL."""
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
    # One person per role for the web pages (login = the role), with a fresh password.
    demo_people = people.demo_people(ctx)
    if json_out:
        emit_json({"url": url, "tokens": issued, "people": demo_people})
        return
    typer.echo(f"Konnektor Custody Ledger at {url}/  (API docs: {url}/docs)")
    typer.echo("Demo API tokens (Authorization: Bearer <token>):")
    for role, item in issued.items():
        typer.echo(f"  {role:<13} {item['party']:<24} {item['token']}")
    typer.echo(f"Demo people for the web pages (sign in at {url}/login):")
    for person in demo_people:
        typer.echo(f"  {person['login']:<13} {person['party']:<24} password {person['password']}")
