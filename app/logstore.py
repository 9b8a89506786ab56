"""The log in a database: serialised, batched appends and O(log n) proofs.

Appending a batch is one transaction:

1. take the log's write lock (SQLite ``BEGIN IMMEDIATE``; PostgreSQL a
   transaction-scoped advisory lock), so concurrent writers in any number of
   processes queue and never fork the log or leave a gap;
2. read the log size and the tree's right edge (O(log n) nodes);
3. bring this process's trust state up to date from trust entries appended
   since it last looked (other processes may have added keys);
4. admit every statement with the same :func:`ledger.state.admit` the
   verifier uses; the first rejection aborts the whole batch;
5. write entries, new perfect tree nodes and a freshly signed checkpoint,
   and let projections record their changes;
6. commit. A crash before the commit leaves nothing; after it, everything.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, and_, func, or_, select, text
from sqlalchemy.exc import IntegrityError

from app.db import is_sqlite, write_transaction
from app.errors import AppendConflict, IntegrityFailure
from app.tables import CHECKPOINTS, ENTRIES, TREE_NODES
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.entry import Entry, encode_entry
from ledger.envelope import Envelope
from ledger.errors import (
    InvalidInput,
    LedgerError,
    NotFound,
    ReplayedStatement,
)
from ledger.merkle import (
    CompactRange,
    NodeFetcher,
    NodeId,
    consistency_proof,
    consistency_ranges,
    frontier_nodes,
    hash_leaf,
    inclusion_proof,
    inclusion_ranges,
    nodes_for,
    range_nodes,
    root_of,
)
from ledger.note import NoteSigner
from ledger.state import Context, LedgerState, admit, apply
from ledger.statement import Statement
from ledger.times import format_timestamp, parse_timestamp
from ledger.trust import TRUST_KINDS

TRUST_KIND_NAMES = tuple(spec.name for spec in TRUST_KINDS)
#: Key of the PostgreSQL advisory lock that serialises appends ("kcl").
ADVISORY_LOCK_KEY = 0x6B636C
_READ_CHUNK = 2000


@dataclass(frozen=True)
class AppendedEntry:
    index: int
    leaf_hash: bytes
    raw: bytes
    statement: Statement


@dataclass(frozen=True)
class AppendResult:
    entries: tuple[AppendedEntry, ...]
    size: int
    root: bytes
    checkpoint: str
    #: Every tree node an inclusion proof of these entries in the tree of ``size``
    #: needs: the right edge before the batch and the nodes the batch completed
    #: (shared by all units of a group commit). Receipts are built from it
    #: without going back to the database.
    nodes: Mapping[NodeId, bytes] = field(default_factory=dict, repr=False, compare=False)


class Projection(Protocol):
    """Keeps current-state tables in step with appends (custody domain)."""

    def hydrate(self, conn: Connection, state: LedgerState, statements: Sequence[Statement]) -> None:
        """Load into ``state.extra`` what admitting ``statements`` needs to know."""

    def persist(self, conn: Connection, state: LedgerState, admitted: Sequence[Context]) -> None:
        """Write the changes ``admitted`` made to ``state`` (same transaction)."""


class LogStore:
    def __init__(
        self,
        engine: Engine,
        signer: NoteSigner | None = None,
        projections: Sequence[Projection] = (),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.signer = signer
        self.projections = list(projections)
        self._clock = clock
        self._trust: LedgerState | None = None
        self._trust_size = 0
        # One appender per process at a time; across processes the database lock decides.
        self._local_lock = threading.Lock()

    # ------------------------------------------------------------------
    # Reads

    def size(self, conn: Connection | None = None) -> int:
        if conn is None:
            with self.engine.connect() as c:
                return self.size(c)
        value = conn.execute(select(func.max(ENTRIES.c.idx))).scalar()
        return 0 if value is None else int(value) + 1

    def latest_checkpoint(self) -> tuple[int, str] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(CHECKPOINTS.c.size, CHECKPOINTS.c.note).order_by(CHECKPOINTS.c.size.desc()).limit(1)
            ).first()
        return None if row is None else (int(row[0]), str(row[1]))

    def checkpoint(self, size: int | None = None) -> str:
        """The signed checkpoint note for ``size`` (or the latest), exactly as stored."""
        if size is None:
            latest = self.latest_checkpoint()
            if latest is None:
                raise NotFound("the ledger has no checkpoint yet (run `custody init`)")
            return latest[1]
        with self.engine.connect() as conn:
            note = conn.execute(select(CHECKPOINTS.c.note).where(CHECKPOINTS.c.size == size)).scalar()
        if note is None:
            raise NotFound(f"no checkpoint was issued at size {size}")
        return str(note)

    def checkpoint_sizes(self) -> list[int]:
        with self.engine.connect() as conn:
            return [int(r[0]) for r in conn.execute(select(CHECKPOINTS.c.size).order_by(CHECKPOINTS.c.size))]

    def entries(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Entry bytes for indices ``start ≤ i < end``, streamed in chunks."""
        if start < 0 or (end is not None and end < start):
            raise InvalidInput(f"invalid range [{start}, {end})")
        position = start
        while end is None or position < end:
            limit = _READ_CHUNK if end is None else min(_READ_CHUNK, end - position)
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(ENTRIES.c.idx, ENTRIES.c.raw)
                    .where(ENTRIES.c.idx >= position)
                    .order_by(ENTRIES.c.idx)
                    .limit(limit)
                ).all()
            if not rows:
                return
            for idx, raw in rows:
                if idx != position:
                    # Only reachable if rows were deleted behind the triggers'
                    # back; the verifier reports it, readers must not paper over it.
                    raise IntegrityFailure(f"entry {position} is missing (next stored index is {idx})")
                yield bytes(raw)
                position += 1
            if len(rows) < limit:
                return

    def entry(self, index: int) -> bytes:
        with self.engine.connect() as conn:
            raw = conn.execute(select(ENTRIES.c.raw).where(ENTRIES.c.idx == index)).scalar()
        if raw is None:
            raise NotFound(f"no entry {index}")
        return bytes(raw)

    def fetch_nodes(self, conn: Connection, ids: Collection[NodeId]) -> dict[NodeId, bytes]:
        if not ids:
            return {}
        by_level: dict[int, list[int]] = {}
        for level, idx in ids:
            by_level.setdefault(level, []).append(idx)
        # One query, one primary-key probe per node. A row-value IN list,
        # ``(level, idx) IN (VALUES …)``, makes SQLite scan the whole table.
        rows = conn.execute(
            select(TREE_NODES.c.level, TREE_NODES.c.idx, TREE_NODES.c.hash).where(
                or_(
                    *(
                        and_(TREE_NODES.c.level == lv, TREE_NODES.c.idx.in_(sorted(ix)))
                        for lv, ix in by_level.items()
                    )
                )
            )
        ).all()
        found = {(int(level), int(idx)): bytes(h) for level, idx, h in rows}
        missing = set(ids) - set(found)
        if missing:
            raise IntegrityFailure(f"tree nodes missing from the store: {sorted(missing)[:4]}")
        return found

    def _fetcher(self, conn: Connection) -> NodeFetcher:
        def fetch(ids: Collection[NodeId]) -> dict[NodeId, bytes]:
            return self.fetch_nodes(conn, ids)

        return fetch

    def _prefetched(self, conn: Connection, ids: Collection[NodeId]) -> NodeFetcher:
        """Fetch every node a proof needs in ONE query; serve the proof's lookups from it."""
        nodes = self.fetch_nodes(conn, ids)

        def fetch(wanted: Collection[NodeId]) -> dict[NodeId, bytes]:
            return {node: nodes[node] for node in wanted}

        return fetch

    def _tree_size(self, conn: Connection, size: int | None) -> int:
        current = self.size(conn)
        if size is None:
            return current
        if size > current:
            raise NotFound(f"the log has {current} entries; no tree of size {size} yet")
        if size < 0:
            raise InvalidInput("tree size must not be negative")
        return size

    def root(self, size: int | None = None) -> bytes:
        with self.engine.connect() as conn:
            size = self._tree_size(conn, size)
            return root_of(size, self._fetcher(conn))

    def inclusion_proof(self, index: int, size: int | None = None) -> dict[str, Any]:
        """``{"index", "size", "leaf_hash", "root", "proof"}``, hashes as lowercase hex."""
        with self.engine.connect() as conn:
            size = self._tree_size(conn, size if size is not None else self._latest_size(conn))
            if not 0 <= index < size:
                raise InvalidInput(f"index {index} is not in a tree of size {size}")
            needed = {(0, index)} | nodes_for(inclusion_ranges(index, size)) | set(range_nodes(0, size))
            fetch = self._prefetched(conn, needed)
            leaf = fetch([(0, index)])[(0, index)]
            proof = inclusion_proof(index, size, fetch)
            root = root_of(size, fetch)
        return {
            "index": index,
            "size": size,
            "leaf_hash": leaf.hex(),
            "root": root.hex(),
            "proof": [p.hex() for p in proof],
        }

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> dict[str, Any]:
        """``{"old_size", "old_root", "new_size", "new_root", "proof"}``."""
        with self.engine.connect() as conn:
            new = self._tree_size(conn, new_size if new_size is not None else self._latest_size(conn))
            if not 0 < old_size <= new:
                raise InvalidInput(f"need 0 < old ≤ new, got old={old_size} new={new}")
            needed = set(range_nodes(0, old_size)) | set(range_nodes(0, new))
            needed |= nodes_for(consistency_ranges(old_size, new))
            fetch = self._prefetched(conn, needed)
            proof = consistency_proof(old_size, new, fetch)
            return {
                "old_size": old_size,
                "old_root": root_of(old_size, fetch).hex(),
                "new_size": new,
                "new_root": root_of(new, fetch).hex(),
                "proof": [p.hex() for p in proof],
            }

    def _latest_size(self, conn: Connection) -> int:
        value = conn.execute(select(func.max(CHECKPOINTS.c.size))).scalar()
        if value is None:
            raise NotFound("the ledger has no checkpoint yet (run `custody init`)")
        return int(value)

    def trust_state(self) -> LedgerState:
        """A copy of the current trust state (parties, keys, roles, origin)."""
        with self.engine.connect() as conn:
            size = self.size(conn)
            with self._local_lock:
                self._sync_trust(conn, size)
                assert self._trust is not None
                return copy.deepcopy(self._trust)

    # ------------------------------------------------------------------
    # Appends

    def _sync_trust(self, conn: Connection, size: int) -> None:
        if self._trust is None or self._trust_size > size:
            self._trust, self._trust_size = LedgerState(), 0
        if self._trust_size == size:
            return
        rows = conn.execute(
            select(ENTRIES.c.idx, ENTRIES.c.raw)
            .where(ENTRIES.c.idx >= self._trust_size, ENTRIES.c.idx < size)
            .where(ENTRIES.c.kind.in_(TRUST_KIND_NAMES))
            .order_by(ENTRIES.c.idx)
        ).all()
        state = self._trust
        for idx, raw in rows:
            entry = Entry.parse(bytes(raw))
            try:
                ctx = admit(
                    state, int(idx), entry.envelope, entry.statement, entry.recorded_at, check_crypto=False
                )
            except LedgerError as exc:
                self._trust = None
                raise IntegrityFailure(f"stored trust entry {idx} no longer replays: {exc}") from exc
            apply(state, ctx, hash_leaf(bytes(raw)))
        self._trust_size = size

    def _lock(self, conn: Connection) -> None:
        if not is_sqlite(conn):
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})

    def append(self, envelopes: Sequence[Envelope], now: datetime | None = None) -> AppendResult:
        """Append a batch of envelopes atomically; all are admitted or none."""
        outcome = self.append_units([envelopes], now)[0]
        if isinstance(outcome, LedgerError):
            raise outcome
        return outcome

    def append_units(
        self,
        units: Sequence[Sequence[Envelope]],
        now: datetime | None = None,
        more: Callable[[], Sequence[Sequence[Envelope]]] | None = None,
    ) -> list[AppendResult | LedgerError]:
        """Append several independent units in ONE transaction (group commit).

        Each unit is all-or-nothing; a refused unit leaves the others
        untouched and gets its error back in its place. All admitted units
        share the batch's entries, tree nodes and one new checkpoint.

        ``more``, if given, is called once the log's write lock is held and
        returns further units for the same transaction — what arrived while
        this one waited for another process to commit. Their outcomes follow
        those of ``units``, in order.
        """
        if self.signer is None:
            raise InvalidInput("no log key loaded: this process cannot sign checkpoints")
        moment = now if now is not None else (self._clock() if self._clock else None)
        if moment is None:
            raise InvalidInput("append needs the current time")
        outcomes: list[AppendResult | LedgerError | None] = [None] * len(units)
        parsed: list[tuple[int, Sequence[Envelope], list[Statement]]] = []
        # Parse outside the lock: malformed input never holds up other writers.
        for number, envelopes in enumerate(units):
            try:
                parsed.append((number, envelopes, _parse_unit(envelopes)))
            except LedgerError as exc:
                outcomes[number] = exc

        def late_units() -> list[tuple[int, Sequence[Envelope], list[Statement]]]:
            assert more is not None
            late = []
            for envelopes in more():
                number = len(outcomes)
                outcomes.append(None)
                try:
                    late.append((number, envelopes, _parse_unit(envelopes)))
                except LedgerError as exc:
                    outcomes[number] = exc
            return late

        if parsed:
            touches_trust = any(s.kind in TRUST_KIND_NAMES for _, _, stmts in parsed for s in stmts)
            with self._local_lock:
                try:
                    results = self._append_locked(parsed, moment, late_units if more is not None else None)
                except BaseException:
                    # The transaction rolled back. Only trust statements change
                    # the cached trust state, so only then may it now hold
                    # changes that never committed: rebuild it next time (units
                    # taken after the lock are not looked at: rebuild then too).
                    if touches_trust or len(outcomes) > len(units):
                        self._trust = None
                    raise
            for number, outcome in results.items():
                outcomes[number] = outcome
        return [o for o in outcomes if o is not None]

    def _append_locked(
        self,
        units: list[tuple[int, Sequence[Envelope], list[Statement]]],
        moment: datetime,
        late_units: Callable[[], list[tuple[int, Sequence[Envelope], list[Statement]]]] | None = None,
    ) -> dict[int, AppendResult | LedgerError]:
        assert self.signer is not None
        outcomes: dict[int, AppendResult | LedgerError] = {}
        try:
            with write_transaction(self.engine) as conn:
                # Step 1.
                self._lock(conn)
                if late_units is not None:
                    units = units + late_units()
                all_statements = [s for _, _, statements in units for s in statements]
                # Step 2.
                last = conn.execute(
                    select(ENTRIES.c.idx, ENTRIES.c.recorded_at).order_by(ENTRIES.c.idx.desc()).limit(1)
                ).first()
                size = 0 if last is None else int(last[0]) + 1
                if last is not None and parse_timestamp(last[1]) > moment:
                    # Keep recorded_at monotonic even if this host's clock lags another's.
                    moment = parse_timestamp(last[1])
                recorded_at = format_timestamp(moment, millis=True)
                edge = frontier_nodes(size)
                known = self.fetch_nodes(conn, edge)
                tree = CompactRange(size, [known[node] for node in edge])
                # Step 3.
                self._sync_trust(conn, size)
                assert self._trust is not None
                state = self._trust
                state.extra = {}
                for projection in self.projections:
                    projection.hydrate(conn, state, all_statements)
                used = {
                    str(n)
                    for (n,) in conn.execute(
                        select(ENTRIES.c.nonce).where(ENTRIES.c.nonce.in_([s.nonce for s in all_statements]))
                    )
                }
                heads = self._subject_heads(conn, {s.subject for s in all_statements})
                # Step 4: admit unit by unit; a refused unit is rolled back alone.
                batch = _Batch()
                grouped = len(units) > 1
                for number, envelopes, statements in units:
                    mark = batch.mark(tree, heads)
                    undo = _savepoint(state, statements) if grouped else None
                    try:
                        for position, (envelope, statement) in enumerate(
                            zip(envelopes, statements, strict=True)
                        ):
                            try:
                                if statement.nonce in used:
                                    raise ReplayedStatement(
                                        f"a statement with nonce {statement.nonce} is already in the log"
                                    )
                                index = size + len(batch.entry_rows)
                                ctx = admit(state, index, envelope, statement, recorded_at)
                            except LedgerError as exc:
                                raise _in_batch(exc, position, len(envelopes)) from None
                            raw = encode_entry(
                                index=index,
                                prev=heads.get(statement.subject),
                                recorded_at=moment,
                                envelope=envelope,
                            )
                            leaf = hash_leaf(raw)
                            batch.add(
                                tree.append(leaf), apply(state, ctx, leaf), raw, leaf, statement, recorded_at
                            )
                            heads[statement.subject] = leaf
                            used.add(statement.nonce)
                    except LedgerError as exc:
                        if not grouped:
                            raise
                        tree, heads = batch.rewind(mark)
                        used.difference_update(s.nonce for s in statements)
                        _rollback(state, undo)
                        outcomes[number] = exc
                        continue
                    _release(state, undo)
                    batch.units.append((number, mark.entries, len(batch.entry_rows)))
                if not batch.entry_rows:
                    return outcomes  # every unit was refused: nothing to write
                # Step 5.
                new_size = size + len(batch.entry_rows)
                root = tree.root()
                if state.origin != self.signer.name:
                    raise InvalidInput(
                        f"log key is named {self.signer.name!r} but the ledger origin is {state.origin!r}"
                    )
                note = sign_checkpoint(Checkpoint(state.origin, new_size, root), [self.signer])
                conn.execute(ENTRIES.insert(), batch.entry_rows)
                conn.execute(TREE_NODES.insert(), batch.node_rows)
                conn.execute(
                    CHECKPOINTS.insert(),
                    {"size": new_size, "root": root, "note": note, "created_at": recorded_at},
                )
                for projection in self.projections:
                    projection.persist(conn, state, batch.admitted)
                # Step 6: leaving the block commits.
        except IntegrityError as exc:
            if "nonce" in str(exc.orig):
                raise ReplayedStatement("a statement with this nonce is already in the log") from None
            raise AppendConflict(f"the log moved under this append: {exc.orig}") from None
        # Only a committed batch moves the cached trust state forward: had the
        # commit failed, entries other processes append at these indices
        # would otherwise never be replayed into it.
        self._trust_size = new_size
        known.update(((row["level"], row["idx"]), row["hash"]) for row in batch.node_rows)
        for number, begin, end in batch.units:
            outcomes[number] = AppendResult(tuple(batch.appended[begin:end]), new_size, root, note, known)
        return outcomes

    def _subject_heads(self, conn: Connection, subjects: set[str]) -> dict[str, bytes]:
        """Leaf hash of the newest entry about each subject (for ``prev``)."""
        if not subjects:
            return {}
        latest = (
            select(func.max(ENTRIES.c.idx).label("idx"))
            .where(ENTRIES.c.subject.in_(list(subjects)))
            .group_by(ENTRIES.c.subject)
            .subquery()
        )
        rows = conn.execute(
            select(ENTRIES.c.subject, ENTRIES.c.leaf_hash).where(ENTRIES.c.idx.in_(select(latest.c.idx)))
        ).all()
        return {str(subject): bytes(leaf) for subject, leaf in rows}


