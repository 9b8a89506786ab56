"""EPCIS 2.0 export: the ledger's custody events as a JSON-LD ``EPCISDocument``.

The mapping itself is pure (:mod:`ledger.epcis`); this module selects the
entries, resolves signers' keys to parties, and writes the file atomically.

Public interface (used by ``custody export --format epcis`` and the API)::

    export_epcis(ctx, connector=None, *, out: Path) -> EpcisExport
    epcis_document(ctx, connector=None) -> dict

``connector=None`` exports every custody event of the log; a connector
(``VENDOR:SERIAL`` or ``connector:VENDOR:SERIAL``) exports its chain and the
events of every seal its chain names. Only entries covered by the latest
checkpoint are exported, and the document names that checkpoint
(``kcl:checkpoint``), so an auditor can check every event id against it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app import queries
from app.services.atomic_write import write_atomic
from app.services.context import LedgerContext
from app.services.custody import connector_subject
from app.tables import ENTRIES
from ledger.checkpoint import parse_checkpoint_unverified
from ledger.entry import Entry
from ledger.epcis import CheckpointRef, map_entries, seals_named
from ledger.epcis import epcis_document as build_document
from ledger.errors import NotFound
from ledger.ids import check_subject
from ledger.times import format_timestamp

MEDIA_TYPE = "application/ld+json"


@dataclass(frozen=True)
class EpcisExport:
    path: Path
    connector: str | None
    events: int
    error_declarations: int
    checkpoint: CheckpointRef
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "format": "epcis",
            "connector": self.connector,
            "events": self.events,
            "error_declarations": self.error_declarations,
            "checkpoint": self.checkpoint.as_json(),
            "sha256": self.sha256,
        }


def latest_checkpoint(ctx: LedgerContext) -> CheckpointRef:
    ctx.require_initialised()
    note = ctx.store.checkpoint()
    checkpoint = parse_checkpoint_unverified(note)
    return CheckpointRef(checkpoint.origin, checkpoint.size, checkpoint.root.hex())


def key_parties(ctx: LedgerContext) -> dict[str, str]:
    """Key id → party subject, for every key the log has registered."""
    return {keyid: key.party for keyid, key in ctx.store.trust_state().keys.items()}


def resolve_connector(ctx: LedgerContext, connector: str) -> str:
    """The subject of an existing connector (``VENDOR:SERIAL`` or the full subject)."""
    subject = check_subject(connector_subject(connector.strip()), "connector", "connector")
    return queries.connector(ctx.engine, subject).subject


def _rows(ctx: LedgerContext, *conditions: Any) -> list[tuple[int, bytes]]:
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(ENTRIES.c.idx, ENTRIES.c.raw).where(*conditions).order_by(ENTRIES.c.idx))
        return [(int(idx), bytes(raw)) for idx, raw in rows]


def connector_entries(ctx: LedgerContext, subject: str, size: int) -> list[Entry]:
    """A connector's chain and the entries of every seal it names, in log order."""
    chain = [Entry.parse(raw) for _, raw in _rows(ctx, ENTRIES.c.subject == subject, ENTRIES.c.idx < size)]
    seal_ids = sorted({s for e in chain for s in seals_named(e.statement.kind, e.statement.data)})
    wanted: dict[int, Entry] = {e.index: e for e in chain}
    receipts: set[int] = set()
    for seal_id in seal_ids:
        try:
            receipts.add(queries.seal(ctx.engine, seal_id).received_index)
        except NotFound:
            continue  # a seal id observed on a receipt but never on the ledger
    subjects = [f"seal:{s}" for s in seal_ids]
    for chunk_start in range(0, len(subjects), 500):
        chunk = subjects[chunk_start : chunk_start + 500]
        for idx, raw in _rows(ctx, ENTRIES.c.subject.in_(chunk), ENTRIES.c.idx < size):
            wanted.setdefault(idx, Entry.parse(raw))
    missing = sorted(i for i in receipts if i not in wanted and i < size)
    if missing:
        for idx, raw in _rows(ctx, ENTRIES.c.idx.in_(missing)):
            wanted[idx] = Entry.parse(raw)
    return [wanted[i] for i in sorted(wanted)]


def _all_entries(ctx: LedgerContext, size: int) -> Iterator[Entry]:
    for raw in ctx.store.entries(0, size):
        yield Entry.parse(raw)


def _document(ctx: LedgerContext, connector: str | None) -> tuple[dict[str, Any], CheckpointRef, str | None]:
    checkpoint = latest_checkpoint(ctx)
    entries: Iterable[Entry]
    subject = None
    if connector is None:
        entries = _all_entries(ctx, checkpoint.size)
    else:
        subject = resolve_connector(ctx, connector)
        entries = connector_entries(ctx, subject, checkpoint.size)

    def corrected(index: int) -> Entry:
        return Entry.parse(ctx.store.entry(index))

    events = map_entries(entries, corrected, key_parties(ctx))
    document = build_document(
        events, creation_date=format_timestamp(ctx.clock(), millis=True), checkpoint=checkpoint
    )
    return document, checkpoint, subject


def epcis_document(ctx: LedgerContext, connector: str | None = None) -> dict[str, Any]:
    """The EPCIS document of the whole log, or of one connector's chain and its seals."""
    return _document(ctx, connector)[0]


def document_bytes(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def export_epcis(ctx: LedgerContext, connector: str | None = None, *, out: Path) -> EpcisExport:
    """Write the EPCIS document (see :func:`epcis_document`) to ``out``, atomically.

    Errors (unknown connector, uninitialised ledger, unwritable path) are
    raised before anything is written; ``out`` is never left half-written.
    """
    document, checkpoint, subject = _document(ctx, connector)
    data = document_bytes(document)
    path = write_atomic(Path(out), data)
    events = document["epcisBody"]["eventList"]
    return EpcisExport(
        path=path,
        connector=subject,
        events=len(events),
        error_declarations=sum(1 for e in events if "errorDeclaration" in e),
        checkpoint=checkpoint,
        sha256=hashlib.sha256(data).hexdigest(),
    )
