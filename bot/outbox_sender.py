"""Delivers outbox rows outside any transaction: retries with back-off, per-target order, rate limits,
digests for throttled targets, dead letters. A crash leaves rows ``sending``; their lease expires and
they are sent again (at-least-once; the idempotency key goes to channels that can use it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import BindParameter, Table, and_, bindparam, exists, or_, select, update

from bot.ratelimit import RateLimiter
from config.settings import OutboxSettings
from core.channel import Channel, PermanentSendError, Target, TransientSendError
from core.clock import Clock
from core.messages import Markdown, Message, Text, message_from_dict
from core.redact import redact
from storage.db import Database
from storage.models import OutboxMessage

log = logging.getLogger(__name__)
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]


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
        self._wake = asyncio.Event()
        self._sem = asyncio.Semaphore(concurrency)
        self._round = asyncio.Lock()  # one round at a time per process, so drain() sees settled state
        self._busy = False  # the last round claimed something: claim again without looking first
        self._build_statements()

    def wake(self) -> None:
        self._wake.set()

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
        waiting = exists().where(
            earlier.c.channel == t.c.channel,
            earlier.c.target_kind == t.c.target_kind,
            earlier.c.target == t.c.target,
            earlier.c.status.in_(("pending", "sending")),
            earlier.c.id < t.c.id,
            or_(
                and_(earlier.c.status == "pending", earlier.c.next_attempt_at > now),
                and_(earlier.c.status == "sending", earlier.c.locked_until >= now),
            ),
        )
        limit = self.settings.batch_size
        # Pending rows that are due (partial index), and rows whose sending lease expired (a crash):
        # up to batch_size of each, so a round after a crash may claim twice the batch.
        pending = (
            select(t.c.id)
            .where(t.c.status == "pending", t.c.next_attempt_at <= now, ~waiting)
            .order_by(t.c.id)
            .limit(limit)
        )
        stuck = (
            select(t.c.id)
            .where(t.c.status == "sending", t.c.locked_until < now)
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
            update(t).where(due).values(status="sending", locked_until=bindparam("lease")).returning(*columns)
        )

    async def _claim(self, now: datetime) -> list[_Row]:
        if not self._busy:
            # Idle polling looks first without the write lock: most such rounds find nothing to do.
            async with self.db.read() as session:
                if (await session.execute(self._any_due, {"now": now})).first() is None:
                    return []
        lease = now + timedelta(seconds=self.settings.lease_s)
        async with self.db.transaction() as session:
            result = await session.execute(self._claim_due, {"now": now, "lease": lease})
            rows = sorted((_Row(*r) for r in result.all()), key=lambda r: r.id)
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
        groups: dict[tuple[str, str, str], list[_Row]] = {}
        for row in rows:
            groups.setdefault((row.channel, row.target_kind, row.target), []).append(row)
        outcome = _Outcome()
        await asyncio.gather(*(self._deliver_group(group, outcome) for group in groups.values()))
        await self._record(outcome, now)
        return len(rows)

    async def _deliver_group(self, rows: list[_Row], out: _Outcome) -> None:
        async with self._sem:
            first = rows[0]
            channel = self.channels.get(first.channel)
            if channel is None:
                for row in rows:
                    out.dead[row.id] = f"channel {first.channel!r} is not running"
                return
            target = Target(first.target_kind, first.target)  # type: ignore[arg-type]
            try:
                await channel.prepare(target)
            except PermanentSendError as exc:
                for row in rows:
                    out.dead[row.id] = str(exc)
                return
            except Exception as exc:
                when = self.clock.now() + self._backoff(first.id, first.attempts + 1)
                for row in rows:
                    out.retry[row.id] = (when, row.attempts, f"{type(exc).__name__}: {exc}")
                return
            batch: list[tuple[list[_Row], Message]] = []
            for row in rows:
                try:
                    batch.append(([row], message_from_dict(row.payload)))
                except ValidationError as exc:
                    out.dead[row.id] = f"invalid payload: {exc.errors()[0]['msg']}"
            if channel.mergeable(target) and batch:
                # Merge only what would not fit in the target's rate window: a backlog behind a
                # throttled webhook becomes one digest instead of waiting minutes per message.
                limit = channel.rate_limit(target, batch[0][1])
                free = self.limiter.free(limit.key, limit.calls, limit.per_s) if limit else len(batch)
                if len(batch) > free:
                    batch = batch[: max(free - 1, 0)] + self._merge(batch[max(free - 1, 0) :])
            for i, (members, message) in enumerate(batch):
                lead = members[0]
                limit = channel.rate_limit(target, message)
                if limit is not None:
                    wait_until = self.limiter.acquire(limit.key, limit.calls, limit.per_s)
                    if wait_until is not None:
                        self._postpone(batch[i:], wait_until, out)
                        return
                try:
                    await channel.send(target, message, key=lead.key)
                except TransientSendError as exc:
                    now = self.clock.now()
                    when = now + (
                        timedelta(seconds=exc.retry_after)
                        if exc.retry_after is not None
                        else self._backoff(lead.id, lead.attempts + 1)
                    )
                    if exc.block_key:
                        self.limiter.block(exc.block_key, when)
                    log.warning(
                        "send to %s:%s failed, retry at %s: %s", first.channel, target.address, when, exc
                    )
                    for member in members:
                        attempts = member.attempts + 1
                        if attempts >= self.settings.max_attempts:
                            out.dead[member.id] = f"gave up after {attempts} attempts: {exc}"
                        else:
                            out.retry[member.id] = (when, attempts, str(exc))
                    self._postpone(batch[i + 1 :], when, out)
                    return
                except PermanentSendError as exc:
                    log.error("send to %s:%s failed for good: %s", first.channel, target.address, exc)
                    for member in members:
                        out.dead[member.id] = str(exc)
                    continue
                except Exception as exc:
                    log.exception("send to %s:%s raised", first.channel, target.address)
                    when = self.clock.now() + self._backoff(lead.id, lead.attempts + 1)
                    for member in members:
                        out.retry[member.id] = (when, member.attempts + 1, f"{type(exc).__name__}: {exc}")
                    self._postpone(batch[i + 1 :], when, out)
                    return
                out.sent.append(lead.id)
                for member in members[1:]:
                    out.merged[member.id] = lead.id

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

    @staticmethod
    def _postpone(rest: list[tuple[list[_Row], Message]], when: datetime, out: _Outcome) -> None:
        for members, _ in rest:
            for member in members:
                out.retry[member.id] = (when, member.attempts, "")

    async def _record(self, out: _Outcome, now: datetime) -> None:
        t = _OUTBOX
        by_id = t.c.id == bindparam("rid")
        async with self.db.transaction() as session:
            if out.sent:
                await session.execute(
                    update(t)
                    .where(t.c.id.in_(out.sent))
                    .values(status="sent", sent_at=now, locked_until=None)
                )
            if out.merged:
                await session.execute(
                    update(t)
                    .where(by_id)
                    .values(status="sent", sent_at=now, locked_until=None, merged_into_id=bindparam("lead")),
                    [{"rid": row_id, "lead": lead} for row_id, lead in out.merged.items()],
                )
            if out.dead:
                await session.execute(
                    update(t)
                    .where(by_id)
                    .values(status="dead", last_error=bindparam("err"), locked_until=None),
                    [{"rid": row_id, "err": redact(error)[:2000]} for row_id, error in out.dead.items()],
                )
            for row_id, (when, attempts, error) in out.retry.items():
                values: dict[str, Any] = {
                    "status": "pending",
                    "next_attempt_at": when,
                    "attempts": attempts,
                    "locked_until": None,
                }
                if error:
                    values["last_error"] = redact(error)[:2000]
                await session.execute(update(t).where(t.c.id == row_id).values(**values))
        for row_id, error in out.dead.items():
            log.error("outbox message %s is dead: %s", row_id, error)
