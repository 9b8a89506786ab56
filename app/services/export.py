"""`custody export`: export bundles (docs/format.md §15) of the whole log or of connectors.

A full export streams every entry up to a checkpoint into ``entries.jsonl``
without holding them in memory. A partial export (``--connector``) collects
the entries its verification needs (:func:`needed_indices`, the definition
of §15) and one inclusion proof per entry against the same checkpoint.

The zip is written to a temporary file next to the target and renamed over
it only when complete, so a reader never sees half a bundle. Member order,
timestamps and permissions are fixed: the same ledger at the same checkpoint
gives the same bytes.
"""

from __future__ import annotations

import hashlib
import importlib
import stat
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app import queries
from app.services.atomic_write import atomic_output
from app.services.context import LedgerContext
from app.services.custody import connector_subject
from app.tables import ENTRIES
from ledger import bundle
from ledger.checkpoint import parse_checkpoint_unverified
from ledger.entry import Entry
from ledger.errors import InvalidInput, NotFound
from ledger.ids import check_subject

#: DOS epoch: zip timestamps carry no information, so equal ledgers give equal bytes.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = stat.S_IFREG | 0o644
_WRITE_BLOCK = 1 << 20
_SUBJECT_CHUNK = 500


@dataclass
class ExportResult:
    path: Path
    partial: bool
    entries: int
    checkpoint_size: int
    root: str
    origin: str
    subjects: list[str] = field(default_factory=list)
    size_bytes: int = 0
    sha256: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "kind": "partial" if self.partial else "full",
            "entries": self.entries,
            "checkpoint_size": self.checkpoint_size,
            "root": self.root,
            "origin": self.origin,
            "subjects": self.subjects,
            "bytes": self.size_bytes,
            "sha256": self.sha256,
        }


# --------------------------------------------------------------------------
# Zip writing


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, whatever platform writes it
    info.external_attr = _FILE_MODE << 16
    return info


class BundleWriter:
    """Members of one bundle zip, in order; see :func:`bundle_file`."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self._zip = archive

    def add(self, name: str, data: bytes) -> None:
        self._zip.writestr(_info(name), data)

    def add_lines(self, name: str, lines: Iterable[bytes]) -> int:
        """Stream LF-terminated lines into a member; return how many."""
        count, buffer, buffered = 0, [], 0
        with self._zip.open(_info(name), "w", force_zip64=True) as member:
            for line in lines:
                buffer.append(line)
                buffered += len(line)
                count += 1
                if buffered >= _WRITE_BLOCK:
                    member.write(b"".join(buffer))
                    buffer, buffered = [], 0
            if buffer:
                member.write(b"".join(buffer))
        return count


@contextmanager
def bundle_file(out: Path) -> Iterator[BundleWriter]:
    """Write a zip at ``out`` through a temporary file renamed into place on success."""
    with atomic_output(out) as file, zipfile.ZipFile(file, "w", allowZip64=True) as archive:
        yield BundleWriter(archive)


def _digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as file:
        while block := file.read(_WRITE_BLOCK):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


# --------------------------------------------------------------------------
# What goes in


@dataclass(frozen=True)
class _Anchor:
    note: str
    size: int
    root: str
    origin: str
    vkey: str


def _anchor(ctx: LedgerContext, size: int | None) -> _Anchor:
    ctx.require_initialised()
    store = ctx.store
    note = _checkpoint_note(ctx, size)
    checkpoint = parse_checkpoint_unverified(note)
    genesis = Entry.parse(store.entry(0))
    vkey = str(genesis.statement.data["log_vkey"])
    return _Anchor(note, checkpoint.size, checkpoint.root.hex(), checkpoint.origin, vkey)


def _checkpoint_note(ctx: LedgerContext, size: int | None) -> str:
    """The stored checkpoint note, with the witnesses' cosignatures where the ledger keeps them."""
    try:
        cosign = importlib.import_module("app.services.cosign")
    except ImportError:  # pragma: no cover - witnessing is optional
        return ctx.store.checkpoint(size)
    note: str = cosign.cosigned_checkpoint(ctx, size)
    return note


