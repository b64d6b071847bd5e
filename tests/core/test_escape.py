"""User text in Markdown digests and cards cannot become links, mentions, HTML or fake bold lines."""

from __future__ import annotations

import json

from bot.channels.dingtalk.cards import card_params
from bot.channels.dingtalk.outgoing import msg_param
from bot.channels.dingtalk.webhook import body as webhook_body
from bot.channels.wecom.outbound import markdown_body
from bot.outbox_sender import merge_messages
from core.escape import wecom_text
from core.messages import Choice, Markdown
from scheduler.context import Postman

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
