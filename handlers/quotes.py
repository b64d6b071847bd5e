"""Corrections of the customer's words: ``更正 [#编号] <正确内容>``, the 更正原话 card button, ``原话 #编号``.

``更正`` takes a quote's number only after ``#`` or ``＃`` (``更正 #12 …``, ``更正＃１２：…``): text that
starts with a bare number (``更正 1:30之前必须送到手术室``, ``更正 2024 年预算没了``) is the correction's
words, for the rep's newest quote, and the reply says how to correct quote 1 instead when the rep has
one. A bare number with nothing after it (``更正 12``, ``原话 12``) is a number: there are no words it could
be. Numbers are ASCII or full-width digits (:func:`parse_number`); one no quote can have, however long,
is answered like an unknown one.

A correction never changes the quote: it is appended to the ledger's annotation chain with its author and
time, and shown as 销售更正 beside the original wherever the quote is shown.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from core.events import CardActionEvent
from core.messages import Choice
from domain.numerals import DIGIT, echo_number, row_id
from domain.quotes import CORRECTION, QuoteView, append_annotation, load_views
from handlers.commands import Command
from handlers.context import Turn
from handlers.flowkit import start_form
from handlers.forms.engine import FormResult
from handlers.registry import Registry
from storage.models import Customer, Quote, User

MAX_LENGTH = 500
RECENT = timedelta(hours=24)  # 更正 without a number corrects the rep's own newest quote of the last 24 h
CARD_PREFIX = "quote:"
FIX_OPTION = "更正原话"
VIEWERS = frozenset({"manager", "admin", "product"})
EXAMPLE = "我们科室最头疼的是器械包的灭菌兼容性问题"
# 「#12 …」, 「＃１２：…」, 「原话 #12 …」: a number after # (any run of digits: a long one names no quote).
_MARKED = re.compile(rf"^(?:原话\s*)?[#＃]\s*([{DIGIT}]+)[\s:：，,]*(.*)$", re.DOTALL)
# A bare 「12 …」: a space, a colon, a comma or nothing must follow it, so 「3家医院…」 is words.
_BARE = re.compile(rf"^([{DIGIT}]+)(?=[\s:：，,]|$)[\s:：，,]*(.*)$", re.DOTALL)


@dataclass(frozen=True)
class Numbered:
    """A quote's number as typed, and the text after it."""

    digits: str  # as typed: ASCII or full-width
    rest: str

    @property
    def id(self) -> int | None:
        """The quote id; None for a number no quote can have (above 2³¹−1, the id column's range on
        PostgreSQL, or more digits than any id)."""
        return row_id(self.digits)

    @property
    def shown(self) -> str:
        """The number as a reply names it: 12 for 0012 or １２, a very long one cut short."""
        return echo_number(self.digits)


def parse_number(args: str, *, bare: bool = False) -> Numbered | None:
    """The quote number at the start of ``args`` (after ``#``/``＃``; with ``bare``, also without one) and
    the text after it; None when there is none."""
    text = args.strip()
    m = _MARKED.match(text) or (_BARE.match(text) if bare else None)
    return Numbered(m.group(1), m.group(2)) if m is not None else None


def _clean(text: str) -> str:
    """One line of printable text: control characters dropped, runs of whitespace made one space."""
    kept = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in text)
    return re.sub(r"\s+", " ", kept).strip()


def offer(quote_id: int, text: str) -> Choice:
    """The card shown after a quote is filed: the text as recorded and a button to correct it."""
    return Choice(
        prompt=f"原话 #{quote_id}：“{text}”",
        note="听错了可以点「更正原话」，原来的录音和转写都会保留。",
        options=[FIX_OPTION],
        token=f"{CARD_PREFIX}{quote_id}",
    )


async def find_quote(turn: Turn, quote_id: int | None) -> Quote | None:
    """The quote with this number; None for None (a number no quote can have: never looked up, since the
    database would refuse it)."""
    return await turn.session.get(Quote, quote_id) if quote_id is not None else None


