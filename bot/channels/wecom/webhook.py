"""Group robots (消息推送, formerly 群机器人): ``webhook/send`` and ``webhook/upload_media`` by key.

Not an access-token API, so not through wechatpy (it would add a token and call gettoken). A robot
takes 20 messages per minute; beyond that WeCom answers 45009. This client keeps a sliding window
per key on the bot's clock (``bot.ratelimit.RateLimiter``) and refuses early with
:class:`TransientSendError` carrying ``block_key``, so the outbox holds (and later merges) that
robot's messages instead of losing them.
Keys are secrets: logs and errors show :func:`key_id` only.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Any

import aiohttp

from bot.ratelimit import RateLimiter
from core.channel import PermanentSendError, TransientSendError
from core.clock import Clock

log = logging.getLogger(__name__)

WINDOW = timedelta(seconds=60)
RATE_LIMITED = 45009
INVALID_KEY = 93000


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def limit_key(key: str) -> str:
    """The rate-limit key shared with the outbox sender (``RateLimit.key`` / ``block_key``)."""
    return f"wecom:webhook:{key_id(key)}"


class WebhookClient:
    def __init__(self, api_base: str, *, clock: Clock, per_minute: int, timeout_s: float = 10.0) -> None:
        self.base = api_base.rstrip("/") + "/cgi-bin/webhook/"
        self.clock = clock
        self.per_minute = per_minute
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._limiter = RateLimiter(clock)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    def room(self, key: str) -> tuple[int, float]:
        """``(sends left in the window now, seconds until the oldest send leaves it)``."""
        return self._limiter.room(key, self.per_minute, WINDOW.total_seconds())

    def throttled(self, key: str, wait_s: float, why: str) -> TransientSendError:
        return TransientSendError(
            f"group robot {key_id(key)}: {why}", retry_after=max(wait_s, 1.0), block_key=limit_key(key)
        )

    async def _post(self, url: str, key: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with self._http().post(url, **kwargs) as resp:
                if resp.status >= 400:
                    raise TransientSendError(f"group robot {key_id(key)}: HTTP {resp.status}")
                result: dict[str, Any] = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise TransientSendError(f"group robot {key_id(key)}: {type(exc).__name__}") from None
        code = int(result.get("errcode", 0))
        if code == RATE_LIMITED:
            raise self.throttled(key, WINDOW.total_seconds(), "WeCom answered 45009 (20 messages/minute)")
        if code == INVALID_KEY:
            raise PermanentSendError(f"group robot {key_id(key)}: the webhook key is invalid (93000)")
        if code != 0:
            raise PermanentSendError(f"group robot {key_id(key)}: error {code} {result.get('errmsg', '')}")
        return result

    async def send(self, key: str, payload: dict[str, Any]) -> None:
        until = self._limiter.acquire(key, self.per_minute, WINDOW.total_seconds())
        if until is not None:
            wait = (until - self.clock.now()).total_seconds()
            raise self.throttled(key, wait, "20 messages/minute reached; holding the rest")
        await self._post(self.base + "send", key, params={"key": key}, json=payload)

    async def upload(self, key: str, filename: str, data: bytes, mime: str) -> str:
        form = aiohttp.FormData()
        form.add_field("media", data, filename=filename, content_type=mime or "application/octet-stream")
        result = await self._post(
            self.base + "upload_media", key, params={"key": key, "type": "file"}, data=form
        )
        return str(result["media_id"])
