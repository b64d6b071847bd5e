"""The callback URL: an aiohttp server answering WeCom's GET verification and POST callbacks.

It only moves bytes: the body size limit (413 before anything is parsed), the status codes, and
"200 with an empty body" once the receiver returns. Verification, decryption and the inbox claim
are the receiver's job; it raises :class:`CallbackRejected` to refuse.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from bot.channels.wecom.crypto import CallbackRejected

log = logging.getLogger(__name__)

Verify = Callable[[Mapping[str, str]], str]
Receive = Callable[[Mapping[str, str], bytes], Awaitable[None]]


class CallbackServer:
    def __init__(self, *, path: str, max_body_bytes: int, verify: Verify, receive: Receive) -> None:
        self.path = path if path.startswith("/") else "/" + path
        self.max_body_bytes = max_body_bytes
        self._verify = verify
        self._receive = receive
        self._runner: web.AppRunner | None = None
        self.host = ""
        self.port = 0

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.max_body_bytes)
        app.router.add_get(self.path, self._get)
        app.router.add_post(self.path, self._post)
        return app

    async def start(self, host: str, port: int) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.host, self.port = host, int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @staticmethod
    def _refuse(request: web.Request, exc: CallbackRejected) -> web.Response:
        log.warning(
            "wecom callback refused",
            extra={"status": exc.status, "reason": exc.reason, "remote": request.remote or ""},
        )
        return web.Response(status=exc.status)

    async def _get(self, request: web.Request) -> web.Response:
        try:
            echo = self._verify(request.query)
        except CallbackRejected as exc:
            return self._refuse(request, exc)
        # The bare plaintext: no quotes, no BOM, no newline.
        return web.Response(body=echo.encode(), content_type="text/plain")

    async def _post(self, request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > self.max_body_bytes:
            return self._refuse(request, CallbackRejected(413, f"body of {request.content_length} bytes"))
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._refuse(request, CallbackRejected(413, "body over the limit"))
        try:
            await self._receive(request.query, body)
        except CallbackRejected as exc:
            return self._refuse(request, exc)
        except Exception:
            # Not acknowledged: WeCom sends it again, and nothing was claimed.
            log.exception("wecom callback could not be stored")
            return web.Response(status=500)
        return web.Response(status=200, body=b"")
