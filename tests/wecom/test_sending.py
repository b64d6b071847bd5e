"""Sending through WeCom: message kinds, groups, robots under their rate limit, errors, tokens."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from core.channel import PermanentSendError, Target, TransientSendError
from core.messages import Markdown, Text
from domain.outbox import enqueue
from storage.models import OutboxMessage
from tests.wecom.feature import MODULES, REPORT
from tests.wecom.world import CHAT_ID, ROBOT_KEY, World, wecom_world


async def queue(w: World, kind: str, target: str, message: Text | Markdown, key: str) -> None:
    async with w.bot.session() as session:
        await enqueue(
            session,
            now=w.bot.clock.now(),
            channel="wecom",
            target_kind=kind,
            target=target,
            message=message,
            key=key,
        )
    await w.settle()


async def outbox_row(w: World, key: str) -> OutboxMessage:
    async with w.bot.session() as session:
        return (
            await session.execute(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
        ).scalar_one()


async def test_markdown_file_and_long_text(tmp_path: Path) -> None:
    async with wecom_world(tmp_path, modules=MODULES) as w:
        await w.add_user("wanglei", "王磊")
        await w.say("wanglei", "周报摘要")
        md = w.emulator.messages_to("wanglei")[-1]
        # Markdown text is plain text: the channel escapes it (core/escape.py), only the title is bold.
        assert md["msgtype"] == "markdown" and md["markdown"]["content"].startswith(
            "**本周进展**\n- 拜访 ＊＊3＊＊ 家"
        )

        await w.say("wanglei", "现场照片")
        caption, file_msg = w.emulator.messages_to("wanglei")[-2:]
        assert caption["text"]["content"] == "这是现场照片" and file_msg["msgtype"] == "file"
        data, name, _ = w.emulator.media(file_msg["file"]["media_id"])
        assert data == REPORT.read_bytes() and name == "现场照片.jpg"

        before = len(w.emulator.messages_to("wanglei"))
        await w.say("wanglei", "长消息")
        pieces = [m["text"]["content"] for m in w.emulator.messages_to("wanglei")[before:]]
        assert len(pieces) > 1 and all(len(p.encode()) <= 2048 for p in pieces)
        lines = "\n".join(pieces).splitlines()
        assert [line.split("：")[0] for line in lines] == [f"第{i}行" for i in range(1, 41)]


async def test_group_by_chat_id_goes_through_appchat(tmp_path: Path) -> None:
    async with wecom_world(tmp_path, modules=MODULES) as w:
        await w.add_user("wanglei", "王磊")
        await w.say("wanglei", "群通知 managers 今天的晨会改到 9:30")
        assert w.emulator.appchat[-1] == {
            "chatid": CHAT_ID,
            "safe": 0,
            "msgtype": "text",
            "text": {"content": "今天的晨会改到 9:30"},
        }
        with pytest.raises(PermanentSendError, match="no WeCom group"):
            await w.channel.send(Target("group", "nosuch"), Text(text="x"), key="k1")


async def test_robot_throttle_loses_nothing_and_sends_nothing_twice(tmp_path: Path) -> None:
    async with wecom_world(tmp_path, modules=MODULES) as w:
        await w.add_user("wanglei", "王磊")
        for i in range(1, 31):
            await w.say("wanglei", f"群通知 sales 第{i}条提醒")
        sent = w.emulator.webhooks[ROBOT_KEY]
        assert len(sent) == 20  # the robot's limit per minute; the rest wait in the outbox
        await w.bot.advance(timedelta(seconds=61))
        await w.settle()
        sent = w.emulator.webhooks[ROBOT_KEY]
        assert len(sent) == 30  # the ten that waited fit in the next minute: sent as they were
        text = "\n".join(m.get("text", m.get("markdown", {})).get("content", "") for m in sent)
        for i in range(1, 31):
            assert text.count(f"第{i}条提醒") == 1, i
        assert len(w.emulator.calls("webhook/send")) == 30  # never pushed into a 45009


async def test_robot_45009_blocks_the_key_until_the_minute_is_over(tmp_path: Path) -> None:
    async with wecom_world(tmp_path, modules=MODULES) as w:
        await w.add_user("wanglei", "王磊")
        w.emulator.burn_webhook_quota(ROBOT_KEY, 20)  # another system used the robot this minute
        for i in range(1, 4):
            await w.say("wanglei", f"群通知 sales 消息{i}")
        assert w.emulator.webhooks.get(ROBOT_KEY, []) == []
        assert len(w.emulator.calls("webhook/send")) == 1  # one 45009, then the key was blocked
        await w.bot.advance(timedelta(seconds=61))
        await w.settle()
        (digest,) = w.emulator.webhooks[ROBOT_KEY]
        content = digest["markdown"]["content"]
        assert all(content.count(f"消息{i}") == 1 for i in range(1, 4))


async def test_expired_token_is_fetched_again_once(tmp_path: Path) -> None:
    async with wecom_world(tmp_path) as w:
        await w.add_user("wanglei", "王磊")
        await w.say("wanglei", "帮助")
        assert len(w.emulator.calls("gettoken")) == 1
        w.emulator.expire_tokens()
        await w.say("wanglei", "帮助")
        assert len(w.emulator.calls("gettoken")) == 2
        assert len(w.received("wanglei")) == 2
        codes = [r.query["access_token"] for r in w.emulator.calls("message/send")]
        assert len(codes) == 3 and codes[0] == codes[1] != codes[2]


async def test_a_token_that_never_works_is_not_retried_forever(tmp_path: Path) -> None:
    async with wecom_world(tmp_path) as w:
        await w.add_user("wanglei", "王磊")
        w.emulator.fail_next("message/send", 42001, "access_token expired", times=100)
        await queue(w, "user", "wanglei", Text(text="你好"), "t-1")
        row = await outbox_row(w, "t-1")
        assert row.status == "pending" and row.attempts == 1 and "42001" in row.last_error
        assert len(w.emulator.calls("message/send")) == 2 and len(w.emulator.calls("gettoken")) == 2


async def test_system_busy_is_retried_and_delivered_once(tmp_path: Path) -> None:
    async with wecom_world(tmp_path) as w:
        await w.add_user("wanglei", "王磊")
        w.emulator.fail_next("message/send", -1, "system busy")
        await queue(w, "user", "wanglei", Text(text="稍后送达"), "busy-1")
        assert w.received("wanglei") == [] and (await outbox_row(w, "busy-1")).status == "pending"
        await w.bot.advance(timedelta(seconds=10))
        await w.settle()
        assert w.received("wanglei") == ["稍后送达"] and (await outbox_row(w, "busy-1")).status == "sent"


async def test_a_lost_answer_does_not_deliver_twice(tmp_path: Path) -> None:
    async with wecom_world(tmp_path) as w:
        await w.add_user("wanglei", "王磊")
        w.emulator.drop_response_next("message/send")  # delivered, but the bot sees HTTP 502
        await queue(w, "user", "wanglei", Text(text="只送一次"), "lost-1")
        assert (await outbox_row(w, "lost-1")).status == "pending"
        await w.bot.advance(timedelta(seconds=10))
        await w.settle()
        retry = w.emulator.calls("message/send")[-1].body
        assert retry["enable_duplicate_check"] == 1
        assert w.received("wanglei") == ["只送一次"] and len(w.emulator.duplicates_suppressed) == 1
        assert (await outbox_row(w, "lost-1")).status == "sent"


async def test_unknown_recipient_is_dead_lettered_at_once(tmp_path: Path) -> None:
    async with wecom_world(tmp_path) as w:
        w.emulator.valid_userids = {"wanglei"}
        await queue(w, "user", "left-the-company", Text(text="你好"), "ghost-1")
        row = await outbox_row(w, "ghost-1")
        assert row.status == "dead" and "81013" in row.last_error and row.attempts == 0


async def test_send_errors_are_classified(tmp_path: Path) -> None:
    async with wecom_world(tmp_path) as w:
        w.emulator.fail_next("message/send", 45009, "api freq out of limit")
        with pytest.raises(TransientSendError) as limited:
            await w.channel.send(Target("user", "wanglei"), Text(text="x"), key="c1")
        assert limited.value.retry_after == 60
        w.emulator.fail_next("appchat/send", 86003, "chat not found")
        with pytest.raises(PermanentSendError, match="86003"):
            await w.channel.send(Target("conversation", "wrNope"), Text(text="x"), key="c2")
        rl = w.channel.rate_limit(Target("group", "sales"), Text(text="x"))
        assert rl is not None and rl.calls == 20 and rl.per_s == 60 and ROBOT_KEY not in rl.key
        assert w.channel.mergeable(Target("group", "sales")) and not w.channel.mergeable(
            Target("group", "managers")
        )
        assert w.channel.has_group("sales") and not w.channel.has_group("nosuch")
