"""The bot on the DingTalk channel against the emulator, in one line (tests, benchmarks, demos):

    async with dingtalk_bot(tmp_path) as rig:
        await rig.bot.add_user("wanglei", "王磊", dingtalk_staff_id="0423", preferred_channel="dingtalk")
        replies = await rig.say("0423", "帮助")

The emulator and the bot share one ManualClock (token expiry, webhook minutes and blocks, liveness), so
time-dependent behaviour moves only with ``rig.bot.advance``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.channels.dingtalk import DingTalkChannel
from bot.testing import DEFAULT_START, BotHarness, make_settings
from config.settings import DingTalkSettings, Settings
from core.clock import ManualClock
from emulators.dingtalk.emulator import DingTalkEmulator


@dataclass
class DingTalkRig:
    emu: DingTalkEmulator
    bot: BotHarness
    channel: DingTalkChannel

    async def deliver(self, message_id: str) -> None:
        """Wait until the bot ACKed that frame, then until it finished processing and sending."""
        await self.emu.wait_acked(message_id)
        await self.bot.settle()

    async def say(self, staff_id: str, text: str, **kw: Any) -> list[str]:
        """``staff_id`` writes ``text``; returns what the robot sent them as a result."""
        before = len(self.emu.messages_to(staff_id))
        await self.deliver(self.emu.push_text(staff_id, text, **kw))
        return self.emu.texts_to(staff_id)[before:]

    def texts(self, address: str) -> list[str]:
        return self.emu.texts_to(address)


def dingtalk_settings(emu: DingTalkEmulator, **overrides: Any) -> dict[str, Any]:
    return {"enabled": True, **emu.credentials, "reconnect_min_s": 0.2, **overrides}


def with_dingtalk(settings: Settings, emu: DingTalkEmulator, **overrides: Any) -> Settings:
    """``settings`` with the ``dingtalk`` section pointed at ``emu``."""
    section = DingTalkSettings(**dingtalk_settings(emu, **overrides))
    return settings.model_copy(update={"dingtalk": section})


@asynccontextmanager
async def dingtalk_bot(
    tmp_path: Path,
    *,
    settings: Settings | None = None,
    dingtalk: dict[str, Any] | None = None,
    emulator: dict[str, Any] | None = None,
    clock: ManualClock | None = None,
    **harness: Any,
) -> AsyncIterator[DingTalkRig]:
    clock = clock or ManualClock(DEFAULT_START)
    with DingTalkEmulator(clock=clock, **(emulator or {})) as emu:
        base = settings or make_settings(tmp_path)
        configured = with_dingtalk(base, emu, **(dingtalk or {}))
        channel = DingTalkChannel(
            configured.dingtalk,
            clock=clock,
            data_dir=configured.app.data_dir,
            timezone=configured.app.timezone,
        )
        async with BotHarness(
            tmp_path, settings=configured, clock=clock, extra_channels=[channel], **harness
        ) as bot:
            await emu.wait_connected()
            stream = channel.stream
            assert stream is not None
            await emu.wait_for(lambda: stream.connections >= 1, what="the bot to see its connection")
            yield DingTalkRig(emu, bot, channel)
