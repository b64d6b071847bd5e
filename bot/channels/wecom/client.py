"""wechatpy's ``WeChatClient`` pointed at ``wecom.api_base``, with a bounded token refresh.

wechatpy 1.8.18 builds API URLs from ``API_BASE_URL`` but hard-codes the host for ``gettoken`` and
media downloads, and its ``auto_retry`` refetches the token and retries without limit. This
subclass fetches the token from the configured host (with a timeout), downloads media
through the same host with WeCom's errcode-in-JSON detection, and retries a token error exactly once.

The client is synchronous (``requests``): callers run it off the event loop (``asyncio.to_thread``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import unquote

from wechatpy.enterprise import WeChatClient
from wechatpy.exceptions import WeChatClientException

T = TypeVar("T")

# 40001 invalid credential, 40014 invalid access_token, 42001 access_token expired.
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
REFRESH_MARGIN_S = 60


@dataclass(frozen=True)
class Download:
    data: bytes
    filename: str
    mime: str


def _filename(disposition: str) -> str:
    """The file name in a Content-Disposition: RFC 5987 ``filename*`` first, then ``filename``
    (whose raw UTF-8 bytes requests hands over as Latin-1)."""
    extended = re.search(r"filename\*=(?:UTF-8|utf-8)''([^;]+)", disposition or "")
    if extended:
        return unquote(extended.group(1).strip().strip('"'))
    plain = re.search(r'filename="?([^";]+)"?', disposition or "")
    if not plain:
        return ""
    name = plain.group(1)
    try:
        return name.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return name


class WeComClient(WeChatClient):
    def __init__(self, corp_id: str, secret: str, *, api_base: str, agent_id: int, timeout: float = 10.0):
        # An instance attribute shadows the class constant; every wrapper builds URLs from it.
        self.API_BASE_URL = api_base.rstrip("/") + "/cgi-bin/"
        super().__init__(corp_id, secret, timeout=timeout, auto_retry=False)
        self.agent_id = agent_id
        self._token_lock = threading.Lock()

    # -- token ----------------------------------------------------------------------
    def fetch_access_token(self) -> dict[str, Any]:
        """``gettoken`` on the configured host (the stock method hard-codes qyapi.weixin.qq.com)."""
        res = self._http.get(
            self.API_BASE_URL + "gettoken",
            params={"corpid": self.corp_id, "corpsecret": self.secret},
            timeout=self.timeout,
        )
        if res.status_code >= 400:
            raise WeChatClientException(None, f"gettoken answered HTTP {res.status_code}", client=self)
        result: dict[str, Any] = res.json()
        if int(result.get("errcode", 0)) != 0:
            raise WeChatClientException(int(result["errcode"]), result.get("errmsg", ""), client=self)
        expires_in = int(result.get("expires_in", 7200))
        self.session.set(self.access_token_key, result["access_token"], expires_in)
        self.expires_at = int(time.time()) + expires_in
        return result

    def _cached_token(self) -> str | None:
        token = self.session.get(self.access_token_key)
        if token and self.expires_at and self.expires_at - time.time() > REFRESH_MARGIN_S:
            return str(token)
        return None

    @property
    def access_token(self) -> str:
        token = self._cached_token()
        if token:
            return token
        with self._token_lock:  # one fetch however many threads find the token missing
            token = self._cached_token()
            if not token:
                self.fetch_access_token()
                token = str(self.session.get(self.access_token_key))
        return token

    def refresh(self, stale: str) -> None:
        """Fetch a new token unless another thread already replaced ``stale``."""
        with self._token_lock:
            if self.session.get(self.access_token_key) == stale:
                self.fetch_access_token()

    def call(self, fn: Callable[[], T]) -> T:
        """Run one API call; on a token error refresh once and retry once. Never loops."""
        token = self.access_token
        try:
            return fn()
        except WeChatClientException as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
        self.refresh(token)
        return fn()

    # -- API --------------------------------------------------------------------------
    def send_message(self, userid: str, msg: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.call(lambda: self.message.send(self.agent_id, userid, msg=msg))
        return result

    def update_card(self, payload: dict[str, Any]) -> dict[str, Any]:
        body = {"agentid": self.agent_id, **payload}
        result: dict[str, Any] = self.call(lambda: self.post("message/update_template_card", data=body))
        return result

    def chat_send(self, chat_id: str, msg_type: str, **content: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.call(lambda: self.appchat.send(chat_id, msg_type, **content))
        return result

    def upload(self, kind: str, filename: str, data: bytes, mime: str) -> str:
        import io

        def go() -> dict[str, Any]:
            result: dict[str, Any] = self.media.upload(kind, (filename, io.BytesIO(data), mime))
            return result

        return str(self.call(go)["media_id"])

    def approval_detail(self, sp_no: str) -> dict[str, Any]:
        result = self.call(lambda: self.OA.get_approval_detail(sp_no))
        info: dict[str, Any] = result["info"]
        return info

    def download(self, media_id: str) -> Download:
        """``media/get`` through the configured host. A JSON body with ``errcode`` and no
        ``Content-Disposition`` is an error, not a file."""

        def go() -> Download:
            res = self._http.get(
                self.API_BASE_URL + "media/get",
                params={"access_token": self.access_token, "media_id": media_id},
                timeout=self.timeout,
            )
            if res.status_code >= 400:
                raise WeChatClientException(None, f"media/get answered HTTP {res.status_code}", client=self)
            disposition = res.headers.get("Content-Disposition", "")
            if not disposition:
                try:
                    result = json.loads(res.content.decode("utf-8"))
                except (UnicodeDecodeError, ValueError):
                    result = None
                if isinstance(result, dict) and int(result.get("errcode", 0)) != 0:
                    raise WeChatClientException(int(result["errcode"]), result.get("errmsg", ""), client=self)
            mime = res.headers.get("Content-Type", "").split(";")[0].strip()
            return Download(res.content, _filename(disposition), mime)

        return self.call(go)
