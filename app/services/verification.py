"""`custody verify` on a database: the log, its checkpoints, tree nodes and columns.

The core :class:`~ledger.verify.LogVerifier` checks the entries as an
auditor would from an export. A database holds more that could have been
tampered with behind the triggers' back, so this also checks:

1. every stored checkpoint: signed by the log key, its root equal to the
   root of the log at its size, and its ``root`` column equal to the note's;
2. every stored tree node equals the hash recomputed from the entries;
3. the decoded query columns of each entry agree with its verbatim bytes;
4. the projections (connectors, seals, incidents, parties, keys) equal a
   replay of the log — checked only when the log itself verified, since a
   broken log has no trustworthy replay to compare against.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from app.parallel import PoolSignatureChecker, signature_checker
from app.projections import PROJECTION_NAME, compare_projections
from app.services.context import LedgerContext
from app.settings import sqlite_path
from app.tables import CHECKPOINTS, ENTRIES, PROJECTION_META, TREE_NODES
from ledger.checkpoint import Checkpoint, open_checkpoint
from ledger.entry import Entry
from ledger.errors import Finding, InvalidInput, LedgerError, VerificationFailed
from ledger.merkle import hash_children, hash_leaf
from ledger.note import parse_vkey
from ledger.verify import LogVerifier

_CHUNK = 5000


@dataclass
class VerifyReport:
    size: int = 0
    root: str | None = None
    checkpoint_size: int | None = None
    checkpoints_checked: int = 0
    tree_nodes_checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "size": self.size,
            "root": self.root,
            "checkpoint_size": self.checkpoint_size,
            "checkpoints_checked": self.checkpoints_checked,
            "tree_nodes_checked": self.tree_nodes_checked,
            "findings": [f.as_dict() for f in self.findings],
            "warnings": [w.as_dict() for w in self.warnings],
        }


def verify_ledger(
    ctx: LedgerContext,
    *,
    vkey: str | None = None,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Verify everything in the database; findings go into the report, never lost."""
    path = sqlite_path(ctx.settings.database_url)
    if path is not None and not path.exists():
        raise InvalidInput(f"no ledger at {path}: nothing to verify")
    ctx.require_initialised()
    store = ctx.store
    report = VerifyReport()
    genesis = Entry.parse(store.entry(0))
    declared_vkey = genesis.statement.data.get("log_vkey")
    log_key = parse_vkey(vkey or str(declared_vkey))
    # Step 1: open every stored checkpoint; the newest one covers the log.
    checkpoints: list[Checkpoint] = []
    with ctx.engine.connect() as conn:
        for size, note, root in conn.execute(
            select(CHECKPOINTS.c.size, CHECKPOINTS.c.note, CHECKPOINTS.c.root).order_by(CHECKPOINTS.c.size)
        ):
            try:
                opened = open_checkpoint(str(note).encode("utf-8"), log_key)
            except LedgerError as exc:
                report.findings.append(
                    Finding(int(size) - 1, "checkpoint.signature", f"checkpoint {size}: {exc}")
                )
                continue
            if opened.checkpoint.size != int(size):
                report.findings.append(
                    Finding(
                        int(size) - 1,
                        "checkpoint.size",
                        "stored under the wrong size",
                        str(size),
                        str(opened.checkpoint.size),
                    )
                )
            if bytes(root) != opened.checkpoint.root:
                report.findings.append(
                    Finding(
                        int(size) - 1,
                        "column.mismatch",
                        f"checkpoint {size}: column root disagrees with the signed note",
                        opened.checkpoint.root.hex(),
                        bytes(root).hex(),
                    )
                )
            checkpoints.append(opened.checkpoint)
    report.checkpoints_checked = len(checkpoints)
    latest = checkpoints[-1] if checkpoints else None
    report.checkpoint_size = latest.size if latest else None
    checker = signature_checker(workers)
    verifier = LogVerifier(
        checkpoint=latest,
        earlier_checkpoints=checkpoints[:-1],
        log_vkey=log_key.vkey(),
        signature_checker=checker,
    )
    try:
        for count, (raw, columns) in enumerate(_entries_with_columns(ctx), start=1):
            verifier.feed(raw)
            report.findings.extend(_check_columns(raw, columns))
            if progress is not None and count % _CHUNK == 0:
                progress(count)
        try:
            summary = verifier.finish()
            report.root = summary.root.hex()
            report.warnings.extend(summary.warnings)
        except VerificationFailed as failed:
            report.findings.extend(failed.findings)
    finally:
        if isinstance(checker, PoolSignatureChecker):
            checker.close()
    report.size = verifier.size
    # Step 4: projections equal a replay of the log.
    if not report.findings:
        report.findings.extend(compare_projections(ctx.engine, verifier.state))
        meta = _projection_size(ctx)
        if meta != report.size:
            report.findings.append(
                Finding(
                    None,
                    "projection.behind",
                    "projections do not reflect the whole log",
                    str(report.size),
                    str(meta),
                )
            )
    if latest is None:
        report.findings.append(Finding(None, "checkpoint.missing", "the ledger has no valid checkpoint"))
    # Step 2.
    node_findings, report.tree_nodes_checked = _check_tree_nodes(ctx, report.size)
    report.findings.extend(node_findings)
    report.findings.sort(key=lambda f: (-1 if f.index is None else f.index, f.code))
    return report


