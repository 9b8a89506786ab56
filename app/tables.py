"""SQLModel tables. Alembic migrations own the schema; these map it.

``entries``, ``tree_nodes`` and ``checkpoints`` are append-only: database
triggers (created by the migration) reject UPDATE and DELETE on both
engines. The decoded columns of ``entries`` are for queries only; the
verbatim ``raw`` bytes are the record.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, SmallInteger, String, Text
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
