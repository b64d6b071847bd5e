"""The form engine: asks one field at a time, validates, supports 取消 / 跳过 / 返回, keeps state in the DB.

State is one ``conversation_states`` row per form run. ``answers`` holds accepted values; ``state``
holds the navigation: answered paths in order (for 返回), skipped paths, the repeated-group item
being filled, closed groups, and a question counter that makes every outgoing message's
idempotency key unique and lets stale card clicks be recognised.

Paths: ``field`` for top-level fields, ``group.<i>.<sub>`` for a repeated group's sub-field of item
``i``, ``group.<i>.__more__`` for the "add another?" question after item ``i - 1``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.events import CardActionEvent, TextEvent
from core.formtoken import form_token
from core.messages import Message, Text
from domain.notify import Notifier
from domain.wording import quoted
from handlers.context import Turn
from handlers.forms.fields import (
    NOTES_KEY,
    ConfirmField,
    FieldError,
    FieldType,
    Noted,
    builtin_field_types,
    pending_note_key,
    replaced_quote_key,
)
from handlers.forms.spec import ConditionError, FieldSpec, FormSpec, evaluate_when
from storage.models import ConversationState, FormStatus, User

log = logging.getLogger(__name__)

CANCEL_WORDS = {"取消", "退出", "暂停", "cancel"}
DISCARD_WORDS = {"放弃", "不填了", "作废"}
# Field types whose answer names the customer a form is about (registered by the sales flows).
CUSTOMER_TYPES = ("customer", "customer_name")
# Context key of an answer held back because it read like a command (the user is asked which it was).
COMMAND_OR_ANSWER = "_command_or_answer"
# Context key naming the command a form's answers often repeat (「批注 12 …」 in the comment form it
# opened): that command typed in the form is taken as the answer without asking.
RETYPED_COMMAND = "_retyped_command"
SKIP_WORDS = {"跳过", "skip", "略过"}
BACK_WORDS = {"返回", "上一步", "back"}
MORE = "__more__"

Completer = Callable[[Turn, "FormResult"], Awaitable[None]]
# Runs when a form is given up (放弃): ends what the form was for (its deadline, its draft row).
Discarder = Callable[[Turn, ConversationState], Awaitable[None]]
_A = TypeVar("_A", bound=BaseModel)


@dataclass(frozen=True)
class FormResult:
    state_id: int
    form: FormSpec
    answers: dict[str, Any]
    context: dict[str, Any]

    def typed(self, model: type[_A]) -> _A:
        """The answers as the completer's declared model (``Answers`` subclass)."""
        return model.model_validate(self.answers)


