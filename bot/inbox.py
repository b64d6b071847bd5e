"""The inbox: claim (channel, event id) in one short transaction; processing happens after the ACK."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.events import Event, event_from_dict, event_to_dict
from core.redact import redact
from storage.db import Database
from storage.models import InboundEvent, InboxStatus
from storage.upsert import insert_ignore

_INBOX: Table = InboundEvent.__table__  # type: ignore[assignment]
_THIS = (_INBOX.c.channel == bindparam("ch")) & (_INBOX.c.event_id == bindparam("eid"))
# Only an event still waiting is marked done: if another worker finished it first, nothing matches.
_MARK_DONE = (
    update(_INBOX)
    .where(_THIS, _INBOX.c.status == InboxStatus.RECEIVED)
    .values(status=InboxStatus.DONE, processed_at=bindparam("at"))
)
_STATUS = select(_INBOX.c.status).where(_THIS)


class AlreadyHandled(Exception):
    """Another worker finished this event first: an instance re-runs unprocessed events at its start
    and in its sweep, and another instance may still have been working through them. The step must
    roll back."""


class Inbox:
    """Claims are group-committed: claims that arrive while one is waiting for the database share its
    transaction. Under load a platform's ACK then waits for one turn at SQLite's write lock instead of
    one turn per claim queued ahead of it (with the handler steps' transactions in between)."""

    def __init__(self, db: Database, clock: Clock, *, max_batch: int = 200) -> None:
        self.db = db
        self.clock = clock
        self.max_batch = max_batch
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[bool], Callable[[], None] | None]] = []
        self._flusher: asyncio.Task[None] | None = None

    def _row(self, event: Event) -> dict[str, Any]:
        return {
            "channel": event.channel,
            "event_id": event.event_id,
            "kind": event.kind,
            "user_key": event.user_key,
            "payload": event_to_dict(event),
            "status": InboxStatus.RECEIVED,
            "attempts": 0,
            "error": "",
            "received_at": self.clock.now(),
        }

    async def claim(self, event: Event, *, on_new: Callable[[], None] | None = None) -> bool:
        """Store the event unless it was seen before. True when it is new.

        ``on_new`` runs right after the commit when the event is new, even if the caller was
        cancelled meanwhile, so a committed event is never left without its processing."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((self._row(event), future, on_new))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="inbox-claims")
        return await asyncio.shield(future)

    async def _flush(self) -> None:
        while self._waiting:
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
            try:
                results = await self._insert([row for row, _, _ in batch])
            except Exception as exc:
                if len(batch) == 1:
                    _settle(batch[0][1], exc)
                    continue
                # One bad row must not fail the others: claim them one by one.
                results = []
                for row, future, _ in batch:
                    try:
                        results += await self._insert([row])
                    except Exception as one:
                        _settle(future, one)
                        results.append(None)
            for (_, future, on_new), new in zip(batch, results, strict=True):
                if new is None:
                    continue
                if new and on_new is not None:
                    on_new()
                _settle(future, new)

    async def _insert(self, rows: list[dict[str, Any]]) -> list[bool | None]:
        async with self.db.transaction() as session:
            return [await insert_ignore(session, InboundEvent, row) for row in rows]

    async def unprocessed(self, limit: int = 500, *, before: datetime | None = None) -> list[Event]:
        """Events claimed but not finished (e.g. the process died after the ACK), oldest first; with
        ``before``, only those claimed before then."""
        stmt = (
            select(InboundEvent.payload)
            .where(InboundEvent.status == InboxStatus.RECEIVED)
            .order_by(InboundEvent.received_at)
            .limit(limit)
        )
        if before is not None:
            stmt = stmt.where(InboundEvent.received_at < before)
        async with self.db.read() as session:
            return [event_from_dict(p) for p in (await session.execute(stmt)).scalars()]

    @staticmethod
    async def waiting(session: AsyncSession, event: Event) -> bool:
        """True while the event is still to be handled (checked under the user's lock)."""
        status = await session.scalar(_STATUS, {"ch": event.channel, "eid": event.event_id})
        return status == InboxStatus.RECEIVED

    @staticmethod
    async def mark_done(session: AsyncSession, event: Event, now: datetime) -> None:
        """Mark the event handled, in the step's transaction; :class:`AlreadyHandled` if it was."""
        with session.no_autoflush:  # the step's own changes are written once, when it commits
            result = await session.execute(
                _MARK_DONE, {"ch": event.channel, "eid": event.event_id, "at": now}
            )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise AlreadyHandled(f"{event.channel}:{event.event_id} was already handled")

    async def mark_failed(self, event: Event, error: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(InboundEvent)
                .where(InboundEvent.channel == event.channel, InboundEvent.event_id == event.event_id)
                .values(
                    status=InboxStatus.FAILED,
                    error=redact(error)[:4000],
                    attempts=InboundEvent.attempts + 1,
                    processed_at=self.clock.now(),
                )
            )


def _settle(future: asyncio.Future[bool], outcome: bool | BaseException) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
