"""The WeCom provider for the channel contract: the bot behind its callback URL, the WeCom emulator
as the platform, callbacks encrypted independently of wechatpy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from emulators.wecom import samples
from tests.channels.providers import ProviderSession
from tests.wecom.world import AGENT_ID, CORP_ID, World, wecom_world


class WeComSession(ProviderSession):
    def __init__(self, world: World) -> None:
        self.world = world
        self.bot = world.bot

    async def add_user(self, handle: str, name: str, roles: tuple[str, ...] = ("rep",)) -> None:
        await self.world.add_user(handle, name, roles=roles)

    async def user_says(self, handle: str, text: str, *, redeliver: bool = False) -> None:
        wecom = self.world.wecom
        xml = samples.text(
            CORP_ID, AGENT_ID, handle, text, msg_id=wecom.next_msg_id(), create_time=wecom.create_time()
        )
        for _ in range(2 if redeliver else 1):
            posted = await wecom.post(xml)  # a redelivery has the same MsgId, fresh ciphertext
            assert posted.status == 200
        await self.world.settle()

    async def stranger_says(self, platform_id: str, text: str) -> None:
        await self.user_says(platform_id, text)

    def received(self, handle_or_platform_id: str) -> list[str]:
        return self.world.received(handle_or_platform_id)

    async def choose(self, handle: str, option: int) -> None:
        await self.world.click(handle, option)


@asynccontextmanager
async def wecom_provider(tmp_path: Path, **harness: Any) -> AsyncIterator[ProviderSession]:
    async with wecom_world(tmp_path, **harness) as world:
        yield WeComSession(world)
