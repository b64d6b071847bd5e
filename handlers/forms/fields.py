"""Field types: how each asks its question and turns an answer into a value (or says what was wrong)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Protocol

from core.events import CardActionEvent, ImageEvent, TextEvent, VoiceEvent
from core.messages import Choice, Message, Text
from domain.quotes import doubt_reasons, quote_text
from domain.wording import quoted
from handlers.context import Turn
from handlers.forms.spec import FieldSpec


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
    if isinstance(event, VoiceEvent) and turn.transcript is not None:
        return turn.transcript.text.strip()
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
    if token.isdigit():
        n = int(token)
        return n - 1 if 1 <= n <= len(options) else None
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
            return Parsed(spec.options[picked[0]])
        if spec.min is not None and len(picked) < spec.min:
            raise FieldError(f"至少选 {int(spec.min)} 项")
        if spec.max is not None and len(picked) > spec.max:
            raise FieldError(f"最多选 {int(spec.max)} 项")
        return Parsed([spec.options[i] for i in sorted(picked)])

    def display(self, spec: FieldSpec, value: Any) -> str:
        return "、".join(value) if isinstance(value, list) else str(value)


class MultiField(ChoiceField):
    multi = True


class ConfirmField:
    YES: ClassVar[frozenset[str]] = frozenset(
        {"是", "好", "好的", "要", "继续", "y", "yes", "1", "确认", "对", "嗯", "可以"}
    )
    NO: ClassVar[frozenset[str]] = frozenset(
        {"否", "不", "不要", "不用", "n", "no", "2", "没有", "无", "结束", "完成"}
    )

    def ask(self, spec: FieldSpec, prompt: str, token: str) -> Message:
        return Choice(prompt=prompt, options=["是", "否"], token=token)

    async def parse(self, turn: Turn, spec: FieldSpec, ctx: dict[str, Any]) -> Parsed:
        event = turn.event
        raw = event.values[0] if isinstance(event, CardActionEvent) and event.values else _require_text(turn)
        token = raw.strip().lower().rstrip("。.!！")
        if token in self.YES:
            return Parsed(True)
        if token in self.NO:
            return Parsed(False)
        raise FieldError("请回复 是 或 否")

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


_DATE_PATTERNS = [
    re.compile(r"^(?P<y>\d{4})[-/.年](?P<m>\d{1,2})[-/.月](?P<d>\d{1,2})日?$"),
    re.compile(r"^(?P<m>\d{1,2})[-/.月](?P<d>\d{1,2})日?$"),
]
_RELATIVE = {"今天": 0, "今日": 0, "昨天": -1, "昨日": -1, "前天": -2, "明天": 1, "后天": 2}


def parse_date(text: str, today: date) -> date:
    text = text.strip().replace(" ", "")
    if text in _RELATIVE:
        return today + timedelta(days=_RELATIVE[text])
    m = re.fullmatch(r"(\d+)天前", text)
    if m:
        return today - timedelta(days=int(m.group(1)))
    for pattern in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            parts = match.groupdict()
            year = int(parts.get("y") or today.year)
            try:
                return date(year, int(parts["m"]), int(parts["d"]))
            except ValueError as exc:
                raise FieldError("这个日期不存在") from exc
    raise FieldError("请输入日期，例如 2026-11-28、11月28日、今天 或 3天前")


def parse_datetime(text: str, now_local: datetime) -> datetime:
    text = text.strip()
    m = re.fullmatch(r"(?P<date>.*?)[\sT]*(?P<h>\d{1,2})[:：点](?P<mi>\d{1,2})?分?", text)
    if not m:
        raise FieldError("请输入日期和时间，例如 2026-11-28 14:30、明天 9:00 或 14:30")
    day = parse_date(m.group("date"), now_local.date()) if m.group("date").strip() else now_local.date()
    hour, minute = int(m.group("h")), int(m.group("mi") or 0)
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise FieldError("时间不对，小时 0–23，分钟 0–59")
    return datetime.combine(day, time(hour, minute), tzinfo=now_local.tzinfo)


class DateField:
    def ask(self, spec: FieldSpec, prompt: str, token: str) -> Message:
        return Text(text=prompt)

    async def parse(self, turn: Turn, spec: FieldSpec, ctx: dict[str, Any]) -> Parsed:
        today = turn.local(turn.now).date()
        value = parse_date(_require_text(turn, "日期"), today)
        return Parsed(value.isoformat())

    def display(self, spec: FieldSpec, value: Any) -> str:
        return str(value)


class DateTimeField:
    def ask(self, spec: FieldSpec, prompt: str, token: str) -> Message:
        return Text(text=prompt)

    async def parse(self, turn: Turn, spec: FieldSpec, ctx: dict[str, Any]) -> Parsed:
        value = parse_datetime(_require_text(turn, "时间"), turn.local(turn.now))
        return Parsed(value.isoformat())

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
        return Parsed({"media_id": turn.media.id, "sha256": turn.media.sha256})

    def display(self, spec: FieldSpec, value: Any) -> str:
        return "已上传照片"


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
            raise FieldError("语音转写服务未启用，请联系管理员")
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
        if doubts:
            echo += f"\n⚠️ 转写可能不准（{'，'.join(doubts)}），请对照录音核对。"
        echo += "\n如有听错，回复「更正 正确内容」，原话会保留。"
        return Parsed({"quote_id": quote_id, "text": text}, echo)

    def display(self, spec: FieldSpec, value: Any) -> str:
        return f"“{value.get('text', '')}”" if isinstance(value, dict) else str(value)


FIELD_TYPES: dict[str, FieldType] = {
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
}


def register_field_type(name: str, field_type: FieldType) -> None:
    """Feature modules add field types (e.g. a customer picker) here."""
    from handlers.forms.spec import register_type_name

    FIELD_TYPES[name] = field_type
    register_type_name(name)
