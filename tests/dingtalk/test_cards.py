"""Choice prompts as interactive cards with Stream callbacks; clicks advance forms; text always works."""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from bot.testing import make_settings
from emulators.dingtalk.rig import DingTalkRig, dingtalk_bot
from tests.core.formkit import FORMKIT_MODULES
from tests.dingtalk.helpers import STAFF, add_rep

FORMS = Path(__file__).resolve().parents[1] / "core" / "forms_alltypes.toml"
CARDS = {"card_template_id": "tpl-choice.schema"}


def _form_bot(tmp_path: Path, **dingtalk: object) -> AbstractAsyncContextManager[DingTalkRig]:
    settings = make_settings(tmp_path, forms={"path": str(FORMS)})
    return dingtalk_bot(tmp_path, settings=settings, modules=FORMKIT_MODULES, dingtalk={**CARDS, **dingtalk})


async def _click(rig: DingTalkRig, params: dict[str, object]) -> list[str]:
    before = len(rig.emu.messages_to(STAFF))
    await rig.deliver(rig.emu.click_card(STAFF, params))
    return rig.emu.texts_to(STAFF)[before:]


async def test_a_card_click_advances_the_form(tmp_path: Path) -> None:
    async with _form_bot(tmp_path) as rig:
        await add_rep(rig)
        await rig.say(STAFF, "测试表单")
        card = rig.emu.latest_card(STAFF)
        assert card is not None and card.callback_type == "STREAM" and card.template_id == "tpl-choice.schema"
        assert "类型？" in card.params["markdown"] and "回复 1–3" in card.params["markdown"]
        assert json.loads(card.params["options"])[1] == {"index": "2", "text": "交付延迟"}

        after = await _click(rig, {"action": "choose", "option": "2"})
        assert any("标签？" in t for t in after)
        # the ACK's response was applied: the card shows it was answered, the clicker sees their pick
        assert card.params["submitted"] == "true" and card.private[STAFF]["selected"] == "2"

        multi = rig.emu.latest_card(STAFF)
        assert multi is not None and multi is not card and multi.params["multi"] == "true"
        after = await _click(rig, {"action": "submit", "options": ["1", "3"]})
        assert any("编号？" in t for t in after)


async def test_a_select_component_uses_zero_based_indexes(tmp_path: Path) -> None:
    async with _form_bot(tmp_path) as rig:
        await add_rep(rig)
        await rig.say(STAFF, "测试表单")
        after = await _click(rig, {"select": {"index": 2}})  # the third option: 其他
        assert any("说明其他" in t for t in after)


async def test_a_click_on_an_old_card_is_told_apart(tmp_path: Path) -> None:
    async with _form_bot(tmp_path) as rig:
        await add_rep(rig)
        await rig.say(STAFF, "测试表单")
        first = rig.emu.latest_card(STAFF)
        assert first is not None
        await _click(rig, {"option": "1"})
        before = len(rig.emu.messages_to(STAFF))
        await rig.deliver(rig.emu.click_card(STAFF, {"option": "2"}, out_track_id=first.out_track_id))
        assert any("这张卡片已过期" in t for t in rig.emu.texts_to(STAFF)[before:])


async def test_when_card_creation_fails_the_prompt_goes_out_as_text(tmp_path: Path) -> None:
    async with _form_bot(tmp_path) as rig:
        await add_rep(rig)
        rig.emu.inject("card", "server_error")
        [_intro, question] = await rig.say(STAFF, "测试表单")
        assert "类型？" in question and "2. 交付延迟" in question and "回复 1–3" in question
        assert rig.emu.messages_to(STAFF)[-1].msg_key == "sampleText"
        assert any("标签？" in t for t in await rig.say(STAFF, "2"))  # the typed answer works


async def test_an_undelivered_card_falls_back_to_text(tmp_path: Path) -> None:
    async with _form_bot(tmp_path) as rig:
        await add_rep(rig)
        rig.emu.inject("card", "deliver_failed")
        replies = await rig.say(STAFF, "测试表单")
        assert "回复 1–3" in replies[-1] and rig.emu.messages_to(STAFF)[-1].api == "oto"


async def test_without_a_card_template_choices_are_text(tmp_path: Path) -> None:
    async with _form_bot(tmp_path, card_template_id="") as rig:
        await add_rep(rig)
        replies = await rig.say(STAFF, "测试表单")
        assert "回复 1–3" in replies[-1] and rig.emu.calls("card") == 0
