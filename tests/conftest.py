"""Shared fixtures: temporary SQLite files, per-test PostgreSQL databases (skipped when unreachable)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

PG_URL = os.environ.get("ACTIONFLOW_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
DATA = Path(__file__).parent / "data"

for name in list(os.environ):  # tests never read the developer's own configuration
    if name.startswith("ACTIONFLOW_") and name != "ACTIONFLOW_TEST_PG_URL":
        del os.environ[name]


async def _pg_reachable() -> bool:
    import asyncpg

    try:
        conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg", "postgresql"), timeout=3)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


_PG_OK: bool | None = None


async def pg_available() -> bool:
    global _PG_OK
    if _PG_OK is None:
        _PG_OK = await _pg_reachable()
    return _PG_OK


@asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """Create an empty PostgreSQL database, yield its URL, drop it afterwards."""
    if not await pg_available():
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    import asyncpg

    admin_dsn = PG_URL.replace("postgresql+asyncpg", "postgresql")
    name = f"af_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, _ = PG_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Every storage backend, for contract tests."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'contract.db'}"
        return
    async with fresh_pg_database() as url:
        yield url


@pytest.fixture
def data_dir() -> Iterator[Path]:
    yield DATA
