"""A signed, encrypted WeCom callback, as WeCom sends one: what ``actionflow wecom selfcheck`` uses to
talk to the bot's own callback server (locally, and the running bot with ``--probe``).

It encrypts and signs with the channel's crypto (wechatpy's ``WeChatCrypto``, the code that decrypts
real callbacks), so the runtime needs nothing from ``emulators/``. The emulator keeps its own
implementation written from Tencent's spec, against which the tests check this channel.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from defusedxml import ElementTree as SafeET
from wechatpy.enterprise.crypto import WeChatCrypto


@dataclass(frozen=True)
class Answer:
    """The bot's answer to one callback."""

    status: int
    body: str


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


class SignedCallbackSender:
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
        self.corp_id = corp_id
        self.agent_id = agent_id
        self._crypto = WeChatCrypto(token, encoding_aes_key, corp_id)
        self._now = now
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> SignedCallbackSender:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("use `async with SignedCallbackSender(...)`")
        return self._session

    def _sealed(self, plaintext: str) -> tuple[str, dict[str, str]]:
        """``plaintext`` encrypted, and the signed query parameters that go with it."""
        timestamp, nonce = str(int(self._now())), str(secrets.randbelow(10**10))
        sealed = SafeET.fromstring(self._crypto.encrypt_message(plaintext, nonce, timestamp))
        signature = sealed.findtext("MsgSignature") or ""
        return sealed.findtext("Encrypt") or "", {
            "msg_signature": signature,
            "timestamp": timestamp,
            "nonce": nonce,
        }

    def seal(self, plaintext: str) -> tuple[dict[str, str], str]:
        """Query parameters and body of one POST callback carrying ``plaintext``."""
        encrypt, query = self._sealed(plaintext)
        body = (
            f"<xml><ToUserName>{_cdata(self.corp_id)}</ToUserName><AgentID>{_cdata(str(self.agent_id))}"
            f"</AgentID><Encrypt>{_cdata(encrypt)}</Encrypt></xml>"
        )
        return query, body

    async def verify_url(self, echo: str) -> Answer:
        """The GET WeCom sends when an admin saves the callback URL; the bot must answer ``echo``."""
        echostr, query = self._sealed(echo)
        async with self._http().get(self.url, params={**query, "echostr": echostr}) as resp:
            return Answer(resp.status, await resp.text())

    async def text(self, user: str, content: str) -> Answer:
        """A text message from ``user``, as the app receives it."""
        created = int(self._now())
        xml = (
            f"<xml><ToUserName>{_cdata(self.corp_id)}</ToUserName><FromUserName>{_cdata(user)}</FromUserName>"
            f"<CreateTime>{created}</CreateTime><MsgType>{_cdata('text')}</MsgType>"
            f"<Content>{_cdata(content)}</Content><MsgId>{secrets.randbelow(10**18)}</MsgId>"
            f"<AgentID>{self.agent_id}</AgentID></xml>"
        )
        query, body = self.seal(xml)
        async with self._http().post(self.url, params=query, data=body.encode()) as resp:
            return Answer(resp.status, await resp.text())
