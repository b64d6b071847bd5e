"""Core event path on SQLite: 5,000 text events from 200 users through dedupe → dispatcher → form step →
DB → outbox, with SQLite on the event loop's thread (shipped) and through aiosqlite's worker thread, and
the raw SQLite insert rate measured in the same run for comparison. A third run sends 帮助 instead of
form answers (the same path with a command reply instead of a form step) to show what the form step
costs. A fourth runs the statements one form answer makes (claim, sender and form lookups, form
update, outbox row, done mark, delivery) by hand with ``sqlite3`` on the same migrated schema: what
the database itself allows, without the bot's framework. A fifth runs those statements as SQLAlchemy
Core through the shipped database layer (no ORM): what a hot path rewritten to Core statements would
pay before any of the bot's own work.

    python -m bench.core_events [--events 5000] [--users 200] [--open-events 2000]

Prints a table; docs/benchmarks.md records a run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import TextClause
from sqlalchemy import text as sql_text

from bot.testing import BotHarness, make_settings
from core.clock import SystemClock
from core.events import Event, TextEvent
from storage.db import Database

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


# The statements one form answer makes, with named parameters (both sqlite3 and SQLAlchemy's text()
# take them).
_CLAIM = (
    "INSERT INTO inbound_events (channel, event_id, kind, user_key, payload, status, attempts, error, "
    "received_at) VALUES ('console', :eid, 'text', :key, :payload, 'received', 0, '', :at) "
    "ON CONFLICT DO NOTHING"
)
_SENDER = (
    "SELECT users.*, user_roles.role FROM users LEFT JOIN user_roles ON user_roles.user_id = users.id "
    "WHERE users.console_id = :handle"
)
_ACTIVE = "SELECT id, answers, state FROM conversation_states WHERE user_id = :uid AND status = 'active'"
_OPEN = (
    "INSERT INTO conversation_states (user_id, form, status, answers, state, context, channel, "
    "started_at, updated_at, expires_at) VALUES (:uid, 'note', 'active', '{}', :nav, '{}', 'console', "
    ":at, :at, :at)"
)
_ANSWER = (
    "UPDATE conversation_states SET answers = :answers, state = :nav, updated_at = :at, expires_at = :at "
    "WHERE id = :sid"
)
_CLOSE = (
    "UPDATE conversation_states SET status = 'completed', answers = :answers, closed_at = :at WHERE id = :sid"
)
_QUEUE = (
    "INSERT INTO outbox (idempotency_key, channel, target_kind, target, payload, status, attempts, "
    "next_attempt_at, last_error, created_at) VALUES (:key, 'console', 'user', :handle, :payload, "
    "'pending', 0, :at, '', :at) ON CONFLICT DO NOTHING"
)
_DONE = (
    "UPDATE inbound_events SET status = 'done', processed_at = :at "
    "WHERE channel = 'console' AND event_id = :eid"
)
_DUE = (
    "UPDATE outbox SET status = 'sending', locked_until = :at WHERE id IN (SELECT id FROM outbox "
    "WHERE status = 'pending' AND next_attempt_at <= :at ORDER BY id LIMIT 200) RETURNING id, target, payload"
)
_SENT = "UPDATE outbox SET status = 'sent', sent_at = :at WHERE id IN ({marks})"

_ASKED_FIRST = json.dumps({"seq": 1})

Execute = Callable[[str, dict[str, Any]], Awaitable[Any]]
Transaction = Callable[[], AbstractAsyncContextManager[Execute]]


def _by_hand(path: Path) -> tuple[Transaction, Callable[[], Awaitable[None]]]:
    """Transactions on one ``sqlite3`` connection, queued on an asyncio lock as the bot queues writers."""
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        conn.execute(f"PRAGMA {pragma}")
    lock = asyncio.Lock()

    async def execute(sql: str, params: dict[str, Any]) -> sqlite3.Cursor:
        return conn.execute(sql, params)

    @asynccontextmanager
    async def transaction() -> AsyncIterator[Execute]:
        async with lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield execute
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    async def close() -> None:
        conn.close()

    return transaction, close


def _through_core(path: Path) -> tuple[Transaction, Callable[[], Awaitable[None]]]:
    """The shipped :class:`Database` (SQLite on the loop's thread, AsyncSession), Core statements only."""
    db = Database(f"sqlite+aiosqlite:///{path}")
    compiled: dict[str, TextClause] = {}

    @asynccontextmanager
    async def transaction() -> AsyncIterator[Execute]:
        async with db.transaction() as session:

            async def execute(sql: str, params: dict[str, Any]) -> Any:
                stmt = compiled.get(sql)
                if stmt is None:
                    stmt = compiled[sql] = sql_text(sql)
                return await session.execute(stmt, params)

            yield execute

    return transaction, db.dispose


async def raw_floor(events: int, users: int, *, via: str = "sqlite3") -> dict[str, float]:
    """The statements of the shipped path's form answers, written out by hand on the same migrated
    schema (indexes included), with a delivery loop claiming and marking outbox rows: what the
    database allows for this work without the bot's framework. ``via="sqlite3"`` runs them on a
    ``sqlite3`` connection; ``via="core"`` through the shipped :class:`Database` as SQLAlchemy Core
    statements on an ``AsyncSession`` (no ORM), which is what a hot path rewritten to Core would pay."""
    tmp = Path(tempfile.mkdtemp(prefix="af-bench-floor-"))
    async with BotHarness(tmp, settings=make_settings(tmp)) as bot:  # migrates; adds the senders
        for i in range(users):
            await bot.add_user(f"u{i:03d}")
    transaction, close = (_by_hand if via == "sqlite3" else _through_core)(tmp / "bot.db")
    clock = SystemClock()
    delivered = 0

    def stamp() -> str:
        return clock.now().replace(tzinfo=None).isoformat(" ")

    async def open_form(ex: Execute, uid: int, at: str) -> int:
        state_id: int = (await ex(_OPEN, {"uid": uid, "nav": _ASKED_FIRST, "at": at})).lastrowid
        return state_id

    async def ask(ex: Execute, state_id: int, seq: int, handle: str, at: str) -> None:
        message = {"kind": "text", "text": "第二项？" if seq % 2 else "第一项？"}
        key = f"form:{state_id}:{seq}"
        await ex(_QUEUE, {"key": key, "handle": handle, "payload": json.dumps(message), "at": at})

    async def claim(event_id: str, handle: str, text: str) -> None:
        payload = json.dumps({"kind": "text", "channel": "console", "event_id": event_id, "text": text})
        async with transaction() as ex:
            await ex(_CLAIM, {"eid": event_id, "key": f"console:{handle}", "payload": payload, "at": stamp()})

    async def step(event_id: str, handle: str, text: str) -> None:
        async with transaction() as ex:
            at = stamp()
            uid = (await ex(_SENDER, {"handle": handle})).fetchall()[0][0]
            row = (await ex(_ACTIVE, {"uid": uid})).fetchone()
            if row is None:  # 开始: open the form and ask its first field
                state_id = await open_form(ex, uid, at)
                await ask(ex, state_id, 1, handle, at)
            else:
                state_id, answers, nav = row[0], json.loads(row[1]), json.loads(row[2])
                answers["a" if not answers else "b"] = text
                seq = int(nav.get("seq", 0)) + 1
                if len(answers) < 2:
                    values = {"answers": json.dumps(answers), "nav": json.dumps({"seq": seq}), "at": at}
                    await ex(_ANSWER, {**values, "sid": state_id})
                    await ask(ex, state_id, seq, handle, at)
                else:  # complete, and chain the next run
                    await ex(_CLOSE, {"answers": json.dumps(answers), "at": at, "sid": state_id})
                    state_id = await open_form(ex, uid, at)
                    await ask(ex, state_id, 1, handle, at)
            await ex(_DONE, {"at": at, "eid": event_id})

    async def deliver(stop: asyncio.Event) -> None:
        nonlocal delivered
        while True:
            await asyncio.sleep(0.002)
            async with transaction() as ex:
                rows = (await ex(_DUE, {"at": stamp()})).fetchall()
            if not rows:
                if stop.is_set():
                    return
                continue
            for _, _, payload in rows:
                json.loads(payload)
            ids = {f"r{i}": row[0] for i, row in enumerate(rows)}
            async with transaction() as ex:
                await ex(_SENT.format(marks=",".join(f":{k}" for k in ids)), {"at": stamp(), **ids})
            delivered += len(rows)

    per_user = events // users
    total = per_user * users
    texts = ["开始", *[f"回答{i}" for i in range(per_user - 1)]]

    async def user_loop(handle: str) -> None:
        for i, text in enumerate(texts):
            event_id = f"{handle}-{i}"
            await claim(event_id, handle, text)
            await step(event_id, handle, text)

    stop = asyncio.Event()
    sender = asyncio.create_task(deliver(stop))
    t0 = time.perf_counter()
    await asyncio.gather(*(user_loop(f"u{i:03d}") for i in range(users)))
    stop.set()
    await sender
    elapsed = time.perf_counter() - t0
    await close()
    if delivered != total:
        raise RuntimeError(f"the {via} floor delivered {delivered} of {total} messages")
    return {"events": total, "events_per_s": total / elapsed, "delivered": delivered}


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

        async def timed(event: Event) -> None:
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
                # Keep our own reference: the step may finish (and drop the waiter) before submit returns.
                waiter = waiters[event_id] = asyncio.get_running_loop().create_future()
                submitted[event_id] = time.perf_counter()
                await app.submit(TextEvent(channel="console", event_id=event_id, sender_id=handle, text=text))
                await waiter  # closed loop: next message after the previous one is handled

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

        async def timed2(event: Event) -> None:
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
    floor = asyncio.run(raw_floor(args.events, args.users))
    core = asyncio.run(raw_floor(args.events, args.users, via="core"))
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
    print(
        f"| the same statements by hand with sqlite3 (no framework), {floor['events']:.0f} events "
        f"| {floor['events_per_s']:.0f} events/s | | |"
    )
    print(f"| ratio by hand / shipped | {floor['events_per_s'] / shipped['events_per_s']:.1f}× | | |")
    print(
        "| the same statements as SQLAlchemy Core on the shipped database (AsyncSession, no ORM) "
        f"| {core['events_per_s']:.0f} events/s | | |"
    )
    print(f"| ratio Core / shipped | {core['events_per_s'] / shipped['events_per_s']:.1f}× | | |")
    print(f"| raw sqlite3 single-row transactions | {raw:.0f} tx/s | | |")
    print(f"| ratio raw transactions / shipped events | {raw / shipped['events_per_s']:.0f}× | | |")


if __name__ == "__main__":
    main()
