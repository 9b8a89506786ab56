"""Core log: entries, tree nodes, checkpoints — append-only on both engines.

Revision ID: 0001_core_log
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_core_log"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY = ("entries", "tree_nodes", "checkpoints")
#: Every unique key of the append-only tables (SQLite REPLACE guard).
UNIQUE_KEYS = (
    ("entries", ("idx",)),
    ("entries", ("nonce",)),
    ("tree_nodes", ("level", "idx")),
    ("checkpoints", ("size",)),
)
Index64 = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "entries",
        sa.Column("idx", Index64, primary_key=True, autoincrement=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary, nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("author", sa.String(80), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("recorded_at", sa.String(40), nullable=False),
        sa.Column("nonce", sa.String(32), nullable=False, unique=True),
    )
    op.create_index("ix_entries_subject_idx", "entries", ["subject", "idx"])
    op.create_index("ix_entries_kind_idx", "entries", ["kind", "idx"])
    op.create_index("ix_entries_author_idx", "entries", ["author", "idx"])
    op.create_table(
        "tree_nodes",
        sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "checkpoints",
        sa.Column("size", Index64, primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for table in APPEND_ONLY:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {action} rejected'); END"
                )
        # INSERT OR REPLACE deletes the row it collides with WITHOUT firing
        # DELETE triggers (unless recursive_triggers is on), so it would
        # overwrite an entry silently: refuse any insert onto an existing key.
        # (PostgreSQL's INSERT … ON CONFLICT DO UPDATE fires the UPDATE trigger.)
        for table, key in UNIQUE_KEYS:
            match = " AND ".join(f"{column} = NEW.{column}" for column in key)
            op.execute(
                f"CREATE TRIGGER {table}_no_replace_{'_'.join(key)} BEFORE INSERT ON {table} "
                f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {match}) "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: "
                f"{', '.join(key)} already present, INSERT rejected'); END"
            )
    else:
        op.execute(
            """
            CREATE OR REPLACE FUNCTION kcl_reject_change() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only: % rejected', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END
            $$
            """
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION kcl_reject_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION kcl_reject_change()"
            )


def downgrade() -> None:
    # An append-only log is never downgraded in place: export it, then
    # rebuild. Refusing here keeps a mistyped command from dropping evidence.
    raise RuntimeError("the core log migration cannot be downgraded; export the ledger instead")
