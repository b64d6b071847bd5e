"""Neutral messages → WeCom calls: app messages to users, app group chats, group-robot webhooks.

A message may take several calls (a long text in 2 KB pieces, a caption then a file). Each finished
piece is recorded under the message's idempotency key in the main database (``wecom_deliveries``), so
when the outbox retries the message after a failure half-way, or after a crash, the pieces already
delivered are not sent again. A retry of an app message also turns on WeCom's
``enable_duplicate_check``: if the first attempt was delivered and only its answer was lost, WeCom
drops the copy. A retried card that WeCom refuses with 40058 (its task id exists) was delivered the
first time: it counts as delivered, and the question is not sent again as text.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bot.channels.wecom import cards
from bot.channels.wecom.client import WeComClient
from bot.channels.wecom.errors import classify
from bot.channels.wecom.store import CardRecord, ChannelStore
from bot.channels.wecom.webhook import WebhookClient
from core.channel import PermanentSendError, SendError, check_still_ours
from core.clock import Clock
from core.escape import wecom_markdown, wecom_text
from core.messages import Choice, File, Markdown, Message, render_text

log = logging.getLogger(__name__)

APP_TEXT_MAX = 2048  # bytes, text and markdown in message/send and appchat/send
WEBHOOK_TEXT_MAX = 2048
WEBHOOK_MARKDOWN_MAX = 4096
DUPLICATE_CHECK_S = 1800
TASK_ID_EXISTS = 40058

Step = tuple[str, Callable[[], Awaitable[None]]]  # (fingerprint, send it)


def _cut(line: str, limit: int) -> list[str]:
    """A line longer than ``limit`` bytes, cut by characters."""
    pieces: list[str] = []
    current = ""
    for char in line:
        if len((current + char).encode()) > limit:
            pieces.append(current)
            current = ""
        current += char
    return [*pieces, current] if current else pieces


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most ``limit`` UTF-8 bytes, cut at line ends where possible."""
    if len(text.encode()) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        for chunk in _cut(line, limit) if len(line.encode()) > limit else [line]:
            if len((current + chunk).encode()) > limit:
                pieces.append(current)
                current = ""
            current += chunk
    if current:
        pieces.append(current)
    return [p.rstrip("\n") for p in pieces if p.strip()]


def markdown_body(message: Markdown) -> str:
    """The message escaped for WeCom Markdown (its text is plain text), titled in bold."""
    text, title = wecom_markdown(message.text), wecom_markdown(message.title)
    if title and not text.lstrip().startswith(title):
        text = f"**{title}**\n{text}"
    return text


def _fp(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:20]


@dataclass(frozen=True)
class Sender:
    """How one kind of target (a user, an app group chat, a group robot) takes a message body
    (``{"msgtype": …, <msgtype>: {…}}``) and a file upload, and its size limits."""

    send: Callable[[dict[str, Any]], Awaitable[None]]
    upload: Callable[[File, bytes], Awaitable[str]]
    text_max: int = APP_TEXT_MAX
    markdown_max: int = APP_TEXT_MAX


