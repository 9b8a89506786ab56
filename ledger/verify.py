"""Verifying a log from its bytes alone.

:class:`LogVerifier` is fed entry bytes in log order and keeps O(log n) tree
state plus one hash per subject, so it verifies a log of any length in
bounded memory. It never stops at the first break: every finding is
collected with its index, what was expected and what was found, and
:meth:`LogVerifier.finish` raises :class:`~ledger.errors.VerificationFailed`
carrying all of them.

Per entry, in order:

1. the bytes parse as a canonical ``kcl/entry/v1`` with a valid envelope and
   statement;
2. the entry's index is the next one (gaps, duplicates and swaps show here);
3. ``prev`` is the leaf hash of the previous entry about the same subject;
4. the statement's nonce has not been used before (replay);
5. the statement is admitted by :func:`ledger.state.admit` — keys valid at
   this index, roles, guard rules — exactly as at append time;
6. every signature verifies (possibly on other cores, see
   :class:`SignatureChecker`);
7. the leaf joins the Merkle tree.

At the end: the log is not empty (fail closed), and its root at the
checkpoint's size equals the checkpoint's root.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from ledger.checkpoint import Checkpoint
from ledger.entry import Entry
from ledger.errors import Finding, InvalidSignature, LedgerError, RuleViolation, VerificationFailed
from ledger.keys import PublicKey
from ledger.merkle import CompactRange, hash_leaf
from ledger.note import parse_vkey
from ledger.state import LedgerState, admit, apply

SigTask = tuple[int, bytes, bytes, bytes]
"""(entry index, signer's SPKI DER, signed message, signature)."""


SigFailure = tuple[int, str]
"""(entry index, key id of the signature that failed)."""


def check_signature_tasks(tasks: Iterable[SigTask], cache: dict[bytes, PublicKey]) -> list[SigFailure]:
    """Verify signature tasks; return (index, keyid) of each signature that failed."""
    failed = []
    for index, spki, message, signature in tasks:
        key = cache.get(spki)
        if key is None:
            key = cache[spki] = PublicKey.from_spki_der(spki)
        try:
            key.verify(signature, message)
        except InvalidSignature:
            failed.append((index, key.keyid))
    return failed


class SignatureChecker(Protocol):
    """Where signature checks run: inline, or on a pool of processes (``app``)."""

    def submit(self, tasks: list[SigTask]) -> None: ...

    def collect(self, wait: bool) -> list[SigFailure]:
        """Failed signatures among finished work; ``wait`` finishes all."""
        ...


class InlineSignatureChecker:
    def __init__(self) -> None:
        self._cache: dict[bytes, PublicKey] = {}
        self._failed: list[SigFailure] = []

    def submit(self, tasks: list[SigTask]) -> None:
        self._failed.extend(check_signature_tasks(tasks, self._cache))

    def collect(self, wait: bool) -> list[SigFailure]:
        failed, self._failed = self._failed, []
        return failed


@dataclass(frozen=True)
class LogSummary:
    size: int
    root: bytes
    origin: str | None
    warnings: tuple[Finding, ...] = ()


@dataclass
class _Progress:
    entries: int = 0
    findings: list[Finding] = field(default_factory=list)


class LogVerifier:
    """Streaming verifier; see the module docstring for the steps."""

    def __init__(
        self,
        *,
        checkpoint: Checkpoint | None = None,
        earlier_checkpoints: Iterable[Checkpoint] = (),
        log_vkey: str | None = None,
        signature_checker: SignatureChecker | None = None,
        chunk_size: int = 1024,
    ) -> None:
        self.state = LedgerState()
        self.checkpoint = checkpoint
        # Earlier checkpoints must agree with the log too: a root that once
        # was published can never change (that would be a fork).
        self._earlier: dict[int, list[Checkpoint]] = {}
        for earlier in earlier_checkpoints:
            self._earlier.setdefault(earlier.size, []).append(earlier)
        self._earlier_roots: dict[int, bytes] = {}
        self.log_vkey = log_vkey
        self._checker = signature_checker or InlineSignatureChecker()
        self._chunk_size = chunk_size
        self._tasks: list[SigTask] = []
        self._range = CompactRange()
        self._root_at_checkpoint: bytes | None = None
        self._next_index = 0
        self._heads: dict[str, bytes] = {}
        self._nonces: set[str] = set()
        self.findings: list[Finding] = []
        self.warnings: list[Finding] = []

    @property
    def size(self) -> int:
        return self._range.size

    def _find(
        self, index: int | None, code: str, message: str, expected: object = None, found: object = None
    ) -> None:
        self.findings.append(
            Finding(
                index,
                code,
                message,
                None if expected is None else str(expected),
                None if found is None else str(found),
            )
        )

    def feed(self, raw: bytes) -> None:
        position = self._range.size
        leaf = hash_leaf(raw)
        # Step 7 first: the tree is over the bytes as they are, valid or not.
        self._range.append(leaf)
        if self.checkpoint is not None and self._range.size == self.checkpoint.size:
            self._root_at_checkpoint = self._range.root()
        if self._range.size in self._earlier:
            self._earlier_roots[self._range.size] = self._range.root()
        # Step 1.
        try:
            entry = Entry.parse(raw)
        except LedgerError as exc:
            self._find(
                self._next_index,
                exc.code,
                f"entry at position {position} is unreadable",
                "canonical kcl/entry/v1 bytes with a valid envelope and statement",
                exc.message,
            )
            self._next_index += 1
            return
        index = entry.index
        # Step 2.
        if index != self._next_index:
            what = "duplicate or out of order" if index < self._next_index else "gap before it"
            self._find(
                index, "entry.index", f"entry index breaks the sequence ({what})", self._next_index, index
            )
        self._next_index = index + 1
        statement = entry.statement
        # Step 3.
        expected_prev = self._heads.get(statement.subject)
        found_prev = entry.prev
        if (expected_prev.hex() if expected_prev else None) != found_prev:
            self._find(
                index,
                "chain.prev",
                f"prev does not link to the previous entry about {statement.subject}",
                expected_prev.hex() if expected_prev else "null",
                found_prev or "null",
            )
        self._heads[statement.subject] = leaf
        # Step 4.
        if statement.nonce in self._nonces:
            self._find(
                index, "statement.replayed", "statement nonce was used before (replay)", None, statement.nonce
            )
        self._nonces.add(statement.nonce)
        # Step 5.
        try:
            ctx = admit(self.state, index, entry.envelope, statement, entry.recorded_at, check_crypto=False)
        except RuleViolation as exc:
            self._find(
                index, exc.rule, f"{statement.kind} is not allowed here", f"{exc.rule} holds", exc.reason
            )
            return
        except LedgerError as exc:
            self._find(
                index, exc.code, f"{statement.kind} is not admissible", "an admissible statement", exc.message
            )
            return
        for warning in ctx.warnings:
            self.warnings.append(Finding(index, "warning", warning))
        # Step 6 (deferred, so it can run in parallel).
        message = entry.envelope.signed_bytes
        for signature, key in ctx.keys:
            self._tasks.append((index, key.public_key.spki_der, message, signature.sig))
        if len(self._tasks) >= self._chunk_size:
            self._flush(wait=False)
        apply(self.state, ctx, leaf)

    def feed_all(self, entries: Iterable[bytes]) -> None:
        for raw in entries:
            self.feed(raw)

    def _flush(self, wait: bool) -> None:
        if self._tasks:
            self._checker.submit(self._tasks)
            self._tasks = []
        for index, keyid in self._checker.collect(wait):
            self._find(
                index,
                "auth.signature_invalid",
                "a signature does not verify",
                f"a valid signature by key {keyid}",
                "an invalid signature",
            )

    def finish(self) -> LogSummary:
        """Complete the checks; return a summary or raise with every finding."""
        self._flush(wait=True)
        if self._range.size == 0:
            self._find(None, "log.empty", "no entries: an empty or missing log verifies nothing")
        root = self._range.root()
        cp = self.checkpoint
        if cp is not None and self._range.size:
            if cp.size > self._range.size:
                self._find(
                    self._range.size,
                    "checkpoint.size",
                    "the log is shorter than its checkpoint (truncated)",
                    cp.size,
                    self._range.size,
                )
            else:
                if cp.size < self._range.size:
                    self._find(
                        cp.size,
                        "checkpoint.size",
                        "entries beyond the checkpoint are not covered by it",
                        cp.size,
                        self._range.size,
                    )
                if self._root_at_checkpoint != cp.root:
                    self._find(
                        None,
                        "checkpoint.root",
                        f"the root of the first {cp.size} entries differs from the checkpoint",
                        cp.root.hex(),
                        self._root_at_checkpoint.hex() if self._root_at_checkpoint else None,
                    )
            if self.state.origin is not None and cp.origin != self.state.origin:
                self._find(
                    0,
                    "checkpoint.origin",
                    "checkpoint origin differs from genesis",
                    self.state.origin,
                    cp.origin,
                )
        for size, earlier in self._earlier.items():
            for cp in earlier:
                found = self._earlier_roots.get(size)
                if found is None:
                    self._find(
                        size,
                        "checkpoint.size",
                        f"a checkpoint of size {size} exceeds the log",
                        size,
                        self._range.size,
                    )
                elif found != cp.root:
                    self._find(
                        size - 1,
                        "checkpoint.root",
                        f"the checkpoint of size {size} does not match the first {size} entries",
                        cp.root.hex(),
                        found.hex(),
                    )
        if (
            self.log_vkey is not None
            and self.state.log_vkey is not None
            and not _same_vkey(self.log_vkey, self.state.log_vkey)
        ):
            self._find(
                0,
                "genesis.log_key",
                "the log key declared in genesis is not the one given",
                self.log_vkey,
                self.state.log_vkey,
            )
        if self.findings:
            self.findings.sort(key=lambda f: -1 if f.index is None else f.index)
            raise VerificationFailed(self.findings)
        return LogSummary(self._range.size, root, self.state.origin, tuple(self.warnings))


def _same_vkey(a: str, b: str) -> bool:
    """Compare verifier keys by what they denote, not by spelling (hex case)."""
    try:
        first, second = parse_vkey(a), parse_vkey(b)
    except LedgerError:
        return a == b
    return (first.name, first.key_id, first.public_key, first.signature_type) == (
        second.name,
        second.key_id,
        second.public_key,
        second.signature_type,
    )


def verify_entries(
    entries: Iterable[bytes],
    *,
    checkpoint: Checkpoint | None = None,
    log_vkey: str | None = None,
    signature_checker: SignatureChecker | None = None,
) -> LogSummary:
    """Verify a whole log given as entry bytes in order; raise with every finding."""
    verifier = LogVerifier(checkpoint=checkpoint, log_vkey=log_vkey, signature_checker=signature_checker)
    verifier.feed_all(entries)
    return verifier.finish()
