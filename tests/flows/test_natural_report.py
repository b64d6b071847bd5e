"""A visit report answered the way reps type: 「是的，……」 keeps the rest as the progress note."""

from __future__ import annotations

from pathlib import Path

from bot.testing import BotHarness
from storage.models import ProgressUpdate
from tests.flows.kit import add_customer, exif_jpeg, one, org


async def test_the_rest_of_a_yes_sentence_lands_in_the_progress_note(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await org(bot)
        await add_customer(bot, "富阳区人民医院", "wanglei")
        await bot.send("wanglei", "拜访完成 富阳区人民医院")
        await bot.photo("wanglei", exif_jpeg(tmp_path / "door.jpg"))
        r = await bot.send("wanglei", "院长说先把预算范围定下来，确定预算范围是这次最大的进展")
        assert "已记为备注" in r[0] and "见到了哪些关键人" in r[-1], r
        r = await bot.send("wanglei", "无")
        assert "比较其他厂家" in r[-1], r
        r = await bot.send("wanglei", "是的，他说要再比较几家")
        assert "拜访报告已提交" in "\n".join(r), r
        update = await one(bot, ProgressUpdate, ProgressUpdate.kind == "visit_report")
    assert update.progress == "确定预算范围"
    assert "院长说先把预算范围定下来" in update.note and "他说要再比较几家" in update.note