def _entries_with_columns(ctx: LedgerContext) -> Iterator[tuple[bytes, tuple[Any, ...]]]:
    position = 0
    cols = (
        ENTRIES.c.idx,
        ENTRIES.c.raw,
        ENTRIES.c.leaf_hash,
        ENTRIES.c.subject,
        ENTRIES.c.kind,
        ENTRIES.c.author,
        ENTRIES.c.nonce,
    )
    while True:
        with ctx.engine.connect() as conn:
            rows = conn.execute(
                select(*cols).where(ENTRIES.c.idx >= position).order_by(ENTRIES.c.idx).limit(_CHUNK)
            ).all()
        if not rows:
            return
        for row in rows:
            yield bytes(row[1]), tuple(row)
        position = int(rows[-1][0]) + 1


def _check_columns(raw: bytes, columns: tuple[Any, ...]) -> list[Finding]:
    """Step 3: the decoded columns must say what the bytes say."""
    idx, _, leaf_hash, subject, kind, author, nonce = columns
    try:
        entry = Entry.parse(raw)
    except LedgerError:
        return []  # the log verifier reports unreadable bytes
    expected = {
        "idx": entry.index,
        "leaf_hash": hash_leaf(raw).hex(),
        "subject": entry.statement.subject,
        "kind": entry.statement.kind,
        "author": entry.statement.by,
        "nonce": entry.statement.nonce,
    }
    found = {
        "idx": int(idx),
        "leaf_hash": bytes(leaf_hash).hex(),
        "subject": subject,
        "kind": kind,
        "author": author,
        "nonce": nonce,
    }
    return [
        Finding(
            int(idx),
            "column.mismatch",
            f"column {name} disagrees with the entry bytes",
            str(expected[name]),
            str(found[name]),
        )
        for name in expected
        if expected[name] != found[name]
    ]


def _level_rows(ctx: LedgerContext, level: int) -> Iterator[tuple[int, bytes]]:
    position = 0
    while True:
        with ctx.engine.connect() as conn:
            rows = conn.execute(
                select(TREE_NODES.c.idx, TREE_NODES.c.hash)
                .where(TREE_NODES.c.level == level, TREE_NODES.c.idx >= position)
                .order_by(TREE_NODES.c.idx)
                .limit(_CHUNK)
            ).all()
        if not rows:
            return
        for idx, value in rows:
            yield int(idx), bytes(value)
        position = int(rows[-1][0]) + 1


