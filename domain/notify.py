"""Addressing people and named groups on whichever channel reaches them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain.outbox import enqueue
from storage.models import GroupTarget, User

AfterAlert = Callable[[AsyncSession, datetime, User], Awaitable[None]]


@dataclass(frozen=True)
class Notifier:
    """Knows which channels run and where named groups live.

    ``channels`` is the preference order for direct messages; ``group_channels`` maps a configured
    group name to its channel. Groups saved by admins (``group_targets`` table) are consulted too.
    """

    channels: tuple[str, ...]
    group_channels: dict[str, str] = field(default_factory=dict)
    # Called after a scheduled alert reached a person (the application asks an open form's question
    # again, so an alert never buries the question the person was answering).
    after_alert: list[AfterAlert] = field(default_factory=list)

    def address_user(self, user: User, prefer: str | None = None) -> tuple[str, str] | None:
        order: Sequence[str] = self.channels
        if prefer and prefer in self.channels:
            order = (prefer, *[c for c in self.channels if c != prefer])
        elif user.preferred_channel in self.channels:
            order = (user.preferred_channel, *[c for c in self.channels if c != user.preferred_channel])
        for channel in order:
            pid = user.platform_id(channel)
            if pid:
                return channel, pid
        return None

    async def address_group(self, session: AsyncSession, name: str) -> tuple[str, str] | None:
        channel = self.group_channels.get(name)
        if channel in self.channels:
            return channel, name
        row = await session.get(GroupTarget, name)
        if row is not None and row.channel in self.channels:
            return row.channel, name
        if "console" in self.channels:
            return "console", name
        return None

    async def to_user(
        self,
        session: AsyncSession,
        *,
        now: datetime,
        user: User,
        message: Any,
        key: str,
        prefer: str | None = None,
    ) -> bool:
        address = self.address_user(user, prefer)
        if address is None:
            return False
        channel, pid = address
        return await enqueue(
            session, now=now, channel=channel, target_kind="user", target=pid, message=message, key=key
        )

    async def to_group(
        self, session: AsyncSession, *, now: datetime, group: str, message: Any, key: str
    ) -> bool:
        address = await self.address_group(session, group)
        if address is None:
            return False
        channel, name = address
        return await enqueue(
            session, now=now, channel=channel, target_kind="group", target=name, message=message, key=key
        )
