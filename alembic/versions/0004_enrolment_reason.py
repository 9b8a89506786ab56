"""Key enrolments: the reason an administrator gave for rejecting one.

Revision ID: 0004_enrolment_reason
Revises: 0003_api_access
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_enrolment_reason"
down_revision = "0003_api_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("key_enrolments") as batch:
        batch.add_column(sa.Column("reason", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("key_enrolments") as batch:
        batch.drop_column("reason")
