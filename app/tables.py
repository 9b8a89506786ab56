"""SQLModel tables. Alembic migrations own the schema; these map it.

``entries``, ``tree_nodes`` and ``checkpoints`` are append-only: database
triggers (created by the migration) reject UPDATE and DELETE on both
engines. The decoded columns of ``entries`` are for queries only; the
verbatim ``raw`` bytes are the record.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

# SQLite only aliases the rowid for a column declared exactly INTEGER PRIMARY KEY.
Index64 = BigInteger().with_variant(Integer(), "sqlite")


class EntryRow(SQLModel, table=True):
    __tablename__ = "entries"
    __table_args__ = (
        Index("ix_entries_subject_idx", "subject", "idx"),
        Index("ix_entries_kind_idx", "kind", "idx"),
        Index("ix_entries_author_idx", "author", "idx"),
    )

    idx: int = Field(sa_column=Column("idx", Index64, primary_key=True, autoincrement=False))
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    subject: str = Field(sa_column=Column(String(200), nullable=False))
    kind: str = Field(sa_column=Column(String(64), nullable=False))
    author: str = Field(sa_column=Column(String(80), nullable=False))
    at: str = Field(sa_column=Column(String(40), nullable=False))
    recorded_at: str = Field(sa_column=Column(String(40), nullable=False))
    nonce: str = Field(sa_column=Column(String(32), nullable=False, unique=True))


class TreeNodeRow(SQLModel, table=True):
    __tablename__ = "tree_nodes"
    __table_args__ = {"sqlite_with_rowid": False}

    level: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class CheckpointRow(SQLModel, table=True):
    __tablename__ = "checkpoints"

    size: int = Field(sa_column=Column(Index64, primary_key=True, autoincrement=False))
    root: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    created_at: str = Field(sa_column=Column(String(40), nullable=False))


ENTRIES = EntryRow.__table__  # type: ignore[attr-defined]
TREE_NODES = TreeNodeRow.__table__  # type: ignore[attr-defined]
CHECKPOINTS = CheckpointRow.__table__  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------
# Projections: current state derived from the log (mutable, rebuildable).


class ConnectorRow(SQLModel, table=True):
    __tablename__ = "connectors"
    __table_args__ = (
        Index("ix_connectors_state", "state"),
        Index("ix_connectors_custodian", "custodian"),
        Index("ix_connectors_cert_not_after", "cert_not_after"),
    )

    subject: str = Field(sa_column=Column(String(120), primary_key=True))
    vendor: str = Field(sa_column=Column(String(32), nullable=False))
    serial: str = Field(sa_column=Column(String(64), nullable=False))
    state: str = Field(sa_column=Column(String(24), nullable=False))
    seal_status: str = Field(sa_column=Column(String(24), nullable=False))
    custodian: str = Field(sa_column=Column(String(80), nullable=False))
    location: str | None = Field(sa_column=Column(String(120), nullable=True))
    practice: str | None = Field(sa_column=Column(String(64), nullable=True))
    cert_not_after: str | None = Field(sa_column=Column(String(40), nullable=True))
    open_incident: str | None = Field(sa_column=Column(String(24), nullable=True))
    last_index: int = Field(sa_column=Column(BigInteger, nullable=False))
    record: str = Field(sa_column=Column(Text, nullable=False))


class SealRow(SQLModel, table=True):
    __tablename__ = "seals"
    __table_args__ = (Index("ix_seals_status", "status"), Index("ix_seals_connector", "connector"))

    seal_id: str = Field(sa_column=Column(String(16), primary_key=True))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    holder: str = Field(sa_column=Column(String(80), nullable=False))
    issued_to: str | None = Field(sa_column=Column(String(80), nullable=True))
    connector: str | None = Field(sa_column=Column(String(120), nullable=True))
    last_index: int = Field(sa_column=Column(BigInteger, nullable=False))
    record: str = Field(sa_column=Column(Text, nullable=False))


class IncidentRow(SQLModel, table=True):
    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_status", "status"),)

    incident_id: str = Field(sa_column=Column(String(24), primary_key=True))
    connector: str = Field(sa_column=Column(String(120), nullable=False))
    category: str = Field(sa_column=Column(String(32), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    reported_by: str = Field(sa_column=Column(String(80), nullable=False))
    opened_index: int = Field(sa_column=Column(BigInteger, nullable=False))
    record: str = Field(sa_column=Column(Text, nullable=False))


class PartyRow(SQLModel, table=True):
    __tablename__ = "parties"

    subject: str = Field(sa_column=Column(String(80), primary_key=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    roles: str = Field(sa_column=Column(Text, nullable=False))
    registered_at: int = Field(sa_column=Column(BigInteger, nullable=False))


class PartyKeyRow(SQLModel, table=True):
    __tablename__ = "party_keys"
    __table_args__ = (Index("ix_party_keys_party", "party"),)

    keyid: str = Field(sa_column=Column(String(64), primary_key=True))
    party: str = Field(sa_column=Column(String(80), nullable=False))
    algorithm: str = Field(sa_column=Column(String(40), nullable=False))
    spki: str = Field(sa_column=Column(Text, nullable=False))
    added_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    revoked_at: int | None = Field(sa_column=Column(BigInteger, nullable=True))


class ProjectionMetaRow(SQLModel, table=True):
    __tablename__ = "projection_meta"

    name: str = Field(sa_column=Column(String(40), primary_key=True))
    log_size: int = Field(sa_column=Column(BigInteger, nullable=False))


# ---------------------------------------------------------------------------
# Off-log data.


class HandoverOfferRow(SQLModel, table=True):
    """A two-party statement signed by the releasing party, awaiting the receiver."""

    __tablename__ = "handover_offers"
    __table_args__ = (Index("ix_handover_offers_to", "to_party", "status"),)

    offer_id: str = Field(sa_column=Column(String(32), primary_key=True))
    from_party: str = Field(sa_column=Column(String(80), nullable=False))
    to_party: str = Field(sa_column=Column(String(80), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    created_at: str = Field(sa_column=Column(String(40), nullable=False))
    closed_at: str | None = Field(sa_column=Column(String(40), nullable=True))
    reason: str | None = Field(sa_column=Column(Text, nullable=True))
    connectors: str = Field(sa_column=Column(Text, nullable=False))
    envelopes: str = Field(sa_column=Column(Text, nullable=False))
    result: str | None = Field(sa_column=Column(Text, nullable=True))


class PracticeRow(SQLModel, table=True):
    """Erasable master data: the clear identifiers behind a practice digest."""

    __tablename__ = "practices"

    practice_id: str = Field(sa_column=Column(String(64), primary_key=True))
    digest: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    name: str | None = Field(sa_column=Column(String(200), nullable=True))
    bsnr: str | None = Field(sa_column=Column(String(16), nullable=True))
    telematik_id: str | None = Field(sa_column=Column(String(128), nullable=True))
    address: str | None = Field(sa_column=Column(Text, nullable=True))
    salt: str | None = Field(sa_column=Column(String(64), nullable=True))
    erased_at: str | None = Field(sa_column=Column(String(40), nullable=True))


CONNECTORS = ConnectorRow.__table__  # type: ignore[attr-defined]
SEALS = SealRow.__table__  # type: ignore[attr-defined]
INCIDENTS = IncidentRow.__table__  # type: ignore[attr-defined]
PARTIES = PartyRow.__table__  # type: ignore[attr-defined]
PARTY_KEYS = PartyKeyRow.__table__  # type: ignore[attr-defined]
PROJECTION_META = ProjectionMetaRow.__table__  # type: ignore[attr-defined]
HANDOVER_OFFERS = HandoverOfferRow.__table__  # type: ignore[attr-defined]
PRACTICES = PracticeRow.__table__  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------
# API access.


class ApiTokenRow(SQLModel, table=True):
    """An API token, stored only as SHA-256 plus a short prefix."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_party", "party"),)

    token_id: str = Field(sa_column=Column(String(32), primary_key=True))
    prefix: str = Field(sa_column=Column(String(16), nullable=False))
    digest: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    party: str = Field(sa_column=Column(String(80), nullable=False))
    roles: str = Field(sa_column=Column(Text, nullable=False))
    label: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: str = Field(sa_column=Column(String(40), nullable=False))
    expires_at: str | None = Field(sa_column=Column(String(40), nullable=True))
    revoked_at: str | None = Field(sa_column=Column(String(40), nullable=True))


