"""更正 takes a quote's number after # or ＃ (ASCII or full-width digits); words that start with a bare number
are words, for the newest quote (原话 also reads a bare number, with nothing after it). The reply says which
quote was corrected; a number no quote can have, however long, gets the answer an unknown number gets, on
SQLite and PostgreSQL (console; the quotes are appended straight to the ledger as the form would)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot.testing import BotHarness
from core.events import CardActionEvent
from speech.ledger import verify_chain
from storage.models import QuoteAnnotation
from tests.flows.kit import org
from tests.flows.test_quote_corrections import SAID, quote_by


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
        r = await bot.send("wanglei", f"更正 #{first} 客户说器械包的灭菌兼容性有问题")
        assert r[-1].startswith(f"已记录你对原话 #{first}（11-23 09:00）的更正，原话保留不变：")
        assert r[-1].endswith("销售更正：“客户说器械包的灭菌兼容性有问题”")
        r = await bot.send("wanglei", f"更正 ＃{wide(first)}：器械包的灭菌兼容性")
        assert r[-1].startswith(f"已更新你对原话 #{first}（11-23 09:00）的更正，之前的更正也保留在记录里：")
        r = await bot.send("wanglei", f"更正#{first} 器械包灭菌兼容性")
        assert r[-1].startswith(f"已更新你对原话 #{first}（")
        # Words that begin with a number are words: the newest quote, named as such.
        r = await bot.send("wanglei", "更正 3家医院都在用这款器械包")
        assert r[-1].startswith(f"已记录你对最近一条原话 #{newest}（11-23 09:00）的更正，原话保留不变：")
        assert "更正的不是这条？请回复「更正 #编号 正确内容」" in r[-1]
        assert await corrections(bot) == [
            (first, "客户说器械包的灭菌兼容性有问题"),
            (first, "器械包的灭菌兼容性"),
            (first, "器械包灭菌兼容性"),
            (newest, "3家医院都在用这款器械包"),
        ]
        for typed in (f"原话 {first}", f"原话 ＃{wide(first)}", f"原话 #{first}", f"原话 {wide(first)}"):
            r = await bot.send("wanglei", typed)
            assert r[-1].startswith(f"原话 #{first}（2026-11-23 09:00，4 秒录音）"), typed
        r = await bot.send("wanglei", f"原话 {first} 看看")
        assert r[-1] == "用法：原话 #编号（编号见客户档案的开放需求）。"
        async with bot.session() as s:
            assert (await verify_chain(s)).ok


async def test_words_that_start_with_a_bare_number_are_words_for_the_newest_quote(tmp_path: Path) -> None:
    """更正 used to read a bare number as the quote's: 「更正 1:30之前必须送到手术室」 put 「30之前…」 on #1,
    「更正 1，2 台都坏了」 put 「2 台都坏了」 on #1, 「更正 2024 年预算没了」 answered 没有找到原话 #2024."""
    async with BotHarness(tmp_path, jobs=False) as bot:
        await org(bot)
        first = await quote_by(bot, "wanglei")
        newest = await quote_by(bot, "wanglei")
        other = await quote_by(bot, "zhangting")  # not the rep's own: no pointer to it
        newest_head = f"已记录你对最近一条原话 #{newest}（11-23 09:00）的更正，原话保留不变："
        r = await bot.send("wanglei", f"更正 {first}:30之前必须送到手术室")
        assert r[-1] == (
            f"{newest_head}\n原话：“{SAID}”\n销售更正：“{first}:30之前必须送到手术室”\n"
            f"如果要更正原话 #{first}，请发「更正 #{first} 正确内容」。"
        )
        r = await bot.send("wanglei", f"更正 {wide(first)}，2 台都坏了")
        assert r[-1].startswith(f"已更新你对最近一条原话 #{newest}（")
        assert r[-1].endswith(f"\n如果要更正原话 #{first}，请发「更正 #{first} 正确内容」。")
        r = await bot.send("wanglei", "更正 2024 年预算没了")
        assert r[-1].startswith(f"已更新你对最近一条原话 #{newest}（")
        assert r[-1].endswith("\n更正的不是这条？请回复「更正 #编号 正确内容」，编号见客户档案。")
        r = await bot.send("wanglei", f"更正 {other} 台设备都坏了")
        assert "如果要更正原话" not in r[-1] and "更正的不是这条？" in r[-1]
        # A bare number with nothing after it can only be a number.
        r = await bot.send("wanglei", f"更正 {first}")
        assert r[-1].startswith(f"请在「更正」后写上客户实际说的话，例如「更正 #{first} ")
        # The card's one-question form, answered with the command typed again: a bare number is words there
        # too.
        await bot.submit(
            CardActionEvent(
                channel="console", event_id="c-1", sender_id="wanglei", card_id=f"quote:{first}", values=["1"]
            )
        )
        assert "请输入客户实际说的话" in bot.texts_to("wanglei")[-1]
        r = await bot.send("wanglei", f"更正{first}:30之前必须送到手术室")
        assert r[-1].startswith(f"已记录你对原话 #{first}（11-23 09:00）的更正")
        assert await corrections(bot) == [
            (newest, f"{first}:30之前必须送到手术室"),
            (newest, f"{wide(first)}，2 台都坏了"),
            (newest, "2024 年预算没了"),
            (newest, f"{other} 台设备都坏了"),
            (first, f"{first}:30之前必须送到手术室"),
        ]
        # No quote in the last 24 hours: the usual answer, and the pointer to the rep's quote #1.
        await bot.advance(timedelta(days=2))
        r = await bot.send("wanglei", f"更正 {first}，2 台都坏了")
        assert r[-1] == (
            "近 24 小时内没有你记录的客户原话。更正更早的原话，请在客户档案里找到编号，回复「更正 #编号 正确内容」。"
            f"\n如果要更正原话 #{first}，请发「更正 #{first} 正确内容」。"
        )


