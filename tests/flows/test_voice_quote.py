"""The demand confirmation with the real speech model: a voice note becomes the customer's quote in the
append-only ledger and the demand's text, on the console and through the real WeCom channel."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from bot.testing import BotHarness
from speech.ledger import verify_chain
from speech.transcriber import WhisperTranscriber
from storage.models import Deadline, Demand, Quote, QuoteAnnotation, Visit
from tests.flows.kit import add_customer, one, org, visit_fields
from tests.flows.test_wecom import change
from tests.speech.conftest import cer, references
from tests.wecom.world import read, wecom_world


def small_photo(path: Path) -> Path:
    Image.new("RGB", (64, 48), (90, 90, 90)).save(path)
    return path


async def test_voice_note_becomes_the_demands_quote_and_the_rep_corrects_it(
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
        recorded = next(x for x in r if x.startswith("客户原话已记录（原话 #1，不可修改）"))
        assert "回复「更正 正确内容」" in recorded
        # Within the form: nothing after 更正 gets a clear answer, then a real correction; the form
        # asks its question again.
        r = await bot.send("wanglei", "更正")
        assert "请在「更正」后写上客户实际说的话" in r[0] and "业务场景" in r[-1]
        r = await bot.send("wanglei", "更正 采购成本太高了，预算只有去年的八成。")
        assert r[0].startswith("已记录你对最近一条原话 #1（杭州市第一人民医院，") and "业务场景" in r[-1]
        r = await bot.send("wanglei", "更正 采购成本太高了，预算只有去年的八成。")
        assert r[0] == "原话 #1 已经有这条更正了，不用重复提交。"
        await bot.send("wanglei", "采购成本高")
        r = await bot.send("wanglei", "无")
        assert any("需求确认单已提交（按时完成）" in x for x in r)
        assert "原话 #1：“" in r[-1] and "1. 更正原话" in r[-1]  # the card, with its text fallback
        quote, demand, visit = await one(bot, Quote), await one(bot, Demand), await one(bot, Visit)
        assert quote.transcript in recorded and demand.text == quote.transcript
        assert cer(quote.transcript, references()["sample2"]) <= 0.6, quote.transcript
        assert (quote.customer_id, quote.visit_id, quote.model_name) == (cid, visit.id, "whisper-base")
        assert (demand.quote_id, demand.scenario) == (quote.id, "采购成本高")
        assert (await one(bot, Deadline, Deadline.kind == "demand_confirmation")).on_time is True

        # The card's button: a one-question form; the answer is a second correction, the first stays.
        r = await bot.click("wanglei", "更正原话")
        assert "请输入客户实际说的话" in r[-1]
        r = await bot.send("wanglei", "采购成本太高了，今年预算只有去年的八成。")
        assert r[-1].startswith(
            "已更新你对原话 #1（杭州市第一人民医院，11-23 11:00）的更正，之前的更正也保留"
        )

        # Someone else cannot correct it; the supervisor sees it in the profile beside the original.
        r = await bot.send("liqiang", "更正 #1 客户很满意")
        assert r[-1] == "原话 #1 是王磊记录的，只有记录人可以更正。如有出入，请联系王磊。"
        r = await bot.send("wanglei", "客户 杭州市第一人民医院")
        line = next(x for x in r[-1].splitlines() if "原话 #1" in x)
        assert f"“{quote.transcript}”" in line
        assert "，销售更正（王磊）：“采购成本太高了，今年预算只有去年的八成。”" in line
        r = await bot.send("liqiang", "原话 #1")
        assert r[-1].count("销售更正（王磊") == 2

        async with bot.session() as s:
            report = await verify_chain(s, check_audio=True)
            notes = (await s.execute(select(QuoteAnnotation).order_by(QuoteAnnotation.seq))).scalars().all()
        assert report.ok and report.annotations == 2
        assert [(n.kind, n.author_id, n.quote_id) for n in notes] == [
            ("correction", quote.rep_id, quote.id),
            ("correction", quote.rep_id, quote.id),
        ]
        assert quote.transcript == (await one(bot, Quote)).transcript  # the quote itself never changed


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
        assert any(x.startswith("客户原话已记录（原话 #1，不可修改）") for x in w.received("wanglei")[-3:])
        await w.say("wanglei", "交付延迟")
        await w.say("wanglei", "换过一家经销商")
        await w.say("wanglei", "他们也要从外地调货")
        assert any("需求确认单已提交" in x for x in w.received("wanglei")[-3:])
        quote, demand = await one(w.bot, Quote), await one(w.bot, Demand)
        assert (
            demand.text == quote.transcript
            and quote.customer_id == cid
            and quote.audio_format.startswith("amr")
        )
        assert cer(quote.transcript, references()["sample3"]) <= 0.6, quote.transcript
        # The 更正原话 button on the WeCom card, then the words: a correction in the ledger.
        assert w.cards_to("wanglei")[-1]["main_title"]["title"].startswith("原话 #1")
        await w.click("wanglei", 1)
        await w.settle()
        assert "请输入客户实际说的话" in w.received("wanglei")[-1]
        await w.say("wanglei", "交付周期太长，上次等了三个星期才到货。")
        assert w.received("wanglei")[-1].startswith("已记录你对原话 #1（")
        await w.say("wanglei", "更正 #1")
        assert "请在「更正」后写上客户实际说的话" in w.received("wanglei")[-1]
        async with w.bot.session() as s:
            report = await verify_chain(s)
            kinds = (await s.execute(select(QuoteAnnotation.kind))).scalars().all()
        assert report.ok and kinds.count("correction") == 1


async def test_a_doubtful_recognition_is_flagged_and_the_rep_asked_to_check(
    tmp_path: Path, transcriber: WhisperTranscriber, audio: Path
) -> None:
    """The platform heard something else entirely: the quote is marked 转写可能不准 in the ledger and
    wherever it is shown, and the rep is asked to check it."""
    async with BotHarness(tmp_path, transcriber=transcriber) as bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "wanglei")
        await bot.approval("wanglei", "AP-1", "submitted", visit_fields("杭州市第一人民医院"))
        await bot.advance(timedelta(hours=2))
        await bot.photo("wanglei", small_photo(tmp_path / "p.jpg"))
        await bot.send("wanglei", "确定预算范围")
        await bot.send("wanglei", "无")  # no key person met
        await bot.send("wanglei", "否")
        heard = "价格可以接受，下周就签合同"
        r = await bot.voice("wanglei", audio / "sample4.wav", recognition=heard)
        recorded = next(x for x in r if x.startswith("客户原话已记录"))
        assert f"：“{heard}”" in recorded  # the platform's text is the quote's text
        assert "⚠️ 转写可能不准（平台识别与本地转写差别较大），请对照录音核对。" in recorded
        await bot.send("wanglei", "售后响应慢")
        await bot.send("wanglei", "无")
        r = await bot.send("wanglei", "客户 杭州市第一人民医院")
        assert f"原话 #1 “{heard}”（转写可能不准）" in r[-1]
        r = await bot.send("wanglei", "原话 #1")
        assert "本地转写：“设备科对售后服务的响应时间不太满意" in r[-1]
        async with bot.session() as s:
            note = (await s.execute(select(QuoteAnnotation))).scalar_one()
            assert (note.kind, note.author_id) == ("doubt", None)
            assert (await verify_chain(s)).ok
