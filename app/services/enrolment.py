"""Key enrolment for browser-held keys: a party submits a public key, an administrator approves it.

A browser generates a non-extractable key pair and submits only the public
key (SubjectPublicKeyInfo DER). The enrolment waits in ``key_enrolments``
until an administrator approves it by signing a ``key.added`` statement for
exactly this party and key — client-side, like every write — which is then
appended; the key signs from the next index on. A rejection closes the
enrolment with a reason; nothing is appended. The table is off-log
bookkeeping: the log alone decides which keys are valid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from app.logstore import AppendResult
from app.services.context import LedgerContext
from app.services.custody import party_ref
from app.services.tokens import Forbidden
from app.tables import KEY_ENROLMENTS
from ledger.encoding import b64decode, b64encode
from ledger.envelope import Envelope
from ledger.errors import Conflict, InvalidInput, MalformedKey, NotFound
from ledger.keys import PublicKey
from ledger.statement import Statement
from ledger.times import format_timestamp
from ledger.trust import key_description

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
STATUSES = (PENDING, APPROVED, REJECTED)
#: Largest SubjectPublicKeyInfo accepted (the ``key.added`` schema's bound).
MAX_SPKI_BYTES = 512
#: Undecided enrolments a party may have at once: a device or script that keeps
#: submitting keys cannot bury other parties' requests in the administrators' list.
MAX_PENDING_PER_PARTY = 20
Submit = Callable[[Sequence[Envelope]], AppendResult]


class KeyAlreadyRegistered(Conflict):
    code = "conflict.key_registered"


class EnrolmentExists(Conflict):
    code = "conflict.enrolment_exists"


class TooManyPendingEnrolments(Conflict):
    code = "conflict.too_many_pending_enrolments"


class EnrolmentClosed(Conflict):
    code = "conflict.enrolment_closed"


class EnrolmentMismatch(InvalidInput):
    """The approving statement is not ``key.added`` for exactly the enrolled party and key."""

    code = "input.enrolment_mismatch"


@dataclass(frozen=True)
class Enrolment:
    enrolment_id: str
    party: str
    keyid: str
    algorithm: str
    spki: str
    label: str
    status: str
    created_at: str
    decided_at: str | None = None
    decided_by: str | None = None
    entry_index: int | None = None
    reason: str | None = None

    def key_added_data(self) -> dict[str, str]:
        """The ``data`` of the ``key.added`` statement that approves this enrolment."""
        return {"keyid": self.keyid, "algorithm": self.algorithm, "spki": self.spki}

    def as_dict(self) -> dict[str, Any]:
        return {
            "enrolment_id": self.enrolment_id,
            "party": self.party,
            "keyid": self.keyid,
            "algorithm": self.algorithm,
            "spki": self.spki,
            "label": self.label,
            "status": self.status,
            "created_at": self.created_at,
            "decided_at": self.decided_at,
            "decided_by": self.decided_by,
            "entry_index": self.entry_index,
            "reason": self.reason,
            "key_added_data": self.key_added_data(),
        }


def _row(row: Any) -> Enrolment:
    m = row._mapping
    return Enrolment(
        m["enrolment_id"],
        m["party"],
        m["keyid"],
        m["algorithm"],
        m["spki"],
        m["label"],
        m["status"],
        m["created_at"],
        m["decided_at"],
        m["decided_by"],
        None if m["entry_index"] is None else int(m["entry_index"]),
        m["reason"],
    )


def parse_spki(spki_b64: str) -> PublicKey:
    """A supported public key in canonical DER, from standard base64."""
    der = b64decode(spki_b64.strip(), "spki")
    if not der or len(der) > MAX_SPKI_BYTES:
        raise MalformedKey(f"spki must be 1–{MAX_SPKI_BYTES} bytes of DER")
    # Raises UnsupportedAlgorithm for RSA and other curves, MalformedKey for
    # non-canonical encodings (e.g. compressed points: a second key id).
    return PublicKey.from_spki_der(der)


def submit_enrolment(ctx: LedgerContext, party: str, spki_b64: str, label: str) -> Enrolment:
    """A party asks for its own new key to be added; the key must be new to the ledger."""
    subject = party_ref(party)
    label = label.strip()
    if not 1 <= len(label) <= 200 or not label.isprintable():
        raise InvalidInput("label must be 1–200 printable characters")
    key = parse_spki(spki_b64)
    trust = ctx.store.trust_state()
    if subject not in trust.parties:
        raise NotFound(f"unknown party {subject}")
    if key.keyid in trust.keys:
        raise KeyAlreadyRegistered(f"key {key.keyid[:16]}… is already registered in the ledger")
    with ctx.engine.connect() as conn:
        existing = conn.execute(
            select(KEY_ENROLMENTS.c.enrolment_id, KEY_ENROLMENTS.c.status).where(
                KEY_ENROLMENTS.c.keyid == key.keyid
            )
        ).first()
        pending = conn.execute(
            select(func.count())
            .select_from(KEY_ENROLMENTS)
            .where(KEY_ENROLMENTS.c.party == subject, KEY_ENROLMENTS.c.status == PENDING)
        ).scalar_one()
    if existing is not None:
        raise EnrolmentExists(
            f"key {key.keyid[:16]}… was already submitted (enrolment {existing[0]}, {existing[1]}); "
            "a key is enrolled once — generate a new one"
        )
    if pending >= MAX_PENDING_PER_PARTY:
        raise TooManyPendingEnrolments(
            f"{subject} already has {pending} enrolments waiting for an administrator; "
            "ask for them to be decided first"
        )
    described = key_description(key)
    enrolment = Enrolment(
        ctx.random_bytes(16).hex(),
        subject,
        key.keyid,
        described["algorithm"],
        described["spki"],
        label,
        PENDING,
        format_timestamp(ctx.clock()),
    )
    try:
        with ctx.engine.begin() as conn:
            conn.execute(
                KEY_ENROLMENTS.insert(),
                {
                    "enrolment_id": enrolment.enrolment_id,
                    "party": enrolment.party,
                    "keyid": enrolment.keyid,
                    "algorithm": enrolment.algorithm,
                    "spki": enrolment.spki,
                    "label": enrolment.label,
                    "status": PENDING,
                    "created_at": enrolment.created_at,
                },
            )
    except IntegrityError:
        raise EnrolmentExists(f"key {key.keyid[:16]}… was submitted concurrently") from None
    return enrolment


def get_enrolment(ctx: LedgerContext, enrolment_id: str) -> Enrolment:
    with ctx.engine.connect() as conn:
        row = conn.execute(
            select(KEY_ENROLMENTS).where(KEY_ENROLMENTS.c.enrolment_id == enrolment_id)
        ).first()
    if row is None:
        raise NotFound(f"unknown enrolment {enrolment_id}")
    return _row(row)


def enrolment_for(ctx: LedgerContext, enrolment_id: str, party: str, admin: bool) -> Enrolment:
    """An enrolment, for administrators and the party it is for (else: not found)."""
    enrolment = get_enrolment(ctx, enrolment_id)
    if not admin and enrolment.party != party_ref(party):
        raise NotFound(f"unknown enrolment {enrolment_id}")
    return enrolment


def enrolments(
    ctx: LedgerContext,
    *,
    party: str | None = None,
    status: str | None = PENDING,
    limit: int = 100,
    offset: int = 0,
) -> list[Enrolment]:
    query = (
        select(KEY_ENROLMENTS)
        .order_by(KEY_ENROLMENTS.c.created_at, KEY_ENROLMENTS.c.enrolment_id)
        .limit(limit)
        .offset(offset)
    )
    if party is not None:
        query = query.where(KEY_ENROLMENTS.c.party == party_ref(party))
    if status is not None:
        query = query.where(KEY_ENROLMENTS.c.status == status)
    with ctx.engine.connect() as conn:
        return [_row(r) for r in conn.execute(query)]


def _pending(ctx: LedgerContext, enrolment_id: str) -> Enrolment:
    enrolment = get_enrolment(ctx, enrolment_id)
    if enrolment.status != PENDING:
        raise EnrolmentClosed(f"enrolment {enrolment_id} is already {enrolment.status}")
    return enrolment


def _decide(ctx: LedgerContext, enrolment_id: str, values: dict[str, Any]) -> Enrolment:
    with ctx.engine.begin() as conn:
        changed = conn.execute(
            update(KEY_ENROLMENTS)
            .where(KEY_ENROLMENTS.c.enrolment_id == enrolment_id, KEY_ENROLMENTS.c.status == PENDING)
            .values(decided_at=format_timestamp(ctx.clock()), **values)
        ).rowcount
    if changed != 1:
        raise EnrolmentClosed(f"enrolment {enrolment_id} was decided concurrently")
    return get_enrolment(ctx, enrolment_id)


def check_approval(enrolment: Enrolment, admin: str, envelope: Envelope) -> Statement:
    """The envelope is ``key.added`` by the approving administrator for exactly this party and key."""
    statement = Statement.from_bytes(envelope.payload)
    if statement.kind != "key.added":
        raise EnrolmentMismatch(f"an enrolment is approved by a key.added statement, not {statement.kind}")
    if statement.by != party_ref(admin):
        raise Forbidden(
            f"{party_ref(admin)} may only submit its own approval (this one is by {statement.by})"
        )
    if statement.subject != enrolment.party:
        raise EnrolmentMismatch(f"the statement adds a key to {statement.subject}, not to {enrolment.party}")
    if dict(statement.data) != enrolment.key_added_data():
        raise EnrolmentMismatch(
            f"the statement adds another key than enrolled ({statement.data.get('keyid')!r}, "
            f"enrolled {enrolment.keyid})"
        )
    return statement


def approve_enrolment(
    ctx: LedgerContext, admin: str, enrolment_id: str, envelope: Envelope, submit: Submit | None = None
) -> tuple[Enrolment, AppendResult]:
    """Append the administrator's signed ``key.added`` for the enrolled key; close the enrolment."""
    enrolment = _pending(ctx, enrolment_id)
    check_approval(enrolment, admin, envelope)
    append = submit if submit is not None else ctx.writer().append
    result = append([envelope])
    decided = _decide(
        ctx,
        enrolment_id,
        {"status": APPROVED, "decided_by": party_ref(admin), "entry_index": result.entries[0].index},
    )
    return decided, result


def reject_enrolment(ctx: LedgerContext, admin: str, enrolment_id: str, reason: str) -> Enrolment:
    reason = reason.strip()
    if not reason:
        raise InvalidInput("a rejection needs a reason")
    _pending(ctx, enrolment_id)
    return _decide(ctx, enrolment_id, {"status": REJECTED, "decided_by": party_ref(admin), "reason": reason})


def spki_of(key: PublicKey) -> str:
    """Standard base64 of a key's DER SubjectPublicKeyInfo (what clients submit)."""
    return b64encode(key.spki_der)
