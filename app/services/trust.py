"""Administering parties, keys and roles — each a statement signed by an administrator."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from app.logstore import AppendResult
from app.services.context import LedgerContext
from app.services.signing import signed_statement
from ledger.ids import party_subject
from ledger.keys import PublicKey, SigningKey
from ledger.trust import key_description


def _append_admin_statement(
    ctx: LedgerContext, admin: SigningKey, admin_id: str, kind: str, party_id: str, data: Mapping[str, object]
) -> AppendResult:
    envelope = signed_statement(
        ctx, kind=kind, subject=party_subject(party_id), by=party_subject(admin_id), data=data, keys=[admin]
    )
    return ctx.writer().append([envelope])


def register_party(
    ctx: LedgerContext,
    admin: SigningKey,
    admin_id: str,
    party_id: str,
    name: str,
    roles: Sequence[str] = (),
) -> AppendResult:
    data: dict[str, object] = {"name": name}
    if roles:
        data["roles"] = sorted(set(roles))
    return _append_admin_statement(ctx, admin, admin_id, "party.registered", party_id, data)


def add_key(
    ctx: LedgerContext, admin: SigningKey, admin_id: str, party_id: str, key: PublicKey
) -> AppendResult:
    return _append_admin_statement(ctx, admin, admin_id, "key.added", party_id, key_description(key))


def revoke_key(
    ctx: LedgerContext, admin: SigningKey, admin_id: str, party_id: str, keyid: str, reason: str
) -> AppendResult:
    return _append_admin_statement(
        ctx, admin, admin_id, "key.revoked", party_id, {"keyid": keyid, "reason": reason}
    )


def grant_role(
    ctx: LedgerContext, admin: SigningKey, admin_id: str, party_id: str, role: str
) -> AppendResult:
    return _append_admin_statement(ctx, admin, admin_id, "role.granted", party_id, {"role": role})


def revoke_role(
    ctx: LedgerContext, admin: SigningKey, admin_id: str, party_id: str, role: str
) -> AppendResult:
    return _append_admin_statement(ctx, admin, admin_id, "role.revoked", party_id, {"role": role})
