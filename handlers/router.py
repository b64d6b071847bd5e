"""One event's path through the handlers: an ordered list of small named steps.

Each step looks at the event (and what earlier steps found) and either answers it (returns True: the
path ends there, and the "event handled" log line names the step, e.g. ``step=open_form``) or passes
it on (False). :data:`STEPS` is the whole path; adding a step is one line in it. The dispatcher runs
the path inside the event's one transaction, after fetching media (and transcribing voice) outside it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.events import (
    ApprovalEvent,
    CardActionEvent,
    EnterEvent,
    Event,
    FileEvent,
    ImageEvent,
    LocationEvent,
    TextEvent,
    VoiceEvent,
)
from core.formtoken import is_form_token
from core.speech import Transcript
from domain.directory import find_by_platform_id
from domain.numerals import typed_number
from domain.outbox import open_cards
from domain.people import ROLE_LABELS, remember_channel
from domain.quotes import quote_text
from handlers.commands import Command
from handlers.context import Services, Turn
from handlers.registry import Registry
from handlers.unknown import handle_unknown
from storage.models import ConversationState, MediaFile, User, UserStatus

log = logging.getLogger(__name__)

CARD_TEXT_ANSWER_WINDOW = timedelta(hours=24)


def allowed(command: Command, turn: Turn) -> bool:
    return not command.roles or bool(turn.user.roles & command.roles)


async def refuse(command: Command, turn: Turn) -> None:
    who = "、".join(ROLE_LABELS.get(r, r) for r in sorted(command.roles))
    await turn.reply(f"抱歉，「{command.names[0]}」只对{who}开放。")


@dataclass
class Prepared:
    """Media fetched and stored (and voice transcribed) before the step's transaction opened."""

    media_id: int | None = None
    transcript: Transcript | None = None
    error: str | None = None


@dataclass
class EventPath:
    """What the steps share about one event: filled in as the path goes on."""

    session: AsyncSession
    event: Event
    services: Services
    registry: Registry
    prepared: Prepared = field(default_factory=Prepared)
    user: User | None = None
    _turn: Turn | None = None
    _state: ConversationState | None = None
    _state_loaded: bool = False

    @property
    def turn(self) -> Turn:
        if self._turn is None:
            raise RuntimeError("no turn yet: the media step builds it once the sender is known")
        return self._turn

    async def open_form(self) -> ConversationState | None:
        """The sender's open form run (an expired one is closed first, with its notice)."""
        if not self._state_loaded:
            engine, turn = self.services.forms, self.turn
            state = await engine.active(self.session, turn.user.id)
            if state is not None and state.expires_at <= turn.now:
                await engine.expire_due(self.session, turn.now)
                state = await engine.active(self.session, turn.user.id)
            self._state, self._state_loaded = state, True
        return self._state


Step = Callable[[EventPath], Awaitable[bool]]


async def resolve_sender(path: EventPath) -> bool:
    """Find the person; a known person's preferred channel becomes the one they just used."""
    event = path.event
    user = await find_by_platform_id(path.session, event.channel, event.sender_id)
    path.user = user
    if user is None or user.status != UserStatus.ACTIVE or isinstance(event, ApprovalEvent):
        return False
    remember_channel(user, event.channel)
    return False


async def unknown_sender(path: EventPath) -> bool:
    """A stranger (or a deactivated person) is answered here: a join request, or why not."""
    user = path.user
    if user is not None and user.status == UserStatus.ACTIVE:
        return False
    inactive = user is not None and user.status == UserStatus.INACTIVE
    await handle_unknown(path.session, path.services, path.event, inactive=inactive)
    return True


async def media(path: EventPath) -> bool:
    """The turn: the sender with the media fetched before the transaction (and the voice transcript)."""
    assert path.user is not None
    prepared = path.prepared
    stored = await path.session.get(MediaFile, prepared.media_id) if prepared.media_id else None
    turn = path._turn = Turn(
        session=path.session,
        user=path.user,
        event=path.event,
        services=path.services,
        media=stored,
        transcript=prepared.transcript,
        transcript_error=prepared.error,
    )
    if isinstance(path.event, ImageEvent | FileEvent) and stored is None and prepared.error:
        # Not fetched, or refused before decoding (a picture too large): say why, then go on.
        await turn.reply(prepared.error)
        state = await path.open_form()
        if state is not None:
            await path.services.forms.ask_again(turn, state)
        return True
    return False


async def approval(path: EventPath) -> bool:
    """An approval decided on the platform (visit applications) goes to the approval handler."""
    event = path.event
    if not isinstance(event, ApprovalEvent):
        return False
    handler = path.registry.approval_handler
    if handler is None:
        log.warning("approval %s ignored: no approval handler", event.approval_id)
        return True
    await handler(path.turn)
    return True


async def card(path: EventPath) -> bool:
    """A card click: a form question's card goes to the form, another to its feature by prefix."""
    event, turn = path.event, path.turn
    if not isinstance(event, CardActionEvent):
        return False
    state = await path.open_form()  # an expired form is closed first, whatever was clicked
    if is_form_token(event.card_id):
        if state is not None:
            await path.services.forms.handle(turn, state)
        else:
            await turn.reply("这张卡片对应的表单已经结束了。")
        return True
    for prefix, fn in path.registry.card_handlers.items():
        if event.card_id.startswith(prefix):
            await fn(turn)
            return True
    log.warning("card action %s has no handler", event.card_id)
    await turn.reply("这张卡片已失效。")
    return True