def _parse_unit(envelopes: Sequence[Envelope]) -> list[Statement]:
    if not envelopes:
        raise InvalidInput("nothing to append: the batch is empty")
    statements = []
    for position, envelope in enumerate(envelopes):
        try:
            statements.append(Statement.from_bytes(envelope.payload))
        except LedgerError as exc:
            raise _in_batch(exc, position, len(envelopes)) from None
    nonces = [s.nonce for s in statements]
    if len(set(nonces)) != len(nonces):
        raise ReplayedStatement("the batch contains the same statement nonce twice")
    return statements


@dataclass
class _Mark:
    entries: int
    nodes: int
    tree: CompactRange
    heads: dict[str, bytes]


@dataclass
class _Batch:
    """Rows and results of one append transaction, rewindable to a unit boundary."""

    entry_rows: list[dict[str, Any]] = field(default_factory=list)
    node_rows: list[dict[str, Any]] = field(default_factory=list)
    admitted: list[Context] = field(default_factory=list)
    appended: list[AppendedEntry] = field(default_factory=list)
    units: list[tuple[int, int, int]] = field(default_factory=list)

    def mark(self, tree: CompactRange, heads: dict[str, bytes]) -> _Mark:
        return _Mark(len(self.entry_rows), len(self.node_rows), tree.copy(), dict(heads))

    def rewind(self, mark: _Mark) -> tuple[CompactRange, dict[str, bytes]]:
        del self.entry_rows[mark.entries :], self.admitted[mark.entries :], self.appended[mark.entries :]
        del self.node_rows[mark.nodes :]
        return mark.tree, mark.heads

    def add(
        self,
        nodes: list[tuple[NodeId, bytes]],
        ctx: Context,
        raw: bytes,
        leaf: bytes,
        statement: Statement,
        recorded_at: str,
    ) -> None:
        index = ctx.index
        self.node_rows.extend({"level": level, "idx": idx, "hash": value} for (level, idx), value in nodes)
        self.admitted.append(ctx)
        self.appended.append(AppendedEntry(index, leaf, raw, statement))
        self.entry_rows.append(
            {
                "idx": index,
                "raw": raw,
                "leaf_hash": leaf,
                "subject": statement.subject,
                "kind": statement.kind,
                "author": statement.by,
                "at": statement.at,
                "recorded_at": recorded_at,
                "nonce": statement.nonce,
            }
        )


