"""更正 and 原话 read a quote's number the same way (#1, ＃１, or a bare 1 then a space), and the reply says
which quote was corrected; a number no quote can have gets the answer an unknown number gets, on SQLite
and PostgreSQL (console; the quotes are appended straight to the ledger as the form would)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.testing import BotHarness
from core.events import CardActionEvent
from speech.ledger import verify_chain
from storage.models import QuoteAnnotation
from tests.flows.kit import org
from tests.flows.test_quote_corrections import quote_by


def wide(number: int) -> str:
    """The number in full-width digits, as a Chinese keyboard types it (１２)."""
    return "".join(chr(ord(d) + 0xFEE0) for d in str(number))


async def corrections(bot: BotHarness) -> list[tuple[int, str]]:
    async with bot.session() as s:
        notes = (await s.execute(select(QuoteAnnotation).order_by(QuoteAnnotation.seq))).scalars()
        return [(n.quote_id, n.text) for n in notes if n.kind == "correction"]


async def test_every_number_form_names_the_same_quote(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, jobs=False) as bot:
        await org(bot)
        first = await quote_by(bot, "wanglei")
        newest = await quote_by(bot, "wanglei")
        # A bare number, as 原话 1 accepts: quote #1, not the newest, and the reply says so.
        r = await bot.send("wanglei", f"更正 {first} 客户说器械包的灭菌兼容性有问题")
        assert r[-1].startswith(f"已记录更正（原话 #{first}，11-23 09:00 记录），原话保留不变：")
        assert r[-1].endswith("销售更正：“客户说器械包的灭菌兼容性有问题”")
        r = await bot.send("wanglei", f"更正 ＃{wide(first)}：器械包的灭菌兼容性")
        assert r[-1].startswith(f"已更新更正（原话 #{first}，")
        r = await bot.send("wanglei", f"更正#{first} 器械包灭菌兼容性")
        assert r[-1].startswith(f"已更新更正（原话 #{first}，")
        # Words that begin with a number are words: the newest quote, named as such.
        r = await bot.send("wanglei", "更正 3家医院都在用这款器械包")
        assert r[-1].startswith(f"已记录更正（你最近的一条原话 #{newest}，")
        assert "更正的不是这条？请回复「更正 #编号 正确内容」" in r[-1]
        assert await corrections(bot) == [
            (first, "客户说器械包的灭菌兼容性有问题"),
            (first, "器械包的灭菌兼容性"),
            (first, "器械包灭菌兼容性"),
            (newest, "3家医院都在用这款器械包"),
        ]
        for typed in (f"原话 {first}", f"原话 ＃{wide(first)}", f"原话 #{first}"):
            r = await bot.send("wanglei", typed)
            assert r[-1].startswith(f"原话 #{first}（2026-11-23 09:00，4 秒录音）"), typed
        r = await bot.send("wanglei", f"原话 {first} 看看")
        assert r[-1] == "用法：原话 #编号（编号见客户档案的开放需求）。"
        async with bot.session() as s:
            assert (await verify_chain(s)).ok


async def test_a_number_too_large_for_any_quote_is_an_unknown_quote(tmp_path: Path, db_url: str) -> None:
    async with BotHarness(tmp_path, db_url=db_url, jobs=False) as bot:
        await org(bot)
        await quote_by(bot, "wanglei")
        for number in ("99999999999999999999", "9223372036854775808", "2147483648"):
            for typed in (f"更正 #{number} 客户说的是别的", f"更正 {number} 客户说的是别的"):
                r = await bot.send("wanglei", typed)
                assert r == [f"没有找到原话 #{number}，请核对编号（客户档案里的「原话 #编号」）。"], typed
            r = await bot.send("wanglei", f"原话 #{number}")
            assert r == [f"没有找到原话 #{number}。"]
        # A forged card click with such a number: the same answer, no apology.
        event = CardActionEvent(
            channel="console",
            event_id="forged-1",
            sender_id="wanglei",
            card_id="quote:99999999999999999999",
            values=["1"],
        )
        await bot.submit(event)
        replies = bot.texts_to("wanglei")
        assert replies[-1] == "没有找到原话 #99999999999999999999，请核对编号（客户档案里的「原话 #编号」）。"
        assert not any("出错了" in t for t in replies)
        assert await corrections(bot) == []
