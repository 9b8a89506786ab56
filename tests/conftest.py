"""Shared fixtures: real SQLite files and a real PostgreSQL database per test.

PostgreSQL comes from CUSTODY_TEST_DATABASE_URL (an admin URL; each test gets
its own freshly created database, dropped afterwards). When it is not set
or unreachable the PostgreSQL tests skip with the reason — except under
CI=true, where a missing PostgreSQL fails them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from tests.helpers import LedgerFixture, new_ledger_fixture

PG_ENV = "CUSTODY_TEST_DATABASE_URL"


def _pg_admin_url() -> str | None:
    return os.environ.get(PG_ENV) or None


def _to_psycopg(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _pg_unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required under CI=true: {reason}")
    pytest.skip(f"PostgreSQL not available: {reason}")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a new, empty PostgreSQL database, dropped after the test."""
    admin_url = _pg_admin_url()
    if admin_url is None:
        _pg_unavailable(f"{PG_ENV} is not set")
    assert admin_url is not None
    name = f"kcl_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_to_psycopg(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        _pg_unavailable(str(exc.orig).strip().splitlines()[0])
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/ledger.db"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs once per storage backend (the contract suite)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/ledger.db"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def ledger(db_url: str, tmp_path: Path) -> Iterator[LedgerFixture]:
    """An initialised ledger on each backend, with an administrator ADMIN-01."""
    test_ledger = new_ledger_fixture(db_url, tmp_path)
    try:
        yield test_ledger
    finally:
        test_ledger.ctx.engine.dispose()


@pytest.fixture
def sqlite_ledger(sqlite_url: str, tmp_path: Path) -> Iterator[LedgerFixture]:
    test_ledger = new_ledger_fixture(sqlite_url, tmp_path)
    try:
        yield test_ledger
    finally:
        test_ledger.ctx.engine.dispose()
