"""After the visit: the report starts at the planned end or on 拜访完成; photo, progress, demand
confirmation with the customer's words; deadlines done on time or late."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

from PIL import Image

from bot.testing import BotHarness
from speech.ledger import QuoteLedger, verify_chain
from storage.models import (
    AuditLog,
    Customer,
    Deadline,
    Demand,
    MediaFile,
    Photo,
    ProgressUpdate,
    Quote,
    Visit,
)
from tests.flows.kit import (
    ScriptedTranscriber,
    add_customer,
    exif_jpeg,
    one,
    org,
    rows,
    scripted_note,
    visit_fields,
)

QUOTE = "手术室的器械包和我们现有的灭菌盒尺寸对不上，每次都要人工改包"


def harness(tmp_path: Path, db_url: str | None = None) -> tuple[BotHarness, ScriptedTranscriber]:
    transcriber = ScriptedTranscriber()
    return BotHarness(tmp_path, db_url=db_url, transcriber=transcriber, quotes=QuoteLedger()), transcriber


async def planned_visit(
    bot: BotHarness, start: tuple[int, int] = (10, 0), end: tuple[int, int] = (11, 0)
) -> int:
    cid = await add_customer(bot, "杭州市第一人民医院", "wanglei")
    await bot.approval("wanglei", "AP-1", "submitted", visit_fields("杭州市第一人民医院", start, end))
    await bot.approval("wanglei", "AP-1", "approved")
    return cid


async def deadline(bot: BotHarness, kind: str) -> Deadline:
    return await one(bot, Deadline, Deadline.kind == kind)


async def test_planned_end_starts_the_report_and_everything_is_on_time(tmp_path: Path, db_url: str) -> None:
    bot, transcriber = harness(tmp_path, db_url)
    async with bot:
        await org(bot)
        cid = await planned_visit(bot)
        r = await bot.advance(timedelta(hours=1, minutes=59))  # 10:59
        assert not any("拜访已结束" in x for x in r)
        r = await bot.advance(timedelta(minutes=1))  # 11:00, the planned end
        assert any("「杭州市第一人民医院」的拜访已结束" in x and "11:30 前提交" in x for x in r), r
        assert "请上传现场照片" in r[-1]
        r = await bot.send("wanglei", "我在医院门口")
        assert "这里需要发送一张照片" in r[0]
        not_a_picture = tmp_path / "scan.jpg"
        not_a_picture.write_bytes(b"%PDF-1.4 not a picture" * 50)
        r = await bot.photo("wanglei", not_a_picture)
        assert "不是可识别的图片" in r[0] and "请上传现场照片" in r[-1], r
        photo_path = exif_jpeg(tmp_path / "door.jpg")
        await bot.console.file("wanglei", photo_path)  # sent as an attachment first: kept as a file
        await bot.settle()
        r = await bot.photo("wanglei", photo_path)  # the same bytes as a picture are the photo
        assert "本次核心进展" in r[-1]
        await bot.send("wanglei", "确定预算范围")
        r = await bot.send("wanglei", "1,2")  # the two key persons on the chain were met
        assert "这次拜访时客户是否提到" in r[-1] or "比较其他厂家" in r[-1]
        r = await bot.send("wanglei", "否")
        assert "拜访报告已提交（按时完成）" in r[0] and "照片已保存、已加水印、含拍摄时间、含位置" in r[0]
        assert "需求确认单" in r[1] and "发送一段语音" in r[-1]
        r = await bot.send("wanglei", "客户说器械包尺寸不对")
        assert "文字不能代替原话" in r[0]
        r = await bot.voice("wanglei", scripted_note(tmp_path, transcriber, "q1", QUOTE))
        assert f"客户原话已记录（原话 #1，不可修改）：“{QUOTE}”" in "\n".join(r)
        await bot.send("wanglei", "合规风险")
        await bot.send("wanglei", "换过两家供应商的灭菌盒")
        r = await bot.send("wanglei", "尺寸还是不统一")
        assert "需求确认单已提交（按时完成）。客户原话已存档，不可修改。" in r[-2]

        visit = await one(bot, Visit)
        assert visit.status == "done" and visit.done_at == datetime.fromisoformat("2026-11-23T11:00:00+08:00")
        report, demand_deadline = (
            await deadline(bot, "visit_report"),
            await deadline(bot, "demand_confirmation"),
        )
        assert (report.status, report.on_time, demand_deadline.status, demand_deadline.on_time) == (
            "done",
            True,
            "done",
            True,
        )
        quote = await one(bot, Quote)
        assert (quote.transcript, quote.customer_id, quote.visit_id) == (QUOTE, cid, visit.id)
        async with bot.session() as s:
            chain = await verify_chain(s, check_audio=True)
        assert chain.ok and chain.count == 1 and chain.audio_checked == 1
        demand = await one(bot, Demand)
        assert (demand.quote_id, demand.text, demand.scenario, demand.cluster_key) == (
            quote.id,
            QUOTE,
            "合规风险",
            "",
        )
        assert (demand.tried_solutions, demand.failure_reason) == ("换过两家供应商的灭菌盒", "尺寸还是不统一")
        updates = await rows(bot, ProgressUpdate)
        assert [(u.kind, u.progress) for u in updates] == [
            ("visit_report", "确定预算范围"),
            ("demand", "合规风险"),
        ]
        customer = await one(bot, Customer)
        assert customer.last_update_at == bot.clock.now()

        photo = await one(bot, Photo)
        assert photo.taken_at == datetime.fromisoformat("2026-11-23T10:42:05+08:00")
        assert abs((photo.gps_lat or 0) - 30.2585) < 1e-4 and abs((photo.gps_lon or 0) - 120.165) < 1e-4
        assert (photo.visit_id, photo.customer_id) == (visit.id, cid)
        original = await one(bot, MediaFile, MediaFile.id == photo.media_id)
        assert original.sha256 == hashlib.sha256(photo_path.read_bytes()).hexdigest()
        stamped = await one(bot, MediaFile, MediaFile.id == photo.stamped_media_id)
        with Image.open(stamped.path) as img:
            assert img.size == (640, 480)
            band = img.convert("RGB").getpixel((630, 475))  # bottom right corner: on the dark band
            top = img.convert("RGB").getpixel((10, 10))
        assert isinstance(band, tuple) and isinstance(top, tuple)
        assert sum(band) < sum(top) - 150  # the band darkens the photo where the stamp is

        actions = [a.action for a in await rows(bot, AuditLog)]
        for action in ("visit.report_started", "photo.add", "visit.report", "demand.create"):
            assert action in actions, action
        started = await one(bot, AuditLog, AuditLog.action == "visit.report_started")
        assert started.actor_id is None and started.source_event == "sweep:visit-report"


async def test_late_report_is_recorded_as_late(tmp_path: Path) -> None:
    bot, transcriber = harness(tmp_path)
    async with bot:
        await org(bot)
        await planned_visit(bot)
        await bot.advance(timedelta(hours=2))  # 11:00 has passed
        img = Image.new("RGB", (320, 240), (200, 200, 200))
        img.save(tmp_path / "plain.jpg")
        await bot.photo("wanglei", tmp_path / "plain.jpg")
        await bot.send("wanglei", "其他")
        await bot.send("wanglei", "了解了科室排班")
        await bot.send("wanglei", "无")
        r = await bot.send("wanglei", "否")
        assert (
            "拜访报告已提交（按时完成）" in r[0]
            and "照片已保存、已加水印" in r[0]
            and "含拍摄时间" not in r[0]
        )
        await bot.advance(timedelta(minutes=45))  # 11:45: the confirmation was due at 11:30
        await bot.voice("wanglei", scripted_note(tmp_path, transcriber, "q2", "预算今年很紧"))
        await bot.send("wanglei", "1")
        r = await bot.send("wanglei", "无")  # no tried solutions: the follow-up question is skipped
        assert "需求确认单已提交（已超时 15 分钟，截止时间 11-23 11:30）" in r[-2]
        dl = await deadline(bot, "demand_confirmation")
        assert dl.on_time is False and dl.done_at == bot.clock.now()
        photo = await one(bot, Photo)
        assert photo.taken_at is None and photo.gps_lat is None and photo.stamped_media_id is not None
        update = (await rows(bot, ProgressUpdate))[0]
        assert (update.progress, update.note) == ("其他", "了解了科室排班")


async def test_visit_done_command_ends_the_visit_early(tmp_path: Path) -> None:
    bot, _ = harness(tmp_path)
    async with bot:
        await org(bot)
        r = await bot.send("wanglei", "拜访完成")
        assert "没有待填写报告的拜访" in r[-1]
        await planned_visit(bot, (14, 0), (16, 0))
        await bot.advance(timedelta(hours=5, minutes=20))  # 14:20
        r = await bot.send("wanglei", "拜访完成")
        assert "「杭州市第一人民医院」的拜访已结束" in r[0] and "14:50 前提交" in r[0]
        assert "请上传现场照片" in r[-1]
        dl = await deadline(bot, "demand_confirmation")
        assert dl.due_at == datetime.fromisoformat("2026-11-23T14:50:00+08:00")
        r = await bot.advance(timedelta(hours=2))  # the planned end passes: no second report
        assert not any("拜访已结束" in x for x in r)
        assert (await one(bot, Visit)).report_started_at is not None


async def test_unplanned_visit_by_name_and_queueing_behind_another_form(tmp_path: Path) -> None:
    bot, _ = harness(tmp_path)
    async with bot:
        await org(bot)
        await add_customer(bot, "浙江省人民医院", "wanglei")
        r = await bot.send("wanglei", "拜访完成 浙江省人民医院")
        assert "「浙江省人民医院」的拜访已结束" in r[0] and "请上传现场照片" in r[-1]
        visit = await one(bot, Visit)
        assert visit.source_channel == "chat" and visit.purpose == "临时拜访"
        assert {d.kind for d in await rows(bot, Deadline)} == {"demand_confirmation", "visit_report"}
        await bot.send("wanglei", "取消")
        # A planned visit ends while the rep is in another form: the report waits its turn.
        await planned_visit(bot)
        await bot.send("wanglei", "客户个性标签")
        r = await bot.advance(timedelta(hours=2))
        assert any("「拜访报告」已排队，完成当前的「客户个性标签」后会开始" in x for x in r)
        r = await bot.send("wanglei", "取消")
        assert "请上传现场照片" in r[-1]


async def test_demand_confirmation_is_nudged_before_it_is_due(tmp_path: Path) -> None:
    bot, _ = harness(tmp_path)
    async with bot:
        await org(bot)
        await planned_visit(bot)
        await bot.advance(timedelta(hours=2))  # 11:00, the planned end: the report opens
        r = await bot.advance(timedelta(minutes=19))  # 11:19
        assert not any("快到截止时间了" in x for x in r)
        r = await bot.advance(timedelta(minutes=1))  # 11:20, 20 minutes after the end
        nudges = [x for x in bot.texts_to("wanglei") if "快到截止时间了" in x]
        assert len(nudges) == 1, r
        # The report comes first: the rep is told to finish it, not sent to a form that cannot open.
        assert "11:30 截止" in nudges[0] and "请先填完拜访报告" in nudges[0]
        # The nudge does not bury the open question: it is asked again after it.
        after = bot.texts_to("wanglei")[bot.texts_to("wanglei").index(nudges[0]) + 1 :]
        assert after[0].startswith("接着填写「拜访报告」") and "请上传现场照片" in after[-1], after
        await bot.advance(timedelta(minutes=5))
        assert len([x for x in bot.texts_to("wanglei") if "快到截止时间了" in x]) == 1  # once


async def test_a_report_started_after_the_deadline_does_not_quote_the_window(tmp_path: Path) -> None:
    bot, _ = harness(tmp_path)
    async with bot:
        await org(bot)
        await add_customer(bot, "杭州市第一人民医院", "wanglei")
        # Submitted and approved hours after the planned end (10:00–10:30).
        await bot.advance(timedelta(hours=5))  # 14:00
        await bot.approval(
            "wanglei", "AP-9", "submitted", visit_fields("杭州市第一人民医院", (10, 0), (10, 30))
        )
        await bot.approval("wanglei", "AP-9", "approved")
        r = await bot.advance(timedelta(minutes=1))  # the sweep finds the visit already over
        notice = [x for x in bot.texts_to("wanglei") if "的拜访已结束" in x]
        assert notice, r
        assert "已过截止时间（11:00）" in notice[-1] and "30 分钟内" not in notice[-1]
