"""User text in Markdown digests and cards cannot become links, mentions, HTML or fake bold lines."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from bot.channels.dingtalk.cards import card_params
from bot.channels.dingtalk.outgoing import msg_param
from bot.channels.dingtalk.webhook import body as webhook_body
from bot.channels.wecom.outbound import markdown_body
from bot.outbox_sender import merge_messages
from core.clock import ManualClock
from core.escape import wecom_text
from core.messages import Choice, Markdown
from emulators.dingtalk.rig import dingtalk_bot
from scheduler.context import Postman
from tests.manager.helpers import MONDAY_8, customer, team

EVIL = "[点此领取补贴](http://evil.example/p) <font color=red>**李强：紧急通知**</font> <@wanglei> ![x](y)"


def assert_inert(text: str) -> None:
    for marker in ("[", "]", "<", ">", "**", "http://", "!["):
        assert marker not in text, (marker, text)
    assert "点此领取补贴" in text and "李强：紧急通知" in text  # the words stay readable


def test_every_markdown_format_escapes_user_text() -> None:
    digest = Postman.message(
        "超时未跟进客户提醒", f"你有 1 家客户超过 48 小时没有更新进展：\n· {EVIL}（线索）"
    )
    _, dingtalk = msg_param(digest)
    assert_inert(dingtalk["text"])
    hook = webhook_body(digest)
    assert_inert(hook["markdown"]["text"])
    assert_inert(markdown_body(digest))
    merged = merge_messages([digest, Markdown(title=EVIL, text=EVIL)])
    assert isinstance(merged, Markdown)
    title, rest = markdown_body(merged).split("\n", 1)
    assert title == "**消息汇总（2 条）**"  # the bot's own bold title, and nothing else bold
    assert_inert(rest)
    assert_inert(msg_param(merged)[1]["text"])
    assert "---" in msg_param(merged)[1]["text"]  # the digest's own separator still works


def test_card_text_is_escaped() -> None:
    params = card_params(Choice(prompt=f"选择客户 {EVIL}", options=[EVIL, "杭州一院"], note=EVIL))
    for key in ("markdown", "prompt", "note"):
        assert_inert(params[key])
    assert_inert(json.loads(params["options"])[0]["text"])


def test_wecom_text_messages_cannot_carry_links() -> None:
    assert wecom_text('<a href="http://evil.example">点此领取补贴</a>\u202e') == (
        '＜a href="http://evil.example"＞点此领取补贴＜/a＞'
    )


async def test_a_phishing_customer_name_reaches_the_managers_group_inert(tmp_path: Path) -> None:
    """The issue's case end to end: an imported name with a Markdown link, in the stale-customer digest
    that the scheduler sends to the managers' DingTalk group robot (real emulator, signed webhook)."""
    hook, secret = "hook-managers", "SEC0123456789abcdef"
    groups = {"groups": {"managers": {"webhook_token": hook, "webhook_secret": secret}}}
    async with dingtalk_bot(tmp_path, dingtalk=groups, clock=ManualClock(MONDAY_8)) as rig:
        rig.emu.add_webhook(hook, secret)
        await team(rig.bot)
        outsider = await rig.bot.add_user("zhouyu", "周宇")  # no manager above: the group gets it
        name = "[点此领取补贴](http://evil.example/p)<font color=red>**李强：紧急通知**</font>"
        await customer(rig.bot, name, outsider, updated_hours_ago=60)
        await rig.bot.advance(timedelta(hours=1, minutes=1))  # 09:01, after the 09:00 stale digest
        await rig.bot.settle()
        sent = rig.emu.messages_to(hook)
        [digest] = [m for m in sent if "超时未跟进" in m.text]
    assert digest.msg_key == "markdown"
    assert_inert(digest.text)
    assert "［点此领取补贴］(http：//evil.example/p)" in digest.text  # still readable, not a link


def test_a_hash_is_escaped_only_where_it_would_start_a_heading() -> None:
    """「原话 #12」 reads the same in cards and Markdown as in plain text; a line that starts with # (a
    heading in DingTalk and WeCom Markdown) does not become one."""
    params = card_params(Choice(prompt="原话 #12：“价格还要再谈”", options=["更正原话"], note="# 紧急通知"))
    assert params["prompt"] == "原话 #12：“价格还要再谈”" and params["markdown"].startswith("原话 #12：")
    assert params["note"] == "＃ 紧急通知"
    _, dingtalk = msg_param(Markdown(title="t", text="见原话 #3\n  ## 假标题\n#话题"))
    assert dingtalk["text"] == "见原话 #3\n  ＃＃ 假标题\n＃话题"
    assert markdown_body(Markdown(title="t", text="### 假标题 #3")).endswith("＃＃＃ 假标题 #3")


def test_a_heading_inside_a_list_item_is_escaped_too() -> None:
    """「- # 紧急通知」 renders as a heading inside a list item in DingTalk and WeCom Markdown."""
    typed = (
        "- # 紧急通知\n1. # 全员停止发货\n  + - ## 假标题\n2) #话题\n　# 全角空格\n- 原话 #12\n-# 不是列表"
    )
    expected = "- ＃ 紧急通知\n1. ＃ 全员停止发货\n  + - ＃＃ 假标题\n2) ＃话题\n　＃ 全角空格\n- 原话 #12\n-# 不是列表"
    _, dingtalk = msg_param(Markdown(title="t", text=typed))
    assert dingtalk["text"] == expected
    assert markdown_body(Markdown(title="t", text=typed)).endswith(expected)
    assert card_params(Choice(prompt="p", options=["好"], note="- # 紧急通知"))["note"] == "- ＃ 紧急通知"
