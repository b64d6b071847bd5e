"""WeCom callbacks under load: encrypted text callbacks → the bot's callback URL → 200.

WeCom drops a callback that is not answered within 5 s and sends it again. The bot answers after
verifying, decrypting, parsing and claiming the event in the inbox (one SQLite write, shared with
concurrent claims), while earlier callbacks are being processed and their replies sent to the
emulator in the background — so the time-to-200 here includes that competition.

As in production, WeCom is outside the bot's process: the load generator (the emulator's
``CallbackSender``) and the API emulator each run in their own process; the bot process runs only the
bot. Callbacks are encrypted with the emulator's independent implementation before timing starts.

* closed loop: ``N`` requests in flight, each posting the next callback as soon as it is answered;
* open loop: callbacks arrive at a fixed rate, whatever the bot does (how WeCom sends them).

A last table times the pieces alone: decryption, and the callback server with no database.

    python -m bench.wecom_callback [--callbacks 2000] [--concurrency 1,16,64,256] [--rates 50,100,200]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp

from bot.channels.wecom import WeComChannel
from bot.channels.wecom.crypto import CallbackCrypto
from bot.channels.wecom.parse import load_xml
from bot.testing import BotHarness, make_settings
from core.clock import ManualClock
from emulators.wecom import CallbackSender, WeComEmulator, samples

CORP_ID, AGENT_ID, SECRET = "ww5823bf96d3bd56c7", 1000002, "bench-secret"
TOKEN, KEY = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
BUDGET_S = 5.0
Sealed = list[tuple[dict[str, str], str]]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# -- the platform side (other processes) ------------------------------------------
def _emulator_process(conn: Connection) -> None:
    with WeComEmulator(corp_id=CORP_ID, secret=SECRET, agent_id=AGENT_ID) as emu:
        conn.send(emu.base_url)
        conn.recv()  # "count"
        conn.send(len(emu.messages))


async def _post(url: str, sealed: Sealed, mode: str, level: float) -> tuple[list[float], float, int]:
    sender = CallbackSender(
        url, token=TOKEN, encoding_aes_key=KEY, corp_id=CORP_ID, agent_id=AGENT_ID, timeout_s=30
    )
    latencies: list[float] = []
    failures = 0

    async def one(query: dict[str, str], body: str) -> None:
        nonlocal failures
        t0 = time.perf_counter()
        try:
            posted = await sender.post_raw(query, body)
        except (TimeoutError, aiohttp.ClientError):  # WeCom would have given up long before
            latencies.append(time.perf_counter() - t0)
            failures += 1
            return
        latencies.append(posted.seconds)
        failures += posted.status != 200

    async with sender:
        started = time.perf_counter()
        if mode == "closed":
            queue = list(reversed(sealed))

            async def worker() -> None:
                while queue:
                    await one(*queue.pop())

            await asyncio.gather(*(worker() for _ in range(int(level))))
        else:
            tasks = []
            for i, (query, body) in enumerate(sealed):
                delay = started + i / level - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(query, body)))
            await asyncio.gather(*tasks)
        return latencies, time.perf_counter() - started, failures


def _load_process(url: str, sealed: Sealed, mode: str, level: float) -> tuple[list[float], float, int]:
    return asyncio.run(_post(url, sealed, mode, level))


# -- the bot (this process) ---------------------------------------------------------
class _Clock:
    def __init__(self) -> None:
        self.inner = ManualClock()

    def now(self) -> Any:
        return self.inner.now()


@asynccontextmanager
async def running_bot(
    users: int, api_base: str, max_batch: int
) -> AsyncIterator[tuple[BotHarness, str, list[str]]]:
    """The bot with the WeCom channel on SQLite and ``users`` known reps; yields its callback URL."""
    tmp = Path(tempfile.mkdtemp(prefix="af-bench-wecom-"))
    clock = _Clock()
    settings = make_settings(
        tmp,
        wecom={
            "enabled": True,
            "corp_id": CORP_ID,
            "agent_id": AGENT_ID,
            "secret": SECRET,
            "token": TOKEN,
            "encoding_aes_key": KEY,
            "api_base": api_base,
            "listen": "127.0.0.1:0",
        },
    )
    channel = WeComChannel(settings.wecom, clock=clock, data_dir=settings.app.data_dir)
    async with BotHarness(tmp, settings=settings, extra_channels=[channel]) as bot:
        clock.inner = bot.clock
        bot.app.inbox.max_batch = max_batch
        handles = [f"rep{i:03d}" for i in range(users)]
        for h in handles:
            await bot.add_user(h, wecom_userid=h, preferred_channel="wecom")
        yield bot, channel.callback_url, handles


async def measure(
    label: str,
    mode: str,
    level: float,
    *,
    callbacks: int,
    users: int,
    pool: ProcessPoolExecutor,
    max_batch: int = 200,
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    emulator = ctx.Process(target=_emulator_process, args=(child,), daemon=True)
    emulator.start()
    api_base = parent.recv()
    try:
        async with running_bot(users, api_base, max_batch) as (bot, url, handles):
            # The bot's clock is a ManualClock: sign with its time so the replay window holds.
            sender = CallbackSender(
                url,
                token=TOKEN,
                encoding_aes_key=KEY,
                corp_id=CORP_ID,
                agent_id=AGENT_ID,
                now=lambda: bot.clock.now().timestamp(),
            )
            now = int(bot.clock.now().timestamp())
            sealed = [
                sender.seal(
                    samples.text(
                        CORP_ID,
                        AGENT_ID,
                        handles[i % len(handles)],
                        "帮助",
                        msg_id=10**15 + i,
                        create_time=now,
                    )
                )
                for i in range(callbacks)
            ]
            loop = asyncio.get_running_loop()
            latencies, wall, failures = await loop.run_in_executor(
                pool, _load_process, url, sealed, mode, level
            )
            t0 = time.perf_counter()
            await bot.settle()
            drain = time.perf_counter() - t0
        parent.send("count")
        replies = int(parent.recv())
    finally:
        emulator.join(10)
        if emulator.is_alive():
            emulator.kill()
    return {
        "label": label,
        "callbacks": callbacks,
        "per_s": callbacks / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": pct(latencies, 99) * 1000,
        "max_ms": max(latencies) * 1000,
        "failures": failures,
        "replies": replies,
        "drain_s": drain,
    }


async def pieces(n: int, pool: ProcessPoolExecutor) -> dict[str, float]:
    """Decryption alone, and the HTTP callback path with no database behind it."""
    from bot.channels.wecom.server import CallbackServer

    crypto = CallbackCrypto(
        token=TOKEN, encoding_aes_key=KEY, corp_id=CORP_ID, replay_window_s=300, now=time.time
    )
    sender = CallbackSender(
        "http://unused", token=TOKEN, encoding_aes_key=KEY, corp_id=CORP_ID, agent_id=AGENT_ID
    )
    xml = samples.text(CORP_ID, AGENT_ID, "rep001", "帮助", msg_id=1, create_time=int(time.time()))
    sealed = [sender.seal(xml) for _ in range(n)]
    t0 = time.perf_counter()
    for query, body in sealed:
        load_xml(crypto.open(query, body.encode()))
    decrypt = (time.perf_counter() - t0) / n

    async def receive(query: Any, body: bytes) -> None:
        load_xml(crypto.open(query, body))  # everything but the inbox claim

    server = CallbackServer(path="/cb", max_body_bytes=65536, verify=crypto.verify_url, receive=receive)
    await server.start("127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.port}/cb"
    loop = asyncio.get_running_loop()
    latencies, wall, _ = await loop.run_in_executor(pool, _load_process, url, sealed, "closed", 64)
    await server.stop()
    return {"decrypt_us": decrypt * 1e6, "http_per_s": n / wall, "http_p99_ms": pct(latencies, 99) * 1000}


def _table(rows: list[dict[str, Any]]) -> None:
    print(
        "| load | callbacks | answered/s | time-to-200 p50 / p99 / max (ms) | non-200 or > 30 s "
        "| replies sent | backlog processed after the last 200 |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['label']} | {r['callbacks']} | {r['per_s']:.0f} | "
            f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f} / {r['max_ms']:.1f} | {r['failures']} | "
            f"{r['replies']} | {r['drain_s']:.1f} s |"
        )


async def run_all(args: argparse.Namespace) -> None:
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        closed = [
            await measure(
                f"{c} in flight", "closed", float(c), callbacks=args.callbacks, users=args.users, pool=pool
            )
            for c in args.concurrency.split(",")
        ]
        print("Closed loop: each in-flight request posts the next callback as soon as it is answered.\n")
        _table(closed)
        opened = [
            await measure(
                f"{r}/s offered", "open", float(r), callbacks=args.callbacks, users=args.users, pool=pool
            )
            for r in args.rates.split(",")
        ]
        print("\nOpen loop: callbacks arrive at a fixed rate, as WeCom sends them.\n")
        _table(opened)
        worst = max(r["p99_ms"] for r in closed + opened)
        print(
            f"\nworst p99 time-to-200: {worst:.1f} ms = {worst / (BUDGET_S * 1000):.1%} "
            f"of WeCom's 5 s budget ({BUDGET_S * 1000 / worst:.1f}× headroom)"
        )
        base = [
            await measure(
                label, mode, level, callbacks=args.callbacks, users=args.users, pool=pool, max_batch=1
            )
            for label, mode, level in (("256 in flight", "closed", 256.0), ("200/s offered", "open", 200.0))
        ]
        print("\nFor comparison, the same without group commit (each claim its own transaction):\n")
        _table(base)
        parts = await pieces(args.callbacks, pool)
    print("\n| piece | value |\n|---|---|")
    print(f"| verify + decrypt + parse one callback (wechatpy) | {parts['decrypt_us']:.0f} µs |")
    print(
        f"| callback server with no database, 64 in flight | {parts['http_per_s']:.0f} callbacks/s, "
        f"p99 {parts['http_p99_ms']:.1f} ms |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--callbacks", type=int, default=2000)
    parser.add_argument("--concurrency", default="1,16,64,256", help="closed-loop levels")
    parser.add_argument("--rates", default="50,100,200", help="open-loop offered rates (callbacks/s)")
    parser.add_argument("--users", type=int, default=200)
    asyncio.run(run_all(parser.parse_args()))


if __name__ == "__main__":
    main()
