"""DingTalk Stream path: robot messages through the real dingtalk-stream SDK and the emulator's websocket
into the bot (inbox claim → ACK → dispatcher → outbox → batchSend), and the bot loop's responsiveness
while the SDK makes its blocking calls.

    python -m bench.dingtalk_stream [--burst 1000] [--rate 50] [--seconds 5] [--users 50] [--repeat 3]

The emulator runs in its own process (``actionflow dingtalk emulator``), as DingTalk would be remote, and
generates the load there; the bot process holds only the bot and the SDK. Three set-ups get the same load:

* ``thread``: the shipped one, the SDK client in its own thread and loop (bot/channels/dingtalk/stream.py);
* ``same loop``: for comparison, the SDK client as a task on the bot's own loop (the naive way);
* ``direct``: the baseline, the same events submitted straight to the bot (no SDK, no websocket), replies
  still sent to the emulator: what the Stream path adds is the difference.

Measures: burst throughput; at a steady offered rate, push → ACK and push → handled latency and the
lateness of a 10 ms timer on the bot loop; the same timer while the gateway forces a reconnect every
second and each blocking ``open_connection`` takes 200 ms (as over a slow network).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bot.channels.dingtalk import DingTalkChannel
from bot.channels.dingtalk.inbound import Inbound
from bot.channels.dingtalk.stream import StreamRunner, point_sdk_at
from bot.testing import DEFAULT_START, BotHarness, make_settings
from core.channel import EventSink
from core.clock import ManualClock
from core.events import TextEvent

ROOT = Path(__file__).resolve().parents[1]
CLIENT_ID, CLIENT_SECRET = "dingbenchapp", "bench-secret"


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class RemoteEmulator:
    """``actionflow dingtalk emulator`` in a child process, driven over its /_emulator endpoints."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "dingtalk", "emulator", "--port", "0", "--ping-interval", "0",
             "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        self.base = self.proc.stdout.readline().rsplit(" ", 1)[1].strip()
        self.http: aiohttp.ClientSession | None = None

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None, **params: str) -> Any:
        if self.http is None:
            self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600))
        async with self.http.request(method, f"{self.base}/_emulator/{path}", json=body, params=params) as r:
            r.raise_for_status()
            return await r.json()

    async def load(self, count: int, rate: float | None, users: int, tag: str) -> list[str]:
        await self._call("POST", "load", {"count": count, "rate": rate or 0, "users": users, "tag": tag})
        return [f"{tag}{n}" for n in range(count)]

    async def frames(self, prefix: str) -> dict[str, tuple[float, float]]:
        return {k: (v[0], v[1]) for k, v in (await self._call("GET", "frames", prefix=prefix)).items()}

    async def status(self) -> dict[str, int]:
        return dict(await self._call("GET", "status"))

    async def wait_connected(self, opened: int = 1) -> None:
        for _ in range(1000):
            s = await self.status()
            if s["opened"] >= opened and s["connections"]:
                return
            await asyncio.sleep(0.01)
        raise TimeoutError("the bot did not connect")

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()
        self.proc.terminate()
        await asyncio.to_thread(self.proc.wait, 10)


class SameLoopChannel(DingTalkChannel):
    """The naive design, for comparison only: the SDK's client runs on the bot's loop."""

    _task: asyncio.Task[None] | None = None

    async def start(self, sink: EventSink) -> None:
        point_sdk_at(self.settings.api_base)
        self.api.reopen()
        loop = asyncio.get_running_loop()
        self.inbound = Inbound(sink=sink, bot_loop=loop, api=self.api, settings=self.settings, tz=self.tz)
        builder = StreamRunner(
            client_id=self.settings.client_id,
            client_secret=self.settings.client_secret.get_secret_value(),
            inbound=self.inbound,
            clock=self.clock,
            liveness_timeout_s=1e9,
            reconnect_min_s=1.0,
            reconnect_max_s=1.0,
        )
        client = builder._client_for_this_loop()
        self._task = loop.create_task(client.start())

    async def stop(self) -> None:
        task = self._task
        while task is not None and not task.done():  # 0.24.3 swallows the first cancel
            task.cancel()
            await asyncio.wait({task}, timeout=0.05)
        await self.api.close()


