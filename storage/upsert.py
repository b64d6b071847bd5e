"""``INSERT … ON CONFLICT DO NOTHING`` for SQLite and PostgreSQL: the atomic claim primitive."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase


async def insert_ignore(
    session: AsyncSession, model: type[DeclarativeBase] | Table, values: dict[str, Any]
) -> bool:
    """Insert one row unless it conflicts with a unique key. True when the row was inserted."""
    table: Table = model if isinstance(model, Table) else model.__table__  # type: ignore[assignment]
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).values(**values).on_conflict_do_nothing()
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]
