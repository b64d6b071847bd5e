"""Channel providers for the contract test: each runs the bot with one channel and plays the platform.

A provider is an async context manager factory ``provider(tmp_path) -> ProviderSession``. Add a
platform by writing ``tests/channels/provider_<name>.py`` and one line in :data:`PROVIDERS`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from bot.testing import BotHarness
from core.messages import Choice, render_text


class ProviderSession(ABC):
    """The bot running on one channel, seen from the platform's side."""

    bot: BotHarness

    @abstractmethod
    async def add_user(self, handle: str, name: str, roles: tuple[str, ...] = ("rep",)) -> None:
        """Create a user known on this platform (and as console ``handle``)."""

    @abstractmethod
    async def user_says(self, handle: str, text: str, *, redeliver: bool = False) -> None:
        """The platform delivers a text from ``handle`` (twice, same ids, when ``redeliver``) and the
        bot finishes processing it."""

    @abstractmethod
    async def stranger_says(self, platform_id: str, text: str) -> None:
        """A platform user nobody registered writes to the bot."""

    @abstractmethod
    def received(self, handle_or_platform_id: str) -> list[str]:
        """What the platform delivered to that person, as plain text, oldest first."""

    @abstractmethod
    async def choose(self, handle: str, option: int) -> None:
        """Answer the last choice prompt shown to ``handle`` the way a user of this platform would
        (click the card, or type the number into the text fallback)."""


class ConsoleSession(ProviderSession):
    def __init__(self, bot: BotHarness) -> None:
        self.bot = bot

    async def add_user(self, handle: str, name: str, roles: tuple[str, ...] = ("rep",)) -> None:
        await self.bot.add_user(handle, name, roles=roles)

    async def user_says(self, handle: str, text: str, *, redeliver: bool = False) -> None:
        from core.events import TextEvent

        event = TextEvent(
            channel="console", event_id=f"{handle}-{len(self.bot.sent)}-{text}", sender_id=handle, text=text
        )
        await self.bot.submit(event)
        if redeliver:
            await self.bot.submit(event)

    async def stranger_says(self, platform_id: str, text: str) -> None:
        await self.bot.send(platform_id, text)

    def received(self, handle_or_platform_id: str) -> list[str]:
        return self.bot.texts_to(handle_or_platform_id)

    async def choose(self, handle: str, option: int) -> None:
        choice = self.bot.last_choice(handle)
        assert isinstance(choice, Choice)
        await self.bot.click(handle, str(option))


@asynccontextmanager
async def console_provider(tmp_path: Path, **harness: Any) -> AsyncIterator[ProviderSession]:
    async with BotHarness(tmp_path, **harness) as bot:
        yield ConsoleSession(bot)


Provider = Callable[..., AbstractAsyncContextManager[ProviderSession]]

PROVIDERS: dict[str, str] = {
    "console": "tests.channels.providers:console_provider",
    "wecom": "tests.channels.provider_wecom:wecom_provider",
    "dingtalk": "tests.channels.provider_dingtalk:dingtalk_provider",
}


def load(name: str) -> Provider:
    import importlib

    module, _, attr = PROVIDERS[name].partition(":")
    provider: Provider = getattr(importlib.import_module(module), attr)
    return provider


__all__ = ["PROVIDERS", "ProviderSession", "console_provider", "load", "render_text"]
