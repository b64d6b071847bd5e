"""One callback, from ciphertext to the inbox claim; and the work that follows the acknowledgement.

* messages, ``enter_agent``: claimed as they are (``sink.submit``), then acknowledged;
* card clicks: claimed, acknowledged, then the card is updated with the click's one-shot
  ``ResponseCode`` in the background;
* approvals of a visit template: recorded in the channel store, acknowledged, then completed in the
  background (``oa/getapprovaldetail`` → :class:`ApprovalEvent` → claimed), with retries, and resumed
  after a restart;
* anything else: logged and acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from bot.channels.wecom import cards
from bot.channels.wecom.approvals import approval_event
from bot.channels.wecom.client import WeComClient
from bot.channels.wecom.crypto import CallbackCrypto, CallbackRejected
from bot.channels.wecom.parse import (
    ApprovalChange,
    Click,
    Ignored,
    MalformedCallback,
    Ready,
    UnreadableXml,
    load_xml,
    parse,
    text,
)
from bot.channels.wecom.store import ChannelStore, PendingApproval
from config.settings import WeComSettings
from core.channel import EventSink
from core.clock import Clock

log = logging.getLogger(__name__)

APPROVAL_RETRY_S = (2.0, 10.0, 60.0, 300.0, 1800.0)

Spawn = Callable[[Coroutine[Any, Any, None]], None]


class Inbound:
    def __init__(
        self,
        *,
        settings: WeComSettings,
        crypto: CallbackCrypto,
        store: ChannelStore,
        client: WeComClient,
        sink: EventSink,
        clock: Clock,
        tz: tzinfo,
        spawn: Spawn,
    ) -> None:
        self.settings = settings
        self.crypto = crypto
        self.store = store
        self.client = client
        self.sink = sink
        self.clock = clock
        self.tz = tz
        self.spawn = spawn
        self.approval_retry_s = APPROVAL_RETRY_S

    # -- the callback ---------------------------------------------------------------
    def verify(self, query: Mapping[str, str]) -> str:
        return self.crypto.verify_url(query)

    async def receive(self, query: Mapping[str, str], body: bytes) -> None:
        plaintext = self.crypto.open(query, body)
        try:
            root = load_xml(plaintext)
        except UnreadableXml as exc:
            raise CallbackRejected(400, f"decrypted message is not acceptable XML: {exc}") from None
        try:
            known = await self._known_tasks(root)
            parsed = parse(root, token_for_task=lambda t: cards.token_from_task_id(t) or known.get(t))
        except MalformedCallback as exc:
            raise CallbackRejected(400, f"decrypted message has unexpected fields: {exc}") from None
        if isinstance(parsed, Ready):
            await self.sink.submit(parsed.event)
        elif isinstance(parsed, Click):
            if await self.sink.submit(parsed.event):
                self.spawn(self._update_card(parsed))
        elif isinstance(parsed, ApprovalChange):
            await self._approval(parsed)
        else:
            self._ignore(parsed, root)

    async def _known_tasks(self, root: dict[str, Any]) -> dict[str, str]:
        task_id = text(root, "TaskId")
        if not task_id or cards.token_from_task_id(task_id) is not None:
            return {}
        record = await self.store.card(task_id)
        return {task_id: record.token} if record else {}

    @staticmethod
    def _ignore(parsed: Ignored, root: dict[str, Any]) -> None:
        log.info(
            "wecom callback ignored: %s",
            parsed.reason,
            extra={"msg_type": text(root, "MsgType"), "event": text(root, "Event")},
        )

    # -- card clicks ----------------------------------------------------------------
    async def _update_card(self, click: Click) -> None:
        if not click.response_code:
            return
        record = await self.store.card(click.task_id)
        label = cards.clicked_label(record.options if record else [], click.event.values)
        payload = cards.update_payload(click.event.sender_id, click.response_code, label)
        try:
            await asyncio.to_thread(self.client.update_card, payload)
        except Exception as exc:
            log.warning("could not update card %s: %s", click.task_id, exc)

    # -- approvals ------------------------------------------------------------------
    async def _approval(self, change: ApprovalChange) -> None:
        if change.template_id not in self.settings.visit_template_ids:
            log.info(
                "approval %s (template %s) is not a visit application; ignored",
                change.sp_no,
                change.template_id,
            )
            return
        now = self.clock.now().timestamp()
        claimed = await self.store.claim_approval(
            change.key, change.sp_no, change.template_id, change.create_time, now
        )
        if not claimed:
            log.info("approval callback %s seen before; ignored", change.key)
            return
        pending = PendingApproval(change.key, change.sp_no, change.template_id, change.create_time, 0)
        self.spawn(self.complete_approval(pending))

    async def complete_approval(self, pending: PendingApproval) -> None:
        """Fetch the form, claim the neutral event; retry a few times, then give up loudly."""
        attempt = pending.attempts
        occurred = datetime.fromtimestamp(pending.create_time, UTC) if pending.create_time else None
        while True:
            try:
                info = await asyncio.to_thread(self.client.approval_detail, pending.sp_no)
                event = approval_event(
                    info,
                    mapping=self.settings.approval_fields,
                    template_ids=self.settings.visit_template_ids,
                    occurred_at=occurred,
                    tz=self.tz,
                )
                if event is not None:
                    await self.sink.submit(event)
                await self.store.finish_approval(pending.key, "done" if event else "ignored")
                return
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                await self.store.approval_attempt(pending.key, error)
                if attempt >= len(self.approval_retry_s):
                    log.error(
                        "approval %s could not be fetched after %d attempts (%s); check that the app "
                        "is listed under 审批 → 可调用接口的应用",
                        pending.sp_no,
                        attempt + 1,
                        error,
                    )
                    await self.store.finish_approval(pending.key, "failed", error)
                    return
                log.warning("approval %s: %s; retrying", pending.sp_no, error)
                await asyncio.sleep(self.approval_retry_s[attempt])
                attempt += 1

    async def resume(self) -> int:
        """Finish approval callbacks acknowledged before a restart."""
        pending = await self.store.pending_approvals()
        for item in pending:
            self.spawn(self.complete_approval(item))
        return len(pending)
