"""Delivers outbox rows outside any transaction: retries with back-off, per-target order, rate limits,
digests for throttled targets, dead letters.

Crash safety:

* A claim records its holder (``host|pid|boot``) and a short lease that a heartbeat renews while the
  round runs. A restarted process reclaims at once the rows its previous life held (same host, a pid
  that is gone or is its own, a boot id no live sender of this process has), and every sender looks
  for such rows every ``RECLAIM_EVERY_S``; another instance takes rows over once their lease runs out
  (a frozen or partitioned holder, or a dead one on another host).
* A sender whose lease may have run out (its heartbeat has not succeeded for a lease) stops sending
  the rows it holds: a process resumed after a freeze does not send what another instance took over.
* Each delivery is recorded as soon as the platform accepts it, in micro-batches of at most
  ``RECORD_EVERY_S``: a crash can repeat only the calls in flight, and the idempotency key goes to
  channels that can use it.
* Rows of a channel that is not up yet (``Channel.ready``) are not claimed, so a start does not burn
  retry attempts on "channel is not running".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from pydantic import ValidationError
from sqlalchemy import BindParameter, Table, and_, bindparam, exists, or_, select, update

from bot.ratelimit import RateLimiter
from config.settings import OutboxSettings
from core.channel import STILL_OURS, Channel, PermanentSendError, Target, TransientSendError
from core.clock import Clock
from core.messages import Markdown, Message, Text, message_from_dict
from core.redact import redact
from storage.db import Database
from storage.models import OutboxMessage, OutboxStatus

log = logging.getLogger(__name__)
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]

RECORD_EVERY_S = 0.05
RECLAIM_EVERY_S = 5.0  # deliveries are written at most this long after the platform accepted them
_HOST = socket.gethostname()[:60]
_LIVE_BOOTS: set[str] = set()  # boot ids of the senders running in this process

DeadHook = Callable[[list[tuple[int, str, str, str]]], Awaitable[None]]  # (id, channel, target, error)


def holder_id(boot: str) -> str:
    return f"{_HOST}|{os.getpid()}|{boot}"


def previous_life(holder: str) -> bool:
    """True when ``holder`` is a sender of this host that is certainly dead: its process is gone, or
    it is this process and no sender running here has its boot id (the container restarted as pid 1
    again, or a test restarted the application)."""
    host, _, rest = holder.partition("|")
    pid_text, _, boot = rest.partition("|")
    if host != _HOST or not pid_text.isdigit() or not boot:
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return boot not in _LIVE_BOOTS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


@dataclass
class _Row:
    id: int
    key: str
    channel: str
    target_kind: str
    target: str
    payload: dict[str, Any]
    attempts: int


@dataclass
class _Outcome:
    sent: list[int] = field(default_factory=list)
    merged: dict[int, int] = field(default_factory=dict)  # row id -> digest row id
    dead: dict[int, str] = field(default_factory=dict)
    retry: dict[int, tuple[datetime, int, str]] = field(default_factory=dict)  # id -> (when, attempts, error)


def merge_messages(messages: list[Message]) -> Message:
    """One digest from several texts for the same target (used while a webhook is throttled)."""
    parts = [m.text for m in messages if isinstance(m, Text | Markdown)]
    return Markdown(title=f"消息汇总（{len(parts)} 条）", text="\n\n---\n\n".join(parts))


class OutboxSender:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        channels: Mapping[str, Channel],
        settings: OutboxSettings,
        *,
        limiter: RateLimiter | None = None,
        concurrency: int = 8,
    ) -> None:
        self.db = db
        self.clock = clock
        self.channels = channels
        self.settings = settings
        self.limiter = limiter or RateLimiter(clock)
        self.boot = uuid.uuid4().hex[:12]
        self.holder = holder_id(self.boot)
        _LIVE_BOOTS.add(self.boot)
        self.on_dead: DeadHook | None = None  # told about dead letters (admin alerts, metrics)
        self._pending = _Outcome()
        self._flush_task: asyncio.Task[None] | None = None
        self._write = asyncio.Lock()
        self._in_flight: set[int] = set()
        self._rows: dict[int, _Row] = {}
        self._lost: set[int] = set()
        self._lease_ok_until = 0.0  # time.monotonic() until which this sender's claims are surely valid
        self._reclaim_at = 0.0
        self._wake = asyncio.Event()
        self._sem = asyncio.Semaphore(concurrency)
        self._round = asyncio.Lock()  # one round at a time per process, so drain() sees settled state
        self._busy = False  # the last round claimed something: claim again without looking first
        self._build_statements()

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        """This sender is gone: a new one in this process takes back the rows it still holds."""
        _LIVE_BOOTS.discard(self.boot)

    async def run(self, stop: asyncio.Event, poll_s: float = 1.0) -> None:
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except Exception:
                log.exception("outbox round failed")
                handled = 0
            if handled or stop.is_set():
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=poll_s)
            self._wake.clear()

    async def drain(self, max_rounds: int = 1000) -> None:
        """Deliver everything due now (used by the console and tests)."""
        for _ in range(max_rounds):
            if not await self.run_once():
                return

    def _backoff(self, row_id: int, attempts: int) -> timedelta:
        delay = min(self.settings.backoff_base_s * (2 ** max(attempts - 1, 0)), self.settings.backoff_cap_s)
        jitter = (row_id * 7919 % 100) / 1000  # deterministic 0–10 %
        return timedelta(seconds=delay * (1 + jitter))

    def _build_statements(self) -> None:
        """The claim's statements, built once: constructing them costs more than running them."""
        t = _OUTBOX
        earlier = t.alias("earlier")
        now: BindParameter[datetime] = bindparam("now")
        ready: BindParameter[list[str]] = bindparam("ready", expanding=True)
        waiting = exists().where(
            earlier.c.channel == t.c.channel,
            earlier.c.target_kind == t.c.target_kind,
            earlier.c.target == t.c.target,
            earlier.c.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)),
            earlier.c.id < t.c.id,
            or_(
                and_(earlier.c.status == OutboxStatus.PENDING, earlier.c.next_attempt_at > now),
                and_(earlier.c.status == OutboxStatus.SENDING, earlier.c.locked_until >= now),
            ),
        )
        limit = self.settings.batch_size
        # Pending rows that are due (partial index), and rows whose sending lease expired (a crash):
        # up to batch_size of each, so a round after a crash may claim twice the batch. Only rows of
        # channels that are up: the others wait without losing an attempt.
        pending = (
            select(t.c.id)
            .where(
                t.c.status == OutboxStatus.PENDING,
                t.c.next_attempt_at <= now,
                t.c.channel.in_(ready),
                ~waiting,
            )
            .order_by(t.c.id)
            .limit(limit)
        )
        stuck = (
            select(t.c.id)
            .where(t.c.status == OutboxStatus.SENDING, t.c.locked_until < now, t.c.channel.in_(ready))
            .order_by(t.c.id)
            .limit(limit)
        )
        if not self.db.is_sqlite:  # SQLite's write lock already keeps other senders out
            pending = pending.with_for_update(skip_locked=True)
            stuck = stuck.with_for_update(skip_locked=True)
        due = or_(t.c.id.in_(pending), t.c.id.in_(stuck))
        self._any_due = select(t.c.id).where(due).limit(1)
        columns = (
            t.c.id,
            t.c.idempotency_key,
            t.c.channel,
            t.c.target_kind,
            t.c.target,
            t.c.payload,
            t.c.attempts,
        )
        self._claim_due = (
            update(t)
            .where(due)
            .values(
                status=OutboxStatus.SENDING, locked_until=bindparam("lease"), claimed_by=bindparam("holder")
            )
            .returning(*columns)
        )
        self._renew = (
            update(t)
            .where(
                t.c.id.in_(bindparam("ids", expanding=True)),
                t.c.status == OutboxStatus.SENDING,
                t.c.claimed_by == bindparam("holder"),
            )
            .values(locked_until=bindparam("lease"))
            .returning(t.c.id)
        )

    def _ready_channels(self) -> list[str]:
        return [name for name, channel in self.channels.items() if channel.ready()]

    async def reclaim_previous_life(self) -> int:
        """Put back the rows a dead earlier run of this process (or host) left ``sending``: they go out
        now instead of after their lease."""
        t = _OUTBOX
        async with self.db.read() as session:
            holders = (
                await session.execute(
                    select(t.c.claimed_by)
                    .where(t.c.status == OutboxStatus.SENDING, t.c.claimed_by != self.holder)
                    .distinct()
                )
            ).scalars()
            dead = [h for h in holders if h and previous_life(h)]
        if not dead:
            return 0
        async with self.db.transaction() as session:
            result = await session.execute(
                update(t)
                .where(t.c.status == OutboxStatus.SENDING, t.c.claimed_by.in_(dead))
                .values(status=OutboxStatus.PENDING, locked_until=None, claimed_by="")
            )
        count = int(result.rowcount or 0)  # type: ignore[attr-defined]
        if count:
            log.info("took back %s messages a previous run left unsent", count)
        return count

    async def _claim(self, now: datetime) -> list[_Row]:
        if time.monotonic() >= self._reclaim_at:
            # At start, then every few seconds: a dead sender of this host (a crash) is not waited for.
            self._reclaim_at = time.monotonic() + RECLAIM_EVERY_S
            await self.reclaim_previous_life()
        ready = self._ready_channels()
        if not ready:
            return []
        params = {"now": now, "ready": ready}
        if not self._busy:
            # Idle polling looks first without the write lock: most such rounds find nothing to do.
            async with self.db.read() as session:
                if (await session.execute(self._any_due, params)).first() is None:
                    return []
        lease = now + timedelta(seconds=self.settings.lease_s)
        started = time.monotonic()
        async with self.db.transaction() as session:
            result = await session.execute(self._claim_due, {**params, "lease": lease, "holder": self.holder})
            rows = sorted((_Row(*r) for r in result.all()), key=lambda r: r.id)
        self._lease_ok_until = started + self.settings.lease_s * 0.8
        self._busy = bool(rows)
        return rows

    async def run_once(self) -> int:
        async with self._round:
            return await self._run_round()

    async def _run_round(self) -> int:
        now = self.clock.now()
        rows = await self._claim(now)
        if not rows:
            return 0
        self._in_flight = {row.id for row in rows}
        self._rows = {row.id: row for row in rows}
        self._lost = set()
        groups: dict[tuple[str, str, str], list[_Row]] = {}
        for row in rows:
            groups.setdefault((row.channel, row.target_kind, row.target), []).append(row)
        heartbeat = asyncio.create_task(self._heartbeat(), name="outbox-heartbeat")
        try:
            await asyncio.gather(*(self._deliver_group(group) for group in groups.values()))
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            await self._flush()
        return len(rows)

    # -- the lease ------------------------------------------------------------------
    async def _heartbeat(self) -> None:
        every = max(self.settings.lease_s / 3, 0.05)
        while True:
            await asyncio.sleep(every)
            try:
                await self._renew_lease()
            except Exception:
                log.warning("renewing the outbox lease failed; sending stops when it runs out", exc_info=True)

    async def _renew_lease(self) -> None:
        async with self._write:
            ids = sorted(self._in_flight - self._lost)
            if not ids:
                return
            started = time.monotonic()
            lease = self.clock.now() + timedelta(seconds=self.settings.lease_s)
            async with self.db.transaction() as session:
                result = await session.execute(
                    self._renew, {"ids": ids, "holder": self.holder, "lease": lease}
                )
                kept = set(result.scalars())
            self._lease_ok_until = started + self.settings.lease_s * 0.8
            # Rows another instance took over (this process was frozen past the lease) are not ours.
            self._lost |= set(ids) - kept

    def _still_ours(self, row: _Row) -> bool:
        if row.id in self._lost:
            return False
        if time.monotonic() >= self._lease_ok_until:
            log.warning(
                "outbox lease may have run out (a pause?); leaving message %s to whoever holds it", row.id
            )
            self._lost.add(row.id)
            return False
        return True

    # -- outcomes, recorded as they happen --------------------------------------------
    def _schedule_flush(self) -> None:
        if self._flush_task is None or self._flush_task.done():
            self._flush_task = asyncio.create_task(self._flush_soon(), name="outbox-record")

    async def _flush_soon(self) -> None:
        await asyncio.sleep(RECORD_EVERY_S)
        try:
            await self._flush()
        except Exception:
            log.exception("recording outbox deliveries failed; the lease brings the messages back")

    async def _flush(self) -> None:
        async with self._write:
            out, self._pending = self._pending, _Outcome()
            if not (out.sent or out.merged or out.dead or out.retry):
                return
            await self._record(out, self.clock.now())
            self._in_flight -= {*out.sent, *out.merged, *out.dead, *out.retry}
        if out.dead and self.on_dead is not None:
            rows = self._rows
            details = [
                (rid, rows[rid].channel if rid in rows else "", rows[rid].target if rid in rows else "", err)
                for rid, err in out.dead.items()
            ]
            try:
                await self.on_dead(details)
            except Exception:
                log.exception("telling about dead messages failed")

    def _sent(self, lead: _Row, members: list[_Row]) -> None:
        self._pending.sent.append(lead.id)
        for member in members[1:]:
            self._pending.merged[member.id] = lead.id
        self._schedule_flush()

    def _dead(self, row_id: int, error: str) -> None:
        self._pending.dead[row_id] = error
        self._schedule_flush()

    def _retry(self, row_id: int, when: datetime, attempts: int, error: str) -> None:
        self._pending.retry[row_id] = (when, attempts, error)
        self._schedule_flush()

    async def _deliver_group(self, rows: list[_Row]) -> None:
        async with self._sem:
            first = rows[0]
            channel = self.channels.get(first.channel)
            if channel is None:
                for row in rows:
                    self._dead(row.id, f"channel {first.channel!r} is not running")
                return
            target = Target(first.target_kind, first.target)  # type: ignore[arg-type]
            try:
                await channel.prepare(target)
            except PermanentSendError as exc:
                for row in rows:
                    self._dead(row.id, str(exc))
                return
            except Exception as exc:
                when = self.clock.now() + self._backoff(first.id, first.attempts + 1)
                for row in rows:
                    self._retry(row.id, when, row.attempts, f"{type(exc).__name__}: {exc}")
                return
            batch: list[tuple[list[_Row], Message]] = []
            for row in rows:
                try:
                    batch.append(([row], message_from_dict(row.payload)))
                except ValidationError as exc:
                    self._dead(row.id, f"invalid payload: {exc.errors()[0]['msg']}")
            if channel.mergeable(target) and batch:
                # Merge only what would not fit in the target's rate window: a backlog behind a
                # throttled webhook becomes one digest instead of waiting minutes per message.
                limit = channel.rate_limit(target, batch[0][1])
                free = self.limiter.free(limit.key, limit.calls, limit.per_s) if limit else len(batch)
                if len(batch) > free:
                    batch = batch[: max(free - 1, 0)] + self._merge(batch[max(free - 1, 0) :])
            for i, (members, message) in enumerate(batch):
                lead = members[0]
                if not all(self._still_ours(m) for m in members):
                    return  # the rest of this target's queue waits for its new holder, in order
                limit = channel.rate_limit(target, message)
                if limit is not None:
                    wait_until = self.limiter.acquire(limit.key, limit.calls, limit.per_s)
                    if wait_until is not None:
                        self._postpone(batch[i:], wait_until)
                        return
                ids = [m.id for m in members]
                token = STILL_OURS.set(partial(self._holds, ids))
                try:
                    await channel.send(target, message, key=lead.key)
                except Exception as exc:
                    if not self._holds(ids):
                        # Paused past the lease: the rows may be another instance's now; it records them.
                        log.warning("send to %s:%s stopped: %s", first.channel, target.address, exc)
                        return
                    if isinstance(exc, TransientSendError):
                        self._postpone(batch[i + 1 :], self._transient(channel, members, exc))
                        return
                    if isinstance(exc, PermanentSendError):
                        log.error("send to %s:%s failed for good: %s", first.channel, target.address, exc)
                        for member in members:
                            self._dead(member.id, str(exc))
                        continue
                    log.exception("send to %s:%s raised", first.channel, target.address)
                    when = self.clock.now() + self._backoff(lead.id, lead.attempts + 1)
                    for member in members:
                        self._retry(member.id, when, member.attempts + 1, f"{type(exc).__name__}: {exc}")
                    self._postpone(batch[i + 1 :], when)
                    return
                finally:
                    STILL_OURS.reset(token)
                self._sent(lead, members)

    def _holds(self, ids: list[int]) -> bool:
        """This sender surely still holds these rows (no pause past its lease, none taken over)."""
        return time.monotonic() < self._lease_ok_until and not any(i in self._lost for i in ids)

    def _transient(self, channel: Channel, members: list[_Row], exc: TransientSendError) -> datetime:
        lead = members[0]
        now = self.clock.now()
        when = now + (
            timedelta(seconds=exc.retry_after)
            if exc.retry_after is not None
            else self._backoff(lead.id, lead.attempts + 1)
        )
        if exc.block_key:
            self.limiter.block(exc.block_key, when)
        log.warning("send to %s:%s failed, retry at %s: %s", lead.channel, lead.target, when, exc)
        # A channel going down under the send (a stop) costs no attempt.
        counted = 1 if channel.ready() else 0
        for member in members:
            attempts = member.attempts + counted
            if attempts >= self.settings.max_attempts:
                self._dead(member.id, f"gave up after {attempts} attempts: {exc}")
            else:
                self._retry(member.id, when, attempts, str(exc))
        return when

    @staticmethod
    def _merge(batch: list[tuple[list[_Row], Message]]) -> list[tuple[list[_Row], Message]]:
        merged: list[tuple[list[_Row], Message]] = []
        run: list[tuple[list[_Row], Message]] = []

        def flush() -> None:
            if len(run) == 1:
                merged.append(run[0])
            elif run:
                members = [m for rows, _ in run for m in rows]
                merged.append((members, merge_messages([msg for _, msg in run])))
            run.clear()

        for item in batch:
            if isinstance(item[1], Text | Markdown):
                run.append(item)
            else:
                flush()
                merged.append(item)
        flush()
        return merged

    def _postpone(self, rest: list[tuple[list[_Row], Message]], when: datetime) -> None:
        for members, _ in rest:
            for member in members:
                self._retry(member.id, when, member.attempts, "")

    async def _record(self, out: _Outcome, now: datetime) -> None:
        t = _OUTBOX
        by_id = t.c.id == bindparam("rid")
        async with self.db.transaction() as session:
            if out.sent:
                await session.execute(
                    update(t)
                    .where(t.c.id.in_(out.sent))
                    .values(status=OutboxStatus.SENT, sent_at=now, locked_until=None)
                )
            if out.merged:
                await session.execute(
                    update(t)
                    .where(by_id)
                    .values(
                        status=OutboxStatus.SENT,
                        sent_at=now,
                        locked_until=None,
                        merged_into_id=bindparam("lead"),
                    ),
                    [{"rid": row_id, "lead": lead} for row_id, lead in out.merged.items()],
                )
            if out.dead:
                await session.execute(
                    update(t)
                    .where(by_id)
                    .values(status=OutboxStatus.DEAD, last_error=bindparam("err"), locked_until=None),
                    [{"rid": row_id, "err": redact(error)[:2000]} for row_id, error in out.dead.items()],
                )
            for row_id, (when, attempts, error) in out.retry.items():
                values: dict[str, Any] = {
                    "status": OutboxStatus.PENDING,
                    "next_attempt_at": when,
                    "attempts": attempts,
                    "locked_until": None,
                }
                if error:
                    values["last_error"] = redact(error)[:2000]
                await session.execute(update(t).where(t.c.id == row_id).values(**values))
        for row_id, error in out.dead.items():
            log.error("outbox message %s is dead: %s", row_id, error)
