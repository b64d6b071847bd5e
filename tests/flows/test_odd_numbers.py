"""Numbers typed in chat that ``str.isdigit()`` accepts and ``int()`` refuses (², ①), runs of thousands of
digits (more than ``int()`` converts) and ids beyond PostgreSQL's INTEGER: each gets the answer any unknown
number gets, never the apology for a failed event (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from bot.testing import BotHarness
from domain.numerals import row_id, small_number, typed_number
from storage.models import CompetitorAnalysis
from tests.flows.kit import add_customer, one, org
from tests.flows.test_competitor import fill_competitor


def test_a_typed_number_is_ascii_or_full_width_digits_and_not_too_long() -> None:
    assert (typed_number("12"), typed_number("１２"), typed_number("0"), typed_number("9" * 12)) == (
        12,
        12,
        0,
        999_999_999_999,
    )
    for odd in ("²", "①", "1²", "٣", "", " 1", "1.5", "1" * 13, "1" * 5000):
        assert typed_number(odd) is None, odd
    assert (row_id("2147483647"), row_id("2147483648"), row_id("0")) == (2147483647, None, None)
    assert (small_number("²"), small_number("十二"), small_number("１２")) == (None, 12, 12)


async def test_odd_numbers_in_chat_get_plain_answers(tmp_path: Path, db_url: str) -> None:
    async with BotHarness(tmp_path, db_url=db_url, jobs=False) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "wanglei")
        await bot.send("wanglei", "竞对分析 杭州市第一人民医院")
        await fill_competitor(bot)  # a review card now waits for 李强: a bare number would answer it
        for typed in ("²", "1,²", "①", "9" * 5000):
            r = await bot.send("liqiang", typed)
            assert r[-1].startswith("没听懂「"), typed
        assert (await one(bot, CompetitorAnalysis)).status == "pending_review"
        r = await bot.send("liqiang", "１")  # full-width, as a Chinese keyboard types it: option 1
        assert "已通过竞对分析 #" in r[-1]
        for typed, shown in (
            ("审核 " + "9" * 5000, "9" * 20 + "…"),
            ("审核 99999999999", "99999999999"),
            ("批注 ＃2147483648 请补充", "2147483648"),
        ):
            assert await bot.send("liqiang", typed) == [f"没有编号为 {shown} 的待审竞对分析。"], typed
        assert await bot.send("liqiang", "审核 ²") == ["用法：审核 <编号> 通过，或 批注 <编号> <意见>。"]
        for ref in ("#99999999999", "#" + "9" * 5000, "#²"):
            r = await bot.send("admin", f"设置主管 {ref} 李强")
            assert r[-1].startswith("没有找到同事“#"), ref
        assert not any("出错了" in t for t in bot.texts_to("liqiang") + bot.texts_to("admin"))
