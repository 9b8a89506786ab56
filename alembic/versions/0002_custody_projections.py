"""Custody projections, pending handovers, practice master data.

Projections (connectors, seals, incidents, parties, party_keys) are current
state derived from the log: mutable, rebuildable, checked by `custody verify`.
Handover offers are pending two-party statements that are not in the log yet.
Practice master data holds the clear identifiers that the log only ever sees
as salted digests; rows can be erased.

Revision ID: 0002_custody_projections
Revises: 0001_core_log
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_custody_projections"
down_revision = "0001_core_log"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "connectors",
        sa.Column("subject", sa.String(120), primary_key=True),
        sa.Column("vendor", sa.String(32), nullable=False),
        sa.Column("serial", sa.String(64), nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("seal_status", sa.String(24), nullable=False),
        sa.Column("custodian", sa.String(80), nullable=False),
        sa.Column("location", sa.String(120), nullable=True),
        sa.Column("practice", sa.String(64), nullable=True),
        sa.Column("cert_not_after", sa.String(40), nullable=True),
        sa.Column("open_incident", sa.String(24), nullable=True),
        sa.Column("last_index", sa.BigInteger, nullable=False),
        sa.Column("record", sa.Text, nullable=False),
    )
    op.create_index("ix_connectors_state", "connectors", ["state"])
    op.create_index("ix_connectors_custodian", "connectors", ["custodian"])
    op.create_index("ix_connectors_cert_not_after", "connectors", ["cert_not_after"])
    op.create_table(
        "seals",
        sa.Column("seal_id", sa.String(16), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("holder", sa.String(80), nullable=False),
        sa.Column("issued_to", sa.String(80), nullable=True),
        sa.Column("connector", sa.String(120), nullable=True),
        sa.Column("last_index", sa.BigInteger, nullable=False),
        sa.Column("record", sa.Text, nullable=False),
    )
    op.create_index("ix_seals_status", "seals", ["status"])
    op.create_index("ix_seals_connector", "seals", ["connector"])
    op.create_table(
        "incidents",
        sa.Column("incident_id", sa.String(24), primary_key=True),
        sa.Column("connector", sa.String(120), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reported_by", sa.String(80), nullable=False),
        sa.Column("opened_index", sa.BigInteger, nullable=False),
        sa.Column("record", sa.Text, nullable=False),
    )
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.create_table(
        "parties",
        sa.Column("subject", sa.String(80), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("registered_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "party_keys",
        sa.Column("keyid", sa.String(64), primary_key=True),
        sa.Column("party", sa.String(80), nullable=False),
        sa.Column("algorithm", sa.String(40), nullable=False),
        sa.Column("spki", sa.Text, nullable=False),
        sa.Column("added_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_party_keys_party", "party_keys", ["party"])
    op.create_table(
        "projection_meta",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("log_size", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "handover_offers",
        sa.Column("offer_id", sa.String(32), primary_key=True),
        sa.Column("from_party", sa.String(80), nullable=False),
        sa.Column("to_party", sa.String(80), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("closed_at", sa.String(40), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("connectors", sa.Text, nullable=False),
        sa.Column("envelopes", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=True),
    )
    op.create_index("ix_handover_offers_to", "handover_offers", ["to_party", "status"])
    op.create_table(
        "practices",
        sa.Column("practice_id", sa.String(64), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("bsnr", sa.String(16), nullable=True),
        sa.Column("telematik_id", sa.String(128), nullable=True),
        sa.Column("address", sa.Text, nullable=True),
        sa.Column("salt", sa.String(64), nullable=True),
        sa.Column("erased_at", sa.String(40), nullable=True),
    )


def downgrade() -> None:
    for table in ("practices", "handover_offers", "projection_meta", "party_keys", "parties", "incidents", "seals", "connectors"):
        op.drop_table(table)
