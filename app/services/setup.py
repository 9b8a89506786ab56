"""Creating a ledger (`custody init`) and describing one (`custody status`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.db import migrate, schema_revision
from app.keyfiles import log_key_passphrase, read_key_file, resolve_passphrase, write_key_file
from app.services.context import LedgerContext
from app.services.signing import signed_statement
from ledger.checkpoint import parse_checkpoint_unverified
from ledger.errors import LedgerExists
from ledger.ids import check_origin, party_subject
from ledger.keys import Algorithm, MessageSigner, SigningKey
from ledger.note import Ed25519NoteSigner
from ledger.trust import key_description


@dataclass(frozen=True)
class InitResult:
    created: bool
    origin: str
    vkey: str
    size: int
    #: The PEM file of the log key, or None when it is on an HSM token.
    log_key_file: Path | None
    admin: str
    admin_key_file: Path
    #: Where the log key is: the PEM file's path, or the key's PKCS#11 URI.
    log_key: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "origin": self.origin,
            "vkey": self.vkey,
            "size": self.size,
            "log_key": self.log_key,
            "log_key_file": None if self.log_key_file is None else str(self.log_key_file),
            "admin": self.admin,
            "admin_key_file": str(self.admin_key_file),
        }


def _load_or_create(
    ctx: LedgerContext, path: Path, passphrase: bytes, algorithm: Algorithm = Algorithm.ED25519
) -> SigningKey:
    # Reuse a key left by an interrupted init rather than orphaning it; the
    # passphrase must open it, which also proves the operator holds it.
    if path.exists():
        return read_key_file(path, passphrase)
    key = SigningKey.generate(algorithm, ctx.random_bytes(32))
    write_key_file(path, key, passphrase)
    return key


def init_ledger(ctx: LedgerContext, *, origin: str | None, admin_id: str, admin_name: str) -> InitResult:
    """Create or migrate the schema, the log key, the first admin and genesis; idempotent."""
    migrate(ctx.engine)
    store = ctx.store
    if store.size() > 0:
        state = store.trust_state()
        assert state.origin is not None
        assert state.log_vkey is not None
        if origin is not None and origin != state.origin:
            raise LedgerExists(f"this ledger was initialised with origin {state.origin!r}, not {origin!r}")
        genesis_admin = next(p for p in state.parties.values() if p.registered_at == 0)
        admin = genesis_admin.subject.partition(":")[2]
        return InitResult(
            False,
            state.origin,
            state.log_vkey,
            store.size(),
            _log_key_file(ctx),
            admin,
            ctx.actor_key_path(admin),
            ctx.log_key_location(),
        )
    origin = check_origin(origin or ctx.settings.origin)
    admin_subject = party_subject(admin_id)
    log_key: MessageSigner
    if ctx.settings.log_key_in_hsm:
        # The key must already be on the token (`custody hsm generate` or `import`): making
        # a key in an HSM is the operator's decision, not a side effect of init. Opening it
        # runs the self-test, so genesis never declares a key that cannot sign.
        log_key = ctx.load_log_key()
    else:
        log_passphrase = log_key_passphrase(ctx.settings, confirm=True)
        log_key = _load_or_create(ctx, ctx.settings.resolved_log_key_file(), log_passphrase)
    secret = ctx.settings.key_passphrase
    admin_passphrase = resolve_passphrase(
        secret.get_secret_value() if secret else None,
        f"key of {admin_id}",
        "CUSTODY_KEY_PASSPHRASE",
        confirm=True,
    )
    admin_key_file = ctx.actor_key_path(admin_id)
    admin_key = _load_or_create(ctx, admin_key_file, admin_passphrase)
    signer = Ed25519NoteSigner(origin, log_key)
    genesis = signed_statement(
        ctx,
        kind="ledger.genesis",
        subject=f"ledger:{origin}",
        by=admin_subject,
        data={
            "origin": origin,
            "log_vkey": signer.vkey(),
            "admin": admin_subject,
            "name": admin_name,
            "key": key_description(admin_key.public_key),
        },
        keys=[admin_key],
    )
    writer = ctx.store
    writer.signer = signer
    result = writer.append([genesis])
    return InitResult(
        True,
        origin,
        signer.vkey(),
        result.size,
        _log_key_file(ctx),
        admin_id,
        admin_key_file,
        ctx.log_key_location(),
    )


def _log_key_file(ctx: LedgerContext) -> Path | None:
    return None if ctx.settings.log_key_in_hsm else ctx.settings.resolved_log_key_file()


def ledger_status(ctx: LedgerContext) -> dict[str, Any]:
    """Size, origin, latest checkpoint and schema revision, as the CLI and API show them."""
    revision = schema_revision(ctx.engine)
    if revision is None:
        return {"initialised": False, "schema": None}
    store = ctx.store
    size = store.size()
    if size == 0:
        return {"initialised": False, "schema": revision}
    state = store.trust_state()
    latest = store.latest_checkpoint()
    checkpoint = None
    if latest is not None:
        parsed = parse_checkpoint_unverified(latest[1])
        checkpoint = {"size": parsed.size, "root": parsed.root.hex()}
    return {
        "initialised": True,
        "schema": revision,
        "origin": state.origin,
        "vkey": state.log_vkey,
        "size": size,
        "checkpoint": checkpoint,
        "parties": len(state.parties),
        "keys": sum(1 for k in state.keys.values() if k.revoked_at is None),
    }
