"""What a handler works with: one event, its user, one open transaction, and the services."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from config.settings import Settings
from core.clock import Clock
from core.events import Event
from core.messages import Message, Text
from core.speech import TranscriberLoad, Transcript
from domain import audit
from domain.files import FileStore
from domain.notify import Notifier
from domain.outbox import enqueue
from storage.models import MediaFile, User

if TYPE_CHECKING:
    from handlers.forms.engine import FormEngine


class QuoteRecorder(Protocol):
    """Appends a verbatim quote to the ledger (implemented by speech.ledger)."""

    async def record(
        self,
        session: AsyncSession,
        *,
        now: datetime,
        transcript: Transcript,
        rep_id: int,
        customer_id: int | None,
        visit_id: int | None,
    ) -> int: ...


@dataclass
class Services:
    """Long-lived collaborators handlers may use. Built once by the application."""

    settings: Settings
    clock: Clock
    notifier: Notifier
    files: FileStore
    forms: FormEngine
    quotes: QuoteRecorder | None = None
    speech_load: TranscriberLoad | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.app.timezone)


@dataclass
class Turn:
    """One step of one user's conversation. Everything written here commits together."""

    session: AsyncSession
    user: User
    event: Event
    services: Services
    media: MediaFile | None = None
    transcript: Transcript | None = None
    transcript_error: str | None = None
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def now(self) -> datetime:
        return self.services.clock.now()

    @property
    def source(self) -> str:
        return f"{self.event.channel}:{self.event.event_id}"

    def _key(self, kind: str) -> str:
        return f"{kind}:{self.event.channel}:{self.event.event_id}:{next(self._counter)}"

    async def reply(self, message: Message | str) -> None:
        """Answer where the event came from (the group for group messages, else the sender)."""
        if isinstance(message, str):
            message = Text(text=message)
        if self.event.is_group and self.event.conversation_id:
            kind, target = "conversation", self.event.conversation_id
        else:
            kind, target = "user", self.event.sender_id
        await enqueue(
            self.session,
            now=self.now,
            channel=self.event.channel,
            target_kind=kind,
            target=target,
            message=message,
            key=self._key("reply"),
        )

    async def tell(self, user: User, message: Message | str) -> bool:
        """Direct message to another person, on whichever channel reaches them."""
        if isinstance(message, str):
            message = Text(text=message)
        return await self.services.notifier.to_user(
            self.session, now=self.now, user=user, message=message, key=self._key(f"tell{user.id}")
        )

    async def tell_group(self, group: str, message: Message | str) -> bool:
        if isinstance(message, str):
            message = Text(text=message)
        return await self.services.notifier.to_group(
            self.session, now=self.now, group=group, message=message, key=self._key(f"group:{group}")
        )

    def audit(
        self,
        action: str,
        entity_type: str,
        entity_id: Any,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        audit.record(
            self.session,
            now=self.now,
            actor_id=self.user.id,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            before=before,
            after=after,
            source_event=self.source,
        )

    def local(self, when: datetime) -> datetime:
        return when.astimezone(self.services.tz)
