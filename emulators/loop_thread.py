"""An event loop on its own thread: the emulators run there, apart from the bot's loop (the DingTalk
SDK blocks its loop with synchronous HTTP, so an emulator sharing it would deadlock)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")


class LoopThread:
    def __init__(self, name: str) -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self, setup: Callable[[], Awaitable[None]], timeout: float = 15) -> None:
        """Start the thread, run ``setup()`` on its loop, and return once that finished (or raise)."""
        if self._thread is not None:
            return
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, args=(setup,), name=self.name, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"{self.name} did not start within {timeout:g} s")
        if self._error is not None:
            self._thread = None
            raise RuntimeError(f"{self.name} did not start") from self._error

    def _run(self, setup: Callable[[], Awaitable[None]]) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(setup())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self, shutdown: Callable[[], Awaitable[None]] | None = None, timeout: float = 15) -> None:
        """Run ``shutdown()`` on the loop, stop it and join the thread."""
        loop, thread = self.loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            if shutdown is not None:
                asyncio.run_coroutine_threadsafe(_awaited(shutdown), loop).result(timeout)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._thread = None
        self.loop = None

    def on_own_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 15) -> T:
        """Run ``coro`` on the loop and wait (from any other thread)."""
        if self.loop is None:
            coro.close()
            raise RuntimeError(f"{self.name} is not running")
        if self.on_own_thread():
            coro.close()
            raise RuntimeError(f"call() from {self.name}'s own thread would deadlock")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def acall(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the loop without blocking the caller's loop."""
        if self.loop is None:
            coro.close()
            raise RuntimeError(f"{self.name} is not running")
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))


async def _awaited(fn: Callable[[], Awaitable[None]]) -> None:
    await fn()


async def serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on host:port (0 = any free port); returns the runner and the bound port."""
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner, int(runner.addresses[0][1])
