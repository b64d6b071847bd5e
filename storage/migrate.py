"""Apply Alembic migrations on the application's engine (``actionflow db upgrade`` and start-up)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from storage.db import Database, sqlite_path

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Held (transaction-scoped) while migrations run on PostgreSQL: concurrent upgrades (several
# instances starting at once, `actionflow db upgrade` beside a starting bot) run one after another;
# the later ones find the schema at head and do nothing. SQLite's BEGIN IMMEDIATE does the same.
MIGRATION_LOCK_KEY = 0x4146_4D49_4752_4154  # "AFMIGRAT"

log = logging.getLogger(__name__)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def quiet_alembic(verbose: bool = False) -> None:
    """Alembic logs every step at INFO; ordinary commands and the bot's start show only problems."""
    logging.getLogger("alembic").setLevel(logging.INFO if verbose else logging.WARNING)


def _check_foreign_keys(conn: Connection) -> None:
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(
            f"the migration would leave {len(broken)} rows pointing at missing rows "
            f"(first: {tuple(broken[0])}); nothing was changed"
        )


async def upgrade(db: Database, revision: str = "head", *, verbose: bool = False) -> None:
    cfg = alembic_config(db.url)
    quiet_alembic(verbose)

    def _run(conn: Connection) -> None:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

    if db.is_sqlite and sqlite_path(db.url) is not None:
        # SQLite rebuilds a table to change it (batch mode): DROP TABLE with foreign keys on would run
        # ON DELETE CASCADE on the rows that point at it (a user's roles, a customer's key persons) or
        # fail on the others. A connection of its own with foreign keys off, and a check before commit.
        migrator = Database(db.url, foreign_keys=False)
        try:
            async with migrator.engine.begin() as conn:
                await conn.run_sync(_run)
                await conn.run_sync(_check_foreign_keys)
        finally:
            await migrator.dispose()
        return
    async with db.engine.begin() as conn:
        if not db.is_sqlite:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        await conn.run_sync(_run)


async def current_revision(db: Database) -> str | None:
    def _get(conn: Connection) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    async with db.engine.connect() as conn:
        return await conn.run_sync(_get)


def head_revision(url: str = "sqlite+aiosqlite://") -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()