async def open_form(path: EventPath) -> bool:
    """With a form open, the message answers its question; a command marked ``in_form`` runs first
    (then the question is asked again), another command's name is pointed out by the form."""
    state = await path.open_form()
    if state is None:
        return False
    event, turn, engine = path.event, path.turn, path.services.forms
    looks_like = ""
    if isinstance(event, TextEvent):
        match = path.registry.commands.match(event.text, separated=True)
        if match is not None and match[0].in_form and match[0].own_form != state.form:
            command, args = match
            await (command.run(turn, args) if allowed(command, turn) else refuse(command, turn))
            if await engine.active(turn.session, turn.user.id) is state:
                await engine.ask_again(turn, state)
            return True
        if match is not None and not match[0].hidden and allowed(match[0], turn):
            looks_like = "" if match[0].own_form == state.form else match[0].names[0]
    command_text = await engine.handle(turn, state, command=looks_like)
    if command_text:  # the user chose the command over answering: the form is paused, run it
        match = path.registry.commands.match(command_text)
        if match is not None:
            found, args = match
            as_typed = replace(turn, event=event.model_copy(update={"text": command_text}))
            await (found.run(as_typed, args) if allowed(found, turn) else refuse(found, turn))
    return True


async def number_after_card(path: EventPath) -> bool:
    """A number typed after a card (review request, …) answers that card: the text fallback
    「回复 1–N」 must work wherever the card could not be clicked."""
    event, turn = path.event, path.turn
    if not isinstance(event, TextEvent):
        return False
    text = event.text.strip().replace("，", ",")
    numbers = [typed_number(part.strip()) for part in text.split(",")] if text else []
    if not numbers or None in numbers:
        return False
    since = turn.now - CARD_TEXT_ANSWER_WINDOW
    cards = await open_cards(turn.session, channel=event.channel, target=event.sender_id, since=since)
    if not cards:
        return False
    newest_only = tuple(path.registry.newest_only_cards)
    if not cards[0].token.startswith(newest_only):
        competing = [c for c in cards if not c.token.startswith(newest_only)]
        if len(competing) > 1:  # a bare number could answer either: never guess which
            names = "".join(f"「{c.prompt or c.token}」" for c in competing[:3])
            await turn.reply(
                f"最近有 {len(competing)} 张卡片在等你回复：{names}。只回复数字分不清是哪一张，"
                "请直接点卡片上的按钮，或按卡片上的说明回复（例如「审核 <编号> 通过」）。"
            )
            return True
    token, options = cards[0].token, cards[0].options
    handler = next((fn for p, fn in path.registry.card_handlers.items() if token.startswith(p)), None)
    if handler is None or not all(n is not None and 1 <= n <= len(options) for n in numbers):
        return False
    click = CardActionEvent(
        channel=event.channel,
        event_id=event.event_id,
        sender_id=event.sender_id,
        sender_name=event.sender_name,
        card_id=token,
        values=[str(n) for n in numbers],  # １ typed full-width is the option 1
    )
    await handler(replace(turn, event=click))
    return True


async def command(path: EventPath) -> bool:
    """A command by name (``帮助``, ``新建客户 …``), if the sender's roles allow it."""
    event, turn = path.event, path.turn
    if not isinstance(event, TextEvent):
        return False
    match = path.registry.commands.match(event.text)
    if match is None:
        return False
    found, args = match
    await (found.run(turn, args) if allowed(found, turn) else refuse(found, turn))
    return True


async def fallback(path: EventPath) -> bool:
    """Whatever no step took: say what was understood and how to go on."""
    event, turn, registry = path.event, path.turn, path.registry
    if isinstance(event, TextEvent):
        await turn.reply(f"没听懂「{event.text.strip()[:20]}」。回复「帮助」查看可用的命令。")
    elif isinstance(event, VoiceEvent):
        if registry.voice_handler is not None:
            await registry.voice_handler(turn)
        elif turn.transcript is not None:
            heard, _ = quote_text(turn.transcript.text, turn.transcript.platform_recognition)
            source = "" if turn.transcript.local else "（平台识别）"
            await turn.reply(f"收到语音{source}：“{heard}”。如需记录客户原话，请在需求确认单中发送。")
        else:
            await turn.reply(turn.transcript_error or "收到语音。")
    elif isinstance(event, ImageEvent | FileEvent):
        if registry.media_handler is not None:
            await registry.media_handler(turn)
        else:
            await turn.reply("已收到文件。当前没有需要上传照片或文件的表单。")
    elif isinstance(event, EnterEvent):
        await turn.reply(f"{turn.user.name}，你好！回复「帮助」查看我能做什么。")
    elif isinstance(event, LocationEvent):
        await turn.reply(f"已收到位置：{event.label or f'{event.latitude:.5f},{event.longitude:.5f}'}。")
    return True


# The path, in order. A step answers (True) or passes the event on (False).
STEPS: tuple[Step, ...] = (
    resolve_sender,
    unknown_sender,
    media,
    approval,
    card,
    open_form,
    number_after_card,
    command,
    fallback,
)


class Router:
    """Runs an event along :data:`STEPS`; returns the name of the step that answered it."""

    def __init__(self, registry: Registry, steps: tuple[Step, ...] = STEPS) -> None:
        self.registry = registry
        self.steps = steps

    async def run(self, path: EventPath) -> str:
        for step in self.steps:
            if await step(path):
                return step.__name__
        return "none"
