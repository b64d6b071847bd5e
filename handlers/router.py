"""Routes one turn: approvals, card clicks, the open form, commands, or a helpful fallback."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

from core.events import (
    ApprovalEvent,
    CardActionEvent,
    EnterEvent,
    FileEvent,
    ImageEvent,
    LocationEvent,
    TextEvent,
    VoiceEvent,
)
from domain.outbox import latest_choice
from domain.people import ROLE_LABELS
from handlers.commands import Command
from handlers.context import Turn
from handlers.registry import Registry

log = logging.getLogger(__name__)

CARD_TEXT_ANSWER_WINDOW = timedelta(hours=24)


def allowed(command: Command, turn: Turn) -> bool:
    return not command.roles or bool(turn.user.roles & command.roles)


async def refuse(command: Command, turn: Turn) -> None:
    who = "、".join(ROLE_LABELS.get(r, r) for r in sorted(command.roles))
    await turn.reply(f"抱歉，「{command.names[0]}」只对{who}开放。")


class Router:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def handle(self, turn: Turn) -> None:
        event = turn.event
        engine = turn.services.forms
        if isinstance(event, ApprovalEvent):
            if self.registry.approval_handler is None:
                log.warning("approval %s ignored: no approval handler", event.approval_id)
                return
            await self.registry.approval_handler(turn)
            return

        state = await engine.active(turn.session, turn.user.id)
        if state is not None and state.expires_at <= turn.now:
            await engine.expire_due(turn.session, turn.now)
            state = await engine.active(turn.session, turn.user.id)

        if isinstance(event, CardActionEvent):
            if event.card_id.startswith("f"):
                if state is not None:
                    await engine.handle(turn, state)
                else:
                    await turn.reply("这张卡片对应的表单已经结束了。")
                return
            for prefix, fn in self.registry.card_handlers.items():
                if event.card_id.startswith(prefix):
                    await fn(turn)
                    return
            log.warning("card action %s has no handler", event.card_id)
            await turn.reply("这张卡片已失效。")
            return

        if isinstance(event, ImageEvent | FileEvent) and turn.media is None and turn.transcript_error:
            # Not fetched, or refused before decoding (a picture too large): say why, then go on.
            await turn.reply(turn.transcript_error)
            if state is not None:
                await engine.ask_again(turn, state)
            return

        if state is not None:
            looks_like = ""
            if isinstance(event, TextEvent):
                match = self.registry.commands.match(event.text, separated=True)
                if match is not None and match[0].in_form:
                    command, args = match
                    if allowed(command, turn):
                        await command.run(turn, args)
                    else:
                        await refuse(command, turn)
                    if await engine.active(turn.session, turn.user.id) is state:
                        await engine.ask_again(turn, state)
                    return
                if match is not None and not match[0].hidden and allowed(match[0], turn):
                    looks_like = match[0].names[0]
            await engine.handle(turn, state, command=looks_like)
            return

        if isinstance(event, TextEvent):
            if await self._answer_last_card(turn, event):
                return
            await self._command(turn, event.text)
        elif isinstance(event, VoiceEvent):
            if self.registry.voice_handler is not None:
                await self.registry.voice_handler(turn)
            elif turn.transcript is not None:
                await turn.reply(
                    f"收到语音：“{turn.transcript.text}”。如需记录客户原话，请在需求确认单中发送。"
                )
            else:
                await turn.reply(turn.transcript_error or "收到语音。")
        elif isinstance(event, ImageEvent | FileEvent):
            if self.registry.media_handler is not None:
                await self.registry.media_handler(turn)
            else:
                await turn.reply("已收到文件。当前没有需要上传照片或文件的表单。")
        elif isinstance(event, EnterEvent):
            await turn.reply(f"{turn.user.name}，你好！回复「帮助」查看我能做什么。")
        elif isinstance(event, LocationEvent):
            await turn.reply(f"已收到位置：{event.label or f'{event.latitude:.5f},{event.longitude:.5f}'}")

    async def _answer_last_card(self, turn: Turn, event: TextEvent) -> bool:
        """A number typed after a card (review request, …) answers that card: the text fallback
        「回复 1–N」 must work wherever the card could not be clicked."""
        text = event.text.strip().replace("，", ",")
        if not text or not all(part.strip().isdigit() for part in text.split(",")):
            return False
        choice = await latest_choice(
            turn.session,
            channel=event.channel,
            target=event.sender_id,
            since=turn.now - CARD_TEXT_ANSWER_WINDOW,
        )
        if choice is None:
            return False
        token, options = choice
        handler = next((fn for p, fn in self.registry.card_handlers.items() if token.startswith(p)), None)
        values = [part.strip() for part in text.split(",")]
        if handler is None or not all(1 <= int(v) <= len(options) for v in values):
            return False
        click = CardActionEvent(
            channel=event.channel,
            event_id=event.event_id,
            sender_id=event.sender_id,
            sender_name=event.sender_name,
            card_id=token,
            values=values,
        )
        await handler(replace(turn, event=click))
        return True

    async def _command(self, turn: Turn, text: str) -> None:
        match = self.registry.commands.match(text)
        if match is None:
            shown = text.strip()[:20]
            await turn.reply(f"没听懂「{shown}」。回复「帮助」查看可用的命令。")
            return
        command, args = match
        if not allowed(command, turn):
            await refuse(command, turn)
            return
        await command.run(turn, args)