async def test_a_number_too_large_for_any_quote_is_an_unknown_quote(tmp_path: Path, db_url: str) -> None:
    async with BotHarness(tmp_path, db_url=db_url, jobs=False) as bot:
        await org(bot)
        await quote_by(bot, "wanglei")
        for number in ("99999999999999999999", "9223372036854775808", "2147483648", "999999999999"):
            for typed in (f"更正 #{number} 客户说的是别的", f"更正 ＃{wide(int(number))}", f"更正 {number}"):
                r = await bot.send("wanglei", typed)
                assert r == [f"没有找到原话 #{number}，请核对编号（客户档案里的「原话 #编号」）。"], typed
            for typed in (f"原话 #{number}", f"原话 {number}"):
                r = await bot.send("wanglei", typed)
                assert r == [f"没有找到原话 #{number}。"]
        # Thousands of digits (more than int() reads): the same answers, the number cut short.
        digits = "1" * 5000
        for typed in (f"更正 #{digits} 客户说的是别的", f"更正 {digits}"):
            r = await bot.send("wanglei", typed)
            assert r == [f"没有找到原话 #{'1' * 20}…，请核对编号（客户档案里的「原话 #编号」）。"], typed
        for typed in (f"原话 #{digits}", f"原话 {digits}"):
            assert await bot.send("wanglei", typed) == [f"没有找到原话 #{'1' * 20}…。"]
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


async def test_the_card_form_takes_a_typed_correction_command_as_its_answer(tmp_path: Path) -> None:
    """The 更正原话 button on an older quote asks for the words; a rep who types 「更正 …」 there corrects
    that quote, not their newest one (更正 otherwise runs inside any form)."""
    async with BotHarness(tmp_path, jobs=False) as bot:
        await org(bot)
        first = await quote_by(bot, "wanglei")
        newest = await quote_by(bot, "wanglei")
        await bot.submit(
            CardActionEvent(
                channel="console", event_id="c-2", sender_id="wanglei", card_id=f"quote:{first}", values=["1"]
            )
        )
        assert "请输入客户实际说的话" in bot.texts_to("wanglei")[-1]
        r = await bot.send("wanglei", "更正 器械包的灭菌兼容性有问题")
        assert r[-1].startswith(f"已记录你对原话 #{first}（")
        assert await corrections(bot) == [(first, "器械包的灭菌兼容性有问题")]
        # Naming another quote there corrects that one.
        await bot.submit(
            CardActionEvent(
                channel="console", event_id="c-3", sender_id="wanglei", card_id=f"quote:{first}", values=["1"]
            )
        )
        r = await bot.send("wanglei", f"更正 #{newest} 交付周期太长")
        assert r[-1].startswith(f"已记录你对原话 #{newest}（")
        assert await corrections(bot) == [(first, "器械包的灭菌兼容性有问题"), (newest, "交付周期太长")]
