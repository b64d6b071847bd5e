"""Core event path on SQLite: 5,000 text events from 200 users through dedupe → dispatcher → form step →
DB → outbox, with SQLite on the event loop's thread (shipped) and through aiosqlite's worker thread, and
the raw SQLite insert rate measured in the same run for comparison. A third run sends 帮助 instead of
form answers (the same path with a command reply instead of a form step) to show what the form step
costs.

    python -m bench.core_events [--events 5000] [--users 200] [--open-events 2000]

Prints a table; docs/benchmarks.md records a run.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from bot.events import TextEvent
from bot.testing import BotHarness, make_settings

FORMS = """
[forms.note]
title = "记录"
on_complete = "bench_done"
[[forms.note.fields]]
key = "a"
type = "text"
prompt = "第一项？"
[[forms.note.fields]]
key = "b"
type = "text"
prompt = "第二项？"
"""


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def raw_sqlite_rate(path: Path, n: int = 5000) -> float:
    """Single-row transactions with the same pragmas, no Python ORM: the floor we compare against."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, payload TEXT)")
    start = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (k, payload) VALUES (?, ?)", (f"k{i}", "x" * 200))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


async def run(
    events: int, users: int, *, in_loop: bool = True, form: bool = True, open_events: int = 2000
) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="af-bench-"))
    forms = tmp / "forms.toml"
    forms.write_text(FORMS, encoding="utf-8")
    settings = make_settings(tmp, forms={"path": str(forms)}, database={"sqlite_in_loop": in_loop})
    modules = ("handlers.basic", "handlers.customer_field", "bench.formkit")
    async with BotHarness(tmp, settings=settings, modules=modules) as bot:
        handles = [f"u{i:03d}" for i in range(users)]
        for h in handles:
            await bot.add_user(h)
        app = bot.app
        done: dict[str, float] = {}
        waiters: dict[str, asyncio.Future[None]] = {}
        service: list[float] = []
        original = app.dispatcher.process

        async def timed(event):  # type: ignore[no-untyped-def]
            t0 = time.perf_counter()
            await original(event)
            service.append(time.perf_counter() - t0)
            done[event.event_id] = time.perf_counter()
            waiter = waiters.pop(event.event_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

        app.dispatcher.process = timed  # type: ignore[method-assign]
        per_user = events // users
        texts = ["开始", *[f"回答{i}" for i in range(per_user - 1)]] if form else ["帮助"] * per_user
        submitted: dict[str, float] = {}

        async def user_loop(handle: str) -> None:
            for i, text in enumerate(texts):
                event_id = f"{handle}-{i}"
                waiters[event_id] = asyncio.get_running_loop().create_future()
                submitted[event_id] = time.perf_counter()
                await app.submit(TextEvent(channel="console", event_id=event_id, sender_id=handle, text=text))
                await waiters[event_id]  # closed loop: next message after the previous one is handled

        # Closed-loop throughput: 200 users each sending as soon as the previous step is handled.
        t0 = time.perf_counter()
        await asyncio.gather(*(user_loop(h) for h in handles))
        await app.idle()
        elapsed = time.perf_counter() - t0
        latencies = [done[k] - submitted[k] for k in submitted]
        total = len(submitted)
        delivered = len(bot.console.sent)

        # Open-loop latency at a fixed offered rate below saturation.
        rate = 400
        open_lat: list[float] = []
        open_done: dict[str, float] = {}
        open_sub: dict[str, float] = {}

        async def timed2(event):  # type: ignore[no-untyped-def]
            await original(event)
            open_done[event.event_id] = time.perf_counter()

        app.dispatcher.process = timed2  # type: ignore[method-assign]
        start = time.perf_counter()
        for i in range(open_events):
            due = start + i / rate
            now = time.perf_counter()
            if due > now:
                await asyncio.sleep(due - now)
            handle = handles[i % users]
            eid = f"open-{i}"
            open_sub[eid] = time.perf_counter()
            await app.submit(TextEvent(channel="console", event_id=eid, sender_id=handle, text="帮助"))
        await app.idle()
        open_lat = [open_done[k] - open_sub[k] for k in open_sub]

    return {
        "events": total,
        "seconds": elapsed,
        "events_per_s": total / elapsed,
        "p50_ms": pct(latencies, 50) * 1000,
        "p99_ms": pct(latencies, 99) * 1000,
        "service_p50_ms": statistics.median(service) * 1000,
        "service_p99_ms": pct(service, 99) * 1000,
        "delivered": delivered,
        "open_rate": rate,
        "open_p50_ms": pct(open_lat, 50) * 1000,
        "open_p99_ms": pct(open_lat, 99) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--open-events", type=int, default=2000, help="events sent at 400/s for latency")
    args = parser.parse_args()
    shipped = asyncio.run(run(args.events, args.users, in_loop=True, open_events=args.open_events))
    threads = asyncio.run(run(args.events, args.users, in_loop=False, open_events=args.open_events))
    command = asyncio.run(
        run(args.events, args.users, in_loop=True, form=False, open_events=args.open_events)
    )
    raw = raw_sqlite_rate(Path(tempfile.mkdtemp(prefix="af-bench-raw-")) / "raw.db")
    both = (shipped, threads, command)

    def row(label: str, fmt: str, *keys: str) -> None:
        cells = " | ".join(fmt.format(*(r[k] for k in keys)) for r in both)
        print(f"| {label} | {cells} |")

    print("Core event path (SQLite, WAL, synchronous=NORMAL)")
    print(
        "| measure | SQLite on the loop's thread (shipped) | aiosqlite worker thread "
        "| shipped, 帮助 instead of form answers |\n|---|---|---|---|"
    )
    row(f"events (closed loop, {args.users} users)", "{:.0f}", "events")
    row("throughput", "{:.0f} events/s", "events_per_s")
    row("submit → handled p50 / p99 (closed loop)", "{:.1f} / {:.1f} ms", "p50_ms", "p99_ms")
    row(
        "handler step incl. waiting for a slot p50 / p99",
        "{:.1f} / {:.1f} ms",
        "service_p50_ms",
        "service_p99_ms",
    )
    row(
        f"submit → handled p50 / p99 at {shipped['open_rate']:.0f} events/s offered",
        "{:.1f} / {:.1f} ms",
        "open_p50_ms",
        "open_p99_ms",
    )
    row("messages delivered through the outbox", "{:.0f}", "delivered")
    speedup = shipped["events_per_s"] / threads["events_per_s"]
    print(f"| ratio shipped / aiosqlite throughput | {speedup:.2f}× | | |")
    ratio = command["events_per_s"] / shipped["events_per_s"]
    print(f"| ratio 帮助 / form answers throughput | {ratio:.2f}× | | |")
    print(f"| raw sqlite3 single-row transactions | {raw:.0f} tx/s | | |")
    print(f"| ratio raw transactions / shipped events | {raw / shipped['events_per_s']:.0f}× | | |")


if __name__ == "__main__":
    main()
