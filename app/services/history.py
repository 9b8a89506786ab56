"""Entry histories with a verification status computed here, from the stored bytes.

A history page must not take the database's word for anything: for every
entry it shows, this module checks, from the verbatim entry bytes,

1. **signatures** — each signature verifies over the DSSE PAE under a key
   that was valid for its party at the entry's index (added before it, not
   revoked yet; from the trust state replayed from the log), and the author
   is among the signers;
2. **inclusion** — the entry's leaf hash (recomputed from the bytes) is in
   the tree of the latest checkpoint: the inclusion proof leads to the root
   of that checkpoint, whose signature verifies under the log key of genesis;
3. **chain** (reported, not part of ``verified``) — ``prev`` is the leaf hash
   of the previous entry about the same subject (null for the first).

An entry is ``verified`` when 1 and 2 hold. A tampered entry (its bytes
changed behind the append-only triggers) fails both; a forged one fails 1.
Corrections are reported, never hidden: an entry declared erroneous by a
later ``correction`` carries ``corrected_by``.

The same functions back the API (``GET /connectors/{subject}``,
``GET /seals/{id}``) and can back any page that shows a history.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from app.logstore import LogStore
from app.services.context import LedgerContext
from app.tables import ENTRIES
from ledger.checkpoint import open_checkpoint
from ledger.custody.records import ConnectorRecord, SealRecord
from ledger.entry import Entry
from ledger.errors import LedgerError
from ledger.merkle import NodeId, hash_leaf, inclusion_proof, inclusion_ranges, nodes_for, verify_inclusion
from ledger.note import parse_vkey
from ledger.state import LedgerState

#: Connector kinds that name seals in ``data.seals`` and so belong to a seal's life.
SEAL_KINDS_ON_CONNECTORS = ("seal.applied", "seal.removed")


@dataclass(frozen=True)
class SignerStatus:
    keyid: str
    party: str | None
    valid: bool
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"keyid": self.keyid, "party": self.party, "valid": self.valid, "problem": self.problem}


@dataclass(frozen=True)
class CheckpointRef:
    """The checkpoint entries were checked against, and whether its signature holds."""

    size: int
    root: str | None
    valid: bool
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"size": self.size, "root": self.root, "valid": self.valid, "problem": self.problem}


@dataclass(frozen=True)
class VerifiedEntry:
    index: int
    kind: str
    subject: str
    at: str
    recorded_at: str
    by: str
    place: str | None
    data: dict[str, Any]
    leaf_hash: str
    signers: list[SignerStatus]
    signatures_valid: bool
    included: bool
    chain_valid: bool | None
    problems: list[str] = field(default_factory=list)
    corrected_by: int | None = None
    state_before: str | None = None
    state_after: str | None = None

    @property
    def verified(self) -> bool:
        return self.signatures_valid and self.included

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "kind": self.kind,
            "subject": self.subject,
            "at": self.at,
            "recorded_at": self.recorded_at,
            "by": self.by,
            "place": self.place,
            "data": self.data,
            "leaf_hash": self.leaf_hash,
            "signers": [s.as_dict() for s in self.signers],
            "verification": {
                "verified": self.verified,
                "signatures_valid": self.signatures_valid,
                "included": self.included,
                "chain_valid": self.chain_valid,
                "problems": list(self.problems),
            },
            "corrected": self.corrected_by is not None,
            "corrected_by": self.corrected_by,
            "state_before": self.state_before,
            "state_after": self.state_after,
        }


@dataclass(frozen=True)
class VerifiedHistory:
    entries: list[VerifiedEntry]
    checkpoint: CheckpointRef

    @property
    def all_verified(self) -> bool:
        return all(e.verified for e in self.entries)


# --------------------------------------------------------------------------
# Reading the bytes


def raw_entries_of(ctx: LedgerContext, subject: str) -> list[tuple[int, bytes]]:
    """(stored index, entry bytes) of every entry about ``subject``, in log order."""
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(ENTRIES.c.idx, ENTRIES.c.raw).where(ENTRIES.c.subject == subject).order_by(ENTRIES.c.idx)
        ).all()
    return [(int(idx), bytes(raw)) for idx, raw in rows]


def raw_entries_at(ctx: LedgerContext, indices: Collection[int]) -> list[tuple[int, bytes]]:
    if not indices:
        return []
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(ENTRIES.c.idx, ENTRIES.c.raw)
            .where(ENTRIES.c.idx.in_(sorted(set(indices))))
            .order_by(ENTRIES.c.idx)
        ).all()
    return [(int(idx), bytes(raw)) for idx, raw in rows]


# --------------------------------------------------------------------------
# Checks


def _latest_checkpoint(ctx: LedgerContext, trust: LedgerState) -> tuple[CheckpointRef, bytes | None]:
    latest = ctx.store.latest_checkpoint()
    if latest is None:
        return CheckpointRef(0, None, False, "the ledger has no checkpoint"), None
    size, note = latest
    try:
        if trust.log_vkey is None:
            raise LookupError("the log has no genesis entry naming its key")
        opened = open_checkpoint(note.encode("utf-8"), parse_vkey(trust.log_vkey))
    except (LedgerError, LookupError) as exc:
        return CheckpointRef(size, None, False, f"latest checkpoint does not verify: {exc}"), None
    checkpoint = opened.checkpoint
    if checkpoint.size != size:
        problem = f"checkpoint note says size {checkpoint.size}, stored as {size}"
        return CheckpointRef(size, checkpoint.root.hex(), False, problem), None
    return CheckpointRef(size, checkpoint.root.hex(), True), checkpoint.root


def _signers(trust: LedgerState, entry: Entry) -> tuple[list[SignerStatus], list[str]]:
    statuses, problems = [], []
    message = entry.envelope.signed_bytes
    for signature in entry.envelope.signatures:
        key = trust.keys.get(signature.keyid)
        if key is None:
            statuses.append(SignerStatus(signature.keyid, None, False, "unknown key"))
            continue
        problem = None
        if not key.usable_at(entry.index):
            problem = (
                f"key not valid at index {entry.index} (added at {key.added_at}, revoked at {key.revoked_at})"
            )
        else:
            try:
                key.public_key.verify(signature.sig, message)
            except LedgerError:
                problem = "signature does not verify"
        statuses.append(SignerStatus(signature.keyid, key.party, problem is None, problem))
    for status in statuses:
        if status.problem is not None:
            problems.append(f"signature by {status.keyid[:16]}…: {status.problem}")
    if entry.statement.by not in {s.party for s in statuses if s.valid}:
        problems.append(f"the author {entry.statement.by} has no valid signature on the entry")
    return statuses, problems


def _inclusion_paths(
    store: LogStore, indices: Sequence[int], size: int
) -> dict[int, list[bytes] | LedgerError]:
    """Inclusion proofs of ``indices`` in the tree of ``size``, from one node query."""
    wanted = [i for i in indices if 0 <= i < size]
    needed: set[NodeId] = set()
    for index in wanted:
        needed |= nodes_for(inclusion_ranges(index, size))
    out: dict[int, list[bytes] | LedgerError] = {}
    try:
        with store.engine.connect() as conn:
            nodes = store.fetch_nodes(conn, needed)
    except LedgerError as exc:
        return dict.fromkeys(wanted, exc)

    def fetch(ids: Collection[NodeId]) -> dict[NodeId, bytes]:
        return {node: nodes[node] for node in ids}

    for index in wanted:
        out[index] = inclusion_proof(index, size, fetch)
    return out


def verify_entries(
    ctx: LedgerContext,
    rows: Sequence[tuple[int, bytes]],
    *,
    chain_subject: str | None = None,
    annotations: Mapping[int, tuple[str | None, str | None, int | None]] | None = None,
    trust: LedgerState | None = None,
) -> VerifiedHistory:
    """Verify stored entries (``(index, bytes)`` pairs, in log order).

    ``chain_subject``: the subject whose whole chain ``rows`` holds; its
    ``prev`` links are checked (other entries report ``chain_valid`` None).
    ``annotations``: index → (state before, state after, corrected by).
    """
    trust = trust if trust is not None else ctx.store.trust_state()
    checkpoint, root = _latest_checkpoint(ctx, trust)
    paths = _inclusion_paths(ctx.store, [i for i, _ in rows], checkpoint.size) if root else {}
    notes = annotations or {}
    previous: bytes | None = None
    out = []
    for stored_index, raw in rows:
        leaf = hash_leaf(raw)
        try:
            entry = Entry.parse(raw)
        except LedgerError as exc:
            # Bytes changed beyond parsing: shown, never a failed request.
            out.append(_unreadable(stored_index, raw, leaf, chain_subject, exc))
            if chain_subject is not None:
                previous = leaf
            continue
        problems: list[str] = []
        if entry.index != stored_index:
            problems.append(f"entry bytes say index {entry.index}, stored at {stored_index}")
        signers, signature_problems = _signers(trust, entry)
        problems.extend(signature_problems)
        included = False
        if root is None:
            problems.append(checkpoint.problem or "no verified checkpoint")
        elif stored_index >= checkpoint.size:
            problems.append(f"not yet in the latest checkpoint (size {checkpoint.size})")
        else:
            path = paths.get(stored_index)
            try:
                if isinstance(path, LedgerError):
                    raise path
                if path is None:
                    raise LookupError("no inclusion proof")
                verify_inclusion(leaf, stored_index, checkpoint.size, path, root)
                included = entry.index == stored_index
            except (LedgerError, LookupError) as exc:
                problems.append(f"not included in checkpoint {checkpoint.size}: {exc}")
        chain_valid: bool | None = None
        if chain_subject is not None and entry.statement.subject == chain_subject:
            expected = None if previous is None else previous.hex()
            chain_valid = entry.prev == expected
            if not chain_valid:
                problems.append(
                    f"prev is {entry.prev}, the previous entry about the subject hashes to {expected}"
                )
            previous = leaf
        before, after, corrected_by = notes.get(stored_index, (None, None, None))
        statement = entry.statement
        out.append(
            VerifiedEntry(
                index=stored_index,
                kind=statement.kind,
                subject=statement.subject,
                at=statement.at,
                recorded_at=entry.recorded_at,
                by=statement.by,
                place=statement.place,
                data=dict(statement.data),
                leaf_hash=leaf.hex(),
                signers=signers,
                signatures_valid=not signature_problems and all(s.valid for s in signers),
                included=included,
                chain_valid=chain_valid,
                problems=problems,
                corrected_by=corrected_by,
                state_before=before,
                state_after=after,
            )
        )
    return VerifiedHistory(out, checkpoint)


def _unreadable(index: int, raw: bytes, leaf: bytes, subject: str | None, exc: LedgerError) -> VerifiedEntry:
    return VerifiedEntry(
        index=index,
        kind="(unreadable)",
        subject=subject or "",
        at="",
        recorded_at="",
        by="",
        place=None,
        data={"raw": raw[:2000].decode("utf-8", errors="replace")},
        leaf_hash=leaf.hex(),
        signers=[],
        signatures_valid=False,
        included=False,
        chain_valid=False if subject is not None else None,
        problems=[f"the stored entry bytes do not parse: {exc.code}: {exc.message}"],
    )


# --------------------------------------------------------------------------
# Histories of the things people look up


def connector_history(ctx: LedgerContext, record: ConnectorRecord) -> VerifiedHistory:
    """Every entry about a connector, verified, with its state change and correction."""
    annotations = {h.index: (h.state_before, h.state_after, h.corrected_by) for h in record.history}
    return verify_entries(
        ctx, raw_entries_of(ctx, record.subject), chain_subject=record.subject, annotations=annotations
    )


def seal_history(
    ctx: LedgerContext, record: SealRecord, connector: ConnectorRecord | None = None
) -> VerifiedHistory:
    """A seal's life, verified: its batch receipt, the entries about it, and the
    applying and removing entries on the connector it was put on."""
    subject = f"seal:{record.seal_id}"
    rows = dict(raw_entries_of(ctx, subject))
    indices = {record.received_index} - set(rows)
    annotations: dict[int, tuple[str | None, str | None, int | None]] = {}
    if connector is not None:
        for item in connector.history:
            if item.kind in SEAL_KINDS_ON_CONNECTORS:
                indices.add(item.index)
            annotations[item.index] = (item.state_before, item.state_after, item.corrected_by)
    for index, raw in raw_entries_at(ctx, indices):
        try:
            seals = Entry.parse(raw).statement.data.get("seals", ())
        except LedgerError:
            seals = [record.seal_id]  # unreadable: show it rather than hide it
        if index == record.received_index or (isinstance(seals, list) and record.seal_id in seals):
            rows[index] = raw
    return verify_entries(ctx, sorted(rows.items()), chain_subject=subject, annotations=annotations)
