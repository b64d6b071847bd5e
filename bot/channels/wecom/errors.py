"""WeCom errors → the channel port's :class:`TransientSendError` / :class:`PermanentSendError`.

Codes from the global error table (developer.work.weixin.qq.com/document/path/90455). What is not
known to be permanent is treated as transient: the outbox retries it with back-off and dead-letters
it after ``outbox.max_attempts``, so an unfamiliar code delays a message but does not lose it.
"""

from __future__ import annotations

import requests
from wechatpy.exceptions import WeChatClientException

from core.channel import PermanentSendError, SendError, TransientSendError
from core.redact import redact

RATE_LIMITED = 45009  # 接口调用超过限制
RATE_LIMIT_WAIT_S = 60.0

PERMANENT = {
    40003: "invalid userid",
    40007: "invalid media_id",
    40008: "invalid message type",
    40035: "invalid parameter",
    40056: "invalid agentid",
    40058: "invalid parameter (template card)",
    41009: "missing content",
    45002: "content too long",
    60111: "userid not found",
    81013: "user, party and tag all invalid (not a member, or outside the app's visible range)",
    86003: "group chat not found (appchat/send only reaches chats the app created)",
    93000: "invalid group-robot webhook key",
    301002: "agentid does not match the secret",
}


def describe(exc: WeChatClientException) -> str:
    code = exc.errcode
    return f"WeCom error {code}: {PERMANENT.get(code, exc.errmsg)}" if code is not None else str(exc.errmsg)


def classify(exc: Exception) -> SendError:
    """The port's error for a failed WeCom call."""
    if isinstance(exc, SendError):
        return exc
    if isinstance(exc, WeChatClientException):
        code = exc.errcode
        if code == RATE_LIMITED:
            return TransientSendError(describe(exc), retry_after=RATE_LIMIT_WAIT_S)
        if code in PERMANENT:
            return PermanentSendError(describe(exc))
        # -1 system busy, token errors after the one retry, HTTP errors (errcode None), others.
        return TransientSendError(describe(exc))
    if isinstance(exc, requests.RequestException | OSError | TimeoutError):
        # requests quotes the URL, and gettoken's URL carries the app secret.
        return TransientSendError(redact(f"network: {type(exc).__name__}: {exc}"))
    return TransientSendError(redact(f"{type(exc).__name__}: {exc}"))
