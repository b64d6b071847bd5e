"""Alembic environment. Runs on the application's own connection (``config.attributes['connection']``)
so SQLite gets WAL, BEGIN IMMEDIATE and transactional DDL; batch mode on SQLite."""

from __future__ import annotations

import asyncio
import warnings

from alembic import context
from sqlalchemy.engine import Connection

import storage.models
from storage.db import Database

config = context.config
target_metadata = storage.models.Base.metadata


def _render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    return False


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction(), warnings.catch_warnings():
        # Batch mode on SQLite reflects the tables a rebuilt table points at; SQLAlchemy cannot reflect
        # the expression index on customers and says so. Only a rebuild of customers itself would lose
        # that index, and the migration that rebuilds it (0006) recreates its indexes as they were.
        warnings.filterwarnings("ignore", message="Skipped unsupported reflection of expression-based index")
        context.run_migrations()


async def run_async_migrations() -> None:
    db = Database(config.get_main_option("sqlalchemy.url") or "")
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(do_run_migrations)
    finally:
        await db.dispose()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is None:
        asyncio.run(run_async_migrations())
    else:
        do_run_migrations(connection)