async def _own_quote(turn: Turn, number: Numbered) -> Quote | None:
    """The quote if the user may correct it; otherwise tell them why and return None."""
    quote = await find_quote(turn, number.id)
    if quote is None:
        await turn.reply(f"没有找到原话 #{number.shown}，请核对编号（客户档案里的「原话 #编号」）。")
        return None
    if quote.rep_id != turn.user.id:
        author = await turn.session.get(User, quote.rep_id)
        who = author.name if author is not None else "其他同事"
        await turn.reply(f"原话 #{quote.id} 是{who}记录的，只有记录人可以更正。如有出入，请联系{who}。")
        return None
    return quote


async def _latest_own(turn: Turn) -> Quote | None:
    return (
        await turn.session.execute(
            select(Quote)
            .where(Quote.rep_id == turn.user.id, Quote.created_at >= turn.now - RECENT)
            .order_by(Quote.seq.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def _which(turn: Turn, quote: Quote, *, newest: bool) -> str:
    """The quote as the rep recognises it: 「最近一条原话 #12（杭州市第一人民医院，12-05 14:30）」."""
    when = quote.created_at.astimezone(turn.services.tz).strftime("%m-%d %H:%M")
    customer = await turn.session.get(Customer, quote.customer_id) if quote.customer_id else None
    about = f"{customer.name}，{when}" if customer is not None else when
    return ("最近一条" if newest else "") + f"原话 #{quote.id}（{about}）"


async def apply_correction(
    turn: Turn, quote: Quote, raw: str, *, newest: bool = False, hint: str = ""
) -> None:
    """Append ``raw`` as the rep's correction of ``quote`` (``newest``: it was not named by number; ``hint``:
    a line that replaces the usual 更正的不是这条？ then)."""
    text = _clean(raw)
    if not text:
        await turn.reply(f"请在「更正」后写上客户实际说的话，例如「更正 #{quote.id} {EXAMPLE}」。")
        return
    if len(text) > MAX_LENGTH:
        await turn.reply(f"更正内容太长了（最多 {MAX_LENGTH} 字），请精简后再发。")
        return
    view: QuoteView = (await load_views(turn.session, [quote.id]))[quote.id]
    if text == view.text:
        await turn.reply(f"更正内容和原话 #{quote.id} 完全一样，不需要更正。")
        return
    earlier = view.correction
    if earlier is not None and earlier.text == text:
        await turn.reply(f"原话 #{quote.id} 已经有这条更正了，不用重复提交。")
        return
    note = await append_annotation(
        turn.session, quote=quote, kind=CORRECTION, text_=text, now=turn.now, author_id=turn.user.id
    )
    turn.audit("quote.correct", "quote", quote.id, after={"annotation_seq": note.seq, "text": text})
    which = await _which(turn, quote, newest=newest)
    if earlier is None:
        head = f"已记录你对{which}的更正，原话保留不变："
    else:
        head = f"已更新你对{which}的更正，之前的更正也保留在记录里："
    tail = ""
    if newest:
        tail = "\n" + (hint or "更正的不是这条？请回复「更正 #编号 正确内容」，编号见客户档案。")
    await turn.reply(f"{head}\n原话：“{view.text}”\n销售更正：“{text}”{tail}")


async def _bare_number_hint(turn: Turn, args: str, newest: Quote | None) -> str:
    """「如果要更正原话 #1，…」 when the words start with a bare number that is one of the rep's quotes (other
    than the newest, which the words correct anyway); else empty."""
    numbered = parse_number(args, bare=True)
    if numbered is None or (newest is not None and numbered.id == newest.id):
        return ""
    quote = await find_quote(turn, numbered.id)
    if quote is None or quote.rep_id != turn.user.id:
        return ""
    return f"如果要更正原话 #{quote.id}，请发「更正 #{quote.id} 正确内容」。"


async def correct(turn: Turn, args: str) -> None:
    """更正 [#编号] <正确内容>: a number after # or ＃ names the quote; without one the rep's own newest quote
    of the last 24 hours is corrected, even when the words start with a number (1:30之前…). A bare number
    alone (更正 12) is a number: there are no words to store."""
    numbered = parse_number(args)
    alone = parse_number(args, bare=True)
    if numbered is None and alone is not None and not alone.rest.strip():
        numbered = alone
    if numbered is not None:
        quote = await _own_quote(turn, numbered)
        if quote is not None:
            await apply_correction(turn, quote, numbered.rest)
        return
    quote = await _latest_own(turn)
    hint = await _bare_number_hint(turn, args, quote)
    if quote is None:
        await turn.reply(
            "近 24 小时内没有你记录的客户原话。更正更早的原话，请在客户档案里找到编号，"
            "回复「更正 #编号 正确内容」。" + (f"\n{hint}" if hint else "")
        )
        return
    await apply_correction(turn, quote, args, newest=True, hint=hint)


async def show(turn: Turn, args: str) -> None:
    """原话 #编号: the ledger entry as recorded: both recognitions, the corrections, the flags."""
    numbered = parse_number(args, bare=True)
    if numbered is None or numbered.rest.strip():
        await turn.reply("用法：原话 #编号（编号见客户档案的开放需求）。")
        return
    quote = await find_quote(turn, numbered.id)
    if quote is None or (quote.rep_id != turn.user.id and not (turn.user.roles & VIEWERS)):
        await turn.reply(f"没有找到原话 #{numbered.shown}。")
        return
    quote_id = quote.id
    view = (await load_views(turn.session, [quote_id]))[quote_id]
    when = quote.created_at.astimezone(turn.services.tz).strftime("%Y-%m-%d %H:%M")
    length = f"，{quote.duration_s:.0f} 秒录音" if quote.duration_s > 0 else ""
    lines = [f"原话 #{quote_id}（{when}{length}）：“{view.text}”"]
    if not view.intact:
        lines.append("⚠️ 这条记录已被改动，请联系管理员核查。")
    if view.platform:
        lines.append(f"平台识别：“{view.platform}”" + ("（采用）" if view.source == "platform" else ""))
        if view.local:
            lines.append(f"本地转写：“{view.transcript}”" + ("（采用）" if view.source == "local" else ""))
        else:
            lines.append("本地转写：无（记录时未启用）")
    if view.doubtful:
        lines.append("转写可能不准，请以录音为准。")
    for fix in view.corrections:
        day = fix.created_at.astimezone(turn.services.tz).strftime("%m-%d %H:%M")
        lines.append(f"销售更正（{fix.author or '销售'}，{day}）：“{fix.text}”")
    if view.superseded_by is not None:
        lines.append(f"填表时返回重录：已由原话 #{view.superseded_by} 取代，本条保留。")
    await turn.reply("\n".join(lines))


async def card(turn: Turn) -> None:
    """The 更正原话 button: ask for the right words in a one-question form."""
    event = turn.event
    if not isinstance(event, CardActionEvent):
        return
    raw = event.card_id.removeprefix(CARD_PREFIX)
    quote = await _own_quote(turn, Numbered(raw, "")) if raw.isascii() and raw.isdecimal() else None
    if quote is None:
        return
    value = event.values[0] if event.values else ""
    if value not in ("1", FIX_OPTION):
        await turn.reply("请点「更正原话」。")
        return
    await start_form(turn, "quote_correction", context={"quote_id": quote.id})


async def complete_correction(turn: Turn, result: FormResult) -> None:
    quote = await _own_quote(turn, Numbered(str(result.context.get("quote_id") or 0), ""))
    if quote is not None:
        answer = str(result.answers.get("text", ""))
        # Asked for the words, a rep often types the whole command again (「更正 …」, 「更正 #12 …」); a bare
        # number there is words, as for 更正 (「更正 1:30之前…」).
        if answer.strip().startswith("更正"):
            answer = answer.strip().removeprefix("更正")
            numbered = parse_number(answer)
            if numbered is not None and numbered.id != quote.id:
                await correct(turn, answer)  # 「更正 #2 …」 names another quote: that one is corrected
                return
            if numbered is not None:
                answer = numbered.rest
        await apply_correction(turn, quote, answer)


def setup(registry: Registry) -> None:
    registry.command(
        Command(
            ("更正",),
            correct,
            "更正客户原话的转写（更正 #编号 正确内容），原话保留",
            in_form=True,
            own_form="quote_correction",  # asked for the words, 「更正 …」 is the answer
        )
    )
    registry.command(Command(("原话",), show, "查看一条客户原话的完整记录（原话 #编号）"))
    registry.card(CARD_PREFIX, card)
    registry.completer("quote_correction", complete_correction)
