"""``custody party|key|role …`` — administering who may sign what."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from app.cli.common import DbOption, JsonOption, KeyDirOption, emit_json, existing_context
from app.errors import KeyFileError
from app.keyfiles import resolve_passphrase, write_key_file
from app.logstore import AppendResult
from app.services import trust
from app.services.context import LedgerContext
from app.settings import load_settings
from ledger.errors import InvalidInput, NotFound
from ledger.ids import party_subject
from ledger.keys import Algorithm, PublicKey, SigningKey

party_app = typer.Typer(help="Register and list parties.", no_args_is_help=True)
key_app = typer.Typer(help="Create, register and revoke signing keys.", no_args_is_help=True)
role_app = typer.Typer(help="Grant and revoke roles.", no_args_is_help=True)

AsOption = Annotated[str, typer.Option("--as", help="Party id of the administrator who signs.")]
KeyFileOption = Annotated[
    Path | None,
    typer.Option("--key", help="Signer's key file (default: KEY_DIR/<party>.pem).", show_default=False),
]


def _require_parties(ctx: LedgerContext, admin_id: str, party_id: str | None = None) -> None:
    """Unknown ids are bad input (exit 2), refused before any key is opened or anything is signed."""
    parties = ctx.store.trust_state().parties
    for what, ident in (("administrator", admin_id), ("party", party_id)):
        if ident is not None and party_subject(ident) not in parties:
            raise NotFound(f"unknown {what} {ident}: no such party is registered")


def _report(result: AppendResult, json_out: bool) -> None:
    entry = result.entries[-1]
    if json_out:
        emit_json({"index": entry.index, "leaf_hash": entry.leaf_hash.hex(), "size": result.size})
    else:
        typer.echo(f"appended {entry.statement.kind} as entry {entry.index} (log size {result.size})")


@party_app.command("add")
def party_add(
    party_id: Annotated[str, typer.Argument(help="New party id, e.g. WH-ESSEN-01.")],
    name: Annotated[str, typer.Option(help="Organisation name or a pseudonymous label (no personal names).")],
    as_admin: AsOption,
    role: Annotated[
        list[str] | None, typer.Option("--role", help="Initial role; repeat for several.")
    ] = None,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Register a party (statement party.registered, signed by an administrator)."""
    ctx = existing_context(db, key_dir)
    ctx.require_initialised()
    _require_parties(ctx, as_admin)
    admin_key = ctx.load_actor_key(as_admin, key)
    _report(trust.register_party(ctx, admin_key, as_admin, party_id, name, role or []), json_out)


@party_app.command("list")
def party_list(db: DbOption = None, json_out: JsonOption = False) -> None:
    """List parties with their roles and active keys."""
    ctx = existing_context(db)
    ctx.require_initialised()
    state = ctx.store.trust_state()
    rows = []
    for party in sorted(state.parties.values(), key=lambda p: p.subject):
        keys = sorted(
            k.keyid for k in state.keys.values() if k.party == party.subject and k.revoked_at is None
        )
        rows.append({"party": party.subject, "name": party.name, "roles": sorted(party.roles), "keys": keys})
    if json_out:
        emit_json(rows)
        return
    for row in rows:
        typer.echo(
            f"{row['party']:<28} {','.join(row['roles']):<24} {len(row['keys'])} key(s)  {row['name']}"
        )


@key_app.command("new")
def key_new(
    party: Annotated[str, typer.Option(help="Party the key is for (names the file).")],
    algorithm: Annotated[Algorithm, typer.Option(help="Signature algorithm.")] = Algorithm.ED25519,
    out: Annotated[
        Path | None, typer.Option(help="Key file to create (default: KEY_DIR/<party>.pem).")
    ] = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Create an encrypted key file (0600) and its public key PEM; nothing is sent anywhere."""
    party_subject(party)
    settings = load_settings(key_dir=key_dir)
    path = out or settings.resolved_key_dir() / f"{party}.pem"
    if path.exists():
        # Refuse before write_key_file would, which leaves its <file>.tmp behind on this path.
        raise KeyFileError(f"{path} already exists; refusing to overwrite a key file")
    secret = settings.key_passphrase
    passphrase = resolve_passphrase(
        secret.get_secret_value() if secret else None,
        f"new key of {party}",
        "CUSTODY_KEY_PASSPHRASE",
        confirm=True,
    )
    key = SigningKey.generate(algorithm, os.urandom(64))
    write_key_file(path, key, passphrase)
    public_path = path.with_name(path.name.removesuffix(".pem") + ".pub.pem")
    try:
        public_path.write_bytes(key.public_key.to_pem())
    except OSError as exc:
        raise KeyFileError(f"cannot write public key file {public_path}: {exc.strerror}") from None
    if json_out:
        emit_json(
            {
                "key_file": str(path),
                "public_key_file": str(public_path),
                "keyid": key.keyid,
                "algorithm": key.algorithm.value,
            }
        )
    else:
        typer.echo(f"key file:   {path}\npublic key: {public_path}\nkeyid:      {key.keyid}")


@key_app.command("add")
def key_add(
    party: Annotated[str, typer.Option(help="Party the key belongs to.")],
    public: Annotated[Path, typer.Option(help="The party's public key (PEM).")],
    as_admin: AsOption,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Register a party's public key (statement key.added, signed by an administrator)."""
    try:
        public_key = PublicKey.from_pem(public.read_bytes())
    except OSError as exc:
        raise InvalidInput(f"cannot read {public}: {exc.strerror}") from None
    ctx = existing_context(db, key_dir)
    ctx.require_initialised()
    _require_parties(ctx, as_admin, party)
    admin_key = ctx.load_actor_key(as_admin, key)
    _report(trust.add_key(ctx, admin_key, as_admin, party, public_key), json_out)


@key_app.command("revoke")
def key_revoke(
    party: Annotated[str, typer.Option(help="Party the key belongs to.")],
    keyid: Annotated[str, typer.Option(help="Key id (64 hex digits).")],
    reason: Annotated[str, typer.Option(help="Why (lost device, compromise, staff left …).")],
    as_admin: AsOption,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Revoke a key from this index on (statement key.revoked)."""
    ctx = existing_context(db, key_dir)
    ctx.require_initialised()
    _require_parties(ctx, as_admin, party)
    admin_key = ctx.load_actor_key(as_admin, key)
    _report(trust.revoke_key(ctx, admin_key, as_admin, party, keyid, reason), json_out)


@role_app.command("grant")
def role_grant(
    party: Annotated[str, typer.Option(help="Party id.")],
    role: Annotated[str, typer.Option(help="Role to grant.")],
    as_admin: AsOption,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Grant a role (statement role.granted)."""
    ctx = existing_context(db, key_dir)
    ctx.require_initialised()
    _require_parties(ctx, as_admin, party)
    admin_key = ctx.load_actor_key(as_admin, key)
    _report(trust.grant_role(ctx, admin_key, as_admin, party, role), json_out)


@role_app.command("revoke")
def role_revoke(
    party: Annotated[str, typer.Option(help="Party id.")],
    role: Annotated[str, typer.Option(help="Role to revoke.")],
    as_admin: AsOption,
    key: KeyFileOption = None,
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Revoke a role (statement role.revoked)."""
    ctx = existing_context(db, key_dir)
    ctx.require_initialised()
    _require_parties(ctx, as_admin, party)
    admin_key = ctx.load_actor_key(as_admin, key)
    _report(trust.revoke_role(ctx, admin_key, as_admin, party, role), json_out)