def _check_tree_nodes(ctx: LedgerContext, size: int) -> tuple[list[Finding], int]:
    """Step 2, level by level, streaming: each stored node equals its recomputation.

    Level 0 is recomputed from the entry bytes, keyed by their stored ``idx``
    (a missing entry is one finding, not a shift of every later leaf). Level
    L+1 is recomputed from level L as checked: the stored nodes, with the
    recomputed value wherever a stored one was wrong or missing. A node that
    differs only because of a break already reported below it (it still
    equals the hash of its stored children) is not reported again, so one
    break is one finding at its own index, not one more per ancestor.
    """
    findings: list[Finding] = []
    checked = 0
    # (index, recomputed hash, hash of the stored children or None if one is not stored)
    Wanted = tuple[int, bytes, bytes | None]

    def expected_leaves() -> Iterator[Wanted]:
        for raw, columns in _entries_with_columns(ctx):
            leaf = hash_leaf(raw)
            yield int(columns[0]), leaf, leaf

    def expected_parents(
        level: int, replaced: dict[int, bytes], inserted: dict[int, bytes]
    ) -> Iterator[Wanted]:
        below = heapq.merge(
            ((idx, value, replaced.get(idx, value)) for idx, value in _level_rows(ctx, level - 1)),
            ((idx, None, value) for idx, value in sorted(inserted.items())),
            key=lambda node: node[0],
        )
        pending: tuple[int, bytes | None, bytes] | None = None
        for node in below:
            idx = node[0]
            if idx % 2 == 0:
                pending = node
            elif pending is not None and pending[0] == idx - 1:
                left_stored, right_stored = pending[1], node[1]
                plain = (
                    None
                    if left_stored is None or right_stored is None
                    else hash_children(left_stored, right_stored)
                )
                yield idx // 2, hash_children(pending[2], node[2]), plain
                pending = None

    level = 0
    # Recomputed values of the level below where the stored node was wrong / missing.
    replaced: dict[int, bytes] = {}
    inserted: dict[int, bytes] = {}
    while size >> level:
        count = size >> level
        expected = expected_leaves() if level == 0 else expected_parents(level, replaced, inserted)
        replaced, inserted = {}, {}
        stored = _level_rows(ctx, level)
        want, have = next(expected, None), next(stored, None)
        while want is not None or have is not None:
            if have is None or (want is not None and want[0] < have[0]):
                assert want is not None
                idx, value, plain = want
                if idx < count:
                    inserted[idx] = value
                    if plain is not None:
                        findings.append(
                            Finding(
                                idx << level, "tree_node.missing", f"tree node ({level}, {idx}) is missing"
                            )
                        )
                want = next(expected, None)
            elif want is None or have[0] < want[0]:
                findings.append(
                    Finding(
                        have[0] << level,
                        "tree_node.extra",
                        f"tree node ({level}, {have[0]}) is not part of the log",
                    )
                )
                have = next(stored, None)
            else:
                checked += 1
                idx, value, plain = want
                if value != have[1]:
                    replaced[idx] = value
                    if plain != have[1]:
                        findings.append(
                            Finding(
                                idx << level,
                                "tree_node.mismatch",
                                f"tree node ({level}, {idx}) differs from its recomputation",
                                value.hex(),
                                have[1].hex(),
                            )
                        )
                want, have = next(expected, None), next(stored, None)
        level += 1
    # Nodes at or above the tree's height belong to no tree of this size.
    with ctx.engine.connect() as conn:
        stray = conn.execute(
            select(TREE_NODES.c.level, TREE_NODES.c.idx).where(TREE_NODES.c.level >= level).limit(100)
        ).all()
    findings.extend(
        Finding(int(idx) << int(lv), "tree_node.extra", f"tree node ({lv}, {idx}) is not part of the log")
        for lv, idx in stray
    )
    return findings, checked


def verify_exit_code(report: VerifyReport) -> int:
    return 0 if report.valid else 1


def _projection_size(ctx: LedgerContext) -> int | None:
    with ctx.engine.connect() as conn:
        value = conn.execute(
            select(PROJECTION_META.c.log_size).where(PROJECTION_META.c.name == PROJECTION_NAME)
        ).scalar()
    return None if value is None else int(value)
