"""Field types: how each asks its question and turns an answer into a value (or says what was wrong)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Protocol

from core.events import CardActionEvent, ImageEvent, TextEvent, VoiceEvent
from core.messages import Choice, Message, Text
from domain import when
from domain.numerals import all_digits, typed_number
from domain.quotes import SUPERSEDED, append_annotation, doubt_reasons, quote_text
from domain.wording import quoted
from handlers.context import Turn
from handlers.forms.spec import FieldSpec
from handlers.photos import earlier_use, reuse_text
from storage.models import Quote


class FieldError(Exception):
    """The answer does not fit; ``reason`` is shown to the user before the question is asked again.

    ``context_update`` is merged into the form's context before the question is asked again (a key
    set to None is removed): a field type can remember something between attempts, e.g. a name
    waiting for confirmation or a fresh list of candidates.
    """

    def __init__(self, reason: str, context_update: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.context_update = context_update or {}


@dataclass(frozen=True)
class Parsed:
    value: Any
    echo: str = ""  # shown back to the user (e.g. the transcript of a voice answer)


NOTES_KEY = "_notes"  # answers[NOTES_KEY][path]: what the user wrote beyond the answer itself


@dataclass(frozen=True)
class Noted:
    """An answer plus the rest of what the user wrote (「是的，他说要再比较几家」 → True and the
    note). The engine stores ``value`` as the answer and ``note`` under ``answers[NOTES_KEY]``, so
    nothing typed is lost; completers with a place for notes (visit report, demand) use it."""

    value: Any
    note: str


def pending_note_key(key: str) -> str:
    """Context key of text kept from a refused answer to field ``key`` until it is answered."""
    return f"_pending_note.{key}"


def _with_note(value: Any, ctx: dict[str, Any], spec: FieldSpec, note: str) -> Parsed:
    """``value`` with ``note`` and any text kept from an earlier, refused attempt at this field."""
    parts = [p for p in (str(ctx.get(pending_note_key(spec.key)) or ""), note.strip()) if p]
    if not parts:
        return Parsed(value)
    text = "；".join(parts)
    return Parsed(Noted(value, text), f"（已记为备注：{quoted(text)}）")


def _keep(spec: FieldSpec, ctx: dict[str, Any], text: str) -> dict[str, Any]:
    """Context update that keeps a refused paragraph until the field is answered."""
    earlier = str(ctx.get(pending_note_key(spec.key)) or "")
    return {pending_note_key(spec.key): f"{earlier}；{text}" if earlier else text}


_KEEP_NOTICE = "你写的这段话已先记下，答完后会一起存为备注"


class FieldType(Protocol):
    """How a field asks and parses. A type may also define
    ``ask_in_context(spec, prompt, token, context) -> Message`` to shape its question from the form's
    context (e.g. options computed when the form started); the engine prefers it when present."""

    def ask(self, spec: FieldSpec, prompt: str, token: str) -> Message: ...

    async def parse(self, turn: Turn, spec: FieldSpec, state_context: dict[str, Any]) -> Parsed: ...

    def display(self, spec: FieldSpec, value: Any) -> str: ...


def _text_of(turn: Turn) -> str | None:
    event = turn.event
    if isinstance(event, TextEvent):
        return event.text.strip()
    if isinstance(event, VoiceEvent) and turn.transcript is not None:  # the platform's text when it sent one
        return quote_text(turn.transcript.text, turn.transcript.platform_recognition)[0]
    return None


def _require_text(turn: Turn, what: str = "文字") -> str:
    if isinstance(turn.event, VoiceEvent) and turn.transcript is None:
        raise FieldError(turn.transcript_error or "语音没有识别出文字")
    text = _text_of(turn)
    if text is None:
        raise FieldError(f"这里需要{what}回复")
    if not text:
        raise FieldError("回复是空的")
    return text


def _echo(turn: Turn, text: str) -> str:
    return f"（语音识别：{text}）" if isinstance(turn.event, VoiceEvent) else ""


class TextField:
    def ask(self, spec: FieldSpec, prompt: str, token: str) -> Message:
        return Text(text=prompt)

    async def parse(self, turn: Turn, spec: FieldSpec, ctx: dict[str, Any]) -> Parsed:
        text = _require_text(turn)
        if spec.min_length is not None and len(text) < spec.min_length:
            raise FieldError(f"至少需要 {spec.min_length} 个字")
        if spec.max_length is not None and len(text) > spec.max_length:
            raise FieldError(f"最多 {spec.max_length} 个字，现在是 {len(text)} 个")
        if spec.pattern and not re.fullmatch(spec.pattern, text):
            raise FieldError(spec.pattern_error or "格式不对")
        return Parsed(text, _echo(turn, text))

    def display(self, spec: FieldSpec, value: Any) -> str:
        return str(value)


_SPLIT = re.compile(r"[,，、;；\s]+")


def _option_index(options: list[str], token: str) -> int | None:
    token = token.strip()
    if all_digits(token):
        n = typed_number(token)
        return n - 1 if n is not None and 1 <= n <= len(options) else None
    for i, opt in enumerate(options):
        if token == opt:
            return i
    hits = [i for i, opt in enumerate(options) if token and (token in opt or opt in token)]
    return hits[0] if len(hits) == 1 else None


class ChoiceField:
    multi = False

    def ask(self, spec: FieldSpec, prompt: str, token: str) -> Message:
        return Choice(prompt=prompt, options=list(spec.options), multi=self.multi, token=token)

    def _tokens(self, turn: Turn) -> list[str]:
        event = turn.event
        if isinstance(event, CardActionEvent):
            return list(event.values)
        text = _require_text(turn, "选项编号或选项文字")
        if not self.multi:
            return [text]
        return [t for t in _SPLIT.split(text) if t]

    async def parse(self, turn: Turn, spec: FieldSpec, ctx: dict[str, Any]) -> Parsed:
        tokens = self._tokens(turn)
        n = len(spec.options)
        if not tokens:
            raise FieldError(f"请回复 1–{n} 中的编号")
        if not self.multi and not isinstance(turn.event, CardActionEvent):
            return self._single_from_text(spec, ctx, tokens[0])
        picked: list[int] = []
        for tok in tokens:
            idx = _option_index(spec.options, tok)
            if idx is None:
                raise FieldError(f"{quoted(tok)}不是可选项，请回复 1–{n} 中的编号")
            if idx not in picked:
                picked.append(idx)
        if not self.multi:
            if len(picked) != 1:
                raise FieldError("这里只能选一项")
            return _with_note(spec.options[picked[0]], ctx, spec, "")
        if spec.min is not None and len(picked) < spec.min:
            raise FieldError(f"至少选 {int(spec.min)} 项")
        if spec.max is not None and len(picked) > spec.max:
            raise FieldError(f"最多选 {int(spec.max)} 项")
        return Parsed([spec.options[i] for i in sorted(picked)])

    @staticmethod
    def _single_from_text(spec: FieldSpec, ctx: dict[str, Any], text: str) -> Parsed:
        """A number, an option, a part of one, or a paragraph that names exactly one option (taken,
        the paragraph kept as a note). Anything else is asked again, the paragraph kept meanwhile."""
        n = len(spec.options)
        idx = _option_index(spec.options, text)
        named = [i for i, opt in enumerate(spec.options) if opt in text]
        if idx is not None and (len(named) <= 1 or spec.options[idx] == text):
            note = "" if text == spec.options[idx] or all_digits(text) or text in spec.options[idx] else text
            return _with_note(spec.options[idx], ctx, spec, note)
        paragraph = len(text) > 6
        keep = _keep(spec, ctx, text) if paragraph else {}
        kept = f"（{_KEEP_NOTICE}）" if paragraph else ""
        if len(named) > 1:
            both = "和".join(f"「{spec.options[i]}」" for i in named)
            raise FieldError(f"这段话提到了{both}，这里只能选一项{kept}", keep)
        raise FieldError(f"{quoted(text)}不是可选项，请回复 1–{n} 中的编号{kept}", keep)

    def display(self, spec: FieldSpec, value: Any) -> str:
        return "、".join(value) if isinstance(value, list) else str(value)


class MultiField(ChoiceField):
    multi = True


_YES_WORDS = frozenset(
    {"是", "是的", "是啊", "对", "对的", "对啊", "嗯", "嗯嗯", "好", "好的", "行", "要", "有", "有的",
     "可以", "确认", "继续", "没问题", "当然", "y", "yes", "ok", "1"}
)  # fmt: skip
_NO_WORDS = frozenset(
    {"否", "不", "不是", "不对", "不要", "不用", "不用了", "不需要", "没", "没有", "没有的", "没了", "无",
     "n", "no", "2", "结束", "完成"}
)  # fmt: skip
_TRAILING = "。.!！~～啊呀吧啦哈了"
_LEADING_ANSWER = re.compile(
    r"(?P<word>[^，,。.!！?？;；:：\s]{1,4})[，,。.!！?？;；:：\s]+(?P<rest>.*)", re.S
)


def yes_no(text: str) -> bool | None:
    """是的 / 对 / 嗯 / 有 → True; 不是 / 没有 / 否 / 没 → False; anything else → None."""
    token = text.strip().lower()
    if token in _YES_WORDS or token in _NO_WORDS:
        return token in _YES_WORDS
    token = token.rstrip(_TRAILING) or token
    if token in _YES_WORDS:
        return True
    if token in _NO_WORDS:
        return False
    return None


class ConfirmField:
    YES: ClassVar[frozenset[str]] = _YES_WORDS
    NO: ClassVar[frozenset[str]] = _NO_WORDS

    def ask(self, spec: FieldSpec, prompt: str, token: str) -> Message:
        return Choice(prompt=prompt, options=["是", "否"], token=token)

    async def parse(self, turn: Turn, spec: FieldSpec, ctx: dict[str, Any]) -> Parsed:
        event = turn.event
        if isinstance(event, CardActionEvent) and event.values:
            answer = yes_no(event.values[0])
            if answer is None:
                raise FieldError("请回复「是」或「否」")
            return _with_note(answer, ctx, spec, "")
        raw = _require_text(turn)
        answer = yes_no(raw)
        if answer is not None:
            return _with_note(answer, ctx, spec, "")
        lead = _LEADING_ANSWER.fullmatch(raw.strip())
        if lead is not None:
            answer = yes_no(lead.group("word"))
            if answer is not None:
                return _with_note(answer, ctx, spec, lead.group("rest").strip())
        paragraph = len(raw) > 4
        keep = _keep(spec, ctx, raw) if paragraph else {}
        kept = f"（{_KEEP_NOTICE}）" if paragraph else ""
        raise FieldError(f"请回复「是」或「否」，也可以说「是的，……」或「没有，……」{kept}", keep)

    def display(self, spec: FieldSpec, value: Any) -> str:
        return "是" if value else "否"


_UNITS = {
    "万": Decimal(10000),
    "w": Decimal(10000),
    "千": Decimal(1000),
    "k": Decimal(1000),
    "亿": Decimal(10**8),
}


def parse_amount(text: str) -> Decimal:
    cleaned = text.strip().lower().replace(",", "").replace("，", "").replace(" ", "")
    cleaned = cleaned.lstrip("¥￥").removesuffix("人民币").removesuffix("元").removesuffix("块")
    factor = Decimal(1)
    if cleaned and cleaned[-1] in _UNITS:
        factor = _UNITS[cleaned[-1]]
        cleaned = cleaned[:-1]
    try:
        value = Decimal(cleaned) * factor
    except InvalidOperation as exc:
        raise FieldError("请输入数字，例如 120000 或 12万") from exc
    if not value.is_finite():
        raise FieldError("请输入数字，例如 120000 或 12万")
    return value


class NumberField:
    money = False

    def ask(self, spec: FieldSpec, prompt: str, token: str) -> Message:
        return Text(text=prompt)

    async def parse(self, turn: Turn, spec: FieldSpec, ctx: dict[str, Any]) -> Parsed:
        value = parse_amount(_require_text(turn, "数字"))
        if spec.min is not None and value < Decimal(str(spec.min)):
            raise FieldError(f"不能小于 {spec.min:g}")
        if spec.max is not None and value > Decimal(str(spec.max)):
            raise FieldError(f"不能大于 {spec.max:g}")
        if self.money:
            return Parsed(str(value.quantize(Decimal("0.01"))))
        return Parsed(str(value.normalize()) if value != value.to_integral() else str(int(value)))

    def display(self, spec: FieldSpec, value: Any) -> str:
        return f"¥{Decimal(value):,.2f}" if self.money else str(value)


class MoneyField(NumberField):
    money = True


def parse_date(text: str, today: date) -> date:
    """A date as people type it (see domain.when); a FieldError says what to type instead."""
    try:
        return when.parse_day(text, today)
    except when.WhenError as exc:
        raise FieldError(exc.reason) from exc


def parse_datetime(text: str, now_local: datetime) -> datetime:
    """A day and a time as people type them (see domain.when), in ``now_local``'s time zone."""
    try:
        return when.parse_moment(text, now_local)
    except when.WhenError as exc:
        raise FieldError(exc.reason) from exc


