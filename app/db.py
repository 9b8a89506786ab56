"""Database engines for SQLite (embedded) and PostgreSQL, and migrations.

SQLite: WAL journal, ``synchronous=FULL`` (an acknowledged append survives a
power cut), a generous busy timeout, and transactions we begin ourselves so
that appends can take the write lock up front with ``BEGIN IMMEDIATE``.
PostgreSQL: psycopg 3; appends serialise on a transaction-scoped advisory
lock (see :mod:`app.logstore`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from app.errors import DatabaseUnavailable
from app.settings import sqlite_path
from ledger.errors import InvalidInput

if TYPE_CHECKING:
    from alembic.config import Config

REPO_ROOT = Path(__file__).resolve().parent.parent
ALEMBIC_DIR = REPO_ROOT / "alembic"
SQLITE_BUSY_TIMEOUT_S = 60


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith(("sqlite:", "sqlite+pysqlite:", "postgresql+psycopg:")):
        return url
    raise InvalidInput(f"unsupported database URL {url!r}: use sqlite:///FILE or postgresql://…")


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, create_dirs: bool = True) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = sqlite_path(url.replace("sqlite+pysqlite", "sqlite"))
        if path is None:
            raise InvalidInput("an SQLite ledger needs a file (sqlite:///PATH), not :memory:")
        if create_dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=40, max_overflow=10)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # Take transaction control away from the sqlite3 module so that we
        # can issue BEGIN IMMEDIATE for writers (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        # Writers take the database write lock at BEGIN: two appenders then
        # queue on the busy timeout instead of both reading the same log
        # size and failing at commit.
        if conn.get_execution_options().get("sqlite_immediate"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the write lock on SQLite from its first statement."""
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(sqlite_immediate=True)
            with conn.begin():
                yield conn
    except OperationalError as exc:
        raise DatabaseUnavailable(_describe(exc)) from exc


def _describe(exc: SQLAlchemyError) -> str:
    original = getattr(exc, "orig", None) or exc
    return str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__


def alembic_config(engine: Engine | None = None) -> Config:
    # Imported here: alembic costs a noticeable share of every CLI start-up
    # and only migrations need it.
    from alembic.config import Config

    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    try:
        from alembic import command

        command.upgrade(alembic_config(engine), "head")
    except OperationalError as exc:
        raise DatabaseUnavailable(_describe(exc)) from exc


def schema_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    except OperationalError as exc:
        if "no such table" in str(exc) or "does not exist" in str(exc):
            return None
        raise DatabaseUnavailable(_describe(exc)) from exc
    except SQLAlchemyError:
        return None
    return None if row is None else str(row[0])


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest migration shipped with this code."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return str(head)
