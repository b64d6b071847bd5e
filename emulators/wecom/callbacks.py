"""Plays WeCom's side of the callback: encrypts, signs and posts events to the bot's callback URL.

Encryption uses :mod:`emulators.wecom.crypto` (``cryptography`` only, written from the spec), never
wechatpy, so the bot's wechatpy-based code path is checked against an independent implementation.

    async with CallbackSender(url, token=..., encoding_aes_key=..., corp_id=..., agent_id=...) as wecom:
        status, body = await wecom.text("zhangsan", "帮助")
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from emulators.wecom import crypto, samples


@dataclass(frozen=True)
class Posted:
    """The bot's answer to one callback, and how long it took to come."""

    status: int
    body: str
    seconds: float
    plaintext: str = ""


class CallbackSender:
    def __init__(
        self,
        url: str,
        *,
        token: str,
        encoding_aes_key: str,
        corp_id: str,
        agent_id: int,
        now: Callable[[], float] = time.time,
        timeout_s: float = 10.0,
    ) -> None:
        self.url = url
        self.token = token
        self.encoding_aes_key = encoding_aes_key
        self.corp_id = corp_id
        self.agent_id = agent_id
        self.now = now
        self.timeout_s = timeout_s
        self._msg_ids = itertools.count(7_000_000_000_000_000_000 + secrets.randbelow(10**15))
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> CallbackSender:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                connector=aiohttp.TCPConnector(limit=0),
            )
        return self._session

    def next_msg_id(self) -> int:
        return next(self._msg_ids)

    def create_time(self) -> int:
        return int(self.now())

    # -- low level ----------------------------------------------------------------
    def seal(
        self, plaintext: str, *, timestamp: str | None = None, nonce: str | None = None
    ) -> tuple[dict[str, str], str]:
        """Query parameters and body for one POST; fresh random bytes every call."""
        encrypt = crypto.encrypt(plaintext, self.encoding_aes_key, self.corp_id)
        ts = timestamp if timestamp is not None else str(int(self.now()))
        nonce = nonce or str(secrets.randbelow(10**10))
        query = {
            "msg_signature": crypto.signature(self.token, ts, nonce, encrypt),
            "timestamp": ts,
            "nonce": nonce,
        }
        return query, samples.envelope(self.corp_id, self.agent_id, encrypt)

    async def post_raw(self, query: dict[str, str], body: bytes | str) -> Posted:
        started = time.perf_counter()
        data = body.encode() if isinstance(body, str) else body
        async with self._http().post(self.url, params=query, data=data) as resp:
            text = await resp.text()
            return Posted(resp.status, text, time.perf_counter() - started)

    async def post(self, plaintext: str, *, timestamp: str | None = None) -> Posted:
        query, body = self.seal(plaintext, timestamp=timestamp)
        posted = await self.post_raw(query, body)
        return Posted(posted.status, posted.body, posted.seconds, plaintext)

    async def verify_url(self, echo: str = "", *, timestamp: str | None = None) -> Posted:
        """The GET WeCom sends when an admin saves the callback URL; the bot must echo ``echo``."""
        echo = echo or str(secrets.randbelow(10**19))
        echostr = crypto.encrypt(echo, self.encoding_aes_key, self.corp_id)
        ts = timestamp if timestamp is not None else str(int(self.now()))
        nonce = str(secrets.randbelow(10**10))
        query = {
            "msg_signature": crypto.signature(self.token, ts, nonce, echostr),
            "timestamp": ts,
            "nonce": nonce,
            "echostr": echostr,
        }
        started = time.perf_counter()
        async with self._http().get(self.url, params=query) as resp:
            return Posted(resp.status, await resp.text(), time.perf_counter() - started, echo)

    # -- what users do ------------------------------------------------------------
    async def text(self, user: str, content: str, *, msg_id: int | None = None) -> Posted:
        xml = samples.text(
            self.corp_id,
            self.agent_id,
            user,
            content,
            msg_id=msg_id or self.next_msg_id(),
            create_time=self.create_time(),
        )
        return await self.post(xml)

    async def voice(self, user: str, media_id: str, *, msg_id: int | None = None) -> Posted:
        xml = samples.voice(
            self.corp_id,
            self.agent_id,
            user,
            media_id,
            msg_id=msg_id or self.next_msg_id(),
            create_time=self.create_time(),
        )
        return await self.post(xml)

    async def image(self, user: str, media_id: str) -> Posted:
        xml = samples.image(
            self.corp_id,
            self.agent_id,
            user,
            media_id,
            msg_id=self.next_msg_id(),
            create_time=self.create_time(),
        )
        return await self.post(xml)

    async def location(self, user: str, latitude: float, longitude: float, label: str) -> Posted:
        xml = samples.location(
            self.corp_id,
            self.agent_id,
            user,
            latitude=latitude,
            longitude=longitude,
            label=label,
            msg_id=self.next_msg_id(),
            create_time=self.create_time(),
        )
        return await self.post(xml)

    async def enter_agent(self, user: str) -> Posted:
        return await self.post(
            samples.enter_agent(self.corp_id, self.agent_id, user, create_time=self.create_time())
        )

    async def approval_change(self, **kwargs: Any) -> Posted:
        kwargs.setdefault("create_time", self.create_time())
        return await self.post(samples.approval_change(self.corp_id, self.agent_id, **kwargs))

    async def card_click(
        self,
        user: str,
        *,
        task_id: str,
        event_key: str,
        response_code: str,
        card_type: str,
        selected: Sequence[tuple[str, Sequence[str]]] = (),
        spelling: str = "OptionIds",
        create_time: int | None = None,
    ) -> Posted:
        xml = samples.card_click(
            self.corp_id,
            self.agent_id,
            user,
            task_id=task_id,
            event_key=event_key,
            response_code=response_code,
            card_type=card_type,
            create_time=create_time or self.create_time(),
            selected=selected,
            spelling=spelling,
        )
        return await self.post(xml)