class IdempotencyRow(SQLModel, table=True):
    __tablename__ = "idempotency_records"

    party: str = Field(sa_column=Column(String(80), primary_key=True))
    key: str = Field(sa_column=Column(String(200), primary_key=True))
    request_digest: str = Field(sa_column=Column(String(64), nullable=False))
    status: int = Field(sa_column=Column(Integer, nullable=False))
    response: str = Field(sa_column=Column(Text, nullable=False))
    created_at: str = Field(sa_column=Column(String(40), nullable=False))


class KeyEnrolmentRow(SQLModel, table=True):
    """A public key a party submitted (e.g. from a browser) for an administrator to approve."""

    __tablename__ = "key_enrolments"
    __table_args__ = (Index("ix_key_enrolments_status", "status"),)

    enrolment_id: str = Field(sa_column=Column(String(32), primary_key=True))
    party: str = Field(sa_column=Column(String(80), nullable=False))
    keyid: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    algorithm: str = Field(sa_column=Column(String(40), nullable=False))
    spki: str = Field(sa_column=Column(Text, nullable=False))
    label: str = Field(sa_column=Column(String(200), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    created_at: str = Field(sa_column=Column(String(40), nullable=False))
    decided_at: str | None = Field(sa_column=Column(String(40), nullable=True))
    decided_by: str | None = Field(sa_column=Column(String(80), nullable=True))
    entry_index: int | None = Field(sa_column=Column(BigInteger, nullable=True))
    #: Why an administrator rejected the key (migration 0004).
    reason: str | None = Field(sa_column=Column(Text, nullable=True))


API_TOKENS = ApiTokenRow.__table__  # type: ignore[attr-defined]
IDEMPOTENCY = IdempotencyRow.__table__  # type: ignore[attr-defined]
KEY_ENROLMENTS = KeyEnrolmentRow.__table__  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------
# Witness cosignatures (append-only, like checkpoints).


class CosignatureRow(SQLModel, table=True):
    """One witness's cosignature line on the checkpoint of one size (tlog-cosignature v1)."""

    __tablename__ = "cosignatures"
    __table_args__ = (Index("ix_cosignatures_witness_size", "witness", "size"),)

    size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    #: The witness's vkey (name+keyid+key, type 0x04).
    witness: str = Field(sa_column=Column(String(400), primary_key=True))
    #: The note signature line, "— <name> <base64>" without the final LF.
    line: str = Field(sa_column=Column(Text, nullable=False))
    #: The cosignature's own timestamp (POSIX seconds).
    cosigned_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    received_at: str = Field(sa_column=Column(String(40), nullable=False))


COSIGNATURES = CosignatureRow.__table__  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------
# Seal labels (migration 0006_label_prints): bookkeeping, not evidence.


class LabelPrintRow(SQLModel, table=True):
    """One seal label printed: which seal, when, on what layout and format, in which job, with which key."""

    __tablename__ = "label_prints"
    __table_args__ = (Index("ix_label_prints_seal", "seal_id"),)

    print_id: int | None = Field(
        default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True)
    )
    seal_id: str = Field(sa_column=Column(String(16), nullable=False))
    printed_at: str = Field(sa_column=Column(String(40), nullable=False))
    layout: str = Field(sa_column=Column(String(32), nullable=False))
    format: str = Field(sa_column=Column(String(8), nullable=False))
    job: str = Field(sa_column=Column(String(32), nullable=False))
    label_key: str = Field(sa_column=Column(String(300), nullable=False))


class LabelKeyRow(SQLModel, table=True):
    """A published label verifier key (``<name>+<hex8>+<base64>``); scanners verify labels with it."""

    __tablename__ = "label_keys"

    vkey: str = Field(sa_column=Column(String(400), primary_key=True))
    created_at: str = Field(sa_column=Column(String(40), nullable=False))
    retired_at: str | None = Field(sa_column=Column(String(40), nullable=True))


LABEL_PRINTS = LabelPrintRow.__table__  # type: ignore[attr-defined]
LABEL_KEYS = LabelKeyRow.__table__  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------
# People who sign in to the web pages (migration 0007_web_users): access control, not evidence.


class WebUserRow(SQLModel, table=True):
    """A person: a login bound to one party and a subset of its roles.

    ``password_hash`` is ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`` (parameters stored with
    the hash, so they can be raised later); ``link_digest`` is the SHA-256 of a one-time
    sign-in link's token, never the token itself.
    """

    __tablename__ = "web_users"

    login: str = Field(sa_column=Column(String(64), primary_key=True))
    display_name: str = Field(sa_column=Column(String(200), nullable=False))
    party: str = Field(sa_column=Column(String(80), nullable=False))
    roles: str = Field(sa_column=Column(Text, nullable=False))
    password_hash: str | None = Field(sa_column=Column(Text, nullable=True))
    created_at: str = Field(sa_column=Column(String(40), nullable=False))
    disabled_at: str | None = Field(sa_column=Column(String(40), nullable=True))
    link_digest: str | None = Field(sa_column=Column(String(64), nullable=True, unique=True))
    link_expires_at: str | None = Field(sa_column=Column(String(40), nullable=True))


class WebSessionRow(SQLModel, table=True):
    """A signed-in browser: the SHA-256 of the cookie's random session id, never the id itself."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_login", "login"),)

    digest: str = Field(sa_column=Column(String(64), primary_key=True))
    login: str = Field(sa_column=Column(String(64), nullable=False))
    csrf: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: str = Field(sa_column=Column(String(40), nullable=False))
    expires_at: str = Field(sa_column=Column(String(40), nullable=False))
    revoked_at: str | None = Field(sa_column=Column(String(40), nullable=True))


WEB_USERS = WebUserRow.__table__  # type: ignore[attr-defined]
WEB_SESSIONS = WebSessionRow.__table__  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------
# Verify-all jobs of the web dashboard (migration 0008_verify_jobs): bookkeeping, not evidence.


class VerifyJobRow(SQLModel, table=True):
    """One verify-all run, visible to every server process that shares the database.

    ``running`` is 1 while the job runs and NULL afterwards; its unique index lets at most one
    job run per ledger (NULLs never collide), on SQLite and PostgreSQL alike. The process that
    runs it refreshes ``heartbeat_at``; a running row whose heartbeat is old belongs to a
    process that stopped.
    """

    __tablename__ = "verify_jobs"
    __table_args__ = (UniqueConstraint("running", name="uq_verify_jobs_running"),)

    job_id: str = Field(sa_column=Column(String(32), primary_key=True))
    started_by: str = Field(sa_column=Column(String(80), nullable=False))
    size: int = Field(sa_column=Column(Integer, nullable=False))
    state: str = Field(sa_column=Column(String(8), nullable=False))
    checked: int = Field(sa_column=Column(Integer, nullable=False))
    result: str | None = Field(sa_column=Column(Text, nullable=True))
    error: str | None = Field(sa_column=Column(Text, nullable=True))
    owner: str = Field(sa_column=Column(String(120), nullable=False))
    started_at: str = Field(sa_column=Column(String(40), nullable=False))
    heartbeat_at: str = Field(sa_column=Column(String(40), nullable=False))
    finished_at: str | None = Field(sa_column=Column(String(40), nullable=True))
    running: int | None = Field(sa_column=Column(Integer, nullable=True))


VERIFY_JOBS = VerifyJobRow.__table__  # type: ignore[attr-defined]
