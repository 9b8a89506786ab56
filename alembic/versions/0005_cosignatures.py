"""Witness cosignatures of checkpoints — append-only on both engines.

One row per (checkpoint size, witness vkey): the note signature line the
witness returned (c2sp.org/tlog-cosignature v1), verified before it is
stored. Rows are evidence from third parties and are never changed: the
same triggers as for checkpoints reject UPDATE, DELETE, TRUNCATE and (on
SQLite) INSERT OR REPLACE.

Revision ID: 0005_cosignatures
Revises: 0004_enrolment_reason
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_cosignatures"
# 0004_label_prints (added in parallel) is currently chained AFTER this revision (its
# down_revision is 0005_cosignatures), so the history stays linear:
# 0003 → 0004_enrolment_reason → 0005_cosignatures → 0004_label_prints. If the lead re-orders
# it, re-point this to 0004_label_prints only after that one no longer points here.
down_revision = "0004_enrolment_reason"
branch_labels = None
depends_on = None

TABLE = "cosignatures"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("witness", sa.String(400), primary_key=True),
        sa.Column("line", sa.Text, nullable=False),
        sa.Column("cosigned_at", sa.BigInteger, nullable=False),
        sa.Column("received_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_cosignatures_witness_size", TABLE, ["witness", "size"])
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {TABLE}_no_{action.lower()} BEFORE {action} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: {action} rejected'); END"
            )
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_replace_size_witness BEFORE INSERT ON {TABLE} "
            f"WHEN EXISTS (SELECT 1 FROM {TABLE} WHERE size = NEW.size AND witness = NEW.witness) "
            f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only: "
            f"size, witness already present, INSERT rejected'); END"
        )
    else:
        # kcl_reject_change() comes from 0001_core_log.
        op.execute(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            f"FOR EACH ROW EXECUTE FUNCTION kcl_reject_change()"
        )
        op.execute(
            f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION kcl_reject_change()"
        )


def downgrade() -> None:
    # Cosignatures are third-party evidence that cannot be re-collected for
    # old sizes (a witness never cosigns backwards): refuse, as 0001 does.
    raise RuntimeError("the cosignatures migration cannot be downgraded; export the ledger instead")
