"""DingTalk Stream path: robot messages through the real dingtalk-stream SDK and the emulator's websocket
into the bot (inbox claim → ACK → dispatcher → outbox → batchSend), and the bot loop's responsiveness
while the SDK makes its blocking calls.

    python -m bench.dingtalk_stream [--burst 1000] [--rate 200] [--seconds 5] [--users 50]

Two designs run the same load:

* ``thread``: the shipped one, the SDK client in its own thread and loop (bot/channels/dingtalk/stream.py);
* ``same loop``: for comparison, the SDK client as a task on the bot's own loop (the naive way).

Measures: burst throughput; at a steady offered rate, push → ACK and push → handled latency; the lateness
of a 10 ms timer on the bot loop, at rest and while the gateway forces a reconnect every second and
each blocking ``open_connection`` takes 200 ms (as over a slow network).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.channel import EventSink
from bot.channels.dingtalk import DingTalkChannel
from bot.channels.dingtalk.inbound import Inbound
from bot.channels.dingtalk.stream import StreamRunner, point_sdk_at
from bot.testing import DEFAULT_START, BotHarness, make_settings
from domain.clock import ManualClock
from emulators.dingtalk.emulator import DingTalkEmulator
from emulators.dingtalk.rig import with_dingtalk


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


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


@contextlib.asynccontextmanager
async def bot_on(design: str, users: int) -> AsyncIterator[tuple[DingTalkEmulator, BotHarness, dict[str, float]]]:
    tmp = Path(tempfile.mkdtemp(prefix="af-bench-dt-"))
    clock = ManualClock(DEFAULT_START)
    with DingTalkEmulator(clock=clock) as emu:
        settings = with_dingtalk(make_settings(tmp), emu, api_rate_per_s=100_000)
        kind = DingTalkChannel if design == "thread" else SameLoopChannel
        channel = kind(settings.dingtalk, clock=clock, data_dir=settings.app.data_dir)
        modules = ("handlers.basic", "handlers.customer_field")
        async with BotHarness(tmp, settings=settings, clock=clock, extra_channels=[channel], modules=modules) as bot:
            for n in range(users):
                await bot.add_user(f"u{n}", dingtalk_staff_id=f"s{n}", preferred_channel="dingtalk")
            await emu.wait_connected()
            handled: dict[str, float] = {}
            original = bot.app.dispatcher.process

            async def timed(event: Any) -> None:
                await original(event)
                handled[event.event_id] = time.monotonic()

            bot.app.dispatcher.process = timed  # type: ignore[method-assign]
            yield emu, bot, handled


def push_in_thread(emu: DingTalkEmulator, users: int, count: int, rate: float | None, tag: str) -> list[str]:
    """Push ``count`` texts from a load-generator thread (at ``rate`` per second, or back to back)."""
    ids = [f"{tag}{n}" for n in range(count)]

    def run() -> None:
        start = time.monotonic()
        for n, msg_id in enumerate(ids):
            if rate:
                delay = start + n / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            emu.push_message(f"s{n % users}", "text", {"text": {"content": "帮助"}}, msg_id=msg_id)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return ids


async def wait_handled(handled: dict[str, float], ids: list[str], bot: BotHarness) -> None:
    while not all(i in handled for i in ids):
        await asyncio.sleep(0.01)
    await bot.settle()


def frame_times(emu: DingTalkEmulator, ids: set[str]) -> dict[str, tuple[float, float]]:
    """msgId → (first sent, ACKed), from the emulator's books."""
    import json

    out: dict[str, tuple[float, float]] = {}
    with emu.state.lock:
        for fr in emu.state.frames.values():
            if fr.type != "CALLBACK":
                continue
            msg_id = json.loads(json.loads(fr.raw)["data"]).get("msgId")
            if msg_id in ids:
                out[msg_id] = (fr.first_sent_mono, fr.acked_mono)
    return out