class ReaskError(Exception):
    """Raised by a completer: clear ``path`` and ask it again, telling the user ``reason``."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class Question:
    path: str
    spec: FieldSpec
    group: FieldSpec | None = None
    index: int = 0

    @property
    def is_more(self) -> bool:
        return self.path.endswith(MORE)


_CONFIRM = ConfirmField()


def _sentence(text: str) -> str:
    """``text`` ending in one full stop (or its own question or exclamation mark)."""
    return text if text.endswith(("。", "！", "？", "!", "?")) else f"{text}。"


def _closed_notice(head: str, state: ConversationState) -> str:
    saved = "填好的内容都保存着，" if state.answers else ""
    return f"{head}{saved}回复「继续」接着填；不再需要的话回复「放弃」。"


def _applicable(spec: FieldSpec, names: dict[str, Any]) -> bool:
    # A condition that fails for another reason than a missing answer raises ConditionError (the
    # event fails and is kept for `actionflow events retry`); load_forms refuses most such conditions.
    if not spec.when:
        return True
    try:
        return evaluate_when(spec.when, names)
    except ConditionError:
        log.error("form field %s has a broken condition", spec.key, extra={"when": spec.when})
        raise


@dataclass
class _Nav:
    """Mutable view of ``ConversationState.state``."""

    history: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    partial: dict[str, dict[str, Any]] = field(default_factory=dict)
    closed: list[str] = field(default_factory=list)
    seq: int = 0
    asked: str = ""

    @classmethod
    def load(cls, raw: dict[str, Any]) -> _Nav:
        return cls(
            history=list(raw.get("history", [])),
            skipped=list(raw.get("skipped", [])),
            partial={k: dict(v) for k, v in raw.get("partial", {}).items()},
            closed=list(raw.get("closed", [])),
            seq=int(raw.get("seq", 0)),
            asked=str(raw.get("asked", "")),
        )

    def dump(self) -> dict[str, Any]:
        return {
            "history": self.history,
            "skipped": self.skipped,
            "partial": self.partial,
            "closed": self.closed,
            "seq": self.seq,
            "asked": self.asked,
        }


def next_question(form: FormSpec, answers: dict[str, Any], nav: _Nav) -> Question | None:
    for spec in form.fields:
        if not _applicable(spec, answers):
            continue
        if spec.type != "group":
            if spec.key in answers or spec.key in nav.skipped:
                continue
            return Question(spec.key, spec)
        if spec.key in nav.closed:
            continue
        items: list[dict[str, Any]] = answers.get(spec.key, [])
        index = len(items)
        partial = nav.partial.get(spec.key)
        if partial is not None or index < spec.min_items:
            scope = {**answers, **(partial or {})}
            for sub in spec.fields:
                path = f"{spec.key}.{index}.{sub.key}"
                if partial and sub.key in partial:
                    continue
                if path in nav.skipped or not _applicable(sub, scope):
                    continue
                return Question(path, sub, spec, index)
            continue
        if spec.max_items is not None and index >= spec.max_items:
            continue
        if index == 0 and not spec.required:
            more = spec.model_copy(update={"prompt": f"是否填写「{spec.prompt}」？", "type": "confirm"})
        else:
            more = spec.model_copy(update={"prompt": spec.more_prompt, "type": "confirm"})
        return Question(f"{spec.key}.{index}.{MORE}", more, spec, index)
    return None


def active_answers(form: FormSpec, answers: dict[str, Any]) -> dict[str, Any]:
    """Answers whose field still applies (a 返回 may have made a conditional field moot)."""
    out: dict[str, Any] = {}
    for spec in form.fields:
        if spec.key in answers and _applicable(spec, {**answers, **out}):
            out[spec.key] = answers[spec.key]
    notes = {p: n for p, n in answers.get(NOTES_KEY, {}).items() if p.split(".")[0] in out}
    if notes:
        out[NOTES_KEY] = notes
    return out


_ACTIVE = select(ConversationState).where(  # every message asks this: built once
    ConversationState.user_id == bindparam("uid"), ConversationState.status == FormStatus.ACTIVE
)


@dataclass
class _Run:
    """One form run being advanced: the row, its navigation, and who/when."""

    session: AsyncSession
    now: datetime
    user: User
    state: ConversationState
    nav: _Nav
    form: FormSpec
    turn: Turn | None = None


@dataclass
class _Chain:
    """Forms started by a completer: they follow the completing form directly."""

    completing: ConversationState
    started: list[tuple[ConversationState, FormSpec, bool]] = field(default_factory=list)  # + announce


def _chains(session: AsyncSession) -> dict[int, _Chain]:
    """Per user, the form completing in this session's step and the forms its completer starts. Kept
    on the session, so work in another transaction (a sweep, the same person on another channel)
    never joins a chain it is not part of."""
    chains: dict[int, _Chain] = session.info.setdefault("form_chains", {})
    return chains


class FormEngine:
    def __init__(
        self,
        forms: dict[str, FormSpec],
        *,
        expire_hours: float,
        notifier: Notifier,
        field_types: Mapping[str, FieldType] | None = None,
    ) -> None:
        self.forms = forms
        self.field_types = dict(field_types) if field_types is not None else builtin_field_types()
        self.expire_hours = expire_hours
        self.notifier = notifier
        self.completers: dict[str, Completer] = {}
        self.discarders: dict[str, Discarder] = {}

    # -- registry -----------------------------------------------------------------
    def register_completer(self, name: str, completer: Completer) -> None:
        self.completers[name] = completer

    def register_discarder(self, form: str, discarder: Discarder) -> None:
        self.discarders[form] = discarder

    def spec(self, name: str) -> FormSpec:
        try:
            return self.forms[name]
        except KeyError:
            raise KeyError(f"no form named {name!r} in the forms file") from None

    def _ttl(self, form: FormSpec) -> timedelta:
        return timedelta(hours=form.expire_hours or self.expire_hours)

    # -- queries ------------------------------------------------------------------
    async def active(self, session: AsyncSession, user_id: int) -> ConversationState | None:
        return (await session.execute(_ACTIVE, {"uid": user_id})).scalar_one_or_none()

    # -- sending ------------------------------------------------------------------
    async def _say(self, run: _Run, msg: Message) -> None:
        run.nav.seq += 1
        await self.notifier.to_user(
            run.session,
            now=run.now,
            user=run.user,
            message=msg,
            key=f"form:{run.state.id}:{run.nav.seq}",
            prefer=run.state.channel or None,
        )

    def _render(
        self, form: FormSpec, q: Question, token: str, context: dict[str, Any] | None = None
    ) -> Message:
        prompt = q.spec.prompt
        if q.group is not None and not q.is_more:
            prompt = f"【{q.group.prompt} 第 {q.index + 1} 项】{prompt}"
        hints = []
        if not q.spec.required and not q.is_more:
            hints.append("选填，可回复「跳过」")
        if q.spec.help:
            hints.append(q.spec.help)
        if hints:
            prompt += f"\n（{'；'.join(hints)}）"
        field_type = _CONFIRM if q.is_more else self.field_types[q.spec.type]
        # A field type whose options depend on the form run (e.g. the people to pick from) may
        # define ``ask_in_context(spec, prompt, token, context)``; the others just ``ask``.
        ask_in_context = getattr(field_type, "ask_in_context", None)
        if ask_in_context is not None:
            message: Message = ask_in_context(q.spec, prompt, token, dict(context or {}))
            return message
        return field_type.ask(q.spec, prompt, token)

    async def _ask_next(self, run: _Run, prefix: list[str] | None = None) -> bool:
        """Send the next question, or finish. Returns True while the form stays open."""
        answers = dict(run.state.answers)
        q = next_question(run.form, answers, run.nav)
        for line in prefix or []:
            await self._say(run, Text(text=line))
        if q is None:
            if run.turn is None:
                # Completers need the user's turn; the form finishes on their next message.
                run.state.state = run.nav.dump()
                return True
            await self._complete(run)
            return False
        run.nav.asked = q.path
        token = form_token(run.state.id, run.nav.seq + 1)
        await self._say(run, self._render(run.form, q, token, run.state.context))
        run.state.state = {**run.nav.dump(), "token": token}
        run.state.updated_at = run.now
        run.state.expires_at = run.now + self._ttl(run.form)
        return True

    # -- lifecycle ----------------------------------------------------------------
    async def start(
        self,
        session: AsyncSession,
        *,
        now: datetime,
        user: User,
        form_name: str,
        channel: str = "",
        context: dict[str, Any] | None = None,
        prefill: dict[str, Any] | None = None,
        turn: Turn | None = None,
        announce_queue: bool = True,
    ) -> ConversationState:
        """Open a form for ``user``. If another form is open it is queued and starts afterwards.

        ``announce_queue=False`` skips the "queued" notice.

        Called from a completer (the user's form is completing), the new form is chained: it starts
        right after the completing form closes, in the same step, ahead of forms queued earlier. A
        second form the completer starts is queued behind the first. The rows are written, and get
        their ``id``, when the completing form closes."""
        form = self.spec(form_name)
        chain = _chains(session).get(user.id)
        busy = chain.completing if chain is not None else await self.active(session, user.id)
        state = ConversationState(
            user_id=user.id,
            form=form_name,
            status=FormStatus.QUEUED if busy else FormStatus.ACTIVE,
            answers=dict(prefill or {}),
            state=_Nav().dump(),
            context=dict(context or {}),
            channel=channel,
            started_at=now,
            updated_at=now,
            expires_at=now + self._ttl(form),
        )
        if chain is not None:
            chain.started.append((state, form, announce_queue))
            return state
        session.add(state)
        await session.flush()
        run = _Run(session, now, user, state, _Nav(), form, turn)
        if busy:
            if announce_queue:
                title = self.spec(busy.form).title
                await self._say(run, Text(text=f"「{form.title}」已排队，完成当前的「{title}」后会开始。"))
            state.state = run.nav.dump()
            return state
        await self._ask_next(run, prefix=[form.intro] if form.intro else [])
        return state

    async def _start_queued(
        self, session: AsyncSession, now: datetime, user: User, turn: Turn | None
    ) -> None:
        stmt = (
            select(ConversationState)
            .where(ConversationState.user_id == user.id, ConversationState.status == FormStatus.QUEUED)
            .order_by(ConversationState.id)
            .limit(1)
        )
        queued = (await session.execute(stmt)).scalar_one_or_none()
        if queued is None:
            return
        await session.flush()
        queued.status = FormStatus.ACTIVE
        form = self.spec(queued.form)
        run = _Run(session, now, user, queued, _Nav.load(queued.state), form, turn)
        await self._ask_next(run, prefix=[form.intro] if form.intro else [])

    @staticmethod
    def _close(state: ConversationState, status: FormStatus, now: datetime) -> None:
        state.status = status
        state.closed_at = now
        state.updated_at = now

    async def _complete(self, run: _Run) -> None:
        form, state = run.form, run.state
        result = FormResult(state.id, form, active_answers(form, dict(state.answers)), dict(state.context))
        completer = self.completers.get(form.on_complete or "")
        if form.on_complete and completer is None:
            log.error("form %s: no completer named %s is registered", form.name, form.on_complete)
        chain = _Chain(state)
        chains = _chains(run.session)
        if completer is not None and run.turn is not None:
            chains[state.user_id] = chain
            try:
                await completer(run.turn, result)
            except ReaskError as exc:
                # The form stays open; forms the completer started are dropped (it runs again).
                self._forget(state, run.nav, exc.path)
                await self._ask_next(run, prefix=[exc.reason])
                return
            finally:
                chains.pop(state.user_id, None)
        state.state = run.nav.dump()
        self._close(state, FormStatus.COMPLETED, run.now)
        if completer is None or form.done_message:
            await self._say(run, Text(text=form.done_message or f"「{form.title}」已提交。"))
            state.state = run.nav.dump()
        if not chain.started:
            await run.session.flush()
            await self._start_queued(run.session, run.now, run.user, run.turn)
            return
        # One flush closes this form and writes the chained ones (updates go before inserts, so the
        # one-active-form index holds); the first chained form then asks its first question.
        (first, first_form, _), *rest = chain.started
        first.status = FormStatus.ACTIVE
        run.session.add_all([first, *(queued for queued, _, _ in rest)])
        await run.session.flush()
        for queued, queued_form, announce in rest:
            nav = _Nav()
            if announce:
                notice = f"「{queued_form.title}」已排队，完成当前的「{first_form.title}」后会开始。"
                await self._say(
                    _Run(run.session, run.now, run.user, queued, nav, queued_form), Text(text=notice)
                )
            queued.state = nav.dump()
        nxt = _Run(run.session, run.now, run.user, first, _Nav(), first_form, run.turn)
        await self._ask_next(nxt, prefix=[first_form.intro] if first_form.intro else [])

    def _run(self, turn: Turn, state: ConversationState) -> _Run:
        return _Run(
            turn.session, turn.now, turn.user, state, _Nav.load(state.state), self.spec(state.form), turn
        )

    # -- input --------------------------------------------------------------------
    async def handle(self, turn: Turn, state: ConversationState, *, command: str = "") -> str | None:
        """Apply the user's message to the open form and ask what comes next. ``command``: the
        command the message looks like (one that does not work inside a form); if the field does not
        take the message, the user is told how to reach that command, and if it does, the user is
        asked which was meant. Returns a message to run as a command once the form is paused (the
        user chose the command), else None."""
        run = self._run(turn, state)
        if state.channel != turn.event.channel:
            state.channel = turn.event.channel
        word = turn.event.text.strip() if isinstance(turn.event, TextEvent) else ""
        if word in CANCEL_WORDS:
            await self.cancel(turn, state)
            return None
        if word in DISCARD_WORDS:
            await self.discard(turn, state)
            return None
        if word in BACK_WORDS:
            await self._back(run)
            return None
        q = next_question(run.form, dict(state.answers), run.nav)
        if q is None:  # nothing left (e.g. the forms file changed): finish
            await self._complete(run)
            return None
        pending = state.context.get(COMMAND_OR_ANSWER)
        if pending is not None:
            state.context = {k: v for k, v in state.context.items() if k != COMMAND_OR_ANSWER}
            if word == "1" and pending.get("path") == q.path:
                self._apply(state, run.nav, q, pending["value"])
                await self._ask_next(run)
                return None
            if word == "2":
                await self.cancel(turn, state)
                return str(pending["text"])
        if isinstance(turn.event, CardActionEvent) and turn.event.card_id != state.state.get("token"):
            await self._ask_next(run, prefix=["这张卡片已过期，请回答下面这个问题。"])
            return None
        if word in SKIP_WORDS:
            await self._skip(run, q)
            return None
        field_type = _CONFIRM if q.is_more else self.field_types[q.spec.type]
        try:
            parsed = await field_type.parse(turn, q.spec, dict(state.context))
        except FieldError as exc:
            if exc.context_update:
                context = {**state.context, **exc.context_update}
                state.context = {k: v for k, v in context.items() if v is not None}
            prefix = [_sentence(exc.reason)]
            if command:
                prefix.append(
                    f"（正在填写「{run.form.title}」，「{command}」请在填完或回复「取消」后再发。）"
                )
            # The reason says what to send; the question follows as its own message.
            await self._ask_next(run, prefix=["\n".join(prefix)])
            return None
        free_text = not q.is_more and q.spec.type == "text"
        retyped = command == state.context.get(RETYPED_COMMAND)
        if free_text and command and not retyped and isinstance(turn.event, TextEvent):
            # A free-text field takes anything, but this reads like a command: ask rather than guess.
            state.context = {
                **state.context,
                COMMAND_OR_ANSWER: {"text": turn.event.text, "path": q.path, "value": parsed.value},
            }
            await self._say(
                run,
                Text(
                    text=f"{quoted(turn.event.text)}像是「{command}」命令。是要把它填为这一项的答案，"
                    f"还是要执行「{command}」？回复「1」填为答案；回复「2」先暂停「{run.form.title}」，"
                    f"再执行「{command}」。"
                ),
            )
            state.state = run.nav.dump()  # the message numbering goes on from here
            return None
        self._apply(state, run.nav, q, parsed.value)
        await self._ask_next(run, prefix=[parsed.echo] if parsed.echo else [])
        return None

    async def _skip(self, run: _Run, q: Question) -> None:
        if q.is_more:
            self._apply(run.state, run.nav, q, False)
        elif q.spec.required:
            await self._ask_next(run, prefix=["这一项是必填的，不能跳过。"])
            return
        else:
            run.nav.skipped.append(q.path)
            run.nav.history.append(q.path)
        await self._ask_next(run)

    @staticmethod
    def _apply(state: ConversationState, nav: _Nav, q: Question, value: Any) -> None:
        answers = dict(state.answers)
        nav.history.append(q.path)
        if isinstance(value, Noted):  # the rest of what the user wrote: kept beside the answer
            answers[NOTES_KEY] = {**answers.get(NOTES_KEY, {}), q.path: value.note}
            value = value.value
        kept = pending_note_key(q.spec.key)  # text kept from a refused attempt: now in the note above
        if kept in state.context:
            state.context = {k: v for k, v in state.context.items() if k != kept}
        if q.group is None:
            answers[q.path] = value
        elif q.is_more:
            if value:
                nav.partial[q.group.key] = {}
            else:
                nav.closed.append(q.group.key)
        else:
            partial = nav.partial.setdefault(q.group.key, {})
            partial[q.spec.key] = value
            scope = {**answers, **partial}
            pending = [
                s
                for s in q.group.fields
                if s.key not in partial
                and f"{q.group.key}.{q.index}.{s.key}" not in nav.skipped
                and _applicable(s, scope)
            ]
            if not pending:
                answers[q.group.key] = [*answers.get(q.group.key, []), partial]
                del nav.partial[q.group.key]
        state.answers = answers

    @staticmethod
    def _forget(state: ConversationState, nav: _Nav, path: str) -> None:
        """Undo the answer at ``path`` so it is asked again."""
        answers = dict(state.answers)
        if path in answers.get(NOTES_KEY, {}):
            answers[NOTES_KEY] = {p: n for p, n in answers[NOTES_KEY].items() if p != path}
        if path in nav.skipped:
            nav.skipped.remove(path)
        if path in nav.history:
            del nav.history[len(nav.history) - 1 - nav.history[::-1].index(path)]
        parts = path.split(".")
        if len(parts) == 1:
            answers.pop(path, None)
        else:
            key, index, sub = parts[0], int(parts[1]), parts[2]
            items = list(answers.get(key, []))
            if sub == MORE:
                if key in nav.closed:
                    nav.closed.remove(key)
                elif nav.partial.get(key) == {}:
                    del nav.partial[key]
            elif key in nav.partial and index == len(items):
                nav.partial[key].pop(sub, None)
            elif index == len(items) - 1:
                item = dict(items.pop())
                item.pop(sub, None)
                nav.partial[key] = item
                answers[key] = items
        state.answers = answers

    async def _back(self, run: _Run) -> None:
        if not run.nav.history:
            await self._ask_next(run, prefix=["已经是第一个问题了。"])
            return
        path = run.nav.history[-1]
        earlier = self._shown_answer(run.form, run.state.answers, path)
        value = run.state.answers.get(path)
        self._forget(run.state, run.nav, path)
        note = f"刚才的回答是{earlier}。" if earlier else ""
        if isinstance(value, dict) and value.get("quote_id"):
            # A recorded quote is never taken back: a new recording supersedes it in the ledger.
            run.state.context = {**run.state.context, replaced_quote_key(path): int(value["quote_id"])}
            note += f"刚才那条原话（#{value['quote_id']}）会保留在账本里，重新录音后标记为被新的一条取代。"
        await self._ask_next(run, prefix=[f"好的，回到上一个问题。{note}"])

    def _shown_answer(self, form: FormSpec, answers: dict[str, Any], path: str) -> str:
        """The answer at a top-level ``path`` as the user reads it (empty for skipped or grouped)."""
        if "." in path or path not in answers:
            return ""
        spec = next((f for f in form.fields if f.key == path), None)
        if spec is None:
            return ""
        shown = self.field_types[spec.type].display(spec, answers[path])
        return quoted(shown) if shown else ""

    def about(self, state: ConversationState) -> str:
        """Whom a form is about, for prompts (「竞对分析」（富阳区人民医院））: the customer in its
        context, else the answer of its customer field; empty when it names none."""
        name = str(state.context.get("customer_name") or "")
        if not name:
            form = self.forms.get(state.form)
            for spec in form.fields if form is not None else []:
                if spec.type in CUSTOMER_TYPES and spec.key in state.answers:
                    name = self.field_types[spec.type].display(spec, state.answers[spec.key])
                    break
        return f"（{name}）" if name else ""

    async def cancel(self, turn: Turn, state: ConversationState) -> None:
        run = self._run(turn, state)
        self._close(state, FormStatus.CANCELLED, turn.now)
        await self._say(run, Text(text=_closed_notice(f"已暂停「{run.form.title}」：", state)))
        state.state = run.nav.dump()
        await turn.session.flush()
        await self._start_queued(turn.session, turn.now, turn.user, turn)

    async def discard(self, turn: Turn, state: ConversationState) -> None:
        """放弃: close the form for good (not resumable) and end what it was for."""
        was_active = state.status == FormStatus.ACTIVE
        run = self._run(turn, state)
        self._close(state, FormStatus.WITHDRAWN, turn.now)
        hook = self.discarders.get(state.form)
        if hook is not None:
            await hook(turn, state)
        await self._say(run, Text(text=f"已放弃「{run.form.title}」，不会再提醒你填写。"))
        state.state = run.nav.dump()
        await turn.session.flush()
        if was_active:
            await self._start_queued(turn.session, turn.now, turn.user, turn)

    async def discard_paused(self, turn: Turn) -> bool:
        """放弃 outside a form: give up the form 「继续」 would reopen."""
        state = (await turn.session.execute(self._resumable(turn.user.id))).scalar_one_or_none()
        if state is None:
            return False
        await self.discard(turn, state)
        return True

    async def withdraw(
        self, session: AsyncSession, *, now: datetime, user: User, state: ConversationState, message: str
    ) -> None:
        """Close an open or queued form that no longer applies (status ``withdrawn``, not resumable),
        tell the user why, and start the next queued form."""
        was_active = state.status == FormStatus.ACTIVE
        run = _Run(session, now, user, state, _Nav.load(state.state), self.spec(state.form))
        self._close(state, FormStatus.WITHDRAWN, now)
        await self._say(run, Text(text=message))
        state.state = run.nav.dump()
        await session.flush()
        if was_active:
            await self._start_queued(session, now, user, None)

    async def repeat_question(self, session: AsyncSession, now: datetime, user: User) -> None:
        """Ask the open form's question again after something else (an alert) was sent in between."""
        state = await self.active(session, user.id)
        form = self.forms.get(state.form) if state is not None else None
        if state is None or form is None or state.expires_at <= now:
            return
        run = _Run(session, now, user, state, _Nav.load(state.state), form)
        await self._ask_next(run, prefix=[f"接着填写「{form.title}」{self.about(state)}："])

    async def ask_again(self, turn: Turn, state: ConversationState) -> None:
        await self._ask_next(self._run(turn, state))

    @staticmethod
    def _resumable(user_id: int) -> Select[ConversationState]:
        return (
            select(ConversationState)
            .where(
                ConversationState.user_id == user_id,
                ConversationState.status.in_((FormStatus.CANCELLED, FormStatus.EXPIRED)),
            )
            .order_by(ConversationState.updated_at.desc(), ConversationState.id.desc())
            .limit(1)
        )

    async def resumable(self, session: AsyncSession, user_id: int) -> str | None:
        """The title of the form 「继续」 would open: the active one, else the last one paused."""
        state = await self.active(session, user_id)
        if state is None:
            state = (await session.execute(self._resumable(user_id))).scalar_one_or_none()
        form = self.forms.get(state.form) if state is not None else None
        return form.title if form is not None else None

    async def resume(self, turn: Turn) -> bool:
        """「继续」: reopen the most recent cancelled or expired form with its answers."""
        if await self.active(turn.session, turn.user.id) is not None:
            return False
        state = (await turn.session.execute(self._resumable(turn.user.id))).scalar_one_or_none()
        if state is None:
            return False
        state.status = FormStatus.ACTIVE
        state.closed_at = None
        run = self._run(turn, state)
        await self._ask_next(run, prefix=[f"继续填写「{run.form.title}」{self.about(state)}："])
        return True

    async def expire_due(self, session: AsyncSession, now: datetime) -> int:
        """Close forms untouched past their expiry; tell the user; keep the answers."""
        stmt = select(ConversationState).where(
            ConversationState.status == FormStatus.ACTIVE, ConversationState.expires_at <= now
        )
        rows = list((await session.execute(stmt)).scalars())
        for state in rows:
            user = await session.get(User, state.user_id)
            form = self.forms.get(state.form)
            self._close(state, FormStatus.EXPIRED, now)
            if user is None or form is None:
                continue
            run = _Run(session, now, user, state, _Nav.load(state.state), form)
            await self._say(
                run,
                Text(text=_closed_notice(f"「{form.title}」长时间未填写，已自动关闭。", state)),
            )
            state.state = run.nav.dump()
            await session.flush()
            await self._start_queued(session, now, user, None)
        return len(rows)
