"""Leader election: only one process per deployment runs scheduled jobs and sweeps.

* PostgreSQL: ``pg_try_advisory_lock`` held on a dedicated connection (not a pooled one). The leader
  checks that connection before every tick (``SELECT 1``); when it fails the process stops acting as
  leader at once. PostgreSQL drops the lock with the session, so a follower's next attempt wins.
* SQLite: a lease row in ``scheduler_leases`` renewed on every tick; a follower takes over once the
  lease has expired (or at once when the leader released it on a clean stop).

The ``job_runs`` ledger and the outbox idempotency keys make a short overlap harmless; leadership only
keeps the work in one place.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import update

from core.clock import Clock
from storage.db import Database
from storage.models import SchedulerLease
from storage.upsert import insert_ignore

log = logging.getLogger(__name__)

LOCK_KEY = 0x4163746E466C6F77  # "ActnFlow": the advisory-lock id of the scheduler
LEASE_NAME = "scheduler"


class Leader(Protocol):
    async def is_leader(self) -> bool: ...

    async def close(self) -> None: ...


class LeaseLeader:
    """SQLite (or any database): a lease row with a holder and an expiry."""

    def __init__(self, db: Database, clock: Clock, holder: str, lease: timedelta) -> None:
        self.db = db
        self.clock = clock
        self.holder = holder
        self.lease = lease
        self._leading = False

    async def is_leader(self) -> bool:
        now = self.clock.now()
        expires = now + self.lease
        async with self.db.transaction() as session:
            created = await insert_ignore(
                session, SchedulerLease, {"name": LEASE_NAME, "holder": self.holder, "expires_at": expires}
            )
            if not created:
                result = await session.execute(
                    update(SchedulerLease)
                    .where(
                        SchedulerLease.name == LEASE_NAME,
                        (SchedulerLease.holder == self.holder) | (SchedulerLease.expires_at < now),
                    )
                    .values(holder=self.holder, expires_at=expires)
                )
                created = bool(result.rowcount)  # type: ignore[attr-defined]
        self._note(created)
        return created

    def _note(self, leading: bool) -> None:
        if leading != self._leading:
            log.info(
                "scheduler leadership %s", "acquired" if leading else "lost", extra={"holder": self.holder}
            )
        self._leading = leading

    async def close(self) -> None:
        """Give the lease up so a follower takes over at its next tick."""
        if not self._leading:
            return
        past = self.clock.now() - timedelta(seconds=1)
        async with self.db.transaction() as session:
            await session.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == LEASE_NAME, SchedulerLease.holder == self.holder)
                .values(expires_at=past)
            )
        self._leading = False


class AdvisoryLockLeader:
    """PostgreSQL: a session-level advisory lock on one dedicated asyncpg connection."""

    def __init__(self, dsn: str, holder: str, *, key: int = LOCK_KEY, timeout_s: float = 5.0) -> None:
        self.dsn = dsn
        self.holder = holder
        self.key = key
        self.timeout_s = timeout_s
        self._conn: Any = None
        self._leading = False

    @property
    def backend_pid(self) -> int | None:
        return self._conn.get_server_pid() if self._conn is not None else None

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.terminate()
            except Exception:  # already gone
                log.debug("terminating the leader connection failed", exc_info=True)

    async def is_leader(self) -> bool:
        import asyncpg

        if self._conn is not None and self._conn.is_closed():
            # The lock went with the session. Stop leading now; try again (as anyone) next time.
            await self._lose("the lock connection closed")
            return False
        try:
            if self._conn is None:
                self._conn = await asyncpg.connect(self.dsn, timeout=self.timeout_s)
            if self._leading:
                await self._conn.fetchval("SELECT 1", timeout=self.timeout_s)
            else:
                self._leading = bool(
                    await self._conn.fetchval(
                        "SELECT pg_try_advisory_lock($1)", self.key, timeout=self.timeout_s
                    )
                )
                if self._leading:
                    log.info("scheduler leadership acquired", extra={"holder": self.holder})
        except Exception as exc:  # any doubt about the lock connection means: not the leader
            await self._lose(str(exc) or type(exc).__name__)
        return self._leading

    async def _lose(self, why: str) -> None:
        if self._leading:
            log.warning("scheduler leadership lost: %s", why, extra={"holder": self.holder})
        self._leading = False
        await self._drop()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        self._leading = False
        if conn is not None and not conn.is_closed():
            try:
                await conn.close(timeout=self.timeout_s)
            except Exception:
                conn.terminate()


def asyncpg_dsn(url: str) -> str:
    """``postgresql+asyncpg://…`` (SQLAlchemy) → ``postgresql://…`` (asyncpg)."""
    from sqlalchemy.engine import make_url

    u = make_url(url).set(drivername="postgresql")
    return u.render_as_string(hide_password=False)


def build_leader(db: Database, clock: Clock, holder: str, lease: timedelta) -> Leader:
    if db.is_sqlite:
        return LeaseLeader(db, clock, holder, lease)
    return AdvisoryLockLeader(asyncpg_dsn(db.url), holder)