def export_all(
    ctx: LedgerContext,
    out: Path,
    *,
    size: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Every entry up to the latest checkpoint (or the one of ``size``), streamed into a bundle."""
    anchor = _anchor(ctx, size)

    def lines() -> Iterator[bytes]:
        for count, raw in enumerate(ctx.store.entries(0, anchor.size), start=1):
            yield raw + b"\n"
            if progress is not None and count % 100_000 == 0:
                progress(count)

    with bundle_file(out) as writer:
        writer.add(bundle.VKEY, anchor.vkey.encode() + b"\n")
        writer.add(bundle.CHECKPOINT, anchor.note.encode())
        count = writer.add_lines(bundle.ENTRIES, lines())
    if count != anchor.size:
        Path(out).unlink(missing_ok=True)
        raise InvalidInput(f"the log has {count} entries below its checkpoint of size {anchor.size}")
    result = ExportResult(Path(out), False, count, anchor.size, anchor.root, anchor.origin)
    result.size_bytes, result.sha256 = _digest(Path(out))
    return result


def connector_arg(ctx: LedgerContext, identifier: str) -> str:
    """``VENDOR:SERIAL`` or ``connector:VENDOR:SERIAL`` of a connector on the ledger → its subject."""
    subject = check_subject(connector_subject(identifier.strip()), "connector", "connector")
    return queries.connector(ctx.engine, subject).subject


def export_connectors(
    ctx: LedgerContext, connectors: Sequence[str], out: Path, *, size: int | None = None
) -> ExportResult:
    """A partial bundle: what verifying the given connectors needs, with inclusion proofs."""
    if not connectors:
        raise InvalidInput("name at least one connector to export")
    anchor = _anchor(ctx, size)
    subjects = sorted({connector_arg(ctx, c) for c in connectors})
    indices = needed_indices(ctx, subjects, anchor.size)
    store = ctx.store
    proofs = [bundle.proof_line_bytes(store.inclusion_proof(i, anchor.size)) for i in indices]
    raws = _entries_at(ctx, indices)
    with bundle_file(out) as writer:
        writer.add(bundle.VKEY, anchor.vkey.encode() + b"\n")
        writer.add(bundle.CHECKPOINT, anchor.note.encode())
        writer.add_lines(bundle.ENTRIES, (raws[i] + b"\n" for i in indices))
        writer.add_lines(bundle.PROOFS, proofs)
    result = ExportResult(Path(out), True, len(indices), anchor.size, anchor.root, anchor.origin, subjects)
    result.size_bytes, result.sha256 = _digest(Path(out))
    return result


def _rows(ctx: LedgerContext, *conditions: Any) -> list[tuple[int, bytes]]:
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(ENTRIES.c.idx, ENTRIES.c.raw).where(*conditions).order_by(ENTRIES.c.idx))
        return [(int(idx), bytes(raw)) for idx, raw in rows]


def _entries_at(ctx: LedgerContext, indices: Sequence[int]) -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    for start in range(0, len(indices), _SUBJECT_CHUNK):
        found.update(_rows(ctx, ENTRIES.c.idx.in_(list(indices[start : start + _SUBJECT_CHUNK]))))
    return found


def needed_indices(ctx: LedgerContext, subjects: Sequence[str], size: int) -> list[int]:
    """The entries (below ``size``) a partial export of connector ``subjects`` must carry (§15).

    1. genesis (index 0);
    2. each connector's whole chain;
    3. for every seal those chains put on a housing (``seal.applied``): the
       seal's whole chain, and the ``seal.received`` entry of its batch (its
       subject is the batch's first seal; that entry opens that seal's chain);
    4. for every party that authored, signed or is named (``party:`` values
       in data: counterparty, witness, override auditor, seal recipient) in
       any entry taken so far, its whole chain (``party.registered``,
       ``key.added``, ``key.revoked``, ``role.granted``, ``role.revoked``),
       and again for the parties of those entries, until nothing is added.
    """
    trust = ctx.store.trust_state()
    key_party = {keyid: record.party for keyid, record in trust.keys.items()}
    wanted: dict[int, Entry] = {0: Entry.parse(ctx.store.entry(0))}
    taken: set[str] = set()

    def take(chain_subjects: Iterable[str]) -> list[Entry]:
        fresh = sorted(set(chain_subjects) - taken)
        taken.update(fresh)
        added = []
        for start in range(0, len(fresh), _SUBJECT_CHUNK):
            part = fresh[start : start + _SUBJECT_CHUNK]
            for idx, raw in _rows(ctx, ENTRIES.c.subject.in_(part), ENTRIES.c.idx < size):
                if idx not in wanted:
                    wanted[idx] = entry = Entry.parse(raw)
                    added.append(entry)
        return added

    chains = take(subjects)
    for subject in subjects:
        if not any(e.statement.subject == subject for e in chains):
            raise NotFound(f"{subject} has no entries at checkpoint size {size}")
    seals = sorted({s for e in chains for s in bundle.carried_seals(e.statement)})
    take(f"seal:{s}" for s in seals)
    receipts = set()
    for seal in seals:
        try:
            receipts.add(queries.seal(ctx.engine, seal).received_index)
        except NotFound:
            continue  # the verifier reports the seal as unknown
    missing = sorted(i for i in receipts if i not in wanted and i < size)
    for idx, raw in _rows(ctx, ENTRIES.c.idx.in_(missing)) if missing else []:
        wanted[idx] = Entry.parse(raw)
    examined: set[int] = set()
    while True:
        parties: set[str] = set()
        for idx, entry in wanted.items():
            if idx in examined:
                continue
            examined.add(idx)
            parties |= bundle.needed_parties(entry.statement)
            parties.update(key_party[s.keyid] for s in entry.envelope.signatures if s.keyid in key_party)
        if not take(parties - taken):
            break
    return sorted(wanted)


# --------------------------------------------------------------------------
# EPCIS (another format of the same export command, if installed)


def export_epcis(ctx: LedgerContext, connectors: Sequence[str], out: Path) -> dict[str, Any]:
    """Hand ``--format epcis`` to :mod:`app.services.epcis` when that module is present."""
    try:
        epcis = importlib.import_module("app.services.epcis")
    except ImportError:
        raise InvalidInput("EPCIS export not available in this installation") from None
    if len(connectors) > 1:
        raise InvalidInput("an EPCIS export takes one --connector or --all")
    result = epcis.export_epcis(ctx, connectors[0] if connectors else None, out=out)
    as_dict = getattr(result, "as_dict", None)
    return dict(as_dict()) if callable(as_dict) else {"path": str(out)}
