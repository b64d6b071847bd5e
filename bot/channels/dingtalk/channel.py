"""The DingTalk channel: Stream mode in (robot messages, card clicks, approval events), OpenAPI out."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from bot.channels.dingtalk import webhook
from bot.channels.dingtalk.api import OpenApi
from bot.channels.dingtalk.inbound import Inbound
from bot.channels.dingtalk.media import download
from bot.channels.dingtalk.outgoing import Outgoing
from bot.channels.dingtalk.stream import StreamRunner, point_sdk_at
from config.settings import DingTalkGroup, DingTalkSettings
from core.channel import Channel, EventSink, RateLimit, Target
from core.clock import Clock
from core.events import MediaRef
from core.messages import Message

log = logging.getLogger("actionflow.dingtalk")


class DingTalkChannel(Channel):
    name = "dingtalk"

    def __init__(
        self,
        settings: DingTalkSettings,
        *,
        clock: Clock,
        data_dir: Path,
        timezone: str = "Asia/Shanghai",
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.data_dir = Path(data_dir)
        self.tz = ZoneInfo(timezone)
        self.robot_code = settings.robot_code or settings.client_id
        self.api = OpenApi(settings, clock)
        self.outgoing = Outgoing(self.api, settings)
        self.inbound: Inbound | None = None
        self.stream: StreamRunner | None = None
        self._receiving = False

    # -- lifecycle ------------------------------------------------------------------
    async def start(self, sink: EventSink) -> None:
        if not self.settings.client_id or not self.settings.client_secret.get_secret_value():
            raise RuntimeError("dingtalk.client_id and dingtalk.client_secret are required")
        point_sdk_at(self.settings.api_base)
        self.api.reopen()
        self.inbound = Inbound(
            sink=sink,
            bot_loop=asyncio.get_running_loop(),
            api=self.api,
            settings=self.settings,
            tz=self.tz,
        )
        self.stream = StreamRunner(
            client_id=self.settings.client_id,
            client_secret=self.settings.client_secret.get_secret_value(),
            inbound=self.inbound,
            clock=self.clock,
            liveness_timeout_s=self.settings.liveness_timeout_s,
            reconnect_min_s=self.settings.reconnect_min_s,
            reconnect_max_s=self.settings.reconnect_max_s,
        )
        self.stream.start()
        self._receiving = True
        log.info("DingTalk Stream client started", extra={"api_base": self.settings.api_base})

    async def stop(self) -> None:
        self._receiving = False
        if self.stream is not None:
            await self.stream.stop()
            self.stream = None
        await self.api.close()

    def ready(self) -> bool:
        return not self.api.stopped

    def connected(self) -> bool | None:
        return self.stream is not None and self.stream.connected

    # -- sending --------------------------------------------------------------------
    async def send(self, target: Target, message: Message, *, key: str) -> None:
        await self.outgoing.send(target, message, key)

    def rate_limit(self, target: Target, message: Message) -> RateLimit | None:
        """Custom webhooks: 20 a minute, held in the outbox (messages wait in the database and merge).

        The per-second API limits are not given to the outbox: its limiter runs on the bot's clock,
        which stands still in tests and in the console's simulated time, so 20 replies in one
        simulated instant would wait for the clock. The API client enforces them on wall time instead
        (a send waits at most a second) and a 403 QPS answer is retried."""
        if target.kind != "group":
            return None
        group = self.outgoing.find_group(target.address)
        if group is None or not group.webhook_token.get_secret_value():
            return None
        token = group.webhook_token.get_secret_value()
        return RateLimit(webhook.rate_key(token), self.settings.webhook_rate_per_min, 60.0)

    def mergeable(self, target: Target) -> bool:
        if target.kind != "group":
            return False
        group = self.outgoing.find_group(target.address)
        return group is not None and bool(group.webhook_token.get_secret_value())

    def has_group(self, name: str) -> bool:
        return self.outgoing.find_group(name) is not None

    async def prepare(self, target: Target) -> None:
        """Resolve a group an admin saved in chat (设置群) before sending to it."""
        if target.kind != "group" or target.address in self.settings.groups or self.group_lookup is None:
            return
        saved = await self.group_lookup(target.address)
        if saved is None:
            self.outgoing.saved.pop(target.address, None)
        elif saved.kind == "conversation":
            self.outgoing.saved[target.address] = DingTalkGroup(open_conversation_id=saved.address)
        elif saved.kind == "webhook":
            self.outgoing.saved[target.address] = DingTalkGroup(
                webhook_token=SecretStr(saved.address), webhook_secret=SecretStr(saved.secret)
            )

    # -- media ----------------------------------------------------------------------
    async def fetch_media(self, ref: MediaRef) -> bytes:
        data, _content_type = await download(self.api, self.robot_code, ref.token)
        return data
