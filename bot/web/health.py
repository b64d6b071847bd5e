"""``/healthz`` and ``/metrics`` on the bot's web server (``web.listen``).

``/healthz`` answers 200 when every check passes, else 503, with a JSON body saying which failed:

* ``loop``: the event loop is responsive (a ticker that runs every ``TICK_S`` ran recently);
* ``database``: ``SELECT 1`` answers within ``DB_TIMEOUT_S``;
* ``channels``: each channel with a platform link has been connected, or disconnected for less than
  ``ops.channel_window_s``;
* ``scheduler``: some instance leads (this one holds the lease or lock, or the database shows a live
  holder); skipped when the scheduler is off.

``/metrics`` is the Prometheus text format (bot/metrics.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import select, text

from bot.version import actionflow_version
from scheduler.leader import LEASE_NAME, LOCK_KEY
from storage.models import SchedulerLease

if TYPE_CHECKING:
    from bot.app import Application

TICK_S = 0.5
LOOP_STALL_S = 5.0
DB_TIMEOUT_S = 3.0

_TICKER: web.AppKey[dict[str, Any]] = web.AppKey("health_ticker", dict)


async def _tick(state: dict[str, Any]) -> None:
    while True:
        state["last"] = time.monotonic()
        await asyncio.sleep(TICK_S)


async def _leader_known(bot: Application) -> tuple[bool, bool | None]:
    """(some instance leads, this one leads)."""
    leader = getattr(bot.scheduler, "leader", None)
    here = bool(leader is not None and leader.holds())
    if here:
        return True, True
    async with bot.db.read() as session:
        if bot.db.is_sqlite:
            row = await session.get(SchedulerLease, LEASE_NAME)
            return (row is not None and row.expires_at > bot.clock.now()), False
        # A session-level advisory lock on a 64-bit key shows as classid (high half), objid (low half).
        held = await session.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid = :hi AND objid = :lo"
            ),
            {"hi": (LOCK_KEY >> 32) & 0xFFFFFFFF, "lo": LOCK_KEY & 0xFFFFFFFF},
        )
        return bool(held), False


async def healthz(request: web.Request) -> web.Response:
    bot: Application = request.app[_BOT]
    state = request.app[_TICKER]
    checks: dict[str, Any] = {}
    stalled = time.monotonic() - state.get("last", 0.0)
    checks["loop"] = {"ok": stalled < LOOP_STALL_S, "last_tick_s": round(stalled, 2)}
    try:
        async with asyncio.timeout(DB_TIMEOUT_S), bot.db.read() as session:
            await session.execute(select(1))
        checks["database"] = {"ok": True}
    except Exception as exc:
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    window = bot.settings.ops.channel_window_s
    down = bot.incidents.down_for()
    channels: dict[str, Any] = {}
    for name, channel in bot.channels.items():
        up = channel.connected()
        if up is None:
            channels[name] = {"ok": channel.ready(), "connected": None}
        else:
            for_s = down.get(name, 0.0) if not up else 0.0
            channels[name] = {"ok": up or for_s < window, "connected": up, "down_s": round(for_s, 1)}
    checks["channels"] = {"ok": all(c["ok"] for c in channels.values()), **channels}
    if bot.settings.scheduler.enabled and bot.started:
        try:
            known, here = await _leader_known(bot)
            checks["scheduler"] = {"ok": known, "leader_known": known, "this_instance_leads": here}
        except Exception as exc:
            checks["scheduler"] = {"ok": False, "error": type(exc).__name__}
    ok = all(c["ok"] for c in checks.values())
    body = {
        "status": "ok" if ok else "fail",
        "version": actionflow_version(),
        "instance": bot.instance,
        "checks": checks,
    }
    return web.json_response(body, status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    bot: Application = request.app[_BOT]
    await bot.metrics.refresh(bot)
    return web.Response(body=bot.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


_BOT: web.AppKey[Any] = web.AppKey("health_bot", object)


def setup(app: web.Application, bot: Application) -> None:
    app[_BOT] = bot
    app[_TICKER] = {"last": time.monotonic()}

    async def ticker(app_: web.Application) -> Any:
        task = asyncio.create_task(_tick(app_[_TICKER]), name="health-ticker")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(ticker)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
