"""Our own async client for DingTalk's two API hosts (the SDK's helpers block its loop and one of them is
hard-wired to oapi.dingtalk.com). One access token, cached and refreshed before it expires, serves both
hosts: in the ``x-acs-dingtalk-access-token`` header on ``api_base`` and as ``?access_token=`` on
``oapi_base``. Every endpoint is held to ``api_rate_per_s`` calls per second."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from bot.ratelimit import RateLimiter
from config.settings import DingTalkSettings
from core.channel import check_still_ours
from core.clock import Clock, SystemClock

log = logging.getLogger("actionflow.dingtalk.api")

AUTH_CODES = {"InvalidAuthentication", "InvalidAccessToken", "Forbidden.AccessDenied.AccessTokenExpired"}
OAPI_AUTH_ERRCODES = {40001, 40014, 41001, 42001, 88}
OAPI_BUSY_ERRCODES = {-1, 90002, 90018}
QUOTA_RETRY_S = 3600.0


class ApiError(Exception):
    """A call failed. ``transient``: worth retrying later (``retry_after`` seconds when known)."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        code: str = "",
        transient: bool,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.transient = transient
        self.retry_after = retry_after


class _AuthFailed(Exception):
    pass


class Throttle:
    """At most ``calls`` per ``per_s`` seconds for each key (the project's sliding-window limiter on
    the real clock: a call waits for its slot)."""

    def __init__(self, calls: int, per_s: float = 1.0) -> None:
        self.calls = calls
        self.per_s = per_s
        self._limiter = RateLimiter(SystemClock())
        self._locks: dict[str, asyncio.Lock] = {}

    async def wait(self, key: str) -> None:
        async with self._locks.setdefault(key, asyncio.Lock()):  # one API waiting holds up no other
            await self._limiter.wait(key, self.calls, self.per_s)


def classify(status: int, body: dict[str, Any]) -> ApiError | None:
    """An error for a new-style API answer, or None when it succeeded."""
    if 200 <= status < 300:
        return None
    code = str(body.get("code", ""))
    message = f"HTTP {status} {code}: {body.get('message', '')}".strip()
    if code in AUTH_CODES or status == 401:
        raise _AuthFailed(message)
    if "QpsLimit" in code:
        return ApiError(message, status=status, code=code, transient=True, retry_after=1.0)
    if "ApiCountLimit" in code:
        log.error("DingTalk monthly API quota exhausted: %s", message)
        return ApiError(message, status=status, code=code, transient=True, retry_after=QUOTA_RETRY_S)
    transient = status in (408, 429) or status >= 500
    return ApiError(message, status=status, code=code, transient=transient)


def classify_oapi(body: dict[str, Any]) -> ApiError | None:
    errcode = body.get("errcode", 0)
    if errcode in (0, None):
        return None
    message = f"errcode {errcode}: {body.get('errmsg', '')}"
    if errcode in OAPI_AUTH_ERRCODES:
        raise _AuthFailed(message)
    if errcode in OAPI_BUSY_ERRCODES:
        return ApiError(message, code=str(errcode), transient=True, retry_after=1.0)
    if errcode == 90020:
        return ApiError(message, code=str(errcode), transient=True, retry_after=QUOTA_RETRY_S)
    return ApiError(message, code=str(errcode), transient=False)


