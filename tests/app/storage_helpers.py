"""Helpers for the storage tests: raw table access, deliberate tampering, forged
entries, query counting, and writer processes for the concurrency tests.

Everything here works on the real database behind a :class:`LedgerContext`
(an SQLite file or PostgreSQL); nothing is mocked. Tampering goes around the
append-only triggers on purpose and only for the duration of one transaction.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event, func, select, text

from app.keyfiles import write_key_file
from app.services.context import LedgerContext
from app.services.signing import signed_statement
from app.tables import CHECKPOINTS, ENTRIES, TREE_NODES
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.entry import Entry, encode_entry
from ledger.envelope import Envelope
from ledger.merkle import CompactRange, hash_leaf
from ledger.note import Ed25519NoteSigner
from ledger.statement import Statement
from ledger.times import parse_timestamp
from tests.helpers import KEY_PASSPHRASE, ORIGIN, LedgerFixture, settings_for

APPEND_ONLY_TABLES = ("entries", "tree_nodes", "checkpoints")
_TABLE_LIST = "('entries', 'tree_nodes', 'checkpoints')"
ORDER_BY = {"entries": "idx", "tree_nodes": "level, idx", "checkpoints": "size"}
#: Leave the previous entry of the subject as ``prev`` (see :func:`forge_append`).
AUTO = object()


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def node_bound(size: int) -> int:
    """At most this many stored nodes may a proof about a tree of ``size`` read."""
    return 2 * math.ceil(math.log2(size)) + 2 if size > 1 else 2


def node_count(size: int) -> int:
    """Perfect subtrees (stored nodes, leaves included) of a tree of ``size`` leaves."""
    return sum(size >> level for level in range(size.bit_length()))


# --------------------------------------------------------------------------
# Raw table access


def table_rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the append-only tables, in key order, bytes normalised."""
    snapshot = {}
    with engine.connect() as conn:
        for table in APPEND_ONLY_TABLES:
            rows = conn.execute(text(f"SELECT * FROM {table} ORDER BY {ORDER_BY[table]}")).all()
            snapshot[table] = [
                tuple(bytes(v) if isinstance(v, memoryview | bytearray) else v for v in row) for row in rows
            ]
    return snapshot


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in APPEND_ONLY_TABLES
        }


def active_triggers(engine: Engine) -> set[str]:
    """Names of the enabled user triggers on the append-only tables."""
    with engine.connect() as conn:
        if is_sqlite(conn):
            rows = conn.execute(
                text(f"SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN {_TABLE_LIST}")
            )
        else:
            rows = conn.execute(
                text(
                    "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                    f"WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND c.relname IN {_TABLE_LIST}"
                )
            )
        return {str(r[0]) for r in rows}


@contextmanager
def append_only_bypassed(engine: Engine) -> Iterator[Connection]:
    """One transaction in which the append-only triggers are off — for tampering on purpose.

    SQLite: the triggers are dropped and re-created from their stored SQL;
    PostgreSQL: ``ALTER TABLE … DISABLE TRIGGER USER`` and back. DDL is
    transactional on both, so an exception restores the triggers as well.
    """
    with engine.begin() as conn:
        if is_sqlite(conn):
            triggers = conn.execute(
                text(
                    "SELECT name, sql FROM sqlite_master "
                    f"WHERE type = 'trigger' AND tbl_name IN {_TABLE_LIST}"
                )
            ).all()
            assert triggers, "no append-only triggers to bypass"
            for name, _ in triggers:
                conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
            yield conn
            for _, sql in triggers:
                conn.exec_driver_sql(sql)
        else:
            for table in APPEND_ONLY_TABLES:
                conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            yield conn
            for table in APPEND_ONLY_TABLES:
                conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def entry_row(raw: bytes, idx: int | None = None) -> dict[str, Any]:
    """The row app/logstore.py writes for entry bytes ``raw`` (decoded columns from the bytes)."""
    entry = Entry.parse(raw)
    statement = entry.statement
    return {
        "idx": entry.index if idx is None else idx,
        "raw": raw,
        "leaf_hash": hash_leaf(raw),
        "subject": statement.subject,
        "kind": statement.kind,
        "author": statement.by,
        "at": statement.at,
        "recorded_at": entry.recorded_at,
        "nonce": statement.nonce,
    }


def stored_entry(engine: Engine, idx: int) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(select(ENTRIES).where(ENTRIES.c.idx == idx)).mappings().one()
    return {k: bytes(v) if isinstance(v, memoryview | bytearray) else v for k, v in row.items()}


def flip_bit(data: bytes, position: int, mask: int = 0x01) -> bytes:
    """``data`` with the byte at ``position`` XOR ``mask`` (negative positions count from the end)."""
    buffer = bytearray(data)
    buffer[position] ^= mask
    return bytes(buffer)


def log_signer(ctx: LedgerContext) -> Ed25519NoteSigner:
    """The checkpoint signer, loaded from the log key file: what a compromised server holds."""
    return Ed25519NoteSigner(ORIGIN, ctx.load_log_key())


def checkpoint_note(ctx: LedgerContext, size: int, root: bytes) -> str:
    return sign_checkpoint(Checkpoint(ORIGIN, size, root), [log_signer(ctx)])


