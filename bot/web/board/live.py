"""Server-sent events: an open board hears within about a second that something changed in chat.

One task per web app looks at a cheap version of the data (the newest audit entry, progress update and
customer change, so it sees actions from every instance sharing the database) every
``board.live_poll_s`` while at least one board is open, and wakes the subscribers; the page then fetches
its own content again (bot/web/static/board.js)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy import func, select

from bot.web.board.render import require
from storage.models import AuditLog, CompetitorAnalysis, Customer, ProgressUpdate

if TYPE_CHECKING:
    from bot.app import Application

log = logging.getLogger(__name__)

HEARTBEAT_S = 15.0


async def data_version(bot: Application) -> tuple[Any, ...]:
    async with bot.db.read() as session:
        row = (
            await session.execute(
                select(
                    select(func.max(AuditLog.id)).scalar_subquery(),
                    select(func.max(ProgressUpdate.id)).scalar_subquery(),
                    select(func.max(Customer.updated_at)).scalar_subquery(),
                    select(func.max(CompetitorAnalysis.reviewed_at)).scalar_subquery(),
                )
            )
        ).one()
    return tuple(row)


class LiveHub:
    def __init__(self, bot: Application, poll_s: float) -> None:
        self._bot = bot
        self._poll_s = poll_s
        self._subscribers: set[asyncio.Queue[str]] = set()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def subscribe(self) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=4)
        self._subscribers.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._watch(), name="board-live")
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str]) -> None:
        self._subscribers.discard(queue)

    def publish(self, version: str) -> None:
        for queue in list(self._subscribers):
            if queue.full():
                continue  # that page already has a change waiting; one refresh covers both
            queue.put_nowait(version)

    async def _watch(self) -> None:
        last: tuple[Any, ...] | None = None
        while self._subscribers and not self._closed:
            version: tuple[Any, ...] | None
            try:
                version = await data_version(self._bot)
            except Exception:
                log.exception("board live: reading the data version failed; trying again")
                version = last
            if last is not None and version is not None and version != last:
                self.publish(str(hash(version)))
            last = version
            await asyncio.sleep(self._poll_s)

    async def close(self, _app: web.Application | None = None) -> None:
        self._closed = True
        for queue in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait("")
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def closed(self) -> bool:
        return self._closed


HUB_KEY: web.AppKey[LiveHub] = web.AppKey("board_live", LiveHub)


async def events(request: web.Request) -> web.StreamResponse:
    await require(request)
    hub = request.app[HUB_KEY]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    await response.write(b"retry: 2000\n\n")
    queue = hub.subscribe()
    try:
        while not hub.closed:
            try:
                version = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if not version:
                break
            await response.write(f"event: change\ndata: {version}\n\n".encode())
    except ConnectionResetError:
        log.debug("board live: the page went away")
    finally:
        hub.unsubscribe(queue)
    return response


def add_routes(app: web.Application, bot: Application) -> None:
    hub = LiveHub(bot, bot.settings.board.live_poll_s)
    app[HUB_KEY] = hub
    app.on_shutdown.append(hub.close)
    app.router.add_get("/live", events)
