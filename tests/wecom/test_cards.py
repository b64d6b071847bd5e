"""Choice prompts as template cards: clicking advances the form and updates the card; text works too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypedDict

from bot.testing import make_settings
from config.settings import Settings
from tests.core.formkit import FORMKIT_MODULES
from tests.wecom.world import read, wecom_world

FORMS = Path(__file__).resolve().parents[1] / "core" / "forms_alltypes.toml"
PHOTO = Path(__file__).resolve().parents[1] / "data" / "photo.jpg"


class FormWorld(TypedDict):
    """The keyword arguments of ``wecom_world`` for a bot that runs the all-types test form."""

    settings: Settings
    modules: tuple[str, ...]


def settings(tmp_path: Path) -> FormWorld:
    return {"settings": make_settings(tmp_path, forms={"path": str(FORMS)}), "modules": FORMKIT_MODULES}


async def test_card_clicks_advance_the_form_and_update_the_cards(tmp_path: Path) -> None:
    async with wecom_world(tmp_path, **settings(tmp_path)) as w:
        await w.add_user("wanglei", "王磊")
        await w.say("wanglei", "测试表单")
        (first,) = w.cards_to("wanglei")
        assert first["card_type"] == "button_interaction" and first["main_title"]["title"] == "类型？"
        assert [b["key"] for b in first["button_list"]] == ["1", "2", "3"]
        assert "2. 交付延迟" in first["sub_title_text"] and "回复 1–3" in first["sub_title_text"]

        await w.click("wanglei", 2)
        second = w.cards_to("wanglei")[-1]
        assert second["card_type"] == "vote_interaction" and second["checkbox"]["mode"] == 1
        assert "标签？" in second["main_title"]["title"]

        await w.click("wanglei", 1, 3, spelling="OpitonIds")
        assert w.received("wanglei")[-1] == "编号？"
        labels = [u["button"]["replace_name"] for u in w.emulator.card_updates]
        assert labels == ["已选：交付延迟", "已选：甲、丙"]
        assert [u["task_id"] for u in w.emulator.card_updates] == [first["task_id"], second["task_id"]]
        assert all(u["userids"] == ["wanglei"] for u in w.emulator.card_updates)


async def test_typing_the_number_works_as_well_as_clicking(tmp_path: Path) -> None:
    async with wecom_world(tmp_path, **settings(tmp_path)) as w:
        await w.add_user("wanglei", "王磊")
        await w.say("wanglei", "测试表单")
        await w.say("wanglei", "1")
        assert "标签？" in w.received("wanglei")[-1]
        assert w.emulator.card_updates == []


async def test_a_click_delivered_twice_counts_once(tmp_path: Path) -> None:
    async with wecom_world(tmp_path, **settings(tmp_path)) as w:
        await w.add_user("wanglei", "王磊")
        await w.say("wanglei", "测试表单")
        card = w.cards_to("wanglei")[-1]
        code = w.emulator.issue_click_code(card["task_id"])
        when = w.wecom.create_time()
        for _ in range(2):
            posted = await w.wecom.card_click(
                "wanglei",
                task_id=card["task_id"],
                event_key="3",
                response_code=code,
                card_type="button_interaction",
                create_time=when,
            )
            assert posted.status == 200
        await w.settle()
        assert sum("说明其他" in t for t in w.received("wanglei")) == 1
        assert len(w.emulator.card_updates) == 1


async def test_an_old_card_is_recognised(tmp_path: Path) -> None:
    async with wecom_world(tmp_path, **settings(tmp_path)) as w:
        await w.add_user("wanglei", "王磊")
        await w.say("wanglei", "测试表单")
        old = w.cards_to("wanglei")[-1]
        await w.say("wanglei", "2")  # answered by text; the card is now stale
        code = w.emulator.issue_click_code(old["task_id"])
        await w.wecom.card_click(
            "wanglei",
            task_id=old["task_id"],
            event_key="1",
            response_code=code,
            card_type="button_interaction",
        )
        await w.settle()
        assert any("这张卡片已过期" in t for t in w.received("wanglei"))
        assert "标签？" in w.received("wanglei")[-1]


async def test_whole_form_through_wecom(tmp_path: Path) -> None:
    photo = read(PHOTO)
    async with wecom_world(tmp_path, **settings(tmp_path)) as w:
        await w.add_user("wanglei", "王磊")
        await w.say("wanglei", "测试表单")
        await w.click("wanglei", 1)
        await w.click("wanglei", 2)
        for answer in ("AB-123", "5", "3万", "2026-12-01", "2026-12-01 14:00"):
            await w.say("wanglei", answer)
        await w.click("wanglei", 1)  # 同意吗？ 是
        await w.say("wanglei", "跳过")
        for answer in ("1", "张主任", "2", "李科长"):
            await w.say("wanglei", answer)
        await w.click("wanglei", 2)  # 再添加一项？ 否
        await w.wecom.image("wanglei", w.emulator.add_media(photo, "p.jpg", "image/jpeg"))
        await w.settle()
        done = w.received("wanglei")[-1]
        assert done.startswith("完成：")
        answers = json.loads(done.removeprefix("完成："))
        assert answers["kind"] == "采购成本高" and answers["tags"] == ["乙"] and answers["code"] == "AB-123"
        assert [p["name"] for p in answers["people"]] == ["张主任", "李科长"]