class OpenApi:
    def __init__(self, settings: DingTalkSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.api_base = settings.api_base.rstrip("/")
        self.oapi_base = settings.oapi_base.rstrip("/")
        self.throttle = Throttle(settings.api_rate_per_s)
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._token_expires: datetime | None = None
        self._token_lock = asyncio.Lock()
        self.tokens_fetched = 0
        self.stopped = False

    # -- lifecycle ------------------------------------------------------------------
    def session(self) -> aiohttp.ClientSession:
        if self.stopped:
            raise ApiError("the DingTalk channel is stopped", transient=True)
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self.settings.http_timeout_s)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    def reopen(self) -> None:
        self.stopped = False

    async def close(self) -> None:
        self.stopped = True
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    # -- token ----------------------------------------------------------------------
    def _token_fresh(self) -> bool:
        return (
            self._token is not None
            and self._token_expires is not None
            and self.clock.now() < self._token_expires
        )

    async def token(self) -> str:
        if self._token_fresh():
            assert self._token is not None
            return self._token
        async with self._token_lock:
            if self._token_fresh():
                assert self._token is not None
                return self._token
            body = {
                "appKey": self.settings.client_id,
                "appSecret": self.settings.client_secret.get_secret_value(),
            }
            status, data = await self._request("POST", f"{self.api_base}/v1.0/oauth2/accessToken", json=body)
            if status != 200 or "accessToken" not in data:
                transient = status >= 500 or status == 0
                raise ApiError(
                    f"access token: HTTP {status} {data.get('code', '')} {data.get('message', '')}",
                    status=status,
                    transient=transient,
                )
            expire_in = int(data.get("expireIn", 7200))
            margin = min(self.settings.token_refresh_margin_s, expire_in // 2)
            self._token = str(data["accessToken"])
            self._token_expires = self.clock.now() + timedelta(seconds=expire_in - margin)
            self.tokens_fetched += 1
            log.info("DingTalk access token refreshed", extra={"expires_in_s": expire_in})
            return self._token

    def forget_token(self) -> None:
        self._token = None
        self._token_expires = None

    # -- calls ----------------------------------------------------------------------
    async def _request(self, method: str, url: str, **kw: Any) -> tuple[int, dict[str, Any]]:
        if method != "GET":
            check_still_ours()  # an outbox send paused past its lease stops before the request
        try:
            async with self.session().request(method, url, **kw) as resp:
                try:
                    data = await resp.json(content_type=None)
                except (aiohttp.ContentTypeError, ValueError):
                    data = {"message": (await resp.text())[:200]}
                return resp.status, data if isinstance(data, dict) else {"result": data}
        except (aiohttp.ClientError, TimeoutError) as exc:
            where = url.split("?", maxsplit=1)[0]
            raise ApiError(f"{method} {where}: {type(exc).__name__}: {exc}", transient=True) from exc

    async def call(
        self,
        method: str,
        path: str,
        *,
        api: str,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A new-style API call on ``api_base``; raises :class:`ApiError`."""

        async def send(token: str) -> tuple[dict[str, Any], ApiError | None]:
            headers = {"x-acs-dingtalk-access-token": token}
            status, data = await self._request(
                method, f"{self.api_base}{path}", json=json, params=params, headers=headers
            )
            return data, classify(status, data)

        return await self._with_token(api, send)

    async def _with_token(
        self, api: str, send: Callable[[str], Awaitable[tuple[dict[str, Any], ApiError | None]]]
    ) -> dict[str, Any]:
        """Send with the cached token; when DingTalk rejects the token, fetch a new one and try once more."""
        for attempt in (1, 2):
            await self.throttle.wait(api)
            try:
                data, problem = await send(await self.token())
            except _AuthFailed as exc:
                self.forget_token()
                if attempt == 2:
                    raise ApiError(str(exc), transient=True) from exc
                continue
            if problem is not None:
                raise problem
            return data
        raise AssertionError("unreachable")

    async def oapi(
        self,
        path: str,
        *,
        api: str,
        json: dict[str, Any] | None = None,
        form: Callable[[], aiohttp.FormData] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """An old-style call on ``oapi_base`` (``?access_token=``; errors are ``errcode`` in a 200).
        ``form`` builds a multipart body (once per attempt: a FormData cannot be sent twice)."""

        async def send(token: str) -> tuple[dict[str, Any], ApiError | None]:
            query = {**(params or {}), "access_token": token}
            status, body = await self._request(
                "POST", f"{self.oapi_base}{path}", json=json, data=form() if form else None, params=query
            )
            return body, classify(status, body) if status != 200 else classify_oapi(body)

        return await self._with_token(api, send)

    async def post_plain(self, url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST without a token (custom robot webhooks)."""
        return await self._request("POST", url, json=body)

    async def download(self, url: str, limit: int) -> tuple[bytes, str]:
        """GET a temporary download URL (no token); at most ``limit`` bytes."""
        try:
            async with self.session().get(url) as resp:
                if resp.status != 200:
                    raise ApiError(
                        f"download: HTTP {resp.status}", status=resp.status, transient=resp.status >= 500
                    )
                # StreamReader.read(n) returns what has arrived so far, not n bytes: read to the end
                # (stopping just past the limit, which the caller reports as too large).
                chunks: list[bytes] = []
                total = 0
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    chunks.append(chunk)
                    total += len(chunk)
                    if total > limit:
                        break
                return b"".join(chunks), resp.headers.get("Content-Type", "")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ApiError(f"download: {type(exc).__name__}: {exc}", transient=True) from exc
