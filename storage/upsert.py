"""``INSERT … ON CONFLICT DO NOTHING`` for SQLite and PostgreSQL: the atomic claim primitive."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase


@cache
def _statement(table: Table, dialect: str) -> Insert:
    # Built once per table: the values travel as parameters, so the compiled form is cached too.
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing()


async def insert_ignore(
    session: AsyncSession,
    model: type[DeclarativeBase] | Table,
    values: dict[str, Any],
    *,
    autoflush: bool = True,
) -> bool:
    """Insert one row unless it conflicts with a unique key. True when the row was inserted.

    ``autoflush=False`` leaves the session's pending changes unflushed (SQLAlchemy otherwise flushes
    them before every Core statement). Use it for rows that reference nothing the session may hold,
    such as outbox messages: a step's entity changes are then written in one flush, at commit,
    instead of one flush per message queued."""
    table: Table = model if isinstance(model, Table) else model.__table__  # type: ignore[assignment]
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    if autoflush:
        result = await session.execute(_statement(table, dialect), values)
    else:
        with session.no_autoflush:
            result = await session.execute(_statement(table, dialect), values)
    return bool(result.rowcount)  # type: ignore[attr-defined]
