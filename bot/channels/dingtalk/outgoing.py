"""Delivering one outbox message: 1:1 via ``oToMessages/batchSend``, groups via ``groupMessages/send`` or
a custom robot webhook; text, markdown, files, and choices as interactive cards with a text fallback.
Platform answers become :class:`SendError` so the outbox retries, waits or dead-letters."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

from bot.channels.dingtalk import cards, media, webhook
from bot.channels.dingtalk.api import ApiError, OpenApi
from config.settings import DingTalkGroup, DingTalkSettings
from core.channel import PermanentSendError, SendError, Target, TransientSendError
from core.escape import dingtalk_markdown
from core.messages import Choice, File, Markdown, Message, Text, render_text

log = logging.getLogger("actionflow.dingtalk.send")

ONE_TO_ONE = "/v1.0/robot/oToMessages/batchSend"
GROUP = "/v1.0/robot/groupMessages/send"
CARD = "/v1.0/card/instances/createAndDeliver"


def as_send_error(exc: ApiError) -> SendError:
    if exc.transient:
        return TransientSendError(str(exc), retry_after=exc.retry_after)
    return PermanentSendError(str(exc))


def msg_param(message: Text | Markdown) -> tuple[str, dict[str, str]]:
    if isinstance(message, Markdown):
        title = dingtalk_markdown(message.title or message.text[:20])
        return "sampleMarkdown", {"title": title, "text": dingtalk_markdown(message.text)}
    return "sampleText", {"content": message.text}


class Outgoing:
    def __init__(self, api: OpenApi, settings: DingTalkSettings) -> None:
        self.api = api
        self.settings = settings
        self.robot_code = settings.robot_code or settings.client_id
        # Parts of a multi-part message already delivered, so a retry does not repeat them.
        self._done: OrderedDict[str, None] = OrderedDict()
        # Groups an admin saved in chat (group_targets), resolved by DingTalkChannel.prepare().
        self.saved: dict[str, DingTalkGroup] = {}

    def find_group(self, name: str) -> DingTalkGroup | None:
        return self.settings.groups.get(name) or self.saved.get(name)

    def group(self, name: str) -> DingTalkGroup:
        group = self.find_group(name)
        if group is None:
            raise PermanentSendError(
                f"DingTalk group {name!r} is neither configured (dingtalk.groups) nor saved by an admin"
            )
        return group

    async def send(self, target: Target, message: Message, key: str) -> None:
        if target.kind == "group":
            group = self.group(target.address)
            token = group.webhook_token.get_secret_value()
            if token:
                await self._webhook(token, group.webhook_secret.get_secret_value(), message)
                return
            if not group.open_conversation_id:
                raise PermanentSendError(f"DingTalk group {target.address!r} has neither a webhook nor a cid")
            target = Target("conversation", group.open_conversation_id)
        if not target.address:
            raise PermanentSendError("empty DingTalk target")
        try:
            await self._robot(target, message, key)
        except ApiError as exc:
            raise as_send_error(exc) from exc

    # -- robot APIs -------------------------------------------------------------------
    async def _robot(self, target: Target, message: Message, key: str) -> None:
        if isinstance(message, Choice):
            if await self._card(target, message, key):
                return
            message = Text(text=render_text(message))
        if isinstance(message, File):
            await self._file(target, message, key)
            return
        assert isinstance(message, Text | Markdown)
        msg_key, param = msg_param(message)
        await self._post(target, msg_key, param)

    async def _post(self, target: Target, msg_key: str, param: dict[str, str]) -> None:
        body: dict[str, Any] = {
            "robotCode": self.robot_code,
            "msgKey": msg_key,
            "msgParam": json.dumps(param, ensure_ascii=False),
        }
        if target.kind == "user":
            body["userIds"] = [target.address]
            answer = await self.api.call("POST", ONE_TO_ONE, api="oto", json=body)
            self._check_users(target.address, answer)
        else:
            body["openConversationId"] = target.address
            await self.api.call("POST", GROUP, api="group", json=body)

    @staticmethod
    def _check_users(user: str, answer: dict[str, Any]) -> None:
        """Per-user failures come back inside a 200."""
        if user in (answer.get("invalidStaffIdList") or []):
            raise PermanentSendError(f"{user} is not a member or outside the robot's visible range")
        if user in (answer.get("flowControlledStaffIdList") or []):
            raise TransientSendError(f"{user} is flow-controlled by DingTalk")
        if user in (answer.get("filteredStaffIdList") or []):
            raise PermanentSendError(f"DingTalk filtered the message to {user}")

    async def _card(self, target: Target, choice: Choice, key: str) -> bool:
        """Deliver ``choice`` as a card; False (and the caller sends text) when that is not possible."""
        template = self.settings.card_template_id
        if not template or not choice.token:
            return False
        track = cards.out_track_id(choice.token, key)
        body = cards.card_request(
            template_id=template,
            robot_code=self.robot_code,
            choice=choice,
            kind=target.kind,
            address=target.address,
            track=track,
        )
        try:
            answer = await self.api.call("POST", CARD, api="card", json=body)
        except ApiError as exc:
            if "outTrackIdExist" in exc.code:  # an earlier attempt got through
                return True
            log.warning("card for %s failed, sending text instead: %s", target.address, exc)
            return False
        if not cards.delivered(answer):
            log.warning("card for %s was not delivered, sending text instead: %s", target.address, answer)
            return False
        return True

    async def _file(self, target: Target, message: File, key: str) -> None:
        path = Path(message.path)
        if not await asyncio.to_thread(path.is_file):
            raise PermanentSendError(f"file to send does not exist: {path}")
        if not self._is_done(key, "file"):
            media_id = await media.upload(self.api, path, message.name, message.mime)
            param = {"mediaId": media_id, "fileName": message.name, "fileType": media.file_type(message.name)}
            await self._post(target, "sampleFile", param)
            self._mark_done(key, "file")
        if message.caption:
            await self._post(target, "sampleText", {"content": message.caption})
        self._forget(key)

    def _is_done(self, key: str, part: str) -> bool:
        return f"{key}|{part}" in self._done

    def _mark_done(self, key: str, part: str) -> None:
        self._done[f"{key}|{part}"] = None
        while len(self._done) > 2000:
            self._done.popitem(last=False)

    def _forget(self, key: str) -> None:
        for name in [k for k in self._done if k.startswith(f"{key}|")]:
            del self._done[name]

    # -- custom robot webhook ---------------------------------------------------------
    async def _webhook(self, token: str, secret: str, message: Message) -> None:
        link = webhook.url(self.settings.oapi_base, token, secret)
        try:
            status, answer = await self.api.post_plain(link, webhook.body(message))
        except ApiError as exc:
            raise as_send_error(exc) from exc
        webhook.check(token, status, answer)
