"""Visit applications (审批): callback → getapprovaldetail → ApprovalEvent with neutral fields."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.channels.wecom.approvals import map_fields
from config.settings import ApprovalMapping
from emulators.wecom import approvals as fx
from tests.wecom import feature
from tests.wecom.feature import MODULES
from tests.wecom.world import VISIT_TEMPLATE, World, wecom_world

CN = ZoneInfo("Asia/Shanghai")
START = int(datetime(2026, 11, 28, 14, 0, tzinfo=CN).timestamp())
END = int(datetime(2026, 11, 28, 16, 30, tzinfo=CN).timestamp())


@pytest.fixture(autouse=True)
def _fresh_records() -> None:
    feature.approvals.clear()


def visit(sp_no: str, status: int = 1, template: str = VISIT_TEMPLATE) -> dict[str, object]:
    return fx.detail(
        sp_no=sp_no,
        template_id=template,
        applicant="wanglei",
        sp_status=status,
        contents=[
            fx.tips("填写说明"),
            fx.text("客户名称", "广州市第一人民医院"),
            fx.date("拜访开始时间", START),
            fx.date("拜访结束时间", END),
            fx.text("拜访事由", "演示新款内镜，确认预算范围", multiline=True),
            fx.selector("拜访类型", ["首次拜访"]),
        ],
    )


async def change(w: World, sp_no: str, status: int, event: int, template: str = VISIT_TEMPLATE) -> None:
    posted = await w.wecom.approval_change(
        sp_no=sp_no, template_id=template, applicant="wanglei", sp_status=status, status_change=event
    )
    assert (posted.status, posted.body) == (200, "")
    await w.settle()


async def test_visit_application_becomes_a_neutral_event_and_a_brief(tmp_path: Path) -> None:
    async with wecom_world(tmp_path, modules=MODULES) as w:
        await w.add_user("wanglei", "王磊")
        w.emulator.add_approval(visit("202611280001"))
        await change(w, "202611280001", 1, 1)
        (event,) = feature.approvals
        assert event.approval_id == "202611280001" and event.status == "submitted"
        assert event.sender_id == "wanglei" and event.process_code == VISIT_TEMPLATE
        assert event.fields == {
            "customer": "广州市第一人民医院",
            "start": "2026-11-28T14:00:00+08:00",
            "end": "2026-11-28T16:30:00+08:00",
            "purpose": "演示新款内镜，确认预算范围",
        }
        (brief,) = w.received("wanglei")
        assert "广州市第一人民医院" in brief and "2026-11-28T14:00:00+08:00" in brief

        # A comment (StatuChangeEvent 10) changes nothing the bot tracks; approval does.
        await change(w, "202611280001", 1, 10)
        w.emulator.add_approval(visit("202611280001", status=2))
        await change(w, "202611280001", 2, 2)
        assert [e.status for e in feature.approvals] == ["submitted", "approved"]
        assert "approved" in w.received("wanglei")[-1]
        assert len(w.emulator.calls("oa/getapprovaldetail")) == 3


async def test_other_templates_are_ignored_without_an_api_call(tmp_path: Path) -> None:
    async with wecom_world(tmp_path, modules=MODULES) as w:
        await w.add_user("wanglei", "王磊")
        w.emulator.add_approval(visit("1", template="leave-template"))
        await change(w, "1", 1, 1, template="leave-template")
        assert feature.approvals == [] and w.emulator.calls("oa/getapprovaldetail") == []
        assert w.received("wanglei") == []


async def test_duplicate_approval_callbacks_fetch_and_fire_once(tmp_path: Path) -> None:
    async with wecom_world(tmp_path, modules=MODULES) as w:
        await w.add_user("wanglei", "王磊")
        w.emulator.add_approval(visit("7"))
        when = w.wecom.create_time()
        for _ in range(3):
            await w.wecom.approval_change(
                sp_no="7",
                template_id=VISIT_TEMPLATE,
                applicant="wanglei",
                sp_status=1,
                status_change=1,
                create_time=when,
            )
        await w.settle()
        assert len(feature.approvals) == 1 and len(w.emulator.calls("oa/getapprovaldetail")) == 1


async def test_a_failed_detail_fetch_is_retried(tmp_path: Path) -> None:
    async with wecom_world(tmp_path, modules=MODULES) as w:
        w.channel.inbound.approval_retry_s = (0.01, 0.01)  # type: ignore[union-attr]
        await w.add_user("wanglei", "王磊")
        w.emulator.add_approval(visit("8"))
        w.emulator.fail_next("oa/getapprovaldetail", -1, "system busy")
        await change(w, "8", 1, 1)
        assert len(feature.approvals) == 1 and len(w.emulator.calls("oa/getapprovaldetail")) == 2


async def test_an_acknowledged_approval_survives_a_restart(tmp_path: Path) -> None:
    async with wecom_world(tmp_path, modules=MODULES) as w:
        w.channel.inbound.approval_retry_s = (3600.0,)  # type: ignore[union-attr]
        await w.add_user("wanglei", "王磊")
        w.emulator.fail_next("oa/getapprovaldetail", -1, "system busy")
        posted = await w.wecom.approval_change(
            sp_no="9", template_id=VISIT_TEMPLATE, applicant="wanglei", sp_status=1, status_change=1
        )
        assert posted.status == 200
        await w.bot.settle()
        assert feature.approvals == []
    # The process stopped while waiting to retry; the next start finishes the job.
    async with wecom_world(tmp_path, modules=MODULES, prepare=lambda emu: emu.add_approval(visit("9"))) as w:
        await w.settle()
        assert [e.approval_id for e in feature.approvals] == ["9"]
        assert len(w.emulator.calls("oa/getapprovaldetail")) == 1
        assert "广州市第一人民医院" in w.received("wanglei")[-1]


def test_fields_by_title_and_control_not_by_the_non_empty_key() -> None:
    mapping = ApprovalMapping(customer="医院", start="拜访时间", end="结束", purpose="目的")
    contents = [
        fx.selector("医院", ["中山大学附属第一医院"]),
        fx.date_range("拜访时间", START, END),
        fx.contact("陪同", [("lisi", "李四")]),
        fx.number("目的", "3"),
    ]
    assert map_fields(contents, mapping) == {
        "customer": "中山大学附属第一医院",
        "start": "2026-11-28T14:00:00+08:00",
        "end": "2026-11-28T16:30:00+08:00",
        "purpose": "3",
    }
    assert map_fields([fx.text("其他", "x"), fx.tips("医院")], mapping) == {}
