"""Trust kinds: who may sign what, recorded in the log itself.

``ledger.genesis`` (index 0, self-signed) declares the origin, the checkpoint
key and the first administrator with their key. After that, administrators
register parties, add and revoke keys, and grant and revoke roles. Replaying
these entries tells a verifier exactly which key spoke for which party with
which roles at every index — nothing outside the log is needed.
"""

from __future__ import annotations

from typing import Any

from ledger.encoding import b64decode, b64encode
from ledger.errors import InvalidData, InvalidInput, RuleViolation
from ledger.ids import check_origin
from ledger.keys import Algorithm, PublicKey
from ledger.kinds import REGISTRY, ROLES, KindSpec
from ledger.note import SIG_ED25519, parse_vkey
from ledger.schema import Base64, Hex, ListOf, Obj, OneOf, Subject, Text
from ledger.state import GENESIS_KIND, Context, KeyRecord, LedgerState, PartyRecord, register_self_keys
from ledger.statement import Statement

ADMIN = frozenset({"admin"})
_ALGORITHMS = tuple(a.value for a in Algorithm)

KEY_SCHEMA = Obj(
    required={
        "keyid": Hex(32),
        "algorithm": OneOf(_ALGORITHMS),
        "spki": Base64(max_bytes=512),
    }
)


def key_description(key: PublicKey) -> dict[str, str]:
    """The ``{keyid, algorithm, spki}`` object that names a key in statements."""
    return {"keyid": key.keyid, "algorithm": key.algorithm.value, "spki": b64encode(key.spki_der)}


def public_key_of(data: Any, path: str = "data") -> PublicKey:
    """The key described by ``{keyid, algorithm, spki}``; all three must agree."""
    try:
        key = PublicKey.from_spki_der(b64decode(data["spki"], f"{path}.spki"))
    except InvalidInput as exc:
        raise InvalidData(f"{path}.spki: {exc}") from None
    if key.keyid != data["keyid"]:
        raise InvalidData(f"{path}.keyid does not match the SHA-256 of spki")
    if key.algorithm.value != data["algorithm"]:
        raise InvalidData(f"{path}.algorithm is {data['algorithm']}, the key is {key.algorithm.value}")
    return key


def _check_vkey(data: Any, path: str) -> None:
    try:
        verifier = parse_vkey(data["log_vkey"])
        check_origin(data["origin"])
    except InvalidInput as exc:
        raise InvalidData(f"{path}: {exc}") from None
    if verifier.signature_type != SIG_ED25519 or verifier.name != data["origin"]:
        raise InvalidData(f"{path}.log_vkey must be an Ed25519 note key named after the origin")


GENESIS_SCHEMA = Obj(
    required={
        "origin": Text(max_length=255),
        "log_vkey": Text(max_length=400),
        "admin": Subject("party"),
        "name": Text(),
        "key": KEY_SCHEMA,
    },
    check=_check_vkey,
)


def _genesis_keys(statement: Statement, index: int) -> dict[str, KeyRecord]:
    data = statement.data
    key = public_key_of(data["key"], "data.key")
    return {key.keyid: KeyRecord(key.keyid, data["admin"], key, index)}


def _check_genesis(state: LedgerState, ctx: Context) -> None:
    statement = ctx.statement
    if ctx.index != 0:
        raise RuleViolation("rule.genesis_first", "genesis must be entry 0")
    if statement.subject != f"ledger:{statement.data['origin']}":
        raise InvalidData("genesis subject must be ledger:<origin>")
    if statement.by != statement.data["admin"]:
        raise InvalidData("genesis must be authored by the administrator it declares")


def _apply_genesis(state: LedgerState, ctx: Context) -> None:
    data = ctx.statement.data
    state.origin = data["origin"]
    state.log_vkey = data["log_vkey"]
    state.parties[data["admin"]] = PartyRecord(data["admin"], data["name"], {"admin"}, ctx.index)
    state.keys.update(_genesis_keys(ctx.statement, ctx.index))


register_self_keys(GENESIS_KIND, _genesis_keys)


def _party(state: LedgerState, subject: str) -> PartyRecord:
    record = state.parties.get(subject)
    if record is None:
        raise RuleViolation("rule.party_registered", f"{subject} is not a registered party")
    return record


