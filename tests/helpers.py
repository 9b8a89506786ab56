"""Test helpers: a ledger with known passphrases, a stepping clock, parties with keys."""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr

from app.services.context import LedgerContext
from app.services.setup import init_ledger
from app.services.signing import signed_statement
from app.services.trust import add_key, register_party
from app.settings import Settings
from ledger.envelope import Envelope
from ledger.keys import Algorithm, SigningKey

LOG_PASSPHRASE = "test-log-passphrase"
KEY_PASSPHRASE = "test-key-passphrase"
ADMIN = "ADMIN-01"
ORIGIN = "test.custody.local/ledger"


class SteppingClock:
    """A clock that advances one second per reading: deterministic, strictly increasing."""

    def __init__(self, start: datetime | None = None, step: timedelta = timedelta(seconds=1)) -> None:
        self.now = start or datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)
        self.step = step

    def __call__(self) -> datetime:
        value = self.now
        self.now += self.step
        return value


def seeded_random(seed: int = 7):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    return lambda n: rng.randbytes(n)


@dataclass
class LedgerFixture:
    ctx: LedgerContext
    admin_key: SigningKey
    keys: dict[str, SigningKey] = field(default_factory=dict)
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def party(self, party_id: str, roles: list[str], algorithm: Algorithm = Algorithm.ED25519) -> SigningKey:
        """Register a party with roles and a fresh key; return the key."""
        key = SigningKey.generate(algorithm, os.urandom(64))
        register_party(self.ctx, self.admin_key, ADMIN, party_id, f"Test party {party_id}", roles)
        add_key(self.ctx, self.admin_key, ADMIN, party_id, key.public_key)
        self.keys[party_id] = key
        return key

    def statement(
        self,
        kind: str,
        subject: str,
        by: str,
        data: Mapping[str, object],
        keys: list[SigningKey] | None = None,
        place: str | None = None,
    ) -> Envelope:
        signers = keys if keys is not None else [self.keys[by]]
        return signed_statement(
            self.ctx, kind=kind, subject=subject, by=f"party:{by}", data=data, keys=signers, place=place
        )

    def register_envelope(self, party_id: str, by: str = ADMIN, key: SigningKey | None = None) -> Envelope:
        """A party.registered statement (the simplest statement of issue 2's kinds)."""
        return signed_statement(
            self.ctx,
            kind="party.registered",
            subject=f"party:{party_id}",
            by=f"party:{by}",
            data={"name": f"Party {party_id}"},
            keys=[key or (self.admin_key if by == ADMIN else self.keys[by])],
        )

    def append(self, *envelopes: Envelope):  # type: ignore[no-untyped-def]
        return self.ctx.writer().append(list(envelopes))


def settings_for(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db_url,
        key_dir=tmp_path / "keys",
        log_key_passphrase=SecretStr(LOG_PASSPHRASE),
        key_passphrase=SecretStr(KEY_PASSPHRASE),
        origin=ORIGIN,
    )


def new_ledger_fixture(db_url: str, tmp_path: Path) -> LedgerFixture:
    ctx = LedgerContext.open(settings_for(db_url, tmp_path), clock=SteppingClock())
    init_ledger(ctx, origin=ORIGIN, admin_id=ADMIN, admin_name="Test administration")
    return LedgerFixture(ctx, ctx.load_actor_key(ADMIN), {ADMIN: ctx.load_actor_key(ADMIN)})
