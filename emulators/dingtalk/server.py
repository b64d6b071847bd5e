"""The emulator's lifecycle: an aiohttp app on 127.0.0.1 in its own thread with its own event loop (the
SDK makes blocking HTTP calls on *its* loop; sharing a loop with it deadlocks)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from aiohttp import web

from emulators.dingtalk import contacts, oapi, openapi
from emulators.dingtalk.contacts import DIRECTORY, Directory
from emulators.dingtalk.gateway import Gateway
from emulators.dingtalk.openapi import STATE
from emulators.dingtalk.state import Clock, EmulatorState, WallClock

T = TypeVar("T")


class EmulatorServer:
    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        robot_code: str,
        corp_id: str,
        clock: Clock | None,
        host: str,
        port: int,
        token_ttl_s: int,
        redeliver_after_s: float | None,
        max_deliveries: int,
        ping_interval_s: float | None,
        disconnect_grace_s: float,
        webhook_limit_per_min: int,
        webhook_block_s: int,
    ) -> None:
        self.state = EmulatorState(
            client_id=client_id,
            client_secret=client_secret,
            robot_code=robot_code,
            corp_id=corp_id,
            clock=clock or WallClock(),
            token_ttl_s=token_ttl_s,
            webhook_limit_per_min=webhook_limit_per_min,
            webhook_block_s=webhook_block_s,
        )
        self.gateway = Gateway(
            self.state,
            redeliver_after_s=redeliver_after_s,
            max_deliveries=max_deliveries,
            ping_interval_s=ping_interval_s,
            disconnect_grace_s=disconnect_grace_s,
        )
        self.directory = Directory()
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._redeliver: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app[STATE] = self.state
        app[DIRECTORY] = self.directory
        app.router.add_post("/v1.0/gateway/connections/open", self.gateway.open_connection)
        app.router.add_get("/connect", self.gateway.connect)
        openapi.add_routes(app)
        oapi.add_routes(app)
        contacts.add_routes(app)
        self.add_extra_routes(app)
        return app

    def add_extra_routes(self, app: web.Application) -> None:
        """Subclasses add routes here (the control endpoints)."""

    # -- thread ---------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="dingtalk-emulator", daemon=True)
        self._thread.start()
        self._ready.wait(15)
        if self._error is not None:
            raise RuntimeError("the DingTalk emulator did not start") from self._error
        if not self._ready.is_set():
            raise RuntimeError("the DingTalk emulator did not start within 15 s")

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self) -> None:
        self._runner = web.AppRunner(self.build_app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.gateway.base_ws = f"ws://{self.host}:{self.port}"
        self._redeliver = asyncio.get_running_loop().create_task(self.gateway.redeliver_loop())

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._redeliver is not None:
                self._redeliver.cancel()
            await self.gateway.close_all()
            if self._runner is not None:
                await self._runner.cleanup()

        if loop.is_running():
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(15)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(15)
        self._thread = None
        self._loop = None

    # -- calling into the emulator's loop ------------------------------------------
    def on_own_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 15) -> T:
        """Run ``coro`` on the emulator's loop and wait (from any other thread)."""
        if self._loop is None:
            coro.close()
            raise RuntimeError("the emulator is not running")
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("call() from the emulator's own thread would deadlock")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def acall(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the emulator's loop without blocking the caller's loop."""
        if self._loop is None:
            coro.close()
            raise RuntimeError("the emulator is not running")
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))