@dataclass
class Probe:
    """A 10 ms timer on the bot loop; records how late each tick fires."""

    late: list[float] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            t0 = time.monotonic()
            await asyncio.sleep(0.010)
            self.late.append(time.monotonic() - t0 - 0.010)

    def start(self) -> None:
        self.late.clear()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> list[float]:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        return list(self.late)


class Handled(dict[str, float]):
    """event id → when the dispatcher finished it; ``changed`` fires on every addition."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = asyncio.Event()

    def __setitem__(self, key: str, value: float) -> None:
        super().__setitem__(key, value)
        self.changed.set()


async def wait_handled(handled: Handled, ids: list[str], bot: BotHarness) -> None:
    while not all(i in handled for i in ids):
        handled.changed.clear()
        await handled.changed.wait()
    await bot.settle()


@contextlib.asynccontextmanager
async def bot_on(design: str, users: int) -> AsyncIterator[tuple[RemoteEmulator, BotHarness, Handled]]:
    tmp = Path(tempfile.mkdtemp(prefix="af-bench-dt-"))
    clock = ManualClock(DEFAULT_START)
    emu = RemoteEmulator()
    try:
        dingtalk = {
            "enabled": True, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "api_base": emu.base, "oapi_base": emu.base, "api_rate_per_s": 100_000,
        }  # fmt: skip
        settings = make_settings(tmp, dingtalk=dingtalk)
        kind = SameLoopChannel if design == "same loop" else DingTalkChannel
        channel = kind(settings.dingtalk, clock=clock, data_dir=settings.app.data_dir)
        # The whole bot, as deployed: the default forms file needs the field types the feature modules add.
        async with BotHarness(tmp, settings=settings, clock=clock, extra_channels=[channel]) as bot:
            for n in range(users):
                await bot.add_user(f"u{n}", dingtalk_staff_id=f"s{n}", preferred_channel="dingtalk")
            await emu.wait_connected()
            handled = Handled()
            original = bot.app.dispatcher.process

            async def timed(event: Any) -> None:
                await original(event)
                handled[event.event_id] = time.monotonic()

            bot.app.dispatcher.process = timed  # type: ignore[method-assign]
            yield emu, bot, handled
    finally:
        await emu.close()


async def submit_direct(
    bot: BotHarness, users: int, count: int, rate: float | None, tag: str
) -> dict[str, float]:
    """The baseline: events straight into ``app.submit`` on the bot loop; returns msgId → submit time."""
    sent: dict[str, float] = {}
    start = time.monotonic()
    for n in range(count):
        if rate:
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        msg_id = f"{tag}{n}"
        sent[msg_id] = time.monotonic()
        await bot.app.submit(
            TextEvent(channel="dingtalk", event_id=msg_id, sender_id=f"s{n % users}", text="帮助")
        )
    return sent


async def run_direct(args: argparse.Namespace) -> dict[str, float]:
    r: dict[str, float] = {}
    async with bot_on("direct", args.users) as (_emu, bot, handled):
        warm = await submit_direct(bot, args.users, 50, None, "w")
        await wait_handled(handled, list(warm), bot)
        t0 = time.monotonic()
        sent = await submit_direct(bot, args.users, args.burst, None, "b")
        await wait_handled(handled, list(sent), bot)
        r["burst_eps"] = args.burst / (max(handled[i] for i in sent) - t0)
        probe = Probe()
        probe.start()
        sent = await submit_direct(bot, args.users, int(args.rate * args.seconds), args.rate, "s")
        await wait_handled(handled, list(sent), bot)
        late = await probe.stop()
        done = [handled[i] - sent[i] for i in sent]
        r |= {"done_p50": pct(done, 50), "done_p99": pct(done, 99), "late_p50": pct(late, 50),
              "late_p99": pct(late, 99), "late_max": max(late)}  # fmt: skip
    return r


async def run_design(design: str, args: argparse.Namespace) -> dict[str, float]:
    r: dict[str, float] = {}
    async with bot_on(design, args.users) as (emu, bot, handled):
        await wait_handled(handled, await emu.load(50, None, args.users, "w"), bot)
        # burst: back to back
        ids = await emu.load(args.burst, None, args.users, "b")
        await wait_handled(handled, ids, bot)
        times = await emu.frames("b")
        r["burst_eps"] = args.burst / (max(handled[i] for i in ids) - min(t[0] for t in times.values()))

        # steady offered rate, no faults
        probe = Probe()
        probe.start()
        ids = await emu.load(int(args.rate * args.seconds), args.rate, args.users, "s")
        await wait_handled(handled, ids, bot)
        late = await probe.stop()
        times = await emu.frames("s")
        ack = [times[i][1] - times[i][0] for i in ids]
        done = [handled[i] - times[i][0] for i in ids]
        r |= {"ack_p50": pct(ack, 50), "ack_p99": pct(ack, 99), "done_p50": pct(done, 50),
              "done_p99": pct(done, 99), "late_p50": pct(late, 50), "late_p99": pct(late, 99),
              "late_max": max(late)}  # fmt: skip

        # the SDK's blocking calls: a reconnect every second, each open_connection taking 200 ms
        await emu._call("POST", "open_latency", {"seconds": 0.2})
        opened = (await emu.status())["opened"]
        probe.start()
        light = asyncio.create_task(emu.load(20 * args.seconds, 20, args.users, "r"))
        for _ in range(args.seconds):
            await asyncio.sleep(1.0)
            await emu._call("POST", "disconnect")
        await wait_handled(handled, await light, bot)
        late = await probe.stop()
        r |= {"rc_late_p50": pct(late, 50), "rc_late_p99": pct(late, 99), "rc_late_max": max(late),
              "reconnects": (await emu.status())["opened"] - opened}  # fmt: skip
    return r


def ms(v: float) -> str:
    return f"{v * 1000:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="runs per set-up (interleaved); medians shown")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"thread": [], "same loop": [], "direct": []}
    for _ in range(args.repeat):
        runs["thread"].append(asyncio.run(run_design("thread", args)))
        runs["same loop"].append(asyncio.run(run_design("same loop", args)))
        runs["direct"].append(asyncio.run(run_direct(args)))
    t, s, d = (
        {k: statistics.median(r[k] for r in runs[name]) for k in runs[name][0]}
        for name in ("thread", "same loop", "direct")
    )

    def row(label: str, *cells: str) -> None:
        print(f"| {label} | " + " | ".join(cells) + " |")

    def p50_p99(key: str, rs: tuple[dict[str, float], ...] = (t, s, d)) -> list[str]:
        return [f"{ms(r[key + '_p50'])} / {ms(r[key + '_p99'])} ms" for r in rs]

    print(f"DingTalk Stream path (real SDK 0.24.3, emulator in another process, SQLite), {args.users} users;")
    print(f"median of {args.repeat} interleaved runs per set-up")
    row(
        "measure",
        "SDK in its own thread (shipped)",
        "SDK on the bot loop (naive)",
        "direct submit (baseline)",
    )
    print("|---|---|---|---|")
    row(f"burst of {args.burst} texts: throughput", *(f"{r['burst_eps']:.0f} events/s" for r in (t, s, d)))
    row(f"push → ACK p50 / p99 at {args.rate:.0f}/s", *p50_p99("ack", (t, s)), "—")
    row(f"push → handled p50 / p99 at {args.rate:.0f}/s", *p50_p99("done"))
    row(f"10 ms timer lateness p50 / p99 at {args.rate:.0f}/s", *p50_p99("late"))
    row(f"10 ms timer lateness max at {args.rate:.0f}/s", *(f"{ms(r['late_max'])} ms" for r in (t, s, d)))
    row(
        "10 ms timer lateness p50 / p99, reconnect every 1 s, each blocking open 200 ms, 20 texts/s",
        *p50_p99("rc_late", (t, s)),
        "—",
    )
    row("same, max", *(f"{ms(r['rc_late_max'])} ms" for r in (t, s)), "—")
    row("reconnects in that phase", *(f"{r['reconnects']:.0f}" for r in (t, s)), "—")


if __name__ == "__main__":
    main()
