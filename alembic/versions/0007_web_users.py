"""People who sign in to the web pages, and their sessions.

``web_users``: a login bound to one party and a subset of its roles, a
scrypt password hash (parameters stored with it) and at most one pending
one-time sign-in link (its token's SHA-256 and expiry). ``web_sessions``:
one row per signed-in browser, keyed by the SHA-256 of the random session
id in its cookie, with the session's CSRF token. Access control, not
evidence: neither table is append-only.

Revision ID: 0007_web_users
Revises: 0006_label_prints
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_web_users"
down_revision = "0006_label_prints"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_users",
        sa.Column("login", sa.String(64), primary_key=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("party", sa.String(80), nullable=False),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("disabled_at", sa.String(40), nullable=True),
        sa.Column("link_digest", sa.String(64), nullable=True, unique=True),
        sa.Column("link_expires_at", sa.String(40), nullable=True),
    )
    op.create_table(
        "web_sessions",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("expires_at", sa.String(40), nullable=False),
        sa.Column("revoked_at", sa.String(40), nullable=True),
    )
    op.create_index("ix_web_sessions_login", "web_sessions", ["login"])


def downgrade() -> None:
    op.drop_index("ix_web_sessions_login", table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_table("web_users")
