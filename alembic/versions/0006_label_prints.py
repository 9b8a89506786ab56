"""Seal labels: which seals got a label, and the published label verifier keys.

``label_prints`` has one row per label printed (seal, time, layout, format,
print job, key); "every issued seal that has no label yet" is a seal without
a row. Rows are bookkeeping, not evidence: the table is not append-only.
``label_keys`` holds the verifier keys (vkeys) of the ledger's label keys,
so that every application instance can verify scanned labels without the
private key file.

Revision ID: 0006_label_prints
Revises: 0005_cosignatures
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_label_prints"
down_revision = "0005_cosignatures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "label_prints",
        sa.Column("print_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("seal_id", sa.String(16), nullable=False),
        sa.Column("printed_at", sa.String(40), nullable=False),
        sa.Column("layout", sa.String(32), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("job", sa.String(32), nullable=False),
        sa.Column("label_key", sa.String(300), nullable=False),
    )
    op.create_index("ix_label_prints_seal", "label_prints", ["seal_id"])
    op.create_table(
        "label_keys",
        sa.Column("vkey", sa.String(400), primary_key=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("retired_at", sa.String(40), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("label_keys")
    op.drop_index("ix_label_prints_seal", table_name="label_prints")
    op.drop_table("label_prints")
