"""What reps really type outside any form: greetings get a greeting and what to do next, not 没听懂."""

from __future__ import annotations

from pathlib import Path

from bot.testing import BotHarness
from tests.flows.kit import org


async def test_greetings_answer_with_what_each_role_can_do_now(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        for text in ("你好", "在吗？", "Hi!", "您好。"):
            r = await bot.send("wanglei", text)
            assert len(r) == 1 and "没听懂" not in r[0], (text, r)
            assert r[0].startswith("王磊，你好！") and "回复「我的待跟进」" in r[0] and "回复「帮助」" in r[0]
        r = await bot.send("liqiang", "hi")
        assert "回复「待跟进客户」" in r[0] and "回复「健康指标」" in r[0] and "我的待跟进" not in r[0]
        # A greeting is only a greeting when it is the whole message.
        r = await bot.send("wanglei", "你好我想问一下返利")
        assert "没听懂" in r[0]


async def test_a_paused_form_is_offered_first(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await bot.send("wanglei", "新建客户")
        await bot.send("wanglei", "取消")
        r = await bot.send("wanglei", "你好")
        lines = r[0].splitlines()
        assert lines[1] == "· 回复「继续」接着填写「新建客户」", r[0]


async def test_product_and_finance_get_their_own_help(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await bot.add_user("chenchen", "陈晨", roles=("product",))
        await bot.add_user("zhaofang", "赵芳", roles=("finance",))
        await org(bot)
        product = (await bot.send("chenchen", "帮助"))[0]
        assert "需求主题" in product and "新建客户" not in product and "拜访完成" not in product
        assert "需求达到提醒条件时，我会主动发给你" in product and "「帮助 全部」" in product
        finance = (await bot.send("zhaofang", "帮助"))[0]
        assert "返利结果算好后，我会主动发给你" in finance and "竞对分析" not in finance
        hello = (await bot.send("zhaofang", "你好"))[0]  # nothing to suggest: no colon left hanging
        assert "：" not in hello and "返利结果算好后，我会主动发给你" in hello, hello
        everything = (await bot.send("zhaofang", "帮助 全部"))[0]
        assert "新建客户" in everything and "拜访完成" in everything
        rep = (await bot.send("wanglei", "帮助"))[0]
        assert "新建客户" in rep and "帮助 全部" not in rep


async def test_help_says_what_pausing_and_giving_up_a_form_do(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        text = (await bot.send("wanglei", "帮助"))[0]
        assert "「取消」暂停（「继续」接着填），「放弃」不再填写。" in text and "「取消」退出" not in text
