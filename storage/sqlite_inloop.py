"""A SQLAlchemy asyncio dialect that runs SQLite on the event loop's own thread.

aiosqlite sends every cursor call to a worker thread and wakes the loop when it is done: three or
four thread hand-offs per statement, about 0.3 ms each on a 2-vCPU machine, while SQLite itself needs
a few microseconds for the short statements of a conversation step. Because this process queues its
writers anyway (one SQLite writer), those hand-offs were what limited throughput (see
docs/benchmarks.md, "Core event path"). Here the sqlite3 calls run inline in SQLAlchemy's greenlet.

What could block the loop, and how it is kept short:

* Waiting for another *process* that holds the write lock: the connection's own busy handler is off
  (``busy_timeout=0``), and ``BEGIN IMMEDIATE`` is retried with ``asyncio.sleep`` back-off until the
  configured busy timeout, so the loop keeps serving while it waits (:func:`begin_immediate`).
* Readers never wait in WAL mode, and commits with ``synchronous=NORMAL`` do not fsync.
* Long statements (the manager scans at 100k customers take tens of milliseconds) would hold the
  loop for their duration; they already held the single write lock that every step needs, so steps
  waited for them before this driver too.

The URL stays ``sqlite+aiosqlite://…``; :class:`storage.db.Database` picks this driver for it (unless
``database.sqlite_in_loop`` is false). Use it through ``AsyncSession`` or ``run_sync``: SQLAlchemy's
``AsyncConnection.execute`` demands that the driver really awaited and raises ``AwaitRequired`` here.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Any

from sqlalchemy import pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.interfaces import ConnectArgsType
from sqlalchemy.util import await_only

DRIVER = "sqlite+inloop"


class _Cursor(sqlite3.Cursor):
    async def _async_soft_close(self) -> None:
        """SQLAlchemy's asyncio result calls this; an in-thread cursor has nothing to release."""


class _Connection(sqlite3.Connection):
    def cursor(self, factory: Any = _Cursor) -> Any:
        return super().cursor(factory)


class SQLiteDialectInLoop(SQLiteDialect_pysqlite):
    driver = "inloop"
    is_async = True
    supports_statement_cache = True

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        # A pool whose waiting is done with ``await``: a blocking queue would stall the loop.
        return pool.AsyncAdaptedQueuePool if cls._is_url_file_db(url) else pool.StaticPool

    def create_connect_args(self, url: URL) -> ConnectArgsType:
        args, kwargs = super().create_connect_args(url)
        kwargs["factory"] = _Connection
        kwargs["check_same_thread"] = False  # the pool may close connections from another thread at exit
        kwargs["timeout"] = 0  # never wait inside sqlite3; see begin_immediate()
        return args, kwargs


def begin_immediate(dbapi_conn: Any, busy_timeout_ms: int) -> None:
    """``BEGIN IMMEDIATE``, waiting for another process's write lock with ``asyncio.sleep`` (called
    inside SQLAlchemy's greenlet, so the loop keeps running while we wait)."""
    deadline = time.monotonic() + busy_timeout_ms / 1000
    delay = 0.001
    while True:
        try:
            dbapi_conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise
        await_only(asyncio.sleep(delay))
        delay = min(delay * 2, 0.05)


def url_for(url: str | URL) -> URL:
    """The same database, opened with this driver."""
    return make_url(url).set(drivername=DRIVER)


registry.register("sqlite.inloop", __name__, "SQLiteDialectInLoop")
