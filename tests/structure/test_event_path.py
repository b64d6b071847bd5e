"""An event's path as named steps: each step answers what it is for, and the log names it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.testing import BotHarness, make_settings
from core.events import CardActionEvent
from handlers.router import STEPS, EventPath, Router
from tests.structure.pathkit import PATHKIT_MODULES

FORMS = Path(__file__).parents[1] / "core" / "forms_alltypes.toml"


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    settings = make_settings(tmp_path, forms={"path": str(FORMS)})
    async with BotHarness(tmp_path, settings=settings, modules=PATHKIT_MODULES, jobs=False) as harness:
        await harness.add_user("rep", "王磊")
        yield harness


def last_step(caplog: pytest.LogCaptureFixture) -> str:
    handled = [r for r in caplog.records if r.getMessage() == "event handled"]
    assert handled, "no event handled"
    return str(getattr(handled[-1], "step", ""))


@pytest.fixture(autouse=True)
def _events_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="actionflow.events")


def test_the_path_is_the_documented_list_of_steps() -> None:
    assert [s.__name__ for s in STEPS] == [
        "resolve_sender",
        "unknown_sender",
        "media",
        "approval",
        "card",
        "open_form",
        "number_after_card",
        "command",
        "fallback",
    ]


async def test_unknown_sender_is_answered_by_its_step(
    bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    replies = await bot.send("stranger", "你好")
    assert replies and "管理员" in replies[0]
    assert last_step(caplog) == "unknown_sender"


async def test_resolve_sender_remembers_the_channel_used(
    bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    await bot.send("rep", "帮助")
    assert (await bot.user("rep")).preferred_channel == "console"


async def test_approval_goes_to_the_approval_handler(
    bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    replies = await bot.approval("rep", "AP-7", "approved", {})
    assert replies == ["审批 AP-7 approved"]
    assert last_step(caplog) == "approval"


async def test_card_click_goes_to_its_feature(bot: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    await bot.send("rep", "探针卡片")
    assert await bot.click("rep", "绿") == ["选了 绿"]
    assert last_step(caplog) == "card"


async def test_form_card_after_the_form_ended(bot: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    click = CardActionEvent(
        channel="console", event_id="c1", sender_id="rep", sender_name="王磊", card_id="f99.1", values=["1"]
    )
    await bot.submit(click)
    assert bot.texts_to("rep")[-1] == "这张卡片对应的表单已经结束了。"
    assert last_step(caplog) == "card"


async def test_open_form_takes_the_answer(bot: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    await bot.send("rep", "短表单")
    assert any("第二题" in r for r in await bot.send("rep", "第一题的答案"))
    assert last_step(caplog) == "open_form"
    replies = await bot.send("rep", "查询 杭州")  # a command allowed in forms runs, then the question again
    assert replies[0] == "查询结果：杭州" and "第二题" in replies[-1]
    assert last_step(caplog) == "open_form"


async def test_number_after_a_card_answers_it(bot: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    await bot.send("rep", "探针卡片")
    assert await bot.send("rep", "2") == ["选了 2"]
    assert last_step(caplog) == "number_after_card"
    await bot.send("rep", "9")  # not an option: not an answer to the card
    assert last_step(caplog) == "fallback"


async def test_command_runs_a_command(bot: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    replies = await bot.send("rep", "查询 杭州")
    assert replies == ["查询结果：杭州"]
    assert last_step(caplog) == "command"


async def test_fallback_says_what_was_not_understood(
    bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    replies = await bot.send("rep", "随便说点什么")
    assert replies == ["没听懂「随便说点什么」。回复「帮助」查看可用的命令。"]
    assert last_step(caplog) == "fallback"


async def test_media_step_builds_the_turn_with_the_stored_photo(
    bot: BotHarness, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    from PIL import Image

    Image.new("RGB", (32, 24), (200, 10, 10)).save(tmp_path / "p.jpg")
    replies = await bot.photo("rep", tmp_path / "p.jpg")
    assert replies == ["已收到文件。当前没有需要上传照片或文件的表单。"]
    assert last_step(caplog) == "fallback"


async def test_adding_a_step_is_one_line(bot: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    async def quiet_hours(path: EventPath) -> bool:
        await path.turn.reply("现在是休息时间。")
        return True

    router = bot.app.dispatcher.router
    bot.app.dispatcher.router = Router(router.registry, (*STEPS[:3], quiet_hours, *STEPS[3:]))
    assert await bot.send("rep", "帮助") == ["现在是休息时间。"]
    assert last_step(caplog) == "quiet_hours"
