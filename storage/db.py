"""Engine and session setup for SQLite (WAL, BEGIN IMMEDIATE) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from config.settings import DatabaseSettings
from storage import sqlite_inloop


class DatabaseUnavailable(RuntimeError):
    """The database cannot be opened or is locked; the message says what to do."""


def safe_url(url: str) -> str:
    """The URL with any password masked, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other backends and in-memory databases)."""
    parsed = make_url(url)
    database = parsed.database
    if (
        parsed.get_backend_name() != "sqlite"
        or not database
        or database == ":memory:"
        or database.startswith("file:")
    ):
        return None
    return Path(database)


def _install_sqlite_hooks(
    engine: AsyncEngine, busy_timeout_ms: int, *, writer: bool, in_loop: bool, foreign_keys: bool = True
) -> None:
    # An in-loop writer waits for other processes in begin_immediate(), off SQLite's busy handler.
    waits_in_sqlite = busy_timeout_ms if not (writer and in_loop) else 0

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # We emit BEGIN ourselves (SQLAlchemy's documented recipe), so pysqlite's legacy
        # transaction handling never runs SELECTs outside a transaction or commits DDL early.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            f"busy_timeout={int(waits_in_sqlite)}",
            f"foreign_keys={'ON' if foreign_keys else 'OFF'}",
        ):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        if not writer:
            conn.exec_driver_sql("BEGIN")
        elif in_loop:
            sqlite_inloop.begin_immediate(conn.connection.driver_connection, busy_timeout_ms)
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """One engine for writes (``transaction``) and, on SQLite, one for concurrent reads (``read``).

    SQLite runs on the event loop's thread (:mod:`storage.sqlite_inloop`) unless ``sqlite_in_loop``
    is False, which keeps aiosqlite's worker threads (the benchmark compares both)."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 5,
        busy_timeout_ms: int = 5000,
        echo: bool = False,
        sqlite_in_loop: bool = True,
        foreign_keys: bool = True,
    ) -> None:
        """``foreign_keys=False`` (SQLite): for migrations that rebuild a table, whose DROP TABLE would
        otherwise run ON DELETE CASCADE on the rows that point at it."""
        self.url = url
        self.dialect = make_url(url).get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo}
        if self.dialect == "sqlite":
            path = sqlite_path(url)
            if path is not None and not path.parent.exists():
                raise DatabaseUnavailable(
                    f"cannot open the SQLite database {path}: the folder {path.parent} does not exist. "
                    "Create it or set database.url."
                )
            kwargs["pool_size"] = pool_size
            driver_url = sqlite_inloop.url_for(url) if sqlite_in_loop else make_url(url)
            self.engine = create_async_engine(driver_url, **kwargs)
            _install_sqlite_hooks(
                self.engine, busy_timeout_ms, writer=True, in_loop=sqlite_in_loop, foreign_keys=foreign_keys
            )
            self.read_engine = create_async_engine(driver_url, **kwargs)
            _install_sqlite_hooks(self.read_engine, busy_timeout_ms, writer=False, in_loop=sqlite_in_loop)
        else:
            kwargs.update(pool_size=pool_size, pool_pre_ping=True)
            self.engine = create_async_engine(url, **kwargs)
            self.read_engine = self.engine
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer. Queue this process's writers here (FIFO, no polling) instead of
        # letting them spin in SQLite's busy handler; other processes still meet busy_timeout.
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.dialect == "sqlite" else None
        self.read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: DatabaseSettings) -> Database:
        return cls(
            settings.url,
            pool_size=settings.pool_size,
            busy_timeout_ms=settings.busy_timeout_ms,
            echo=settings.echo,
            sqlite_in_loop=settings.sqlite_in_loop,
        )

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: commits on success, rolls back on error."""
        if self._write_lock is None:
            async with self.sessions() as session, session.begin():
                yield session
            return
        async with self._write_lock, self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only transaction that does not take SQLite's write lock."""
        async with self.read_sessions() as session, session.begin():
            yield session

    async def check(self) -> None:
        """Open a connection and take the write lock once; raise :class:`DatabaseUnavailable` on failure."""
        try:
            async with self.transaction() as session:
                await session.execute(text("SELECT 1"))
        except (OperationalError, DBAPIError, OSError, sqlite3.Error) as exc:
            raise DatabaseUnavailable(describe_db_error(self.url, exc)) from exc

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


def describe_db_error(url: str, exc: BaseException) -> str:
    message = str(getattr(exc, "orig", None) or exc)
    where = safe_url(url)
    lowered = message.lower()
    if "locked" in lowered or "busy" in lowered:
        return (
            f"the database {where} is locked by another process (is another ActionFlow running?). "
            "Stop it or point database.url elsewhere."
        )
    if "unable to open" in lowered:
        return f"cannot open the database {where}: {message}. Check the path and its permissions."
    if "connect" in lowered or "refused" in lowered or "does not exist" in lowered:
        return f"cannot connect to the database {where}: {message}"
    return f"database error on {where}: {message}"


async def serialise_appends(session: AsyncSession, key: int) -> None:
    """Serialise the transactions that append to one chain (the quote ledger, its annotations): SQLite's
    BEGIN IMMEDIATE already does; PostgreSQL takes a transaction-scoped advisory lock on ``key``."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
