"""Custom group-robot webhooks (群自定义机器人): signed POSTs to ``{oapi_base}/robot/send``.

At most 20 messages a minute per robot; the 21st gets errcode 130101 and the robot is blocked for 10
minutes. The outbox holds that webhook's messages until then (``block_key``) and merges queued text into
digests (``mergeable``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any
from urllib.parse import quote_plus

from core.channel import PermanentSendError, TransientSendError
from core.escape import dingtalk_markdown
from core.messages import Choice, File, Markdown, Message, Text, render_text

SEND_TOO_FAST = 130101
BLOCK_S = 600.0
PERMANENT = {300005, 310000, 400101, 400102, 400105, 40035}


def rate_key(token: str) -> str:
    return "dingtalk:webhook:" + hashlib.sha256(token.encode()).hexdigest()[:12]


def sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def url(oapi_base: str, token: str, secret: str, now_ms: int | None = None) -> str:
    """The signed URL. DingTalk checks the timestamp against its own clock (±1 h): wall time, always."""
    ts = now_ms if now_ms is not None else int(time.time() * 1000)
    base = f"{oapi_base.rstrip('/')}/robot/send?access_token={quote_plus(token)}"
    return f"{base}&timestamp={ts}&sign={sign(secret, ts)}" if secret else base


def body(message: Message) -> dict[str, Any]:
    if isinstance(message, Markdown):
        title, text = dingtalk_markdown(message.title or "通知"), dingtalk_markdown(message.text)
        return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
    if isinstance(message, Text | Choice | File):
        return {"msgtype": "text", "text": {"content": render_text(message)}}
    raise PermanentSendError(f"webhooks cannot send {type(message).__name__}")


def check(token: str, status: int, answer: dict[str, Any]) -> None:
    """Raise the right SendError for a webhook answer."""
    errcode = answer.get("errcode")
    if status == 200 and errcode == 0:
        return
    message = f"webhook: HTTP {status} errcode {errcode}: {answer.get('errmsg', answer.get('message', ''))}"
    if errcode == SEND_TOO_FAST:
        raise TransientSendError(message, retry_after=BLOCK_S, block_key=rate_key(token))
    if errcode in PERMANENT:
        raise PermanentSendError(message)
    raise TransientSendError(message)
