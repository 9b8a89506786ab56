"""What a use case needs: settings, the database, the log store, a clock, randomness."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from app.db import head_revision, make_engine, schema_revision
from app.errors import LedgerNotInitialised, LogKeyMismatch
from app.keyfiles import log_key_passphrase, read_key_file, resolve_passphrase
from app.logstore import LogStore
from app.settings import Settings
from ledger.keys import MessageSigner, PublicKey, SigningKey
from ledger.note import SIG_ED25519, Ed25519NoteSigner, format_vkey, parse_vkey


def utc_now() -> datetime:
    return datetime.now(UTC)


def require_log_key(origin: str, log_vkey: str | None, public_key: PublicKey, where: str) -> None:
    """Refuse a log key other than the one genesis declares: its checkpoints would not verify
    under the published vkey, and they would be in the append-only log for good."""
    if log_vkey is None:
        return
    declared = parse_vkey(log_vkey)
    if declared.name != origin or declared.public_key != public_key.raw_ed25519:
        configured = format_vkey(origin, SIG_ED25519, public_key.raw_ed25519)
        raise LogKeyMismatch(
            f"the log key {where} is not this ledger's log key: it has vkey {configured}, "
            f"genesis declares {log_vkey}"
        )


@dataclass
class LedgerContext:
    settings: Settings
    engine: Engine
    clock: Callable[[], datetime] = utc_now
    random_bytes: Callable[[int], bytes] = os.urandom
    _store: LogStore | None = field(default=None, repr=False)
    _signer_loaded: bool = field(default=False, repr=False)
    _initialised: bool = field(default=False, repr=False)

    @classmethod
    def open(cls, settings: Settings, **kwargs: object) -> LedgerContext:
        return cls(settings, make_engine(settings.database_url), **kwargs)  # type: ignore[arg-type]

    @property
    def store(self) -> LogStore:
        """The log store for reads; see :meth:`writer` for appends."""
        if self._store is None:
            from app.projections import CustodyProjection

            self._store = LogStore(self.engine, projections=[CustodyProjection()], clock=self.clock)
        return self._store

    def require_initialised(self) -> None:
        # Once initialised at this version's schema, a ledger stays so (its log only grows,
        # and migrations only move forward): remember it, so that a request does not pay
        # two database round trips to ask again.
        if self._initialised:
            return
        revision = schema_revision(self.engine)
        if revision is None or self.store.size() == 0:
            raise LedgerNotInitialised("the ledger is not initialised: run `custody init` first")
        if revision != head_revision():
            raise LedgerNotInitialised(
                f"the ledger schema is at {revision}, this version needs {head_revision()}: "
                "run `custody init` to migrate it"
            )
        self._initialised = True

    def writer(self) -> LogStore:
        """The log store with the checkpoint key loaded (needed to append)."""
        store = self.store
        if not self._signer_loaded:
            self.require_initialised()
            state = self.store.trust_state()
            origin = state.origin
            assert origin is not None
            key = self.load_log_key()
            require_log_key(origin, state.log_vkey, key.public_key, self.log_key_location())
            store.signer = Ed25519NoteSigner(origin, key)
            self._signer_loaded = True
        return store

    def log_key_location(self) -> str:
        """Where the log key is, for messages: its PEM file or its PKCS#11 URI."""
        settings = self.settings
        if settings.log_key_in_hsm:
            from app.hsm import pkcs11_uri

            return pkcs11_uri(settings.hsm_token_label or "", settings.hsm_key_label)
        return str(settings.resolved_log_key_file())

    def load_log_key(self) -> MessageSigner:
        """The checkpoint key: on the HSM token when one is configured, else the PEM file."""
        if self.settings.log_key_in_hsm:
            # Imported here: a process that never signs never loads the PKCS#11 module.
            from app.hsm import open_log_key

            return open_log_key(self.settings)
        return read_key_file(self.settings.resolved_log_key_file(), log_key_passphrase(self.settings))

    def actor_key_path(self, party_id: str, explicit: Path | None = None) -> Path:
        return explicit or self.settings.resolved_key_dir() / f"{party_id}.pem"

    def load_actor_key(self, party_id: str, explicit: Path | None = None) -> SigningKey:
        secret = self.settings.key_passphrase
        passphrase = resolve_passphrase(
            secret.get_secret_value() if secret else None, f"key of {party_id}", "CUSTODY_KEY_PASSPHRASE"
        )
        return read_key_file(self.actor_key_path(party_id, explicit), passphrase)
