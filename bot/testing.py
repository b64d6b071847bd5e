"""An in-process bot for tests, benchmarks and demos: push an event, get the replies.

    async with BotHarness(tmp_path) as bot:
        await bot.add_user("wanglei", "王磊", roles=("rep",))
        replies = await bot.send("wanglei", "帮助")
        assert "帮助" in replies[-1]

It runs the real application (real SQLite or PostgreSQL, real migrations, real form engine, real outbox)
with a ManualClock and the console channel, whose deliveries it records. Scheduled jobs (digests,
alerts, deadline reminders) run on every ``advance``/``tick`` like in production; ``jobs=False`` leaves
the periodic jobs (built-in and the features') and the deadline sweep out for tests about something else
(form expiry and feature sweeps still run).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import Application
from bot.channels.console import ConsoleChannel
from config.settings import Settings
from core.channel import Channel, Target
from core.clock import ManualClock
from core.events import ApprovalStatus, Event
from core.messages import Choice, Message, render_text
from core.speech import Transcriber
from handlers.context import QuoteRecorder
from handlers.registry import MODULES
from storage.models import User, UserRole, UserStatus

DEFAULT_START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 in Asia/Shanghai


class IsolatedSettings(Settings):
    """Settings from keyword arguments only: no environment, no TOML file."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def make_settings(tmp_path: Path, *, db_url: str | None = None, **sections: dict[str, Any]) -> Settings:
    sections = {k: dict(v) for k, v in sections.items()}
    sections.setdefault("database", {}).setdefault(
        "url", db_url or f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    )
    sections.setdefault("app", {}).setdefault("data_dir", str(tmp_path / "data"))
    sections.setdefault("scheduler", {}).setdefault("enabled", True)
    # Tests never take a fixed port: the web server (when a test wants it) listens on a free one.
    sections.setdefault("web", {}).setdefault("listen", "")
    return IsolatedSettings(**cast(dict[str, Any], sections))


class BotHarness:
    def __init__(
        self,
        tmp_path: Path,
        *,
        settings: Settings | None = None,
        db_url: str | None = None,
        start: datetime = DEFAULT_START,
        clock: ManualClock | None = None,
        modules: tuple[str, ...] = MODULES,
        transcriber: Transcriber | None = None,
        quotes: QuoteRecorder | None = None,
        extra_channels: Sequence[Channel] = (),
        jobs: bool = True,
        **sections: dict[str, Any],
    ) -> None:
        self.tmp_path = tmp_path
        self.settings = settings or make_settings(tmp_path, db_url=db_url, **sections)
        self.clock = clock or ManualClock(start)  # pass one to share it with extra channels/emulators
        self.console = ConsoleChannel(out=lambda line: None)
        self.app = Application(
            self.settings,
            clock=self.clock,
            channels=[self.console, *extra_channels],
            transcriber=transcriber,
            quotes=quotes,
            modules=modules,
            scheduler_realtime=False,
            jobs=jobs,
        )
        self._mark = 0

    async def __aenter__(self) -> BotHarness:
        await self.app.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.app.stop()

    # -- data ---------------------------------------------------------------------
    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.app.db.transaction() as session:
            yield session

    async def add_user(
        self,
        handle: str,
        name: str | None = None,
        *,
        roles: Sequence[str] = ("rep",),
        supervisor: str | None = None,
        team: str = "一组",
        status: str = UserStatus.ACTIVE,
        **platform_ids: str,
    ) -> User:
        now = self.clock.now()
        async with self.session() as session:
            supervisor_id = None
            if supervisor is not None:
                sup = (await session.execute(select(User).where(User.console_id == supervisor))).scalar_one()
                supervisor_id = sup.id
            user = User(
                name=name or handle,
                console_id=handle,
                status=status,
                team=team,
                supervisor_id=supervisor_id,
                created_at=now,
                updated_at=now,
                **platform_ids,
            )
            user.role_rows = [UserRole(role=r) for r in roles]
            session.add(user)
            await session.flush()
        self.console.names[handle] = user.name
        return user

    async def user(self, handle: str) -> User:
        async with self.app.db.read() as session:
            return (await session.execute(select(User).where(User.console_id == handle))).scalar_one()

    # -- input --------------------------------------------------------------------
    def _since_mark(self, handle: str | None) -> list[str]:
        new = self.console.sent[self._mark :]
        self._mark = len(self.console.sent)
        return [
            render_text(m) for t, m in new if handle is None or (t.kind == "user" and t.address == handle)
        ]

    async def settle(self) -> None:
        await self.app.idle()

    async def submit(self, event: Event) -> bool:
        new = await self.app.submit(event)
        await self.app.idle()
        return new

    async def send(self, handle: str, text: str) -> list[str]:
        """Send a text as ``handle``; returns the texts delivered to ``handle`` as a result."""
        self._since_mark(None)
        await self.console.say(handle, text)
        await self.app.idle()
        return self._since_mark(handle)

    async def voice(self, handle: str, path: Path, recognition: str | None = None) -> list[str]:
        self._since_mark(None)
        await self.console.voice(handle, Path(path), recognition)
        await self.app.idle()
        return self._since_mark(handle)

    async def photo(self, handle: str, path: Path) -> list[str]:
        self._since_mark(None)
        await self.console.photo(handle, Path(path))
        await self.app.idle()
        return self._since_mark(handle)

    async def click(self, handle: str, *values: str) -> list[str]:
        self._since_mark(None)
        await self.console.click(handle, list(values))
        await self.app.idle()
        return self._since_mark(handle)

    async def approval(
        self, handle: str, approval_id: str, status: ApprovalStatus, fields: dict[str, str] | None = None
    ) -> list[str]:
        self._since_mark(None)
        await self.console.approval(handle, approval_id, status, fields or {})
        await self.app.idle()
        return self._since_mark(handle)

    async def advance(self, delta: timedelta) -> list[str]:
        """Move the clock and run whatever became due; returns every text delivered meanwhile."""
        self._since_mark(None)
        self.clock.advance(delta)
        await self.app.tick()
        return self._since_mark(None)

    async def tick(self) -> list[str]:
        self._since_mark(None)
        await self.app.tick()
        return self._since_mark(None)

    # -- output -------------------------------------------------------------------
    @property
    def sent(self) -> list[tuple[Target, Message]]:
        return self.console.sent

    def texts_to(self, address: str, kind: str = "user") -> list[str]:
        return [render_text(m) for t, m in self.console.sent if t.kind == kind and t.address == address]

    def group_texts(self, name: str) -> list[str]:
        return self.texts_to(name, "group")

    def last_choice(self, handle: str) -> Choice | None:
        return self.console.last_choice.get(handle)
