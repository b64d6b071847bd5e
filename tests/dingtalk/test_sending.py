"""Sending: per-user failures inside a 200, QPS limits, webhook throttling, files, named groups."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from core.messages import File, Markdown, Text
from domain.outbox import enqueue
from emulators.dingtalk.rig import DingTalkRig, dingtalk_bot
from storage.models import OutboxMessage
from tests.dingtalk.helpers import STAFF, add_rep

HOOK, SECRET = "hook-field-alerts", "SEC0123456789abcdef"
GROUPS = {
    "groups": {
        "field-alerts": {"webhook_token": HOOK, "webhook_secret": SECRET},
        "sales": {"open_conversation_id": "cidSales=="},
    }
}


async def _queue(rig: DingTalkRig, kind: str, target: str, *messages: object) -> None:
    async with rig.bot.session() as session:
        for n, message in enumerate(messages):
            await enqueue(
                session,
                now=rig.bot.clock.now(),
                channel="dingtalk",
                target_kind=kind,
                target=target,
                message=message,
                key=f"test:{target}:{n}",
            )
    rig.bot.app.outbox.wake()


async def _rows(rig: DingTalkRig) -> list[OutboxMessage]:
    """The outbox rows on the DingTalk channel (scheduled jobs may add others elsewhere)."""
    stmt = select(OutboxMessage).where(OutboxMessage.channel == "dingtalk").order_by(OutboxMessage.id)
    async with rig.bot.session() as session:
        return list((await session.execute(stmt)).scalars())


async def test_a_throttled_webhook_delivers_everything_after_the_block_once(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path, dingtalk=GROUPS) as rig:
        rig.emu.add_webhook(HOOK, SECRET)
        rig.emu.exhaust_webhook(HOOK)  # someone else used this minute's 20 messages
        alerts = [Text(text=f"提醒 {n}：客户 {n} 超过 48 小时未更新") for n in range(30)]
        await _queue(rig, "group", "field-alerts", *alerts)
        await rig.bot.settle()
        assert rig.emu.messages_to(HOOK) == []  # 130101: the webhook is blocked for 10 minutes
        assert rig.emu.rejected == [("webhook", "send too fast, exceed 20 times per minute")]
        await rig.bot.advance(timedelta(minutes=9, seconds=59))
        assert rig.emu.messages_to(HOOK) == []
        assert len(rig.emu.rejected) == 1  # nothing was tried while blocked
        await rig.bot.advance(timedelta(seconds=1))
        delivered = "\n".join(m.text for m in rig.emu.messages_to(HOOK))
        for alert in alerts:
            assert delivered.count(alert.text) == 1  # nothing lost, nothing twice
        assert len(rig.emu.messages_to(HOOK)) == 1 and rig.emu.messages_to(HOOK)[0].msg_key == "markdown"
        assert {r.status for r in await _rows(rig)} == {"sent"}


async def test_the_bot_itself_keeps_a_webhook_under_20_a_minute(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path, dingtalk=GROUPS) as rig:
        rig.emu.add_webhook(HOOK, SECRET)
        files = [File(path=str(tmp_path / f"r{n}.pdf"), name=f"报告{n}.pdf") for n in range(25)]
        await _queue(rig, "group", "field-alerts", *files)  # not mergeable: one call each
        await rig.bot.settle()
        assert len(rig.emu.messages_to(HOOK)) == 20
        await rig.bot.advance(timedelta(minutes=1))
        assert sorted(m.text for m in rig.emu.messages_to(HOOK)) == sorted(
            f"[文件] 报告{n}.pdf" for n in range(25)
        )
        assert rig.emu.rejected == []


async def test_a_webhook_with_a_wrong_secret_is_dead_lettered(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path, dingtalk=GROUPS) as rig:
        rig.emu.add_webhook(HOOK, "SECsomethingelse")
        await _queue(rig, "group", "field-alerts", Text(text="你好"))
        await rig.bot.settle()
        [row] = await _rows(rig)
        assert row.status == "dead" and "sign not match" in row.last_error


async def test_flow_control_inside_a_200_is_retried_through_the_outbox(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path) as rig:
        await add_rep(rig)
        rig.emu.inject("oto", "flow_control")
        assert await rig.say(STAFF, "帮助") == []
        [row] = await _rows(rig)
        assert row.status == "pending" and row.attempts == 1 and "flow-controlled" in row.last_error
        await rig.bot.advance(timedelta(seconds=5))
        assert len(rig.texts(STAFF)) == 1


async def test_a_qps_403_is_retried(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path) as rig:
        await add_rep(rig)
        rig.emu.inject("oto", "qps", times=2)
        assert await rig.say(STAFF, "帮助") == []
        await rig.bot.advance(timedelta(seconds=2))
        await rig.bot.advance(timedelta(seconds=2))
        assert len(rig.texts(STAFF)) == 1


async def test_an_invalid_staff_id_is_dead_lettered(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path) as rig:
        await add_rep(rig)
        rig.emu.invalid_staff_ids.add(STAFF)
        await rig.say(STAFF, "帮助")
        [row] = await _rows(rig)
        assert row.status == "dead" and "visible range" in row.last_error


async def test_a_file_is_uploaded_and_sent_with_its_caption(tmp_path: Path) -> None:
    report = tmp_path / "trial.pdf"
    report.write_bytes(b"%PDF-1.4 fake trial report")
    async with dingtalk_bot(tmp_path) as rig:
        await _queue(rig, "user", STAFF, File(path=str(report), name="试用报告.pdf", caption="本周试用报告"))
        await rig.bot.settle()
        [file_msg, caption] = rig.emu.messages_to(STAFF)
        assert file_msg.msg_key == "sampleFile" and file_msg.param["fileType"] == "pdf"
        assert file_msg.param["fileName"] == "试用报告.pdf"
        stored = rig.emu.state.media[file_msg.param["mediaId"]]
        assert stored.data == report.read_bytes()
        assert caption.text == "本周试用报告"


async def test_a_named_group_with_a_conversation_id_uses_the_group_api(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path, dingtalk=GROUPS) as rig:
        await _queue(rig, "group", "sales", Markdown(title="周报", text="## 本周拜访 12 次"))
        await _queue(rig, "group", "nobody", Text(text="无处可去"))
        await rig.bot.settle()
        [sent] = rig.emu.messages_to("cidSales==")
        assert sent.api == "group" and sent.msg_key == "sampleMarkdown" and sent.param["title"] == "周报"
        dead = [r for r in await _rows(rig) if r.status == "dead"]
        assert len(dead) == 1 and "neither configured" in dead[0].last_error


async def test_many_replies_at_one_instant_are_all_delivered(tmp_path: Path) -> None:
    async with dingtalk_bot(tmp_path) as rig:
        texts = [Text(text=f"第 {n} 条") for n in range(22)]  # more than the 20 API calls a second
        await _queue(rig, "user", STAFF, *texts)
        await rig.bot.settle()  # the clock does not move: nothing may wait for it
        assert rig.texts(STAFF) == [t.text for t in texts]  # all of them, in order
