"""The WeCom channel: a self-built app's callback server plus sending through the app and robots.

Targets: ``user`` → ``message/send`` to a userid; ``group`` → a name in ``wecom.groups`` (its
``chat_id`` through ``appchat/send``, else its ``webhook_key`` through the group robot);
``conversation`` → ``appchat/send`` to a raw chat id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from datetime import tzinfo
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.channels.wecom.approvals import CHINA
from bot.channels.wecom.client import WeComClient
from bot.channels.wecom.crypto import CallbackCrypto
from bot.channels.wecom.errors import classify
from bot.channels.wecom.inbound import Inbound
from bot.channels.wecom.outbound import Outbound
from bot.channels.wecom.server import CallbackServer
from bot.channels.wecom.store import ChannelStore, import_legacy_file
from bot.channels.wecom.webhook import WebhookClient, limit_key
from config.settings import WeComGroup, WeComSettings
from core.channel import Channel, EventSink, PermanentSendError, RateLimit, Target, TransientSendError
from core.clock import Clock
from core.events import MediaRef
from core.messages import Message
from storage.db import Database

log = logging.getLogger(__name__)

# 发送应用消息 频率限制: at most 30 messages per member per minute from one app; WeCom drops the rest.
USER_MESSAGES_PER_MIN = 30
STORE_KEEP_S = 7 * 86400


def split_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"wecom.listen must be host:port, got {listen!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


class WeComChannel(Channel):
    name = "wecom"

    def __init__(
        self,
        settings: WeComSettings,
        *,
        clock: Clock,
        data_dir: Path,
        timezone: tzinfo = CHINA,
        http_timeout_s: float = 10.0,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.data_dir = Path(data_dir)
        self.tz = timezone
        self.client = WeComClient(
            settings.corp_id,
            settings.secret.get_secret_value(),
            api_base=settings.api_base,
            agent_id=settings.agent_id,
            timeout=http_timeout_s,
        )
        self.webhook = WebhookClient(
            settings.api_base,
            clock=clock,
            per_minute=settings.webhook_rate_per_min,
            timeout_s=http_timeout_s,
        )
        try:
            self.crypto = CallbackCrypto(
                token=settings.token.get_secret_value(),
                encoding_aes_key=settings.encoding_aes_key.get_secret_value(),
                corp_id=settings.corp_id,
                replay_window_s=settings.replay_window_s,
                now=lambda: self.clock.now().timestamp(),
            )
        except ValueError as exc:
            raise ValueError(f"wecom.encoding_aes_key: {exc} (run `actionflow wecom selfcheck`)") from None
        self.store: ChannelStore | None = None
        #: The main database (set by the application): the channel's cards, approvals and delivery
        #: progress are tables there.
        self.database: Database | None = None
        self._saved_groups: dict[str, WeComGroup] = {}
        self.inbound: Inbound | None = None
        self.outbound: Outbound | None = None
        self.server: CallbackServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = False

    # -- lifecycle ----------------------------------------------------------------
    @property
    def callback_url(self) -> str:
        """Where this process listens (with the real port when ``listen`` asked for port 0)."""
        if self.server is None:
            raise RuntimeError("the WeCom channel is not started")
        host = "127.0.0.1" if self.server.host in ("0.0.0.0", "") else self.server.host
        return f"http://{host}:{self.server.port}{self.server.path}"

    async def start(self, sink: EventSink) -> None:
        self._stopped = False
        if self.database is None:
            raise RuntimeError("the WeCom channel needs the main database (Application sets it)")
        store = ChannelStore(self.database)
        await import_legacy_file(store, self.data_dir / "wecom")
        await store.prune(self.clock.now().timestamp() - STORE_KEEP_S)
        self.store = store
        self.outbound = Outbound(client=self.client, webhook=self.webhook, store=store, clock=self.clock)
        self.inbound = Inbound(
            settings=self.settings,
            crypto=self.crypto,
            store=store,
            client=self.client,
            sink=sink,
            clock=self.clock,
            tz=self.tz,
            spawn=self._spawn,
        )
        self.server = CallbackServer(
            path=self.settings.callback_path,
            max_body_bytes=self.settings.max_body_bytes,
            verify=self.inbound.verify,
            receive=self.inbound.receive,
        )
        host, port = split_listen(self.settings.listen)
        await self.server.start(host, port)
        resumed = await self.inbound.resume()
        log.info(
            "wecom callback listening",
            extra={"url": self.callback_url, "resumed_approvals": resumed},
        )

    async def stop(self) -> None:
        # The core may still drain its outbox after this; sends then fail as transient and the
        # messages wait in the outbox for the next start instead of touching closed resources.
        self._stopped = True
        if self.server is not None:
            await self.server.stop()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.webhook.close()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait for background work (card updates, approval fetches) to finish."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- sending ------------------------------------------------------------------
    def _configured(self, name: str) -> WeComGroup | None:
        """A group from ``wecom.groups``, else one an admin saved in chat (resolved by prepare())."""
        return self.settings.groups.get(name) or self._saved_groups.get(name)

    async def prepare(self, target: Target) -> None:
        if target.kind != "group" or target.address in self.settings.groups or self.group_lookup is None:
            return
        saved = await self.group_lookup(target.address)
        if saved is None:
            self._saved_groups.pop(target.address, None)
        elif saved.kind == "appchat":
            self._saved_groups[target.address] = WeComGroup(chat_id=saved.address)
        elif saved.kind == "robot":
            self._saved_groups[target.address] = WeComGroup(webhook_key=SecretStr(saved.address))

    def _group(self, name: str) -> WeComGroup:
        group = self._configured(name)
        if group is None:
            raise PermanentSendError(f"no WeCom group named {name!r} in wecom.groups or saved by an admin")
        if not group.chat_id and not group.webhook_key.get_secret_value():
            raise PermanentSendError(f"WeCom group {name!r} has neither chat_id nor webhook_key")
        return group

    def _robot(self, target: Target) -> str | None:
        """The webhook key ``target`` is sent through, if it is a robot group."""
        if target.kind != "group":
            return None
        group = self._configured(target.address)
        if group is None or group.chat_id:
            return None
        return group.webhook_key.get_secret_value() or None

    def ready(self) -> bool:
        return self.outbound is not None and not self._stopped

    def connected(self) -> bool | None:
        return self.server is not None and not self._stopped

    async def send(self, target: Target, message: Message, *, key: str) -> None:
        if self.outbound is None or self._stopped:
            raise TransientSendError("the WeCom channel is not running")
        if not target.address:
            raise PermanentSendError("empty WeCom target")
        try:
            if target.kind == "user":
                await self.outbound.to_user(target.address, message, key)
            elif target.kind == "conversation":
                await self.outbound.to_chat(target.address, message, key)
            else:
                group = self._group(target.address)
                if group.chat_id:
                    await self.outbound.to_chat(group.chat_id, message, key)
                else:
                    await self.outbound.to_robot(group.webhook_key.get_secret_value(), message, key)
        except Exception as exc:
            raise classify(exc) from exc

    def rate_limit(self, target: Target, message: Message) -> RateLimit | None:
        robot = self._robot(target)
        if robot is not None:
            return RateLimit(limit_key(robot), self.settings.webhook_rate_per_min, 60.0)
        if target.kind == "user":
            return RateLimit(f"wecom:user:{target.address}", USER_MESSAGES_PER_MIN, 60.0)
        return None

    def mergeable(self, target: Target) -> bool:
        return self._robot(target) is not None

    def has_group(self, name: str) -> bool:
        return self._configured(name) is not None

    # -- media --------------------------------------------------------------------
    async def fetch_media(self, ref: MediaRef) -> bytes:
        download = await asyncio.to_thread(self.client.download, ref.token)
        return download.data