class Progress:
    """Which pieces of which messages WeCom accepted, persisted with the channel store."""

    def __init__(self, store: ChannelStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    async def seen(self, key: str) -> bool:
        """True when ``key`` was attempted before (this is a retry); records the attempt."""
        return await self.store.attempted(key, self.clock.now().timestamp())

    async def delivered(self, key: str) -> set[str]:
        return await self.store.delivered_steps(key)

    async def mark(self, key: str, fingerprint: str) -> None:
        await self.store.mark_delivered(key, fingerprint, self.clock.now().timestamp())


def card_already_sent(exc: Exception) -> bool:
    """WeCom 40058 on a card send: its task id is taken, i.e. this card went out before."""
    cause = exc.__cause__
    return getattr(cause, "errcode", None) == TASK_ID_EXISTS


class Outbound:
    def __init__(
        self,
        *,
        client: WeComClient,
        webhook: WebhookClient,
        store: ChannelStore,
        clock: Clock,
    ) -> None:
        self.client = client
        self.webhook = webhook
        self.store = store
        self.clock = clock
        self.progress = Progress(store, clock)

    async def _run(self, key: str, steps: list[Step], done: set[str] | None = None) -> None:
        if done is None:
            done = await self.progress.delivered(key)
        for fingerprint, step in steps:
            if fingerprint in done:
                continue
            await step()
            await self.progress.mark(key, fingerprint)

    @staticmethod
    async def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        def guarded() -> Any:
            client = getattr(fn, "__self__", None)
            if isinstance(client, WeComClient):
                _ = client.access_token  # fetch it first, so the check below is right before the send
            check_still_ours()  # the last moment before the request: not after a pause past the lease
            return fn(*args, **kwargs)

        try:
            return await asyncio.to_thread(guarded)
        except Exception as exc:
            raise classify(exc) from exc

    @staticmethod
    async def _read(message: File) -> bytes:
        try:
            return await asyncio.to_thread(Path(message.path).read_bytes)
        except OSError as exc:
            raise PermanentSendError(f"file {message.name!r} cannot be read: {exc}") from exc

    # -- one planner, a sender per target kind ------------------------------------------
    def _plan(self, message: Message, sender: Sender) -> list[Step]:
        """The calls ``message`` takes: text in pieces, markdown in pieces, a caption then a file."""
        steps: list[Step] = []

        def text_steps(text: str, msgtype: str, limit: int) -> None:
            text = wecom_text(text) if msgtype == "text" else text  # WeCom links <a href> in text
            for piece in split_text(text, limit):
                body = {"msgtype": msgtype, msgtype: {"content": piece}}
                steps.append((_fp(body), partial(sender.send, body)))

        if isinstance(message, Markdown):
            text_steps(markdown_body(message), "markdown", sender.markdown_max)
        elif isinstance(message, File):
            if message.caption:
                text_steps(message.caption, "text", sender.text_max)

            async def file_step() -> None:
                media_id = await sender.upload(message, await self._read(message))
                await sender.send({"msgtype": "file", "file": {"media_id": media_id}})

            steps.append((_fp("file", message.path, message.name), file_step))
        else:
            text_steps(render_text(message), "text", sender.text_max)
        return steps

    async def _upload_app_file(self, message: File, data: bytes) -> str:
        media_id: str = await self._call(self.client.upload, "file", message.name, data, message.mime)
        return media_id

    # -- app messages to one user ---------------------------------------------------
    async def to_user(self, userid: str, message: Message, key: str) -> None:
        retry = await self.progress.seen(key)

        async def send(msg: dict[str, Any]) -> None:
            if retry:
                msg = {**msg, "enable_duplicate_check": 1, "duplicate_check_interval": DUPLICATE_CHECK_S}
            result = await self._call(self.client.send_message, userid, msg)
            invalid = str(result.get("invaliduser") or "").split("|")
            if userid in invalid:
                raise PermanentSendError(
                    f"WeCom does not deliver to {userid!r}: not a member, or outside the app's visible range"
                )

        if isinstance(message, Choice):
            await self._choice(userid, message, key, send, retry)
            return
        await self._run(key, self._plan(message, Sender(send, self._upload_app_file)))

    async def _choice(
        self,
        userid: str,
        choice: Choice,
        key: str,
        send: Callable[[dict[str, Any]], Awaitable[None]],
        retry: bool = False,
    ) -> None:
        card = None
        if choice.token:
            task_id, _ = cards.task_id_for(choice.token, key)
            card = cards.choice_card(choice, task_id)
        if card is None:
            await self._run(key, [(_fp("text", key), lambda: send(_text(render_text(choice))))])
            return
        record = CardRecord(task_id, choice.token, userid, list(choice.options), choice.multi)
        await self.store.remember_card(record, self.clock.now().timestamp())

        async def card_step() -> None:
            try:
                await send({"msgtype": "template_card", "template_card": card})
            except PermanentSendError as exc:
                if "deliver to" in str(exc):
                    raise
                if retry and card_already_sent(exc):
                    log.info("card %s was delivered before the restart; not sending it again", task_id)
                    return
                # The card was refused (e.g. a limit WeCom enforces that we do not know of):
                # the text form always works, since it carries the "回复 1–N" hint.
                log.warning("template card refused (%s); sending the question as text", exc)
                await send(_text(render_text(choice)))

        await self._run(key, [(_fp("card", task_id), card_step)])

    # -- app group chats --------------------------------------------------------------
    async def to_chat(self, chat_id: str, message: Message, key: str) -> None:

        async def send(body: dict[str, Any]) -> None:
            msgtype = body["msgtype"]
            content = body[msgtype]
            if msgtype == "file":
                await self._call(self.client.chat_send, chat_id, msgtype, media_id=content["media_id"])
            else:
                await self._call(self.client.chat_send, chat_id, msgtype, content=content["content"])

        await self._run(key, self._plan(message, Sender(send, self._upload_app_file)))

    # -- group robots -------------------------------------------------------------------
    async def to_robot(self, robot_key: str, message: Message, key: str) -> None:

        async def upload(file: File, data: bytes) -> str:
            return await self.webhook.upload(robot_key, file.name, data, file.mime)

        sender = Sender(partial(self.webhook.send, robot_key), upload, WEBHOOK_TEXT_MAX, WEBHOOK_MARKDOWN_MAX)
        steps = self._plan(message, sender)
        # Refuse up front rather than deliver half a message: the whole of it waits for room.
        done = await self.progress.delivered(key)
        remaining = [s for s in steps if s[0] not in done]
        left, wait = self.webhook.room(robot_key)
        if remaining and len(remaining) > left and len(remaining) <= self.webhook.per_minute:
            raise self.webhook.throttled(robot_key, wait, "waiting for room for the whole message")
        await self._run(key, steps, done)


def _text(content: str) -> dict[str, Any]:
    return {"msgtype": "text", "text": {"content": wecom_text(content)}}


__all__ = ["Outbound", "Progress", "SendError", "markdown_body", "split_text"]
