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

Reading an entry (step 1, and the state-free parts of steps 5 and 6) is
separate from replaying it: :func:`prepare_entry` turns bytes into a
:class:`PreparedEntry` and may run in another process, so a verifier fed by
:meth:`LogVerifier.feed_prepared` only replays. :meth:`LogVerifier.feed`
prepares inline and behaves exactly as before.

A verifier with ``partial=True`` checks a *partial* log (an export of some
subjects, docs/format.md §15): indices ascend but may skip, each entry
arrives with the findings of its inclusion proof against the checkpoint
(checked by :mod:`ledger.bundle`) instead of a tree being recomputed, and
chains are checked over the included entries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from ledger.checkpoint import Checkpoint
from ledger.encoding import b64decode
from ledger.entry import Entry
from ledger.envelope import Envelope
from ledger.errors import Finding, InvalidSignature, LedgerError, RuleViolation, VerificationFailed
from ledger.keys import PublicKey
from ledger.merkle import CompactRange, hash_leaf
from ledger.note import parse_vkey
from ledger.state import GENESIS_KIND, LedgerState, admit, apply, validate_statement
from ledger.statement import Statement

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


Rejection = tuple[str, str, bool]
"""Why admission refused an entry: (code or rule id, message, whether it is a guard rule)."""


@dataclass(slots=True)
class PreparedEntry:
    """An entry read and checked as far as possible without the log's state.

    ``statement`` is None when the bytes are unreadable (``error`` says
    why). ``rejected`` is a failure of the state-free part of admission
    (kind, subject type, data schema), ``validated`` says that part ran.
    ``signatures`` maps key ids to whether that signature verified, for the
    keys known where the entry was read; signatures not in it are checked
    after replay resolves their keys. ``position`` and ``proof_findings``
    come from a partial bundle's inclusion proof (:mod:`ledger.bundle`).
    """

    leaf: bytes
    index: int = -1
    prev: str | None = None
    recorded_at: str = ""
    envelope: Envelope | None = None
    statement: Statement | None = None
    error: tuple[str, str] | None = None
    rejected: Rejection | None = None
    validated: bool = False
    signatures: dict[str, bool] | None = None
    position: int | None = None
    proof_checked: bool = False
    proof_findings: tuple[Finding, ...] = ()


KeyCache = dict[str, PublicKey]
"""Public keys by key id, wherever they were seen (a key id commits to its key)."""


def _learn_key(statement: Statement, keys: KeyCache) -> None:
    """Remember the key a genesis or key.added statement describes.

    Whether that key may sign anything is decided by replay; here it only
    lets signatures by it be checked early. The cache is keyed by the id
    computed from the key itself, so a lying ``keyid`` field is harmless.
    """
    described = statement.data.get("key") if statement.kind == GENESIS_KIND else statement.data
    try:
        key = PublicKey.from_spki_der(b64decode(described["spki"], "spki"))  # type: ignore[index]
    except (LedgerError, KeyError, TypeError):
        return
    keys.setdefault(key.keyid, key)


def prepare_entry(raw: bytes, *, validate: bool = False, keys: KeyCache | None = None) -> PreparedEntry:
    """Step 1 of the verifier, plus (optionally) the state-free checks of steps 5 and 6.

    With ``validate`` the statement's kind and data schema are checked; with
    ``keys`` every signature by a key in the cache (to which genesis and
    ``key.added`` statements add theirs) is verified. Both are pure
    functions of the bytes, so this can run in any process.
    """
    leaf = hash_leaf(raw)
    try:
        entry = Entry.parse(raw)
    except LedgerError as exc:
        return PreparedEntry(leaf, error=(exc.code, exc.message))
    statement = entry.statement
    prepared = PreparedEntry(leaf, entry.index, entry.prev, entry.recorded_at, entry.envelope, statement)
    if validate:
        try:
            validate_statement(statement)
            prepared.validated = True
        except RuleViolation as exc:
            prepared.rejected = (exc.rule, exc.reason, True)
        except LedgerError as exc:
            prepared.rejected = (exc.code, exc.message, False)
    if keys is not None:
        if prepared.validated and statement.kind in _KEY_KINDS:
            _learn_key(statement, keys)
        checked: dict[str, bool] = {}
        message = entry.envelope.signed_bytes
        for signature in entry.envelope.signatures:
            key = keys.get(signature.keyid)
            if key is None:
                continue
            try:
                key.verify(signature.sig, message)
                checked[signature.keyid] = True
            except InvalidSignature:
                checked[signature.keyid] = False
        prepared.signatures = checked
    return prepared


