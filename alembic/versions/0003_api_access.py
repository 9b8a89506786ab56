"""API access: tokens, idempotency records, key enrolments.

Tokens are stored only as SHA-256 plus a short prefix for identification;
the token itself is shown once, at creation. Idempotency records let a
client retry a POST after a timeout without appending twice. Enrolments
are public keys that parties (browsers) submitted for an administrator to
approve; approval appends `key.added`.

Revision ID: 0003_api_access
Revises: 0002_custody_projections
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_api_access"
down_revision = "0002_custody_projections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("token_id", sa.String(32), primary_key=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("party", sa.String(80), nullable=False),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("expires_at", sa.String(40), nullable=True),
        sa.Column("revoked_at", sa.String(40), nullable=True),
    )
    op.create_index("ix_api_tokens_party", "api_tokens", ["party"])
    op.create_table(
        "idempotency_records",
        sa.Column("party", sa.String(80), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("request_digest", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "key_enrolments",
        sa.Column("enrolment_id", sa.String(32), primary_key=True),
        sa.Column("party", sa.String(80), nullable=False),
        sa.Column("keyid", sa.String(64), nullable=False, unique=True),
        sa.Column("algorithm", sa.String(40), nullable=False),
        sa.Column("spki", sa.Text, nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("decided_at", sa.String(40), nullable=True),
        sa.Column("decided_by", sa.String(80), nullable=True),
        sa.Column("entry_index", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_key_enrolments_status", "key_enrolments", ["status"])


def downgrade() -> None:
    for table in ("key_enrolments", "idempotency_records", "api_tokens"):
        op.drop_table(table)
