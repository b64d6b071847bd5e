"""The approval → brief flow and a chosen customer through the real WeCom channel (encrypted callbacks,
approval detail fetched from the local WeCom emulator, replies and cards sent through its API)."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pypdf import PdfReader

from emulators.wecom import approvals as fx
from storage.models import CompetitorAnalysis, Visit
from tests.flows.kit import add_customer, one, rows
from tests.wecom.world import VISIT_TEMPLATE, World, wecom_world

CN = ZoneInfo("Asia/Shanghai")
START = int(datetime(2026, 11, 23, 14, 0, tzinfo=CN).timestamp())
END = int(datetime(2026, 11, 23, 15, 0, tzinfo=CN).timestamp())


def application(sp_no: str, customer: str, status: int = 1) -> dict[str, object]:
    return fx.detail(
        sp_no=sp_no,
        template_id=VISIT_TEMPLATE,
        applicant="wanglei",
        sp_status=status,
        contents=[
            fx.text("客户名称", customer),
            fx.date("拜访开始时间", START),
            fx.date("拜访结束时间", END),
            fx.text("拜访事由", "演示新款骨科耗材", multiline=True),
        ],
    )


async def change(w: World, sp_no: str, customer: str, status: int, event: int) -> None:
    w.emulator.add_approval(application(sp_no, customer, status))
    posted = await w.wecom.approval_change(
        sp_no=sp_no, template_id=VISIT_TEMPLATE, applicant="wanglei", sp_status=status, status_change=event
    )
    assert posted.status == 200
    await w.settle()


async def test_visit_application_on_wecom_gets_the_brief(tmp_path: Path) -> None:
    async with wecom_world(tmp_path) as w:
        await w.add_user("liqiang", "李强", roles=("manager",))
        await w.bot.add_user(
            "wanglei", "王磊", supervisor="liqiang", wecom_userid="wanglei", preferred_channel="wecom"
        )
        cid = await add_customer(
            w.bot, "杭州市第一人民医院", "wanglei", preferences="需提供3家同类医院使用案例"
        )
        await change(w, "202611230001", "杭州一院", 1, 1)
        brief = w.received("wanglei")[-1]
        assert brief.startswith("【拜访简报】杭州市第一人民医院") and "拜访时间：11-23 14:00–15:00" in brief
        assert "设备科 孙丽（设备科科长） ⚠️ 已 75 天未联系" in brief
        visit = await one(w.bot, Visit)
        assert (visit.customer_id, visit.source_channel, visit.source_approval_id) == (
            cid,
            "wecom",
            "202611230001",
        )
        await change(w, "202611230001", "杭州一院", 2, 2)
        assert "拜访申请已通过：杭州市第一人民医院" in w.received("wanglei")[-1]
        assert (await one(w.bot, Visit)).status == "approved"


async def test_ambiguous_customer_is_chosen_on_a_wecom_card(tmp_path: Path) -> None:
    async with wecom_world(tmp_path) as w:
        await w.add_user("wanglei", "王磊")
        await add_customer(w.bot, "浙江大学医学院附属第一医院", "wanglei")
        second = await add_customer(w.bot, "浙江大学医学院附属第二医院", "wanglei")
        await change(w, "202611230002", "浙江大学医学院附属医院", 1, 1)
        card = w.cards_to("wanglei")[-1]
        assert card["main_title"]["title"] == "这次拜访的是哪家客户？（也可以直接输入名称）"
        assert "不能确定是哪一家" in card["sub_title_text"]
        await w.click("wanglei", 2)
        assert w.received("wanglei")[-1].startswith("【拜访简报】浙江大学医学院附属第二医院")
        assert [v.customer_id for v in await rows(w.bot, Visit)] == [second]


async def test_competitor_review_card_on_wecom(tmp_path: Path) -> None:
    async with wecom_world(tmp_path) as w:
        await w.add_user("liqiang", "李强", roles=("manager",))
        await w.bot.add_user(
            "wanglei", "王磊", supervisor="liqiang", wecom_userid="wanglei", preferred_channel="wecom"
        )
        await add_customer(w.bot, "杭州市第一人民医院", "wanglei")
        for text in ("竞对分析 杭州一院", "美敦力", "便宜 15%", "4 周", "本地没有售后工程师"):
            await w.say("wanglei", text)
        assert "等待主管 李强 审核" in w.received("wanglei")[-1]
        card = w.cards_to("liqiang")[-1]
        assert card["main_title"]["title"].startswith("审核竞对分析 #")
        assert [b["text"] for b in card["button_list"]] == ["1. 通过", "2. 批注"]
        await w.click("liqiang", 1)
        assert "主管 李强 已通过你对「杭州市第一人民医院」的竞对分析" in w.received("wanglei")[-1]
        assert (await one(w.bot, CompetitorAnalysis)).status == "approved"


async def test_trial_feedback_pdf_is_uploaded_to_rep_and_manager(tmp_path: Path) -> None:
    async with wecom_world(tmp_path) as w:
        await w.add_user("liqiang", "李强", roles=("manager",))
        await w.bot.add_user(
            "wanglei", "王磊", supervisor="liqiang", wecom_userid="wanglei", preferred_channel="wecom"
        )
        await add_customer(w.bot, "杭州市第一人民医院", "wanglei")
        for text in ("试用反馈 杭州一院", "KL-2024-001", "1 2", "器械包偏大"):
            await w.say("wanglei", text)
        for userid in ("wanglei", "liqiang"):
            (sent,) = [m for m in w.emulator.messages_to(userid) if m["msgtype"] == "file"]
            data, filename, _ = w.emulator.media(sent["file"]["media_id"])
            assert data.startswith(b"%PDF") and filename.endswith(".pdf") and "KL-2024-001" in filename
            assert "试用反馈报告" in PdfReader(io.BytesIO(data)).pages[0].extract_text()
        assert "已发给区域经理 李强" in w.received("wanglei")[-1]
