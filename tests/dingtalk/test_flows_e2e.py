"""The sales flow through the real DingTalk Stream SDK and the emulator: a visit application becomes a
planned visit and a brief; approval and refusal update it; after the visit a real voice note (the real
Whisper model) becomes the demand's verbatim quote, with DingTalk's own recognition kept beside it."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

from PIL import Image

from bot.testing import make_settings
from emulators.dingtalk.rig import DingTalkRig, dingtalk_bot
from speech.ledger import QuoteLedger, verify_chain
from speech.transcriber import WhisperTranscriber
from storage.models import Deadline, Demand, Quote, Visit
from tests.flows.kit import add_customer, one, rows
from tests.speech.conftest import audio, cer, model_dir, references, speech_settings, transcriber

__all__ = ["audio", "model_dir", "speech_settings", "transcriber"]

PROCESS = "PROC-VISIT-001"
SAID = "采购成本太高了，预算只有去年的八成。"
FORM = {
    "客户名称": "杭州一院",
    "拜访开始时间": "2026-11-23 14:00",
    "拜访结束时间": "2026-11-23 15:00",
    "拜访事由": "演示新款骨科耗材",
}


async def people(rig: DingTalkRig) -> None:
    await rig.bot.add_user(
        "liqiang", "李强", roles=("manager",), dingtalk_staff_id="0100", preferred_channel="dingtalk"
    )
    await rig.bot.add_user(
        "wanglei", "王磊", supervisor="liqiang", dingtalk_staff_id="0423", preferred_channel="dingtalk"
    )


async def approval(rig: DingTalkRig, instance: str, change: str, result: str | None = None) -> None:
    before = len(rig.emu.sent)
    message_id = rig.emu.push_approval(
        instance, process_code=PROCESS, change=change, staff_id="0423", result=result, form=FORM
    )
    await rig.deliver(message_id)
    await rig.emu.wait_for(lambda: len(rig.emu.sent) > before, what="the bot's answer to the approval")
    await rig.bot.settle()


async def test_visit_application_brief_approval_and_refusal(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path, dingtalk={"visit_process_codes": [PROCESS]}, jobs=False) as rig:
        await people(rig)
        cid = await add_customer(
            rig.bot, "杭州市第一人民医院", "wanglei", preferences="需提供3家同类医院使用案例"
        )
        await approval(rig, "PI-1", "start")
        brief = rig.texts("0423")[-1]
        assert brief.startswith("【拜访简报】杭州市第一人民医院") and "拜访时间：11-23 14:00–15:00" in brief
        assert "设备科 孙丽（设备科科长） ⚠️ 已 75 天未联系" in brief
        assert "决策者偏好：需提供3家同类医院使用案例" in brief
        visit = await one(rig.bot, Visit)
        assert (visit.customer_id, visit.status, visit.source_channel) == (cid, "planned", "dingtalk")
        await approval(rig, "PI-1", "finish", "agree")
        assert "拜访申请已通过：杭州市第一人民医院" in rig.texts("0423")[-1]
        assert (await one(rig.bot, Visit)).status == "approved"

        await approval(rig, "PI-2", "start")
        await approval(rig, "PI-2", "finish", "refuse")
        assert "拜访申请被拒绝" in rig.texts("0423")[-1]
        statuses = sorted(v.status for v in await rows(rig.bot, Visit))
        assert statuses == ["approved", "cancelled"]


async def test_after_the_visit_a_real_voice_note_becomes_the_quote(
    tmp_path: Path, transcriber: WhisperTranscriber, audio: Path
) -> None:
    async with dingtalk_bot(
        tmp_path,
        dingtalk={"visit_process_codes": [PROCESS]},
        transcriber=transcriber,
        quotes=QuoteLedger(),
        jobs=False,
    ) as rig:
        await people(rig)
        cid = await add_customer(rig.bot, "杭州市第一人民医院", "wanglei")
        await approval(rig, "PI-9", "start")
        await approval(rig, "PI-9", "finish", "agree")
        await rig.bot.advance(timedelta(hours=6, minutes=1))  # 15:01, after the planned end
        assert "请上传现场照片" in rig.texts("0423")[-1]
        Image.new("RGB", (64, 48), (90, 90, 90)).save(tmp_path / "door.jpg")
        await rig.deliver(rig.emu.push_picture("0423", (tmp_path / "door.jpg").read_bytes()))
        await rig.say("0423", "2")
        await rig.say("0423", "无")
        r = await rig.say("0423", "否")
        assert "发送一段语音" in r[-1]
        note = (audio / "sample2.wav").read_bytes()
        before = len(rig.texts("0423"))
        await rig.deliver(rig.emu.push_audio("0423", note, recognition=SAID, content_type="audio/wav"))
        r = rig.texts("0423")[before:]
        # DingTalk's own recognition is the quote's text (the rule in docs/speech.md)
        assert r[0] == "正在转写…" and r[1].startswith(f"客户原话已记录（原话 #1，不可修改）：“{SAID}”")
        await rig.say("0423", "采购成本高")
        r = await rig.say("0423", "无")
        assert any("需求确认单已提交（按时完成）" in x for x in r)
        quote, demand = await one(rig.bot, Quote), await one(rig.bot, Demand)
        # The whole note arrived (a partial read once truncated it) and is the ledger's audio.
        assert quote.audio_sha256 == hashlib.sha256(note).hexdigest()
        assert cer(quote.transcript, references()["sample2"]) <= 0.6, quote.transcript
        assert quote.platform_recognition == SAID  # kept beside the local transcript in the ledger entry
        assert (quote.customer_id, demand.quote_id, demand.text) == (cid, quote.id, SAID)
        r = await rig.say("0423", "原话 #1")
        assert f"平台识别：“{SAID}”（采用）" in r[-1] and f"本地转写：“{quote.transcript}”" in r[-1]

        # Later, from the profile: the rep corrects it by number; the profile shows both.
        r = await rig.say("0423", "更正 #1 采购成本太高了，预算只有去年的七成。")
        assert r[-1].startswith("已记录你对原话 #1（杭州市第一人民医院，11-23 15:01）的更正，原话保留不变")
        r = await rig.say("0423", "更正 #1 采购成本太高了，预算只有去年的七成。")
        assert r[-1] == "原话 #1 已经有这条更正了，不用重复提交。"
        r = await rig.say("0100", "更正 #1 不对")
        assert "只有记录人可以更正" in r[-1]
        r = await rig.say("0423", "客户 杭州市第一人民医院")
        assert f"原话 #1 “{SAID}”，销售更正（王磊）：“采购成本太高了，预算只有去年的七成。”" in r[-1]
        async with rig.bot.session() as s:
            assert (await verify_chain(s)).ok
        assert (await one(rig.bot, Deadline, Deadline.kind == "demand_confirmation")).on_time is True


async def test_without_a_local_model_dingtalks_recognition_is_the_quote(tmp_path: Path, audio: Path) -> None:
    settings = make_settings(tmp_path, speech={"model": str(tmp_path / "no-such-model")})
    async with dingtalk_bot(
        tmp_path, settings=settings, dingtalk={"visit_process_codes": [PROCESS]}, jobs=False
    ) as rig:
        assert rig.bot.app.dispatcher.transcriber is None
        await people(rig)
        cid = await add_customer(rig.bot, "杭州市第一人民医院", "wanglei")
        await approval(rig, "PI-9", "start")
        await approval(rig, "PI-9", "finish", "agree")
        await rig.bot.advance(timedelta(hours=6, minutes=1))
        Image.new("RGB", (64, 48), (90, 90, 90)).save(tmp_path / "door.jpg")
        await rig.deliver(rig.emu.push_picture("0423", (tmp_path / "door.jpg").read_bytes()))
        for answer in ("2", "无", "否"):
            await rig.say("0423", answer)
        note = (audio / "sample3.amr").read_bytes()
        before = len(rig.texts("0423"))
        await rig.deliver(rig.emu.push_audio("0423", note, recognition=SAID, duration_ms=3880))
        r = rig.texts("0423")[before:]
        assert r[0].startswith(f"客户原话已记录（原话 #1，不可修改）：“{SAID}”")
        assert "本地转写暂未启用，这条原话采用平台识别的文字，原始录音已保存。" in r[0]
        await rig.say("0423", "采购成本高")
        await rig.say("0423", "无")
        quote, demand = await one(rig.bot, Quote), await one(rig.bot, Demand)
        assert (quote.transcript, quote.model_name, quote.platform_recognition) == ("", "none", SAID)
        assert quote.audio_sha256 == hashlib.sha256(note).hexdigest() and quote.duration_s == 3.88
        assert (quote.customer_id, demand.quote_id, demand.text) == (cid, quote.id, SAID)
        r = await rig.say("0423", "原话 #1")
        assert r[-1].splitlines() == [
            f"原话 #1（2026-11-23 15:01，4 秒录音）：“{SAID}”",
            f"平台识别：“{SAID}”（采用）",
            "本地转写：无（记录时未启用）",
        ]
        r = await rig.say("0423", "客户 杭州市第一人民医院")
        assert f"原话 #1 “{SAID}”" in r[-1] and "转写可能不准" not in r[-1]
        async with rig.bot.session() as s:
            assert (await verify_chain(s, check_audio=True)).ok
