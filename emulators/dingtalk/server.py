"""The emulator's lifecycle: an aiohttp app on 127.0.0.1 in its own thread with its own event loop (the
SDK makes blocking HTTP calls on *its* loop; sharing a loop with it deadlocks)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from aiohttp import web

from emulators.dingtalk import contacts, oapi, openapi
from emulators.dingtalk.contacts import DIRECTORY, Directory
from emulators.dingtalk.gateway import Gateway
from emulators.dingtalk.openapi import STATE
from emulators.dingtalk.state import Clock, EmulatorState, WallClock
from emulators.loop_thread import LoopThread, serve

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
        self._thread = LoopThread("dingtalk-emulator")
        self._runner: web.AppRunner | None = None
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
        self._thread.start(self._serve)

    async def _serve(self) -> None:
        self._runner, self.port = await serve(self.build_app(), self.host, self.port)
        self.gateway.base_ws = f"ws://{self.host}:{self.port}"
        self._redeliver = asyncio.get_running_loop().create_task(self.gateway.redeliver_loop())

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._redeliver is not None:
                self._redeliver.cancel()
            await self.gateway.close_all()
            if self._runner is not None:
                await self._runner.cleanup()

        self._thread.stop(shutdown)

    # -- calling into the emulator's loop ------------------------------------------
    def on_own_thread(self) -> bool:
        return self._thread.on_own_thread()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 15) -> T:
        """Run ``coro`` on the emulator's loop and wait (from any other thread)."""
        return self._thread.call(coro, timeout)

    async def acall(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the emulator's loop without blocking the caller's loop."""
        return await self._thread.acall(coro)
