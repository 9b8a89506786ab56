"""API fixtures: a demo ledger served by the real app, with a token per role.

The demo ledger (``build_demo``, 20 connectors, seed 1) is built once per
session into an SQLite file; every test gets its own copy of the file and
the key directory, so tests may append freely. The app runs in-process
through ``TestClient`` (lifespan included: the log key is opened and the
group appender started), on a context whose clock starts after the demo's
last event and steps one second per reading.

Clients sign client-side, as browsers and the CLI do: :meth:`Api.sign`
builds a statement and signs it with a party's key read from the demo's
encrypted key files; the server never sees a private key.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from app import queries
from app.api.app import create_app
from app.keyfiles import read_key_file
from app.services.context import LedgerContext
from app.services.demo import build_demo
from app.services.tokens import create_token
from app.settings import Settings
from ledger.envelope import Envelope, sign_envelope
from ledger.keys import SigningKey
from ledger.note import parse_vkey
from ledger.receipt import verify_receipt
from ledger.statement import NONCE_BYTES, new_statement
from tests.helpers import KEY_PASSPHRASE, SteppingClock, settings_for

N = 20
PREFIX = "/api/v1"
#: After the demo's last event (2026-11): the app's clock starts here.
CLOCK_START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
PROBLEM = "application/problem+json"

ADMIN = "ADMIN-01"
MFR = "MFR-01"
WH = "WH-ESSEN-01"
WH2 = "WH-KASSEL-01"
CARRIER = "CR-SECURA-01"
TECH = "TECH-01"
TECH2 = "TECH-02"
PRACTICE = "PX-001"
AUDITOR = "AUDIT-01"
#: Token name → (party, roles). One token per role, plus a few more parties.
TOKENS: dict[str, tuple[str, list[str]]] = {
    "admin": (ADMIN, ["admin"]),
    "manufacturer": (MFR, ["manufacturer"]),
    "warehouse": (WH, ["warehouse"]),
    "warehouse2": (WH2, ["warehouse"]),
    "carrier": (CARRIER, ["carrier"]),
    "technician": (TECH, ["technician"]),
    "technician2": (TECH2, ["technician"]),
    "practice": (PRACTICE, ["practice"]),
    "auditor": (AUDITOR, ["auditor"]),
}


@dataclass
class Api:
    """The running app, its ledger, a token per role, and client-side signing."""

    client: TestClient
    ctx: LedgerContext
    tokens: dict[str, str]
    _keys: dict[str, SigningKey] = field(default_factory=dict)

    # HTTP ---------------------------------------------------------------------

    def headers(self, as_: str | None) -> dict[str, str]:
        return {} if as_ is None else {"Authorization": f"Bearer {self.tokens[as_]}"}

    def get(self, path: str, as_: str | None = "admin", **params: Any) -> Response:
        response: Response = self.client.get(PREFIX + path, params=params, headers=self.headers(as_))
        return response

    def post(self, path: str, body: Any, as_: str | None = "admin") -> Response:
        response: Response = self.client.post(PREFIX + path, json=body, headers=self.headers(as_))
        return response

    def ok(self, response: Response, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/json")
        return response.json()

    # Keys and signing (client side) ---------------------------------------------

    def key(self, party_id: str) -> SigningKey:
        if party_id not in self._keys:
            path = self.ctx.actor_key_path(party_id)
            self._keys[party_id] = read_key_file(path, KEY_PASSPHRASE.encode())
        return self._keys[party_id]

    def now(self) -> datetime:
        clock = self.ctx.clock
        assert isinstance(clock, SteppingClock)
        return clock.now

    def statement_envelope(
        self,
        kind: str,
        subject: str,
        by: str,
        data: dict[str, Any],
        keys: Sequence[SigningKey] | None = None,
        place: str | None = None,
    ) -> Envelope:
        statement = new_statement(
            kind=kind,
            subject=subject,
            by=f"party:{by}",
            data=data,
            at=self.now(),
            nonce=os.urandom(NONCE_BYTES),
            place=place,
        )
        return sign_envelope(statement.to_bytes(), keys if keys is not None else [self.key(by)])

    def sign(
        self,
        kind: str,
        subject: str,
        by: str,
        data: dict[str, Any],
        keys: Sequence[SigningKey] | None = None,
        place: str | None = None,
    ) -> dict[str, Any]:
        """A statement signed by ``by`` (or ``keys``), as the JSON a client submits."""
        return self.statement_envelope(kind, subject, by, data, keys, place).to_json()

    # Receipts -------------------------------------------------------------------

    def verify_receipts(self, receipts: list[dict[str, Any]]) -> list[int]:
        """Verify every receipt offline against GET /log/vkey (public); return the indices."""
        vkey = self.client.get(PREFIX + "/log/vkey")
        assert vkey.status_code == 200
        verifier = parse_vkey(vkey.text.strip())
        return [verify_receipt(r, verifier).index for r in receipts]

    # Ledger lookups for test setup ----------------------------------------------

    def connectors(self, **filters: Any) -> list[dict[str, Any]]:
        return queries.connectors(self.ctx.engine, **filters)

    def connector(self, state: str, custodian: str | None = None) -> str:
        rows = self.connectors(state=state, custodian=None if custodian is None else f"party:{custodian}")
        assert rows, f"the demo has no connector in {state} held by {custodian}"
        return str(rows[0]["subject"])

    def size(self) -> int:
        return self.ctx.store.size()


def assert_problem(response: Response, status: int, code: str, rule: str | None = None) -> dict[str, Any]:
    """An RFC 9457 problem with the stable ``code`` (and the rule id of a guard rule)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["type"] == f"urn:kcl:problem:{code}"
    if rule is not None:
        assert body.get("rule") == rule, body
    return dict(body)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo ledger built once: ``ledger.db`` and ``keys/`` in one directory."""
    base = tmp_path_factory.mktemp("api-demo")
    ctx = LedgerContext.open(settings_for(f"sqlite:///{base}/ledger.db", base))
    try:
        summary = build_demo(ctx, N, seed=1, verify_workers=1)
        assert summary.valid
    finally:
        ctx.engine.dispose()
    return base


def copy_ledger(template: Path, target: Path) -> Settings:
    """Copy the template's database (SQLite online backup: consistent with its WAL) and keys."""
    shutil.copytree(template / "keys", target / "keys")
    source = sqlite3.connect(template / "ledger.db")
    copy = sqlite3.connect(target / "ledger.db")
    try:
        source.backup(copy)
    finally:
        source.close()
        copy.close()
    return settings_for(f"sqlite:///{target}/ledger.db", target)


@contextmanager
def serve(settings: Settings) -> Iterator[Api]:
    """The app on ``settings``' ledger, running (lifespan included) until the block ends."""
    ctx = LedgerContext.open(settings, clock=SteppingClock(CLOCK_START))
    tokens = {name: create_token(ctx, party, roles=roles)[0] for name, (party, roles) in TOKENS.items()}
    try:
        with TestClient(create_app(settings, ctx)) as client:
            yield Api(client, ctx, tokens)
    finally:
        ctx.engine.dispose()


@pytest.fixture
def api(demo_template: Path, tmp_path: Path) -> Iterator[Api]:
    """The app on a private copy of the demo ledger."""
    with serve(copy_ledger(demo_template, tmp_path)) as running:
        yield running