def forge_append(
    ctx: LedgerContext,
    envelope: Envelope,
    *,
    prev: object = AUTO,
    with_checkpoint: bool = True,
) -> tuple[int, bytes]:
    """Append ``envelope`` behind the store's back, as a compromised server would.

    The entry, its tree nodes and (by default) a checkpoint signed with the
    real log key are written with the same columns as app/logstore.py, so
    everything is consistent except what the store would have refused. No
    trigger is involved (appending is allowed); no admission check runs.
    Returns the entry's index and bytes.
    """
    with ctx.engine.begin() as conn:
        last = conn.execute(
            select(ENTRIES.c.idx, ENTRIES.c.recorded_at).order_by(ENTRIES.c.idx.desc()).limit(1)
        ).one()
        size = int(last[0]) + 1
        if prev is AUTO:
            subject = Statement.from_bytes(envelope.payload).subject
            head = conn.execute(
                select(ENTRIES.c.leaf_hash)
                .where(ENTRIES.c.subject == subject)
                .order_by(ENTRIES.c.idx.desc())
                .limit(1)
            ).scalar()
            prev_hash = None if head is None else bytes(head)
        else:
            assert prev is None or isinstance(prev, bytes)
            prev_hash = prev
        raw = encode_entry(
            index=size,
            prev=prev_hash,
            recorded_at=parse_timestamp(last[1]) + timedelta(seconds=1),
            envelope=envelope,
        )
        tree = CompactRange.load(size, lambda ids: ctx.store.fetch_nodes(conn, ids))
        nodes = tree.append(hash_leaf(raw))
        conn.execute(ENTRIES.insert(), entry_row(raw))
        conn.execute(
            TREE_NODES.insert(),
            [{"level": level, "idx": idx, "hash": value} for (level, idx), value in nodes],
        )
        if with_checkpoint:
            root = tree.root()
            conn.execute(
                CHECKPOINTS.insert(),
                {
                    "size": size + 1,
                    "root": root,
                    "note": checkpoint_note(ctx, size + 1, root),
                    "created_at": entry_row(raw)["recorded_at"],
                },
            )
    return size, raw


def log_size(engine: Engine) -> int:
    with engine.connect() as conn:
        value = conn.execute(select(func.max(ENTRIES.c.idx))).scalar()
    return 0 if value is None else int(value) + 1


# --------------------------------------------------------------------------
# Counting queries


@dataclass
class RecordedQuery:
    statement: str
    parameters: Any
    rowcount: int = -1

    @property
    def is_select(self) -> bool:
        return self.statement.lstrip().upper().startswith("SELECT")

    @property
    def reads_tree_nodes(self) -> bool:
        return self.is_select and "FROM tree_nodes" in self.statement


class QueryRecorder:
    """Records every statement the engine sends, via before/after_cursor_execute events."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.queries: list[RecordedQuery] = []

    def __enter__(self) -> QueryRecorder:
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        self.queries.append(RecordedQuery(statement, parameters))

    def _after(self, conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        self.queries[-1].rowcount = cursor.rowcount

    @property
    def selects(self) -> list[RecordedQuery]:
        return [q for q in self.queries if q.is_select]

    @property
    def node_selects(self) -> list[RecordedQuery]:
        return [q for q in self.queries if q.reads_tree_nodes]

    def rows_returned(self, query: RecordedQuery) -> int:
        """How many rows ``query`` returns: it is run again (call after leaving the block).

        The DB-API cursor's ``rowcount`` is -1 for SELECT on sqlite3, so the
        count comes from re-running the identical statement and parameters;
        where the driver reports a rowcount (psycopg) the two must agree.
        """
        with self.engine.connect() as conn:
            rows = len(conn.exec_driver_sql(query.statement, query.parameters).all())
        if query.rowcount >= 0:
            assert query.rowcount == rows
        return rows


# --------------------------------------------------------------------------
# Writer processes (multiprocessing "spawn": everything here is importable)


def register_writer(ledger: LedgerFixture, party_id: str) -> None:
    """A party with the admin role and a key file another process can open."""
    key = ledger.party(party_id, ["admin"])
    write_key_file(ledger.ctx.actor_key_path(party_id), key, KEY_PASSPHRASE.encode())


def writer_process(
    db_url: str,
    tmp_dir: str,
    party_id: str,
    prefix: str,
    count: int | None,
    seed: int,
    ack_path: str,
    start: Any = None,
) -> None:
    """Append ``count`` party.registered statements (forever if None) in batches of 1-20.

    After each append returns, one ``<index> <nonce>`` line per entry is
    written to ``ack_path`` in a single ``write`` — an acknowledgement. A
    process killed between the commit and that write leaves an entry that
    was never acknowledged, which is fine; the reverse must never happen.
    """
    ctx = LedgerContext.open(settings_for(db_url, Path(tmp_dir)))
    key = ctx.load_actor_key(party_id)
    store = ctx.writer()
    rng = random.Random(seed)
    fd = os.open(ack_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    if start is not None:
        start.wait(60)
    done = 0
    try:
        while count is None or done < count:
            batch = rng.randint(1, 20) if count is None else min(rng.randint(1, 20), count - done)
            envelopes = [
                signed_statement(
                    ctx,
                    kind="party.registered",
                    subject=f"party:{prefix}-{done + k:06d}",
                    by=f"party:{party_id}",
                    data={"name": f"Registered by {party_id}"},
                    keys=[key],
                )
                for k in range(batch)
            ]
            result = store.append(envelopes)
            os.write(fd, "".join(f"{e.index} {e.statement.nonce}\n" for e in result.entries).encode())
            done += batch
    finally:
        os.close(fd)
        ctx.engine.dispose()


def read_acks(path: Path) -> list[tuple[int, str]]:
    """Acknowledged (index, nonce) pairs; a torn last line (killed mid-write) is ignored."""
    if not path.exists():
        return []
    data = path.read_text()
    complete = data[: data.rfind("\n") + 1]
    acks = []
    for line in complete.splitlines():
        index, nonce = line.split(" ")
        acks.append((int(index), nonce))
    return acks