_KEY_KINDS = frozenset({GENESIS_KIND, "key.added"})

#: Added to admission findings of a partial log, where replay sees only the exported entries.
PARTIAL_HINT = " (in a partial bundle this also shows when an entry it depends on is missing, format §15)"


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
        partial: bool = False,
    ) -> None:
        self.state = LedgerState()
        self.checkpoint = checkpoint
        self.partial = partial
        # Earlier checkpoints must agree with the log too: a root that once
        # was published can never change (that would be a fork).
        self._earlier: dict[int, list[Checkpoint]] = {}
        for earlier in earlier_checkpoints:
            if partial:
                raise ValueError("earlier checkpoints need the whole log, not a partial one")
            self._earlier.setdefault(earlier.size, []).append(earlier)
        self._earlier_roots: dict[int, bytes] = {}
        self.log_vkey = log_vkey
        self._checker = signature_checker or InlineSignatureChecker()
        self._chunk_size = chunk_size
        self._tasks: list[SigTask] = []
        self._range = CompactRange()
        self._root_at_checkpoint: bytes | None = None
        self._next_index = 0
        self._count = 0
        self._last_index = -1
        self._heads: dict[str, bytes] = {}
        self._nonces: set[str] = set()
        self.findings: list[Finding] = []
        self.warnings: list[Finding] = []

    @property
    def size(self) -> int:
        """Entries read so far."""
        return self._count

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
        self.feed_prepared(prepare_entry(raw))

    def feed_prepared(self, item: PreparedEntry) -> None:
        """Replay one entry read by :func:`prepare_entry` (or :mod:`ledger.bundle`)."""
        position = self._count
        self._count += 1
        leaf = item.leaf
        if self.partial:
            # Inclusion in the checkpoint's tree replaces recomputing the tree.
            if not item.proof_checked:
                self._find(
                    item.index if item.statement is not None else item.position,
                    "proof.missing",
                    "a partial log needs an inclusion proof for every entry",
                )
            self.findings.extend(item.proof_findings)
        else:
            # Step 7 first: the tree is over the bytes as they are, valid or not.
            self._range.append(leaf)
            if self.checkpoint is not None and self._range.size == self.checkpoint.size:
                self._root_at_checkpoint = self._range.root()
            if self._range.size in self._earlier:
                self._earlier_roots[self._range.size] = self._range.root()
        # Step 1.
        statement, envelope = item.statement, item.envelope
        if statement is None or envelope is None:
            code, message = item.error or ("input.entry", "unreadable")
            self._find(
                item.position if self.partial else self._next_index,
                code,
                f"entry at position {position} is unreadable",
                "canonical kcl/entry/v1 bytes with a valid envelope and statement",
                message,
            )
            self._next_index += 1
            return
        index = item.index
        # Step 2.
        if self.partial:
            if index <= self._last_index:
                self._find(
                    index,
                    "entry.index",
                    "entry index breaks the ascending order (duplicate or out of order)",
                    f"an index above {self._last_index}",
                    index,
                )
            elif position == 0 and index != 0:
                self._find(
                    index,
                    "bundle.incomplete",
                    "a partial log must begin with the genesis entry",
                    "index 0 first",
                    index,
                )
            self._last_index = max(self._last_index, index)
        elif index != self._next_index:
            what = "duplicate or out of order" if index < self._next_index else "gap before it"
            self._find(
                index, "entry.index", f"entry index breaks the sequence ({what})", self._next_index, index
            )
        self._next_index = index + 1
        # Step 3.
        expected_prev = self._heads.get(statement.subject)
        found_prev = item.prev
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
        rejected = item.rejected
        ctx = None
        if rejected is None:
            try:
                ctx = admit(
                    self.state,
                    index,
                    envelope,
                    statement,
                    item.recorded_at,
                    check_crypto=False,
                    validated=item.validated,
                )
            except RuleViolation as exc:
                rejected = (exc.rule, exc.reason, True)
            except LedgerError as exc:
                rejected = (exc.code, exc.message, False)
            except Exception as exc:  # only where replay sees part of the log
                if not self.partial:
                    raise
                rejected = ("replay.state_unknown", f"{type(exc).__name__}: {exc}", False)
        if rejected is not None or ctx is None:
            code, message, is_rule = rejected or ("replay.state_unknown", "not admitted", False)
            hint = PARTIAL_HINT if self.partial else ""
            if is_rule:
                what, expected = f"{statement.kind} is not allowed here{hint}", f"{code} holds"
            else:
                what, expected = f"{statement.kind} is not admissible{hint}", "an admissible statement"
            self._find(index, code, what, expected, message)
            return
        for warning in ctx.warnings:
            self.warnings.append(Finding(index, "warning", warning))
        # Step 6: signatures checked where the entry was read count now; the
        # rest is deferred, so it can run in parallel.
        checked = item.signatures
        message_bytes: bytes | None = None
        for signature, key in ctx.keys:
            verified = None if checked is None else checked.get(signature.keyid)
            if verified is None:
                if message_bytes is None:
                    message_bytes = envelope.signed_bytes
                self._tasks.append((index, key.public_key.spki_der, message_bytes, signature.sig))
            elif not verified:
                self._signature_failed(index, key.keyid)
        if len(self._tasks) >= self._chunk_size:
            self._flush(wait=False)
        if not self.partial:
            apply(self.state, ctx, leaf)
            return
        try:
            apply(self.state, ctx, leaf)
        except Exception as exc:  # a partial replay reports, never crashes
            self._find(
                index,
                "replay.state_unknown",
                f"{statement.kind} cannot be replayed{PARTIAL_HINT}",
                "state the replay knows",
                f"{type(exc).__name__}: {exc}",
            )

    def feed_all(self, entries: Iterable[bytes]) -> None:
        for raw in entries:
            self.feed(raw)

    def _signature_failed(self, index: int, keyid: str) -> None:
        self._find(
            index,
            "auth.signature_invalid",
            "a signature does not verify",
            f"a valid signature by key {keyid}",
            "an invalid signature",
        )

    def _flush(self, wait: bool) -> None:
        if self._tasks:
            self._checker.submit(self._tasks)
            self._tasks = []
        for index, keyid in self._checker.collect(wait):
            self._signature_failed(index, keyid)

    def finish(self) -> LogSummary:
        """Complete the checks; return a summary or raise with every finding."""
        self._flush(wait=True)
        if self._count == 0:
            self._find(None, "log.empty", "no entries: an empty or missing log verifies nothing")
        cp = self.checkpoint
        root = (cp.root if cp is not None else b"") if self.partial else self._range.root()
        if cp is not None and self._count and not self.partial:
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
        origin = self.state.origin
        if cp is not None and self._count and origin is not None and cp.origin != origin:
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
        return LogSummary(self._count, root, self.state.origin, tuple(self.warnings))


def same_vkey(a: str, b: str) -> bool:
    """Compare verifier keys by what they denote, not by spelling (hex case)."""
    return _same_vkey(a, b)


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