_TrustBackup = tuple[dict[str, Any], dict[str, Any], str | None, str | None]


def _savepoint(state: LedgerState, statements: Sequence[Statement]) -> _TrustBackup | None:
    """Make a unit's changes to ``state`` undoable (see :class:`ledger.custody.records.Records`)."""
    for part in state.extra.values():
        if hasattr(part, "savepoint"):
            part.savepoint()
    if any(s.kind in TRUST_KIND_NAMES for s in statements):
        return (copy.deepcopy(state.parties), copy.deepcopy(state.keys), state.origin, state.log_vkey)
    return None


def _rollback(state: LedgerState, trust: _TrustBackup | None) -> None:
    for part in state.extra.values():
        if hasattr(part, "rollback"):
            part.rollback()
    if trust is not None:
        state.parties, state.keys, state.origin, state.log_vkey = trust


def _release(state: LedgerState, trust: _TrustBackup | None) -> None:
    for part in state.extra.values():
        if hasattr(part, "release"):
            part.release()


def _in_batch(exc: LedgerError, position: int, total: int) -> LedgerError:
    """Say which statement of a batch failed, keeping the error's class and code."""
    exc.batch_position = position  # type: ignore[attr-defined]
    prefix = f"statement {position + 1} of {total}: "
    # Only guard against prefixing twice: many messages of their own begin
    # with "statement …" ("statement is missing kind") and need the position too.
    if total > 1 and not exc.message.startswith(prefix):
        exc.message = prefix + exc.message
        exc.args = (exc.message,)
    return exc
