"""From the SDK's thread to the bot's loop. Each handler turns its frame into neutral events and waits
until the bot's inbox has claimed them (``sink.submit``, one short write) before it returns, so the ACK
follows the claim and the work itself runs in the bot's background.

A frame we cannot use raises :class:`Malformed`: it is logged and ACKed (not delivered again). Any
other failure (the database, the instance lookup) propagates: no ACK, so DingTalk delivers it again."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Coroutine
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from bot.channels.dingtalk import approvals, cards, parse
from bot.channels.dingtalk.api import ApiError, OpenApi
from bot.channels.dingtalk.parse import Malformed
from config.settings import DingTalkSettings
from core.channel import EventSink
from core.events import Event

log = logging.getLogger("actionflow.dingtalk.inbound")

T = TypeVar("T")
CLAIM_TIMEOUT_S = 30.0


class Inbound:
    def __init__(
        self,
        *,
        sink: EventSink,
        bot_loop: asyncio.AbstractEventLoop,
        api: OpenApi,
        settings: DingTalkSettings,
        tz: ZoneInfo,
    ) -> None:
        self.sink = sink
        self.bot_loop = bot_loop
        self.api = api
        self.settings = settings
        self.tz = tz
        self.claimed = 0
        self.duplicates = 0
        self.skipped = 0
        self._seen: OrderedDict[str, None] = OrderedDict()

    async def on_bot(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the bot's loop and await it from the SDK's loop."""
        future = asyncio.run_coroutine_threadsafe(coro, self.bot_loop)
        return await asyncio.wait_for(asyncio.wrap_future(future), CLAIM_TIMEOUT_S)

    async def _claim(self, event: Event) -> None:
        if await self.on_bot(self.sink.submit(event)):
            self.claimed += 1
        else:
            self.duplicates += 1

    # -- the three kinds of frames -----------------------------------------------------
    async def robot(self, data: Any, message_id: str) -> None:
        for event in parse.robot_events(data, message_id):
            await self._claim(event)

    async def card(self, data: Any, message_id: str) -> dict[str, Any]:
        event = parse.card_event(data, message_id)
        await self._claim(event)
        return cards.click_response(event.values)

    async def event(self, event_type: str, data: Any, born_ms: int | None) -> None:
        if event_type != approvals.INSTANCE_EVENT:
            log.debug("event %s ignored", event_type)
            return
        if not isinstance(data, dict):
            raise Malformed("event data is not an object")
        if not approvals.wanted(data, self.settings.visit_process_codes):
            log.info("approval of process %s ignored (not a visit process)", data.get("processCode"))
            self.skipped += 1
            return
        base = approvals.approval_base(data, born_ms)
        if base["event_id"] in self._seen:  # a redelivery: no second lookup (every call counts)
            self.duplicates += 1
            return
        await self.on_bot(self._approval(base))
        self._seen[base["event_id"]] = None
        while len(self._seen) > 1000:
            self._seen.popitem(last=False)

    async def _approval(self, base: dict[str, Any]) -> None:
        """On the bot loop: fetch the instance, map its form, claim the event."""
        instance: dict[str, Any] | None = None
        try:
            answer = await self.api.call(
                "GET",
                "/v1.0/workflow/processInstances",
                api="instance",
                params={"processInstanceId": base["approval_id"]},
            )
            result = answer.get("result")
            instance = result if isinstance(result, dict) else None
        except ApiError as exc:
            if exc.transient:
                raise  # no ACK: DingTalk delivers the event again later
            log.warning(
                "approval %s: instance lookup failed (%s); passing it on without fields",
                base["approval_id"],
                exc,
            )
        fields = approvals.map_fields(instance, self.settings.approval_fields, self.tz) if instance else {}
        event = approvals.build_event(base, instance, fields)
        if await self.sink.submit(event):
            self.claimed += 1
        else:
            self.duplicates += 1
