"""The quote card and 更正 on DingTalk (real Stream SDK and emulator): the card reads 「原话 #1」 as every
other message does, and 更正 takes the number as #1 or ＃１ (a bare 1 starts the words, for the newest quote),
or answers plainly when no quote can have it."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from emulators.dingtalk.rig import dingtalk_bot
from speech.ledger import QuoteLedger, verify_chain
from storage.models import QuoteAnnotation
from tests.dingtalk.test_flows_e2e import PROCESS, approval, people
from tests.flows.kit import ScriptedTranscriber, add_customer, scripted_note
from tests.flows.test_quote_corrections import quote_by

HEARD = "我们颗是最头疼的是气泄包的面均坚融性问题。"


async def test_the_quote_card_and_corrections_by_number(tmp_path: Path) -> None:
    scripted = ScriptedTranscriber()
    note = scripted_note(tmp_path, scripted, "n1", HEARD)
    settings = {"visit_process_codes": [PROCESS], "card_template_id": "tpl-choice.schema"}
    async with dingtalk_bot(
        tmp_path, dingtalk=settings, transcriber=scripted, quotes=QuoteLedger(), jobs=False
    ) as rig:
        await people(rig)
        await add_customer(rig.bot, "杭州市第一人民医院", "wanglei")
        await approval(rig, "PI-9", "start")
        await approval(rig, "PI-9", "finish", "agree")
        await rig.bot.advance(timedelta(hours=6, minutes=1))
        Image.new("RGB", (64, 48), (90, 90, 90)).save(tmp_path / "door.jpg")
        await rig.deliver(rig.emu.push_picture("0423", (tmp_path / "door.jpg").read_bytes()))
        for answer in ("2", "无", "否"):
            await rig.say("0423", answer)
        await rig.deliver(
            rig.emu.push_audio("0423", note.read_bytes(), recognition="", content_type="audio/wav")
        )
        await rig.say("0423", "采购成本高")
        await rig.say("0423", "无")
        card = rig.emu.latest_card("0423")
        assert card is not None
        assert card.params["prompt"].startswith(f"原话 #1：“{HEARD}”")  # not 原话 ＃1
        assert card.params["markdown"].startswith(f"原话 #1：“{HEARD}”")
        assert json.loads(card.params["options"])[0]["text"] == "更正原话"

        newer = await quote_by(rig.bot, "wanglei")  # a later quote: the newest is no longer #1
        r = await rig.say("0423", "更正 #1 我们科室最头疼的是器械包的灭菌兼容性问题")
        assert r[-1].startswith("已记录你对原话 #1（杭州市第一人民医院，11-23 15:01）的更正，原话保留不变：")
        r = await rig.say("0423", "更正 ＃１：我们科室最头疼的是器械包的灭菌兼容性")
        assert r[-1].startswith("已更新你对原话 #1（杭州市第一人民医院，")
        r = await rig.say("0423", "更正 1，2 台都坏了")  # words: the newest quote, with the way to #1
        assert r[-1].startswith(f"已记录你对最近一条原话 #{newer}（")
        assert r[-1].endswith("\n如果要更正原话 #1，请发「更正 #1 正确内容」。")
        r = await rig.say("0423", "更正 #99999999999999999999 客户说的是别的")
        assert r == ["没有找到原话 #99999999999999999999，请核对编号（客户档案里的「原话 #编号」）。"]
        r = await rig.say("0423", "原话 99999999999999999999")
        assert r == ["没有找到原话 #99999999999999999999。"]
        async with rig.bot.session() as s:
            notes = (await s.execute(select(QuoteAnnotation.quote_id, QuoteAnnotation.kind))).all()
            assert sorted(notes) == [(1, "correction"), (1, "correction"), (newer, "correction")]
            assert (await verify_chain(s)).ok
