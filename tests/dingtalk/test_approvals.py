"""OA approvals: bpms_instance_change events → instance lookup → ApprovalEvent with neutral fields."""

from __future__ import annotations

from pathlib import Path

from emulators.dingtalk.rig import DingTalkRig, dingtalk_bot
from tests.dingtalk.approvalkit import APPROVAL_MODULES
from tests.dingtalk.helpers import STAFF, add_rep

VISIT = "PROC-VISIT-01"
FORM = {
    "客户名称": "市第一人民医院",
    "拜访开始时间": "2026-11-28 14:00",
    "拜访结束时间": "2026-11-28 16:30",
    "拜访事由": "设备科需求沟通",
    "备注": "无关字段",
}
SETTINGS = {"visit_process_codes": [VISIT]}


def _approvals(rig: DingTalkRig) -> list[str]:
    return [t for t in rig.texts(STAFF) if t.startswith("审批")]


def _status(text: str) -> str:
    """``审批 PI-1 approved（…）：…`` → ``PI-1 approved``."""
    return " ".join(text.split("（", 1)[0].split()[1:3])


async def test_a_submitted_visit_application_reaches_the_bot_with_mapped_fields(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path, dingtalk=SETTINGS, modules=APPROVAL_MODULES) as rig:
        await add_rep(rig)
        mid = rig.emu.push_approval("PI-1001", process_code=VISIT, change="start", staff_id=STAFF, form=FORM)
        await rig.deliver(mid)
        assert _approvals(rig) == [
            "审批 PI-1001 submitted（PROC-VISIT-01）：customer=市第一人民医院；end=2026-11-28T16:30:00+08:00；"
            "purpose=设备科需求沟通；start=2026-11-28T14:00:00+08:00"
        ]
        assert rig.emu.calls("instance") == 1


async def test_every_state_change_maps_to_its_status(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path, dingtalk=SETTINGS, modules=APPROVAL_MODULES) as rig:
        await add_rep(rig)
        changes = [
            ("PI-1", "start", None),
            ("PI-1", "finish", "agree"),
            ("PI-2", "start", None),
            ("PI-2", "finish", "refuse"),
            ("PI-3", "start", None),
            ("PI-3", "terminate", None),
            ("PI-3", "delete", None),
        ]
        for instance, change, result in changes:
            mid = rig.emu.push_approval(
                instance, process_code=VISIT, change=change, result=result, staff_id=STAFF, form=FORM
            )
            await rig.deliver(mid)
        assert [_status(t) for t in _approvals(rig)] == [
            "PI-1 submitted",
            "PI-1 approved",
            "PI-2 submitted",
            "PI-2 refused",
            "PI-3 submitted",
            "PI-3 withdrawn",
            "PI-3 deleted",
        ]


async def test_a_redelivered_approval_event_is_handled_once_and_looked_up_once(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path, dingtalk=SETTINGS, modules=APPROVAL_MODULES) as rig:
        await add_rep(rig)
        mid = rig.emu.push_approval("PI-7", process_code=VISIT, change="start", staff_id=STAFF, form=FORM)
        await rig.deliver(mid)
        rig.emu.redeliver(mid)
        await rig.emu.wait_acks(mid, 2)
        # DingTalk may also send the same change again under a new eventId
        again = rig.emu.push_approval("PI-7", process_code=VISIT, change="start", staff_id=STAFF)
        await rig.deliver(again)
        assert len(_approvals(rig)) == 1
        assert rig.emu.calls("instance") == 1


async def test_an_approval_of_an_unconfigured_process_is_ignored(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path, dingtalk=SETTINGS, modules=APPROVAL_MODULES) as rig:
        await add_rep(rig)
        mid = rig.emu.push_approval(
            "PI-9", process_code="PROC-LEAVE", change="start", staff_id=STAFF, form=FORM
        )
        await rig.deliver(mid)  # ACKed, so DingTalk does not resend it
        assert _approvals(rig) == []
        assert rig.emu.calls("instance") == 0  # no quota spent on it


async def test_a_date_range_field_fills_start_and_end(tmp_path: Path) -> None:
    form = {"客户名称": "妇幼保健院", "拜访时间": '["2026-12-01 09:00","2026-12-01 11:00"]'}
    fields = {"customer": "客户名称", "start": "拜访时间", "end": "拜访时间", "purpose": "拜访事由"}
    settings = {**SETTINGS, "approval_fields": fields}
    async with dingtalk_bot(tmp_path, dingtalk=settings, modules=APPROVAL_MODULES) as rig:
        await add_rep(rig)
        mid = rig.emu.push_approval("PI-11", process_code=VISIT, change="start", staff_id=STAFF, form=form)
        await rig.deliver(mid)
        [text] = _approvals(rig)
        assert "start=2026-12-01T09:00:00+08:00" in text and "end=2026-12-01T11:00:00+08:00" in text
        assert "purpose" not in text  # missing fields are absent, not guessed


async def test_an_instance_that_cannot_be_found_still_arrives_without_fields(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path, dingtalk=SETTINGS, modules=APPROVAL_MODULES) as rig:
        await add_rep(rig)
        mid = rig.emu.push_approval("PI-GONE", process_code=VISIT, change="start", staff_id=STAFF)
        await rig.deliver(mid)
        assert _approvals(rig) == ["审批 PI-GONE submitted（PROC-VISIT-01）："]


async def test_a_failing_lookup_is_not_acked_and_succeeds_when_delivered_again(tmp_path: Path) -> None:
    async with dingtalk_bot(
        tmp_path, dingtalk=SETTINGS, modules=APPROVAL_MODULES, emulator={"redeliver_after_s": 0.2}
    ) as rig:
        await add_rep(rig)
        rig.emu.inject("instance", "server_error")
        mid = rig.emu.push_approval("PI-12", process_code=VISIT, change="start", staff_id=STAFF, form=FORM)
        await rig.deliver(mid)
        assert rig.emu.deliveries(mid) >= 2
        assert [_status(t) for t in _approvals(rig)] == ["PI-12 submitted"]
        assert "customer=市第一人民医院" in _approvals(rig)[0]


async def test_a_malformed_approval_event_is_skipped(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path, dingtalk=SETTINGS, modules=APPROVAL_MODULES) as rig:
        await add_rep(rig)
        bad = rig.emu.push_event("bpms_instance_change", {"processCode": VISIT, "type": "start"})
        await rig.deliver(bad)  # logged, ACKed: resending it would not make it better
        other = rig.emu.push_event(
            "bpms_task_change", {"processCode": VISIT, "type": "start", "staffId": STAFF}
        )
        await rig.deliver(other)
        assert _approvals(rig) == [] and rig.emu.calls("instance") == 0
