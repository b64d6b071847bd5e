"""The inbox: claim (channel, event id) in one short transaction; processing happens after the ACK."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.events import Event, event_from_dict, event_to_dict
from domain.clock import Clock
from storage.db import Database
from storage.models import InboundEvent
from storage.upsert import insert_ignore


class Inbox:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def claim(self, event: Event) -> bool:
        """Store the event unless it was seen before. True when it is new."""
        async with self.db.transaction() as session:
            return await insert_ignore(
                session,
                InboundEvent,
                {
                    "channel": event.channel,
                    "event_id": event.event_id,
                    "kind": event.kind,
                    "user_key": event.user_key,
                    "payload": event_to_dict(event),
                    "status": "received",
                    "attempts": 0,
                    "error": "",
                    "received_at": self.clock.now(),
                },
            )

    async def unprocessed(self, limit: int = 500) -> list[Event]:
        """Events claimed but not finished (e.g. the process died after the ACK), oldest first."""
        stmt = (
            select(InboundEvent.payload)
            .where(InboundEvent.status == "received")
            .order_by(InboundEvent.received_at)
            .limit(limit)
        )
        async with self.db.read() as session:
            return [event_from_dict(p) for p in (await session.execute(stmt)).scalars()]

    @staticmethod
    async def mark_done(session: AsyncSession, event: Event, now: datetime) -> None:
        await session.execute(
            update(InboundEvent)
            .where(InboundEvent.channel == event.channel, InboundEvent.event_id == event.event_id)
            .values(status="done", processed_at=now)
        )

    async def mark_failed(self, event: Event, error: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(InboundEvent)
                .where(InboundEvent.channel == event.channel, InboundEvent.event_id == event.event_id)
                .values(
                    status="failed",
                    error=error[:4000],
                    attempts=InboundEvent.attempts + 1,
                    processed_at=self.clock.now(),
                )
            )
