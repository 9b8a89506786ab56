"""Ledger state and the one decision procedure for admitting a statement.

:func:`admit` decides whether a signed statement may become entry ``index``
given the state built from entries ``0 … index-1``; :func:`apply` then moves
the state forward. The store calls them at append time, the verifier calls
them on replay, so both take the same decision on the same log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.envelope import Envelope, Signature
from ledger.errors import (
    InvalidData,
    KeyRevoked,
    MissingRole,
    MissingSignature,
    RuleViolation,
    UnknownKey,
)
from ledger.keys import PublicKey
from ledger.kinds import REGISTRY, KindSpec
from ledger.statement import Statement

GENESIS_KIND = "ledger.genesis"


@dataclass
class PartyRecord:
    subject: str
    name: str
    roles: set[str]
    registered_at: int


@dataclass
class KeyRecord:
    keyid: str
    party: str
    public_key: PublicKey
    added_at: int
    revoked_at: int | None = None

    def usable_at(self, index: int) -> bool:
        """A key signs entries after the one that added it and before its revocation."""
        return self.added_at <= index and (self.revoked_at is None or index < self.revoked_at)


@dataclass
class LedgerState:
    """Everything replay knows at a point of the log.

    ``extra`` holds the state of other modules (the custody domain) under
    their own names, so this module does not depend on them.
    """

    origin: str | None = None
    log_vkey: str | None = None
    size: int = 0
    parties: dict[str, PartyRecord] = field(default_factory=dict)
    keys: dict[str, KeyRecord] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def roles_of(self, party: str) -> set[str]:
        record = self.parties.get(party)
        return set() if record is None else record.roles


@dataclass(slots=True)
class Context:
    """A statement that passed :func:`admit`, with where and by whom.

    Mutable only so that :func:`apply` can attach the leaf hash without a
    copy (replay speed); nothing else changes a context after admit.
    """

    index: int
    statement: Statement
    spec: KindSpec
    signers: frozenset[str]
    recorded_at: str
    keys: tuple[tuple[Signature, KeyRecord], ...] = ()
    warnings: tuple[str, ...] = ()
    #: Known once the entry bytes exist (set before :func:`apply`).
    leaf_hash: bytes = b""


# Genesis introduces the key that signs it; every other statement is signed by
# keys added earlier. The trust module registers how to read that key.
SelfKeys = dict[str, KeyRecord]
_self_key_readers: dict[str, Any] = {}


def register_self_keys(kind: str, reader: Any) -> None:
    _self_key_readers[kind] = reader


Warner = Callable[["LedgerState", "Context"], list[str]]
_warners: list[Warner] = []


def register_warner(warner: Warner) -> None:
    """Add a check whose findings are flagged on an entry but never reject it (rule 12)."""
    _warners.append(warner)


def resolve_keys(
    state: LedgerState, envelope: Envelope, statement: Statement, index: int
) -> list[tuple[Signature, KeyRecord]]:
    """Map each signature to the key record it claims; raise for unknown or revoked keys."""
    reader = _self_key_readers.get(statement.kind)
    own: SelfKeys = reader(statement, index) if reader is not None else {}
    resolved = []
    for signature in envelope.signatures:
        key = state.keys.get(signature.keyid) or own.get(signature.keyid)
        if key is None or key.added_at > index:
            raise UnknownKey(f"key {signature.keyid[:16]}… is not registered at index {index}")
        if not key.usable_at(index):
            raise KeyRevoked(
                f"key {signature.keyid[:16]}… of {key.party} was revoked at index {key.revoked_at}"
            )
        resolved.append((signature, key))
    return resolved


def verify_signatures(envelope: Envelope, resolved: Iterable[tuple[Signature, KeyRecord]]) -> None:
    message = envelope.signed_bytes
    for signature, key in resolved:
        key.public_key.verify(signature.sig, message)


def check_roles(state: LedgerState, statement: Statement, spec: KindSpec, signers: frozenset[str]) -> None:
    """The author (and a counterparty, for two-party kinds) signed and holds a fitting role."""
    roles = state.roles_of(statement.by)
    if statement.kind == GENESIS_KIND:
        roles = {"admin"}
    if statement.by not in signers:
        raise MissingSignature(f"{statement.by} is the author but did not sign")
    if not roles & spec.roles:
        raise MissingRole(
            f"{statement.by} needs one of the roles {', '.join(sorted(spec.roles))} for {spec.name}"
        )
    if spec.counterparty_field is not None:
        other = statement.data.get(spec.counterparty_field)
        if other == statement.by:
            raise InvalidData(f"{spec.name}: {spec.counterparty_field} must be another party than the author")
        if other not in signers:
            message = f"{spec.name} needs the countersignature of {other}"
            if spec.counterparty_rule is not None:
                raise RuleViolation(spec.counterparty_rule, message)
            raise MissingSignature(message)
        if not state.roles_of(str(other)) & spec.counterparty_roles:
            raise MissingRole(
                f"{other} needs one of the roles {', '.join(sorted(spec.counterparty_roles))} "
                f"to countersign {spec.name}"
            )


def validate_statement(statement: Statement) -> KindSpec:
    """Kind, subject type and data schema: checks that need no state."""
    spec = REGISTRY.get(statement.kind)
    if statement.subject_type not in spec.subject_types:
        raise InvalidData(
            f"{spec.name} is about a {' or '.join(spec.subject_types)}, not {statement.subject!r}"
        )
    spec.schema(statement.data, "data")
    return spec


def admit(
    state: LedgerState,
    index: int,
    envelope: Envelope,
    statement: Statement,
    recorded_at: str,
    *,
    check_crypto: bool = True,
    validated: bool = False,
) -> Context:
    """Decide whether ``statement`` may be entry ``index``; raise the reason if not.

    1. The kind exists and the data fits its schema (skipped when ``validated``:
       the caller already ran :func:`validate_statement` on this statement,
       e.g. in a worker process while reading it).
    2. The log starts with genesis, and only once.
    3. Every signature is by a key registered and not revoked at ``index``
       and (unless the caller verifies them separately) verifies.
    4. The author, and the counterparty of a two-party kind, signed and hold
       a role the kind allows.
    5. The kind's guard rules hold in the current state.
    """
    # Step 1.
    spec = REGISTRY.get(statement.kind) if validated else validate_statement(statement)
    # Step 2.
    if state.origin is None and statement.kind != GENESIS_KIND:
        raise RuleViolation("rule.genesis_first", "the first entry of a ledger must be its genesis")
    if state.origin is not None and statement.kind == GENESIS_KIND:
        raise RuleViolation("rule.genesis_first", "the ledger already has its genesis entry")
    # Step 3.
    resolved = resolve_keys(state, envelope, statement, index)
    if check_crypto:
        verify_signatures(envelope, resolved)
    signers = frozenset(key.party for _, key in resolved)
    # Step 4.
    check_roles(state, statement, spec, signers)
    # Step 5.
    ctx = Context(
        index=index,
        statement=statement,
        spec=spec,
        signers=signers,
        recorded_at=recorded_at,
        keys=tuple(resolved),
    )
    spec.check(state, ctx)
    warnings = [w for warner in _warners for w in warner(state, ctx)]
    if warnings:
        ctx.warnings = tuple(warnings)
    return ctx


def apply(state: LedgerState, ctx: Context, leaf_hash: bytes) -> Context:
    """Move ``state`` past an admitted statement whose entry has ``leaf_hash``."""
    ctx.leaf_hash = leaf_hash
    ctx.spec.apply(state, ctx)
    state.size = max(state.size, ctx.index + 1)
    return ctx


def keys_needed(state: LedgerState, envelopes: Sequence[Envelope]) -> set[str]:
    """Key ids referenced by ``envelopes`` that ``state`` does not know yet."""
    return {s.keyid for e in envelopes for s in e.signatures if s.keyid not in state.keys}
