"""Corrections of the customer's words: ``更正 [#编号] <正确内容>``, the 更正原话 card button, ``原话 #编号``.

Both commands read a quote's number the same way: ``#12``, ``＃１２`` or a bare ``12`` followed by a space
or a colon (:func:`parse_number`). A number no quote can have is answered like an unknown one.

A correction never changes the quote: it is appended to the ledger's annotation chain with its author and
time, and shown as 销售更正 beside the original wherever the quote is shown.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta

from sqlalchemy import select

from core.events import CardActionEvent
from core.messages import Choice
from domain.quotes import CORRECTION, QuoteView, append_annotation, load_views
from handlers.commands import Command
from handlers.context import Turn
from handlers.flowkit import start_form
from handlers.forms.engine import FormResult
from handlers.registry import Registry
from storage.models import Customer, Quote, User

MAX_LENGTH = 500
RECENT = timedelta(hours=24)  # 更正 without a number corrects the rep's own newest quote of the last 24 h
MAX_ID = 2**31 - 1  # quote ids are INTEGER on PostgreSQL; a larger number names no quote on either backend
CARD_PREFIX = "quote:"
FIX_OPTION = "更正原话"
VIEWERS = frozenset({"manager", "admin", "product"})
EXAMPLE = "我们科室最头疼的是器械包的灭菌兼容性问题"
# 「#12 …」, 「＃１２：…」, 「原话 #12 …」, or a bare 「12 …」 (a space, a colon or nothing must follow it,
# so 「3家医院…」 stays words). \d also matches full-width digits, which int() reads.
_NUMBER = re.compile(r"^(?:原话\s*)?(?:[#＃]\s*(\d+)|(\d+)(?=[\s:：，,]|$))[\s:：，,]*(.*)$", re.DOTALL)


def parse_number(args: str) -> tuple[int, str] | None:
    """The quote number at the start of ``args`` and the text after it; None when there is none."""
    m = _NUMBER.match(args.strip())
    if m is None:
        return None
    return int(m.group(1) or m.group(2)), m.group(3)


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


async def find_quote(turn: Turn, quote_id: int) -> Quote | None:
    """The quote with this number; None for a number no quote can have (the database would refuse it)."""
    return await turn.session.get(Quote, quote_id) if 0 < quote_id <= MAX_ID else None


async def _own_quote(turn: Turn, quote_id: int) -> Quote | None:
    """The quote if the user may correct it; otherwise tell them why and return None."""
    quote = await find_quote(turn, quote_id)
    if quote is None:
        await turn.reply(f"没有找到原话 #{quote_id}，请核对编号（客户档案里的「原话 #编号」）。")
        return None
    if quote.rep_id != turn.user.id:
        author = await turn.session.get(User, quote.rep_id)
        who = author.name if author is not None else "其他同事"
        await turn.reply(f"原话 #{quote_id} 是{who}记录的，只有记录人可以更正。如有出入，请联系{who}。")
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
    """The quote as the rep recognises it: 「你最近的一条原话 #12，杭州市第一人民医院，12-05 14:30 记录」."""
    parts = [("你最近的一条" if newest else "") + f"原话 #{quote.id}"]
    customer = await turn.session.get(Customer, quote.customer_id) if quote.customer_id else None
    if customer is not None:
        parts.append(customer.name)
    parts.append(quote.created_at.astimezone(turn.services.tz).strftime("%m-%d %H:%M") + " 记录")
    return "，".join(parts)


async def apply_correction(turn: Turn, quote: Quote, raw: str, *, newest: bool = False) -> None:
    """Append ``raw`` as the rep's correction of ``quote`` (``newest``: it was not named by number)."""
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
        head = f"已记录更正（{which}），原话保留不变："
    else:
        head = f"已更新更正（{which}），之前的更正也保留在记录里："
    tail = "\n更正的不是这条？请回复「更正 #编号 正确内容」，编号见客户档案。" if newest else ""
    await turn.reply(f"{head}\n原话：“{view.text}”\n销售更正：“{text}”{tail}")


async def correct(turn: Turn, args: str) -> None:
    """更正 [#编号] <正确内容>: a number (#12, ＃１２, or 12 then a space) names the quote; without one the
    rep's own newest quote of the last 24 hours is corrected."""
    numbered = parse_number(args)
    if numbered is not None:
        quote = await _own_quote(turn, numbered[0])
        if quote is not None:
            await apply_correction(turn, quote, numbered[1])
        return
    quote = await _latest_own(turn)
    if quote is None:
        await turn.reply(
            "近 24 小时内没有你记录的客户原话。更正更早的原话，请在客户档案里找到编号，"
            "回复「更正 #编号 正确内容」。"
        )
        return
    await apply_correction(turn, quote, args, newest=True)


async def show(turn: Turn, args: str) -> None:
    """原话 #编号: the ledger entry as recorded: both recognitions, the corrections, the flags."""
    numbered = parse_number(args)
    if numbered is None or numbered[1].strip():
        await turn.reply("用法：原话 #编号（编号见客户档案的开放需求）。")
        return
    quote_id = numbered[0]
    quote = await find_quote(turn, quote_id)
    if quote is None or (quote.rep_id != turn.user.id and not (turn.user.roles & VIEWERS)):
        await turn.reply(f"没有找到原话 #{quote_id}。")
        return
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
            lines.append("本地转写：无（记录时本机没有启用语音模型）")
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
    quote = await _own_quote(turn, int(raw)) if raw.isdecimal() else None
    if quote is None:
        return
    value = event.values[0] if event.values else ""
    if value not in ("1", FIX_OPTION):
        await turn.reply("请点「更正原话」。")
        return
    await start_form(turn, "quote_correction", context={"quote_id": quote.id})


async def complete_correction(turn: Turn, result: FormResult) -> None:
    quote = await _own_quote(turn, int(result.context.get("quote_id") or 0))
    if quote is not None:
        answer = str(result.answers.get("text", ""))
        # Asked for the words, a rep often types the whole command again (「更正 …」, 「更正 #12 …」).
        if answer.strip().startswith("更正"):
            answer = answer.strip().removeprefix("更正")
            numbered = parse_number(answer)
            if numbered is not None and numbered[0] == quote.id:
                answer = numbered[1]
        await apply_correction(turn, quote, answer)


def setup(registry: Registry) -> None:
    registry.command(
        Command(
            ("更正",),
            correct,
            "更正客户原话的转写（更正 #编号 正确内容），原话保留",
            in_form=True,
        )
    )
    registry.command(Command(("原话",), show, "查看一条客户原话的完整记录（原话 #编号）"))
    registry.card(CARD_PREFIX, card)
    registry.completer("quote_correction", complete_correction)
