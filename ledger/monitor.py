"""A monitor's decision: is a newly fetched checkpoint consistent with the last one seen?

Pure (no I/O): the caller fetches the checkpoint note and, when the log grew,
the consistency proof from the size it saw last, and persists the state this
returns. Every failure is a :class:`MonitorFinding` naming exactly what went
wrong (``docs/format.md`` §11.3):

===================================  ==========================================================
``verify.monitor.signature``         the checkpoint does not verify against the log's vkey
``verify.monitor.cosignatures``      fewer than k trusted witnesses cosigned it
``verify.monitor.origin``            it is a checkpoint of another log than the one watched
``verify.monitor.rollback``          its size is smaller than the size seen before
``verify.monitor.fork``              same size, different root; or the server's own tree at the
                                     old size has another root than the checkpoint seen (split view)
``verify.monitor.consistency``       the consistency proof is missing, for other sizes, or does
                                     not verify (the log cannot show it only appended)
===================================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger.checkpoint import Checkpoint, OpenedCheckpoint, open_checkpoint, parse_checkpoint_unverified
from ledger.encoding import b64encode
from ledger.errors import (
    ConsistencyProofError,
    InvalidInput,
    NoteVerificationError,
    VerificationError,
)
from ledger.merkle import verify_consistency
from ledger.note import Ed25519Verifier


class MonitorFinding(VerificationError):
    """The log misbehaved (or the server lies). ``evidence`` is the offending checkpoint note."""

    code = "verify.monitor"

    def __init__(self, message: str, evidence: str = "") -> None:
        super().__init__(message)
        self.evidence = evidence


class InvalidCheckpoint(MonitorFinding):
    code = "verify.monitor.signature"


class MissingCosignatures(MonitorFinding):
    code = "verify.monitor.cosignatures"


class OriginChanged(MonitorFinding):
    code = "verify.monitor.origin"


class Rollback(MonitorFinding):
    code = "verify.monitor.rollback"


class Fork(MonitorFinding):
    code = "verify.monitor.fork"


class InvalidConsistencyProof(MonitorFinding):
    code = "verify.monitor.consistency"


@dataclass(frozen=True)
class Seen:
    """The last checkpoint the monitor accepted."""

    origin: str
    size: int
    root: bytes
    note: str


@dataclass(frozen=True)
class ConsistencyEvidence:
    """A consistency proof as a log serves it (``/log/proof/consistency``), roots as claimed."""

    old_size: int
    new_size: int
    proof: tuple[bytes, ...]
    old_root: bytes | None = None
    new_root: bytes | None = None


@dataclass(frozen=True)
class Observation:
    seen: Seen
    opened: OpenedCheckpoint
    previous: Seen | None

    @property
    def first(self) -> bool:
        return self.previous is None

    @property
    def grew(self) -> bool:
        return self.previous is not None and self.seen.size > self.previous.size


def _root(value: bytes) -> str:
    return b64encode(value)


def observe(
    previous: Seen | None,
    note: bytes,
    log_key: Ed25519Verifier,
    proof: ConsistencyEvidence | None = None,
    witnesses: Sequence[Ed25519Verifier] = (),
    required_cosignatures: int = 0,
) -> Observation:
    """Check a fetched checkpoint against what was seen before; return the new state or raise.

    1. The body parses; its origin is the watched log's (``OriginChanged``).
    2. The log key signed it (``InvalidCheckpoint``) and at least
       ``required_cosignatures`` trusted witnesses cosigned it (``MissingCosignatures``).
    3. Nothing seen before: accept it (trust on first use).
    4. Smaller than before: ``Rollback``.
    5. Same size: the root must be the same (``Fork``).
    6. Larger: a proof for exactly (old size, new size) is required; if the server
       states its tree's root at the old size, it must be the root seen (``Fork``);
       its stated new root must be the checkpoint's, and the proof must verify
       from the root seen to the new root (``InvalidConsistencyProof``).
    """
    text = note.decode("utf-8", "replace")
    if required_cosignatures > len(witnesses):
        raise InvalidInput(
            f"{required_cosignatures} cosignature(s) required but only {len(witnesses)} witness key(s) given"
        )
    # Step 1.
    try:
        claimed = parse_checkpoint_unverified(text)
    except InvalidInput as exc:
        raise InvalidCheckpoint(f"the server's checkpoint is malformed: {exc.message}", text) from None
    watched = previous.origin if previous is not None else log_key.name
    if claimed.origin != watched:
        raise OriginChanged(
            f"origin changed: the checkpoint is for {claimed.origin!r}, this monitor watches {watched!r}",
            text,
        )
    # Step 2.
    try:
        opened = open_checkpoint(note, log_key, witnesses)
    except (NoteVerificationError, InvalidInput) as exc:
        raise InvalidCheckpoint(
            f"invalid checkpoint signature: {exc.message} (log key {log_key.vkey()})", text
        ) from None
    if len(opened.cosignatures) < required_cosignatures:
        have = ", ".join(c.name for c in opened.cosignatures) or "none"
        raise MissingCosignatures(
            f"checkpoint at size {opened.checkpoint.size} has {len(opened.cosignatures)} trusted "
            f"cosignature(s) ({have}), {required_cosignatures} required",
            text,
        )
    checkpoint: Checkpoint = opened.checkpoint
    seen = Seen(checkpoint.origin, checkpoint.size, checkpoint.root, opened.note)
    # Step 3.
    if previous is None:
        return Observation(seen, opened, None)
    old, new = previous.size, checkpoint.size
    # Step 4.
    if new < old:
        raise Rollback(
            f"rollback: the log now shows size {new} (root {_root(checkpoint.root)}), "
            f"smaller than the size {old} seen before (root {_root(previous.root)})",
            text,
        )
    # Step 5.
    if new == old:
        if checkpoint.root != previous.root:
            raise Fork(
                f"fork (split view): two checkpoints of size {new} signed by the log key with different "
                f"roots: {_root(previous.root)} seen before, {_root(checkpoint.root)} now",
                text,
            )
        return Observation(seen, opened, previous)
    # Step 6.
    if proof is None:
        raise InvalidConsistencyProof(
            f"no consistency proof from size {old} to {new}: the log grew without proving it only appended",
            text,
        )
    if (proof.old_size, proof.new_size) != (old, new):
        raise InvalidConsistencyProof(
            f"the server sent a consistency proof from {proof.old_size} to {proof.new_size}, "
            f"not from {old} to {new}",
            text,
        )
    if proof.old_root is not None and proof.old_root != previous.root:
        raise Fork(
            f"fork (split view): the server's tree at size {old} has root {_root(proof.old_root)}, "
            f"but the checkpoint seen before at that size has root {_root(previous.root)}",
            text,
        )
    if proof.new_root is not None and proof.new_root != checkpoint.root:
        raise InvalidConsistencyProof(
            f"invalid consistency proof: it is for root {_root(proof.new_root)} at size {new}, "
            f"but the checkpoint has root {_root(checkpoint.root)}",
            text,
        )
    try:
        verify_consistency(old, new, proof.proof, previous.root, checkpoint.root)
    except ConsistencyProofError as exc:
        raise InvalidConsistencyProof(
            f"invalid consistency proof from size {old} to {new}: {exc.message}; the log cannot show "
            f"that it only appended since the checkpoint seen before (a fork or a corrupt proof)",
            text,
        ) from None
    return Observation(seen, opened, previous)