_WEEKDAY_NAMES = "一二三四五六日"


def _spelled_out(text: str) -> bool:
    """Whether the answer was typed in full digits already (then there is nothing to echo)."""
    return re.fullmatch(r"[\d\s:：/\-.T]+", text) is not None


class DateField:
    def ask(self, spec: FieldSpec, prompt: str, token: str) -> Message:
        return Text(text=prompt)

    async def parse(self, turn: Turn, spec: FieldSpec, ctx: dict[str, Any]) -> Parsed:
        today = turn.local(turn.now).date()
        text = _require_text(turn, "日期")
        value = parse_date(text, today)
        echo = (
            ""
            if _spelled_out(text)
            else f"（{text}：{value.month}月{value.day}日 周{_WEEKDAY_NAMES[value.weekday()]}）"
        )
        return Parsed(value.isoformat(), echo)

    def display(self, spec: FieldSpec, value: Any) -> str:
        return str(value)


class DateTimeField:
    def ask(self, spec: FieldSpec, prompt: str, token: str) -> Message:
        return Text(text=prompt)

    async def parse(self, turn: Turn, spec: FieldSpec, ctx: dict[str, Any]) -> Parsed:
        text = _require_text(turn, "时间")
        value = parse_datetime(text, turn.local(turn.now))
        echo = "" if _spelled_out(text) else f"（{text}：{value.month}月{value.day}日 {value:%H:%M}）"
        return Parsed(value.isoformat(), echo)

    def display(self, spec: FieldSpec, value: Any) -> str:
        return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M")


