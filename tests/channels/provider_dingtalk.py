"""The DingTalk provider for the channel contract: the bot on the DingTalk channel (real SDK), the
emulator playing DingTalk. Choices are cards; ``choose`` clicks them."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from emulators.dingtalk.rig import DingTalkRig, dingtalk_bot
from tests.channels.providers import ProviderSession


class DingTalkSession(ProviderSession):
    def __init__(self, rig: DingTalkRig) -> None:
        self.rig = rig
        self.bot = rig.bot
        self.staff: dict[str, str] = {}

    async def add_user(self, handle: str, name: str, roles: tuple[str, ...] = ("rep",)) -> None:
        staff = "0" + str(int(hashlib.sha256(handle.encode()).hexdigest()[:8], 16))
        self.staff[handle] = staff
        await self.bot.add_user(
            handle, name, roles=roles, dingtalk_staff_id=staff, preferred_channel="dingtalk"
        )

    async def user_says(self, handle: str, text: str, *, redeliver: bool = False) -> None:
        emu = self.rig.emu
        mid = emu.push_text(self.staff[handle], text)
        await self.rig.deliver(mid)
        if redeliver:
            emu.redeliver(mid)
            await emu.wait_acks(mid, 2)
            await self.bot.settle()

    async def stranger_says(self, platform_id: str, text: str) -> None:
        await self.rig.deliver(self.rig.emu.push_text(platform_id, text))

    def received(self, handle_or_platform_id: str) -> list[str]:
        return self.rig.emu.texts_to(self.staff.get(handle_or_platform_id, handle_or_platform_id))

    async def choose(self, handle: str, option: int) -> None:
        staff = self.staff[handle]
        last = self.rig.emu.messages_to(staff)[-1]
        if last.api == "card":
            await self.rig.deliver(
                self.rig.emu.click_card(staff, {"action": "choose", "option": str(option)})
            )
        else:
            await self.user_says(handle, str(option))


@asynccontextmanager
async def dingtalk_provider(tmp_path: Path, **harness: Any) -> AsyncIterator[ProviderSession]:
    async with dingtalk_bot(tmp_path, dingtalk={"card_template_id": "tpl-choice.schema"}, **harness) as rig:
        yield DingTalkSession(rig)
