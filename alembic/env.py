"""Alembic environment: runs migrations on the engine the caller hands over.

``custody init`` passes its engine in ``config.attributes["engine"]``; run
from the command line, the URL comes from CUSTODY_DATABASE_URL.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from app.db import make_engine
from app.settings import load_settings
from app.tables import SQLModel

config = context.config
if config.config_file_name is not None and not config.attributes.get("engine"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine") or make_engine(load_settings().database_url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run against a database")
run_migrations_online()
