"""The demand confirmation with the real speech model: a voice note becomes the customer's quote in the
append-only ledger and the demand's text, on the console and through the real WeCom channel."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from PIL import Image

from bot.testing import BotHarness
from speech.ledger import verify_chain
from speech.transcriber import WhisperTranscriber
from storage.models import Deadline, Demand, Quote, Visit
from tests.flows.kit import add_customer, one, org, visit_fields
from tests.flows.test_wecom import change
from tests.speech.conftest import cer, references
from tests.wecom.world import read, wecom_world


def small_photo(path: Path) -> Path:
    Image.new("RGB", (64, 48), (90, 90, 90)).save(path)
    return path


async def test_voice_note_becomes_the_demands_quote(
    tmp_path: Path, transcriber: WhisperTranscriber, audio: Path
) -> None:
    async with BotHarness(tmp_path, transcriber=transcriber) as bot:
        await org(bot)
        cid = await add_customer(bot, "杭州市第一人民医院", "wanglei")
        await bot.approval("wanglei", "AP-1", "submitted", visit_fields("杭州市第一人民医院"))
        await bot.advance(timedelta(hours=2))
        await bot.photo("wanglei", small_photo(tmp_path / "p.jpg"))
        await bot.send("wanglei", "确定预算范围")
        await bot.send("wanglei", "无")
        r = await bot.send("wanglei", "否")
        assert "发送一段语音" in r[-1]
        r = await bot.voice("wanglei", audio / "sample2.wav")
        assert r[0] == "正在转写…"
        recorded = next(x for x in r if x.startswith("客户原话已记录（不可修改）"))
        await bot.send("wanglei", "采购成本高")
        r = await bot.send("wanglei", "无")
        assert "需求确认单已提交（按时完成）" in r[-1]
        quote, demand, visit = await one(bot, Quote), await one(bot, Demand), await one(bot, Visit)
        assert quote.transcript in recorded and demand.text == quote.transcript
        assert cer(quote.transcript, references()["sample2"]) <= 0.6, quote.transcript
        assert (quote.customer_id, quote.visit_id, quote.model_name) == (cid, visit.id, "whisper-base")
        assert (demand.quote_id, demand.scenario) == (quote.id, "采购成本高")
        assert (await one(bot, Deadline, Deadline.kind == "demand_confirmation")).on_time is True
        async with bot.session() as s:
            assert (await verify_chain(s, check_audio=True)).ok


async def test_the_whole_visit_through_wecom_with_a_real_voice_note(
    tmp_path: Path, transcriber: WhisperTranscriber, audio: Path
) -> None:
    async with wecom_world(tmp_path, transcriber=transcriber) as w:
        await w.add_user("wanglei", "王磊")
        cid = await add_customer(w.bot, "杭州市第一人民医院", "wanglei")
        await change(w, "202611230009", "杭州一院", 1, 1)
        assert w.received("wanglei")[-1].startswith("【拜访简报】杭州市第一人民医院")
        before = len(w.received("wanglei"))
        await w.bot.advance(timedelta(hours=6, minutes=1))  # 15:01, after the planned end at 15:00
        await w.settle()
        # (the manager loop's scheduled alerts may arrive in between: look at everything new)
        assert any("请上传现场照片" in x for x in w.received("wanglei")[before:])
        photo = read(small_photo(tmp_path / "door.jpg"))
        await w.wecom.image("wanglei", w.emulator.add_media(photo, "door.jpg", "image/jpeg"))
        await w.settle()
        await w.say("wanglei", "2")
        await w.say("wanglei", "无")
        await w.say("wanglei", "否")
        assert "发送一段语音" in w.received("wanglei")[-1]
        amr = read(audio / "sample3.amr")  # a real WeCom-style AMR note, with DTX silence frames
        await w.wecom.voice("wanglei", w.emulator.add_media(amr, "voice.amr", "audio/amr"))
        await w.settle()
        assert any(x.startswith("客户原话已记录（不可修改）") for x in w.received("wanglei")[-3:])
        await w.say("wanglei", "交付延迟")
        await w.say("wanglei", "换过一家经销商")
        await w.say("wanglei", "他们也要从外地调货")
        assert "需求确认单已提交" in w.received("wanglei")[-1]
        quote, demand = await one(w.bot, Quote), await one(w.bot, Demand)
        assert (
            demand.text == quote.transcript
            and quote.customer_id == cid
            and quote.audio_format.startswith("amr")
        )
        assert cer(quote.transcript, references()["sample3"]) <= 0.6, quote.transcript