def _check_party_registered(state: LedgerState, ctx: Context) -> None:
    if ctx.statement.subject in state.parties:
        raise RuleViolation("rule.party_unique", f"{ctx.statement.subject} is already registered")


def _apply_party_registered(state: LedgerState, ctx: Context) -> None:
    data = ctx.statement.data
    state.parties[ctx.statement.subject] = PartyRecord(
        ctx.statement.subject, data["name"], set(data.get("roles", [])), ctx.index
    )


def _check_key_added(state: LedgerState, ctx: Context) -> None:
    _party(state, ctx.statement.subject)
    key = public_key_of(ctx.statement.data)
    if key.keyid in state.keys:
        raise RuleViolation("rule.key_unique", f"key {key.keyid[:16]}… is already registered")


def _apply_key_added(state: LedgerState, ctx: Context) -> None:
    key = public_key_of(ctx.statement.data)
    # Usable from the next entry on: a key cannot authorise its own addition.
    state.keys[key.keyid] = KeyRecord(key.keyid, ctx.statement.subject, key, ctx.index + 1)


def _check_key_revoked(state: LedgerState, ctx: Context) -> None:
    keyid = ctx.statement.data["keyid"]
    key = state.keys.get(keyid)
    if key is None or key.party != ctx.statement.subject:
        raise RuleViolation("rule.key_of_party", f"{ctx.statement.subject} has no key {keyid[:16]}…")
    if key.revoked_at is not None:
        raise RuleViolation("rule.key_revoked_once", f"key {keyid[:16]}… is already revoked")


def _apply_key_revoked(state: LedgerState, ctx: Context) -> None:
    # Revocation takes effect with the revoking entry itself, so a
    # compromised key cannot race its own revocation inside one batch.
    state.keys[ctx.statement.data["keyid"]].revoked_at = ctx.index


def _check_role_granted(state: LedgerState, ctx: Context) -> None:
    party = _party(state, ctx.statement.subject)
    if ctx.statement.data["role"] in party.roles:
        raise RuleViolation("rule.role_once", f"{party.subject} already holds {ctx.statement.data['role']}")


def _apply_role_granted(state: LedgerState, ctx: Context) -> None:
    state.parties[ctx.statement.subject].roles.add(ctx.statement.data["role"])


def _check_role_revoked(state: LedgerState, ctx: Context) -> None:
    party = _party(state, ctx.statement.subject)
    if ctx.statement.data["role"] not in party.roles:
        raise RuleViolation("rule.role_held", f"{party.subject} does not hold {ctx.statement.data['role']}")


def _apply_role_revoked(state: LedgerState, ctx: Context) -> None:
    state.parties[ctx.statement.subject].roles.discard(ctx.statement.data["role"])


_ROLE = OneOf(ROLES)

TRUST_KINDS = (
    KindSpec(
        GENESIS_KIND,
        "ledger",
        ADMIN,
        GENESIS_SCHEMA,
        _check_genesis,
        _apply_genesis,
        summary="Entry 0: origin, checkpoint key, first administrator and their key; self-signed.",
    ),
    KindSpec(
        "party.registered",
        "party",
        ADMIN,
        Obj(required={"name": Text()}, optional={"roles": ListOf(_ROLE, max_items=len(ROLES))}),
        _check_party_registered,
        _apply_party_registered,
        summary="Registers a party (organisation or pseudonymous person) with initial roles.",
    ),
    KindSpec(
        "key.added",
        "party",
        ADMIN,
        KEY_SCHEMA,
        _check_key_added,
        _apply_key_added,
        summary="Adds a signing key to a party; usable from the next index on.",
    ),
    KindSpec(
        "key.revoked",
        "party",
        ADMIN,
        Obj(required={"keyid": Hex(32), "reason": Text()}),
        _check_key_revoked,
        _apply_key_revoked,
        summary="Revokes a key; it signs nothing from this index on.",
    ),
    KindSpec(
        "role.granted",
        "party",
        ADMIN,
        Obj(required={"role": _ROLE}),
        _check_role_granted,
        _apply_role_granted,
        summary="Grants a role to a party.",
    ),
    KindSpec(
        "role.revoked",
        "party",
        ADMIN,
        Obj(required={"role": _ROLE}),
        _check_role_revoked,
        _apply_role_revoked,
        summary="Revokes a role from a party.",
    ),
)

for _spec in TRUST_KINDS:
    REGISTRY.register(_spec)
