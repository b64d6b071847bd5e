"""The bot on the WeCom channel against the local WeCom emulator, driven by encrypted callbacks.

async with wecom_world(tmp_path) as w:
    await w.add_user("wanglei", "王磊")
    await w.say("wanglei", "帮助")
    assert "我能帮你做这些" in w.received("wanglei")[-1]
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.channels.wecom import WeComChannel
from bot.testing import BotHarness, make_settings
from config.settings import Settings, WeComSettings
from emulators.wecom import CallbackSender, Posted, WeComEmulator
from storage.models import User

CORP_ID = "ww5823bf96d3bd56c7"
AGENT_ID = 1000002
SECRET = "app-secret-for-tests-0123456789abcdefghijk"
TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
VISIT_TEMPLATE = "3TkaH5KFbrG9heEQWLJjhgpFwmqAFB4dLEnapaB7aaa"
ROBOT_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
CHAT_ID = "wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA"
TESTS = Path(__file__).resolve().parents[1]


def read(path: str | Path) -> bytes:
    """File bytes (a plain function: tests call it from coroutines)."""
    return Path(path).read_bytes()


def wecom_settings(api_base: str, **overrides: Any) -> dict[str, Any]:
    section: dict[str, Any] = {
        "enabled": True,
        "corp_id": CORP_ID,
        "agent_id": AGENT_ID,
        "secret": SECRET,
        "token": TOKEN,
        "encoding_aes_key": AES_KEY,
        "api_base": api_base,
        "listen": "127.0.0.1:0",
        "public_url": "https://bot.example.com",
        "visit_template_ids": [VISIT_TEMPLATE],
        "groups": {"managers": {"chat_id": CHAT_ID}, "sales": {"webhook_key": ROBOT_KEY}},
    }
    section.update(overrides)
    return section


class _HarnessClock:
    """The harness's ManualClock, read late (the channel is built before the harness)."""

    def __init__(self) -> None:
        self.bot: BotHarness | None = None

    def now(self) -> datetime:
        assert self.bot is not None
        return self.bot.clock.now()


def render(message: dict[str, Any]) -> str:
    """What a WeCom user would read in one delivered message."""
    kind = message.get("msgtype", "")
    body = message.get(kind) or {}
    if kind in ("text", "markdown"):
        return str(body.get("content", ""))
    if kind == "template_card":
        return f"{body.get('main_title', {}).get('title', '')}\n{body.get('sub_title_text', '')}"
    if kind == "file":
        return f"[文件] {body.get('media_id', '')}"
    return f"[{kind}]"


@dataclass
class World:
    bot: BotHarness
    channel: WeComChannel
    emulator: WeComEmulator
    wecom: CallbackSender

    async def settle(self) -> None:
        """Until the bot, its outbox and the channel's background work are all quiet."""
        while True:
            await self.channel.idle()
            await self.bot.settle()
            if not self.channel._tasks:
                return

    async def add_user(self, handle: str, name: str, roles: tuple[str, ...] = ("rep",)) -> User:
        return await self.bot.add_user(
            handle, name, roles=roles, wecom_userid=handle, preferred_channel="wecom"
        )

    async def say(self, userid: str, text: str) -> Posted:
        posted = await self.wecom.text(userid, text)
        await self.settle()
        return posted

    def received(self, userid: str) -> list[str]:
        return [render(m) for m in self.emulator.messages_to(userid)]

    def cards_to(self, userid: str) -> list[dict[str, Any]]:
        return [
            m["template_card"] for m in self.emulator.messages_to(userid) if m["msgtype"] == "template_card"
        ]

    async def click(self, userid: str, *options: int, spelling: str = "OptionIds") -> Posted:
        """Click the last card shown to ``userid``: a button, or tick ``options`` and submit."""
        card = self.cards_to(userid)[-1]
        code = self.emulator.issue_click_code(card["task_id"])
        if card["card_type"] == "button_interaction":
            posted = await self.wecom.card_click(
                userid,
                task_id=card["task_id"],
                event_key=str(options[0]),
                response_code=code,
                card_type=card["card_type"],
            )
        else:
            posted = await self.wecom.card_click(
                userid,
                task_id=card["task_id"],
                event_key=card["submit_button"]["key"],
                response_code=code,
                card_type=card["card_type"],
                selected=[(card["checkbox"]["question_key"], [str(o) for o in options])],
                spelling=spelling,
            )
        await self.settle()
        return posted


def settings_for(
    tmp_path: Path, api_base: str, *, base: Settings | None = None, **overrides: Any
) -> Settings:
    wecom = WeComSettings(**wecom_settings(api_base, **overrides))
    if base is not None:
        return base.model_copy(update={"wecom": wecom})
    return make_settings(tmp_path, wecom=wecom.model_dump())


@asynccontextmanager
async def wecom_world(
    tmp_path: Path,
    *,
    settings: Settings | None = None,
    wecom: dict[str, Any] | None = None,
    prepare: Callable[[WeComEmulator], None] | None = None,
    **harness: Any,
) -> AsyncIterator[World]:
    """``prepare`` sets up the emulator before the bot starts (e.g. fixtures a restart needs)."""
    clock = _HarnessClock()
    emulator = WeComEmulator(
        corp_id=CORP_ID, secret=SECRET, agent_id=AGENT_ID, clock=lambda: clock.now().timestamp()
    ).start()
    if prepare is not None:
        prepare(emulator)
    try:
        overrides = dict(wecom or {})
        api_base = overrides.pop("api_base", emulator.base_url)
        cfg = settings_for(tmp_path, api_base, base=settings, **overrides)
        channel = WeComChannel(cfg.wecom, clock=clock, data_dir=cfg.app.data_dir)
        bot = BotHarness(tmp_path, settings=cfg, extra_channels=[channel], **harness)
        clock.bot = bot
        async with bot:
            sender = CallbackSender(
                channel.callback_url,
                token=TOKEN,
                encoding_aes_key=AES_KEY,
                corp_id=CORP_ID,
                agent_id=AGENT_ID,
                now=lambda: bot.clock.now().timestamp(),
            )
            async with sender:
                yield World(bot, channel, emulator, sender)
    finally:
        emulator.stop()