async def run_design(design: str, args: argparse.Namespace) -> dict[str, float]:
    r: dict[str, float] = {}
    async with bot_on(design, args.users) as (emu, bot, handled):
        # burst: back to back
        t0 = time.monotonic()
        ids = await asyncio.to_thread(push_in_thread, emu, args.users, args.burst, None, "b")
        await wait_handled(handled, ids, bot)
        r["burst_eps"] = args.burst / (max(handled[i] for i in ids) - t0)

        # steady offered rate, no faults
        probe = Probe()
        probe.start()
        count = int(args.rate * args.seconds)
        ids = await asyncio.to_thread(push_in_thread, emu, args.users, count, args.rate, "s")
        await wait_handled(handled, ids, bot)
        late = await probe.stop()
        times = frame_times(emu, set(ids))
        ack = [times[i][1] - times[i][0] for i in ids]
        done = [handled[i] - times[i][0] for i in ids]
        r |= {"ack_p50": pct(ack, 50), "ack_p99": pct(ack, 99), "done_p50": pct(done, 50),
              "done_p99": pct(done, 99), "late_p50": pct(late, 50), "late_p99": pct(late, 99),
              "late_max": max(late)}

        # the SDK's blocking calls: a reconnect every second, each open_connection taking 200 ms
        emu.set_open_latency(0.2)
        probe.start()
        opened = emu.opened
        light = asyncio.create_task(asyncio.to_thread(push_in_thread, emu, args.users, 50 * args.seconds, 50, "r"))
        for _ in range(args.seconds):
            await asyncio.sleep(1.0)
            emu.disconnect()
        ids = await light
        await wait_handled(handled, ids, bot)
        late = await probe.stop()
        r |= {"rc_late_p50": pct(late, 50), "rc_late_p99": pct(late, 99), "rc_late_max": max(late),
              "reconnects": emu.opened - opened}
        emu.set_open_latency(0.0)
    return r


def ms(v: float) -> str:
    return f"{v * 1000:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--users", type=int, default=50)
    args = parser.parse_args()
    results = {d: asyncio.run(run_design(d, args)) for d in ("thread", "same loop")}
    t, s = results["thread"], results["same loop"]
    print(f"DingTalk Stream path (real SDK 0.24.3 ↔ emulator websocket, SQLite), {args.users} users")
    print("| measure | SDK in its own thread (shipped) | SDK on the bot loop (naive) |")
    print("|---|---|---|")
    print(f"| burst of {args.burst} texts: throughput | {t['burst_eps']:.0f} events/s | {s['burst_eps']:.0f} events/s |")
    print(f"| push → ACK p50 / p99 at {args.rate:.0f}/s | {ms(t['ack_p50'])} / {ms(t['ack_p99'])} ms | "
          f"{ms(s['ack_p50'])} / {ms(s['ack_p99'])} ms |")
    print(f"| push → handled p50 / p99 at {args.rate:.0f}/s | {ms(t['done_p50'])} / {ms(t['done_p99'])} ms | "
          f"{ms(s['done_p50'])} / {ms(s['done_p99'])} ms |")
    print(f"| 10 ms timer lateness p50 / p99 / max, steady load | {ms(t['late_p50'])} / {ms(t['late_p99'])} / "
          f"{ms(t['late_max'])} ms | {ms(s['late_p50'])} / {ms(s['late_p99'])} / {ms(s['late_max'])} ms |")
    print(f"| same, reconnect every 1 s, blocking open 200 ms ({t['reconnects']:.0f} / {s['reconnects']:.0f} "
          f"reconnects) | {ms(t['rc_late_p50'])} / {ms(t['rc_late_p99'])} / {ms(t['rc_late_max'])} ms | "
          f"{ms(s['rc_late_p50'])} / {ms(s['rc_late_p99'])} / {ms(s['rc_late_max'])} ms |")


if __name__ == "__main__":
    main()