class PhotoField:
    def ask(self, spec: FieldSpec, prompt: str, token: str) -> Message:
        return Text(text=prompt)

    async def parse(self, turn: Turn, spec: FieldSpec, ctx: dict[str, Any]) -> Parsed:
        if not isinstance(turn.event, ImageEvent) or turn.media is None:
            raise FieldError("这里需要发送一张照片")
        if turn.media.kind != "photo":
            raise FieldError("收到的文件不是可识别的图片（支持 JPG、PNG 等常见格式），请重新拍一张发送")
        visit_id = int(ctx["visit_id"]) if ctx.get("visit_id") else None
        earlier = await earlier_use(turn, turn.media, visit_id)
        echo = ""
        if earlier is not None:
            echo = reuse_text(turn, earlier) + "拍错了可以回复「返回」重新上传。"
        return Parsed({"media_id": turn.media.id, "sha256": turn.media.sha256}, echo)

    def display(self, spec: FieldSpec, value: Any) -> str:
        return "已上传照片"


def replaced_quote_key(key: str) -> str:
    """Context key of the quote a rep took back with 返回 at field ``key`` (kept, to be superseded)."""
    return f"_replaced_quote.{key}"


class VoiceQuoteField:
    """The customer's own words: a voice note becomes an immutable ledger quote."""

    def ask(self, spec: FieldSpec, prompt: str, token: str) -> Message:
        return Text(text=prompt)

    async def parse(self, turn: Turn, spec: FieldSpec, ctx: dict[str, Any]) -> Parsed:
        if not isinstance(turn.event, VoiceEvent):
            raise FieldError("这里需要客户原话的语音（按住说话发送），文字不能代替原话")
        if turn.transcript is None:
            raise FieldError(turn.transcript_error or "语音没有识别出文字，请再录一次")
        text, _ = quote_text(turn.transcript.text, turn.transcript.platform_recognition)
        if not text:
            raise FieldError("没有听到说话内容，请再录一次")
        recorder = turn.services.quotes
        if recorder is None:
            raise FieldError("语音转写服务未启用，原始录音已保存。请联系管理员")
        quote_id = await recorder.record(
            turn.session,
            now=turn.now,
            transcript=turn.transcript,
            rep_id=turn.user.id,
            customer_id=ctx.get("customer_id"),
            visit_id=ctx.get("visit_id"),
        )
        t = turn.transcript
        doubts = doubt_reasons(
            transcript=t.text,
            platform=t.platform_recognition,
            avg_logprob=t.avg_logprob,
            compression_ratio=t.compression_ratio,
        )
        echo = f"客户原话已记录（原话 #{quote_id}，不可修改）：“{text}”"
        if not t.local:
            echo += "\n本地转写暂未启用，这条原话采用平台识别的文字，原始录音已保存。"
        replaced = ctx.get(replaced_quote_key(spec.key))
        old = await turn.session.get(Quote, int(replaced)) if replaced else None
        if old is not None and old.id != quote_id:
            await append_annotation(
                turn.session,
                quote=old,
                kind=SUPERSEDED,
                text_=f"#{quote_id}",
                now=turn.now,
                author_id=turn.user.id,
            )
            echo += f"\n上一条原话 #{old.id} 仍保留在账本里，已标记为被这条取代。"
        if doubts:
            echo += f"\n⚠️ 转写可能不准（{'，'.join(doubts)}），请对照录音核对。"
        echo += "\n如有听错，回复「更正 正确内容」，原话会保留。"
        return Parsed({"quote_id": quote_id, "text": text}, echo)

    def display(self, spec: FieldSpec, value: Any) -> str:
        return str(value.get("text", "")) if isinstance(value, dict) else str(value)  # the engine quotes it


def builtin_field_types() -> dict[str, FieldType]:
    """The engine's own field types; a registry starts from these and features add theirs to it."""
    return {
        "text": TextField(),
        "choice": ChoiceField(),
        "multi": MultiField(),
        "confirm": ConfirmField(),
        "number": NumberField(),
        "money": MoneyField(),
        "date": DateField(),
        "datetime": DateTimeField(),
        "photo": PhotoField(),
        "voice_quote": VoiceQuoteField(),
        "group": GroupField(),
    }


class GroupField:
    """A repeated group: the engine asks its sub-fields item by item; this type is never asked itself."""

    def ask(self, spec: FieldSpec, prompt: str, token: str) -> Message:
        raise TypeError("a group is asked through its sub-fields")

    async def parse(self, turn: Turn, spec: FieldSpec, ctx: dict[str, Any]) -> Parsed:
        raise TypeError("a group is answered through its sub-fields")

    def display(self, spec: FieldSpec, value: Any) -> str:
        return f"{len(value)} 项" if isinstance(value, list) else str(value)
