"""Verify-all jobs of the auditor's dashboard, shared by every server process.

``verify_jobs`` has one row per verify-all run: who started it, the log size
it covers, its progress and heartbeat, and its result. ``running`` is 1 while
the job runs and NULL afterwards, under a unique constraint, so at most one
job runs per ledger however many server processes share the database.
Bookkeeping, not evidence: the table is not append-only.

Revision ID: 0008_verify_jobs
Revises: 0007_web_users
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_verify_jobs"
down_revision = "0007_web_users"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verify_jobs",
        sa.Column("job_id", sa.String(32), primary_key=True),
        sa.Column("started_by", sa.String(80), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("checked", sa.Integer, nullable=False),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("owner", sa.String(120), nullable=False),
        sa.Column("started_at", sa.String(40), nullable=False),
        sa.Column("heartbeat_at", sa.String(40), nullable=False),
        sa.Column("finished_at", sa.String(40), nullable=True),
        sa.Column("running", sa.Integer, nullable=True),
        sa.UniqueConstraint("running", name="uq_verify_jobs_running"),
    )


def downgrade() -> None:
    op.drop_table("verify_jobs")
