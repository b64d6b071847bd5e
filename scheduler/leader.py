"""Leader election: only one process per deployment runs scheduled jobs and sweeps.

Both kinds are renewed by a heartbeat every third of the lease (``Scheduler.start``), independent of
the sweep interval, so a follower takes over within one lease plus one heartbeat of the leader's end.

* PostgreSQL: ``pg_try_advisory_lock`` held on a dedicated connection (not a pooled one) whose
  session has ``idle_session_timeout`` set to the lease. The heartbeat's ``SELECT 1`` keeps it alive;
  a frozen (SIGSTOP) or partitioned leader sends nothing, so the server ends its session after the
  lease and the lock is free: the keep-alive cannot be faked by a process that does not run. A killed
  leader's lock goes at once with its connection.
* SQLite: a lease row in ``scheduler_leases`` renewed by the heartbeat; a follower takes over once the
  lease has expired (or at once when the leader released it on a clean stop).

Either way a leader that has not renewed for most of a lease (measured on its monotonic clock, so a
process resumed after a freeze notices) stops leading before it runs anything. The ``job_runs``
ledger and the outbox idempotency keys make a short overlap harmless; leadership only keeps the work
in one place.
"""

from __future__ import annotations

import logging
import time
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


# A leader trusts its leadership for this share of the lease after its last successful renewal.
TRUST = 0.8


class Leader(Protocol):
    async def is_leader(self) -> bool: ...

    def holds(self) -> bool:
        """Leading now, per the last renewal (no I/O): for health checks and metrics."""
        ...

    async def close(self) -> None: ...


class LeaseLeader:
    """SQLite (or any database): a lease row with a holder and an expiry."""

    def __init__(self, db: Database, clock: Clock, holder: str, lease: timedelta) -> None:
        self.db = db
        self.clock = clock
        self.holder = holder
        self.lease = lease
        self._leading = False
        self._renewed = 0.0

    def holds(self) -> bool:
        return self._leading and time.monotonic() - self._renewed < self.lease.total_seconds() * TRUST

    async def is_leader(self) -> bool:
        started = time.monotonic()
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
        if created:
            self._renewed = started
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

    def __init__(
        self, dsn: str, holder: str, *, key: int = LOCK_KEY, timeout_s: float = 5.0, lease_s: float = 10.0
    ) -> None:
        self.dsn = dsn
        self.holder = holder
        self.key = key
        self.lease_s = lease_s
        self.timeout_s = min(timeout_s, lease_s / 2)
        self._conn: Any = None
        self._leading = False
        self._renewed = 0.0

    def holds(self) -> bool:
        return self._leading and time.monotonic() - self._renewed < self.lease_s * TRUST

    async def _connect(self) -> Any:
        import asyncpg

        # The server ends the session (and frees the lock) when the heartbeat stops for a lease.
        idle = {"idle_session_timeout": str(int(self.lease_s * 1000))}
        try:
            return await asyncpg.connect(self.dsn, timeout=self.timeout_s, server_settings=idle)
        except asyncpg.PostgresError as exc:  # PostgreSQL < 14 has no idle_session_timeout
            log.warning("idle_session_timeout unavailable (%s); a frozen leader keeps the lock", exc)
            return await asyncpg.connect(self.dsn, timeout=self.timeout_s)

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
        if self._conn is not None and self._conn.is_closed():
            # The lock went with the session. Stop leading now; try again (as anyone) next time.
            await self._lose("the lock connection closed")
            return False
        if self._leading and not self.holds():
            # Paused past the lease (frozen, partitioned): the server may have ended the session and
            # another instance may lead. Give it up rather than trust a connection that may be stale.
            await self._lose("no keep-alive for most of a lease")
            return False
        started = time.monotonic()
        try:
            if self._conn is None:
                self._conn = await self._connect()
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
            if self._leading:
                self._renewed = started
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
    return AdvisoryLockLeader(asyncpg_dsn(db.url), holder, lease_s=lease.total_seconds())
