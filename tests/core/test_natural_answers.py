"""Answers as reps actually type them: 是的，…; 上周三; 明天下午三点; a paragraph where an option is asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.testing import BotHarness
from handlers.forms.fields import yes_no
from tests.core.test_forms import harness, result

# The harness clock starts on Mon 2026-11-23 09:00 Asia/Shanghai.


async def _to_confirm(bot: BotHarness) -> None:
    for answer in ["测试表单", "2", "1", "AB-123", "12", "1000", "今天", "9:00"]:
        await bot.send("rep", answer)


async def _finish(bot: BotHarness, data_dir: Path) -> list[str]:
    for answer in ["跳过", "1", "刘主任", "2", "孙科长", "否"]:
        await bot.send("rep", answer)
    return await bot.photo("rep", data_dir / "photo.jpg")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        *[
            (w, True)
            for w in [
                "是",
                "是的",
                "对",
                "对的",
                "嗯",
                "好",
                "有",
                "有的",
                "可以",
                "没问题",
                "是的。",
                "嗯嗯",
            ]
        ],
        *[(w, False) for w in ["没有", "不是", "否", "不", "没", "没有的", "不用了", "不对"]],
        *[(w, None) for w in ["也许", "不确定", "对方说再看看", "没准", "好像有吧", ""]],
    ],
)
def test_yes_and_no_words(text: str, value: bool | None) -> None:
    assert yes_no(text) is value


async def test_a_sentence_that_starts_with_yes_keeps_the_rest_as_a_note(
    tmp_path: Path, data_dir: Path
) -> None:
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        await _to_confirm(bot)
        r = await bot.send("rep", "是的，他说要再比较几家")
        assert any("已记为备注" in t and "他说要再比较几家" in t for t in r), r
        assert "备注？" in r[-1]  # accepted: the next question follows
        answers = result(await _finish(bot, data_dir))
    assert answers["agree"] is True
    assert answers["_notes"] == {"agree": "他说要再比较几家"}


async def test_a_sentence_that_starts_with_no(tmp_path: Path, data_dir: Path) -> None:
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        await _to_confirm(bot)
        await bot.send("rep", "没有，客户只用我们一家")
        answers = result(await _finish(bot, data_dir))
    assert answers["agree"] is False
    assert answers["_notes"] == {"agree": "客户只用我们一家"}


async def test_an_unclear_yes_no_is_asked_again_and_the_text_kept(tmp_path: Path, data_dir: Path) -> None:
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        await _to_confirm(bot)
        r = await bot.send("rep", "客户说下个月再定采购的事")
        assert "请回复「是」或「否」" in r[0] and "已先记下" in r[0], r
        assert "同意吗？" in r[-1]
        await bot.send("rep", "对")
        answers = result(await _finish(bot, data_dir))
    assert answers["agree"] is True
    assert answers["_notes"] == {"agree": "客户说下个月再定采购的事"}


async def test_a_paragraph_naming_one_option_is_taken_and_kept(tmp_path: Path, data_dir: Path) -> None:
    paragraph = "主要是交付延迟，上次设备晚到了两周，科室很不满意"
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        await bot.send("rep", "测试表单")
        r = await bot.send("rep", paragraph)
        assert any("已记为备注" in t for t in r), r
        assert "标签？" in r[-1]
        for answer in ["1", "AB-123", "12", "1000", "今天", "9:00", "是"]:
            await bot.send("rep", answer)
        answers = result(await _finish(bot, data_dir))
    assert answers["kind"] == "交付延迟"
    assert answers["_notes"] == {"kind": paragraph}


async def test_a_paragraph_naming_two_options_is_asked_again_and_kept(tmp_path: Path, data_dir: Path) -> None:
    paragraph = "采购成本高是一方面，交付延迟也让他们头疼"
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        await bot.send("rep", "测试表单")
        r = await bot.send("rep", paragraph)
        assert "「采购成本高」和「交付延迟」" in r[0] and "只能选一项" in r[0] and "已先记下" in r[0], r
        assert "类型？" in r[-1]
        r = await bot.send("rep", "2")
        assert "标签？" in r[-1]
        for answer in ["1", "AB-123", "12", "1000", "今天", "9:00", "是"]:
            await bot.send("rep", answer)
        answers = result(await _finish(bot, data_dir))
    assert answers["kind"] == "交付延迟"
    assert answers["_notes"] == {"kind": paragraph}


async def test_back_drops_the_note_of_the_answer_it_undoes(tmp_path: Path, data_dir: Path) -> None:
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        await _to_confirm(bot)
        await bot.send("rep", "是的，他说要再比较几家")
        await bot.send("rep", "返回")
        await bot.send("rep", "否")
        answers = result(await _finish(bot, data_dir))
    assert answers["agree"] is False
    assert "_notes" not in answers


@pytest.mark.parametrize(
    ("day", "moment", "expected_day", "expected_moment"),
    [
        ("上周三", "明天下午三点", "2026-11-18", "2026-11-24T15:00:00+08:00"),
        ("3号", "下周一 上午10点半", "2026-11-03", "2026-11-30T10:30:00+08:00"),
        ("11月20日", "12/3 15:30", "2026-11-20", "2026-12-03T15:30:00+08:00"),
        ("昨天", "晚上8点", "2026-11-22", "2026-11-23T20:00:00+08:00"),
    ],
)
async def test_natural_dates_and_times_in_a_form(
    tmp_path: Path, data_dir: Path, day: str, moment: str, expected_day: str, expected_moment: str
) -> None:
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        for answer in ["测试表单", "2", "1", "AB-123", "12", "1000"]:
            await bot.send("rep", answer)
        r = await bot.send("rep", day)
        assert "时间？" in r[-1], r
        r = await bot.send("rep", moment)
        assert "同意吗？" in r[-1], r
        await bot.send("rep", "是")
        answers = result(await _finish(bot, data_dir))
    assert answers["day"] == expected_day
    assert answers["meet"] == expected_moment


async def test_a_wrong_date_says_why(tmp_path: Path) -> None:
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        for answer in ["测试表单", "2", "1", "AB-123", "12", "1000"]:
            await bot.send("rep", answer)
        r = await bot.send("rep", "2月30日")
        assert "2月没有30日" in r[0], r
        assert "日期？" in r[-1]


async def test_a_kept_paragraph_goes_with_one_answer_only(tmp_path: Path, data_dir: Path) -> None:
    async with harness(tmp_path) as bot:
        await bot.add_user("rep")
        await bot.send("rep", "测试表单")
        await bot.send("rep", "采购成本高是一方面，交付延迟也让他们头疼")
        await bot.send("rep", "2")
        r = await bot.send("rep", "返回")
        assert "类型？" in r[-1]
        await bot.send("rep", "1")  # the note went with the undone answer
        for answer in ["1", "AB-123", "12", "1000", "今天", "9:00", "是"]:
            await bot.send("rep", answer)
        answers = result(await _finish(bot, data_dir))
    assert answers["kind"] == "采购成本高"
    assert "_notes" not in answers
