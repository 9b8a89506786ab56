"""The schema keeps entries, tree nodes and checkpoints append-only, on both engines.

Raw SQL through the engine — the way a bug or a careless operator would
reach the tables — must not change or remove a row; and the migrations
Alembic owns must build exactly the schema the models describe.
"""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

from app.db import alembic_config, make_engine, migrate, schema_revision
from app.services.setup import init_ledger
from app.services.verification import verify_ledger
from tests.app.storage_helpers import active_triggers, is_sqlite, stored_entry, table_rows
from tests.helpers import ADMIN, ORIGIN, LedgerFixture

FORGED_HASH = b"\xee" * 32

#: One statement per (table, operation); each matches at least one row, so a
#: row-level trigger really fires (PostgreSQL skips it for zero rows).
CHANGES: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("entries", "update"): ("UPDATE entries SET kind = 'x.tampered' WHERE idx = 1", {}),
    ("entries", "update-raw"): (
        "UPDATE entries SET raw = :h, leaf_hash = :h WHERE idx = 2",
        {"h": FORGED_HASH},
    ),
    ("entries", "delete"): ("DELETE FROM entries WHERE idx = (SELECT max(idx) FROM entries)", {}),
    ("entries", "delete-all"): ("DELETE FROM entries", {}),
    ("tree_nodes", "update"): (
        "UPDATE tree_nodes SET hash = :h WHERE level = 0 AND idx = 1",
        {"h": FORGED_HASH},
    ),
    ("tree_nodes", "delete"): ("DELETE FROM tree_nodes WHERE level = 0", {}),
    ("tree_nodes", "delete-all"): ("DELETE FROM tree_nodes", {}),
    ("checkpoints", "update"): ("UPDATE checkpoints SET note = 'forged' WHERE size = 1", {}),
    ("checkpoints", "update-root"): ("UPDATE checkpoints SET root = :h", {"h": FORGED_HASH}),
    ("checkpoints", "delete"): (
        "DELETE FROM checkpoints WHERE size = (SELECT max(size) FROM checkpoints)",
        {},
    ),
    ("checkpoints", "delete-all"): ("DELETE FROM checkpoints", {}),
}


@pytest.fixture
def small(ledger: LedgerFixture) -> LedgerFixture:
    ledger.party("WH-01", ["warehouse"])
    ledger.append(ledger.register_envelope("P-01"), ledger.register_envelope("P-02"))
    return ledger


def _rejected(ledger: LedgerFixture, sql: str, params: dict[str, Any]) -> DBAPIError:
    with pytest.raises(DBAPIError) as excinfo, ledger.ctx.engine.begin() as conn:
        conn.execute(text(sql), params)
    return excinfo.value


def _unchanged_and_valid(ledger: LedgerFixture, before: dict[str, list[tuple[Any, ...]]]) -> None:
    assert table_rows(ledger.ctx.engine) == before
    report = verify_ledger(ledger.ctx, workers=1)
    assert report.valid, report.findings
    # The triggers did not get in the way of a legitimate append.
    result = ledger.append(ledger.register_envelope("AFTER"))
    assert result.size == len(before["entries"]) + 1


@pytest.mark.parametrize(("table", "operation"), list(CHANGES), ids=[f"{t}-{o}" for t, o in CHANGES])
def test_update_and_delete_are_rejected(small: LedgerFixture, table: str, operation: str) -> None:
    before = table_rows(small.ctx.engine)
    sql, params = CHANGES[(table, operation)]
    error = _rejected(small, sql, params)
    assert f"{table} is append-only" in str(error.orig)
    _unchanged_and_valid(small, before)


@pytest.mark.parametrize("table", ["entries", "tree_nodes", "checkpoints"])
def test_truncate_is_rejected(small: LedgerFixture, table: str) -> None:
    """TRUNCATE on PostgreSQL; SQLite has none, its equivalent is the unqualified DELETE."""
    before = table_rows(small.ctx.engine)
    sql = f"DELETE FROM {table}" if is_sqlite(small.ctx.engine) else f"TRUNCATE {table}"
    error = _rejected(small, sql, {})
    assert f"{table} is append-only" in str(error.orig)
    if not is_sqlite(small.ctx.engine):
        with pytest.raises(DBAPIError, match="append-only"), small.ctx.engine.begin() as conn:
            conn.execute(text("TRUNCATE entries, tree_nodes, checkpoints CASCADE"))
    _unchanged_and_valid(small, before)


def _overwrites(ledger: LedgerFixture, table: str) -> list[tuple[str, dict[str, Any]]]:
    """Statements that would replace an existing row by inserting over its key."""
    if table == "entries":
        row = stored_entry(ledger.ctx.engine, 2)
        columns = ", ".join(row)
        values = ", ".join(f":{c}" for c in row)
        upsert = (
            f"INSERT INTO entries ({columns}) VALUES ({values}) "
            "ON CONFLICT (idx) DO UPDATE SET kind = 'x.tampered'",
            {**row, "nonce": "fresh-nonce-for-the-upsert"},
        )
        replace = [
            # Same idx: would swap the entry's content.
            (f"INSERT OR REPLACE INTO entries ({columns}) VALUES ({values})", {**row, "kind": "x.tampered"}),
            # New idx, same nonce: REPLACE would silently delete entry 2.
            (f"INSERT OR REPLACE INTO entries ({columns}) VALUES ({values})", {**row, "idx": 999}),
        ]
    elif table == "tree_nodes":
        key = {"level": 0, "idx": 1, "hash": FORGED_HASH}
        upsert = (
            "INSERT INTO tree_nodes (level, idx, hash) VALUES (:level, :idx, :hash) "
            "ON CONFLICT (level, idx) DO UPDATE SET hash = excluded.hash",
            key,
        )
        replace = [("INSERT OR REPLACE INTO tree_nodes (level, idx, hash) VALUES (:level, :idx, :hash)", key)]
    else:
        key = {"size": 1, "root": FORGED_HASH, "note": "forged", "created_at": "2026-11-28T10:00:00.000Z"}
        upsert = (
            "INSERT INTO checkpoints (size, root, note, created_at) "
            "VALUES (:size, :root, :note, :created_at) "
            "ON CONFLICT (size) DO UPDATE SET note = excluded.note, root = excluded.root",
            key,
        )
        replace = [
            (
                "INSERT OR REPLACE INTO checkpoints (size, root, note, created_at) "
                "VALUES (:size, :root, :note, :created_at)",
                key,
            )
        ]
    # INSERT OR REPLACE is SQLite syntax; PostgreSQL has only the upsert.
    return [upsert, *replace] if is_sqlite(ledger.ctx.engine) else [upsert]


@pytest.mark.parametrize("table", ["entries", "tree_nodes", "checkpoints"])
def test_inserting_over_an_existing_row_is_rejected(small: LedgerFixture, table: str) -> None:
    before = table_rows(small.ctx.engine)
    for sql, params in _overwrites(small, table):
        error = _rejected(small, sql, params)
        assert f"{table} is append-only" in str(error.orig), sql
    _unchanged_and_valid(small, before)


# --------------------------------------------------------------------------
# Migrations


def _head(engine) -> str:  # type: ignore[no-untyped-def]
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert head is not None
    return head


def test_the_migrated_schema_matches_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            differences = compare_metadata(context, SQLModel.metadata)
        assert differences == []
        assert schema_revision(engine) == _head(engine)
        assert {"entries", "tree_nodes", "checkpoints"} <= set(SQLModel.metadata.tables)
    finally:
        engine.dispose()


def test_migrate_twice_on_an_empty_database(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine)
        triggers = active_triggers(engine)
        migrate(engine)
        assert schema_revision(engine) == _head(engine)
        assert active_triggers(engine) == triggers
        # Every append-only table is guarded against UPDATE and DELETE.
        for table in ("entries", "tree_nodes", "checkpoints"):
            assert any(name.startswith(f"{table}_") for name in triggers), triggers
    finally:
        engine.dispose()


def test_migrate_on_a_live_ledger_changes_nothing(small: LedgerFixture) -> None:
    engine = small.ctx.engine
    before, triggers = table_rows(engine), active_triggers(engine)
    migrate(engine)
    migrate(engine)
    assert schema_revision(engine) == _head(engine)
    assert active_triggers(engine) == triggers
    assert table_rows(engine) == before
    again = init_ledger(small.ctx, origin=ORIGIN, admin_id=ADMIN, admin_name="Test administration")
    assert not again.created
    assert again.size == len(before["entries"])
    _unchanged_and_valid(small, before)
