"""One bot instance for the kill test (bench/killtest.py): the real WeCom channel and outbox sender
against the WeCom emulator, plus the scheduler's leader election, on a shared database.

Writes ``<status_dir>/<pid>`` every heartbeat: ``1`` while this instance leads, ``0`` otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.channels.wecom.channel import WeComChannel
from bot.outbox_sender import OutboxSender
from config.settings import OutboxSettings, WeComSettings
from core.clock import SystemClock
from core.events import Event
from scheduler.leader import build_leader
from storage.db import Database

CORP_ID = "ww5823bf96d3bd56c7"
AGENT_ID = 1000002
SECRET = "app-secret-for-tests-0123456789abcdefghijk"
TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"


def wecom_settings(api_base: str) -> WeComSettings:
    values: dict[str, Any] = {
        "enabled": True,
        "corp_id": CORP_ID,
        "agent_id": AGENT_ID,
        "secret": SECRET,
        "token": TOKEN,
        "encoding_aes_key": AES_KEY,
        "api_base": api_base,
        "listen": "127.0.0.1:0",
    }
    return WeComSettings(**values)


class _Sink:
    async def submit(self, event: Event) -> bool:
        return True


async def serve(db_url: str, api_base: str, status_dir: Path, lease_s: float, leader_lease_s: float) -> None:
    db = Database(db_url)
    clock = SystemClock()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    with tempfile.TemporaryDirectory() as tmp:
        channel = WeComChannel(wecom_settings(api_base), clock=clock, data_dir=Path(tmp))
        channel.database = db
        await channel.start(_Sink())
        sender = OutboxSender(db, clock, {"wecom": channel}, OutboxSettings(lease_s=lease_s))
        leader = build_leader(db, clock, f"kill-{os.getpid()}", timedelta(seconds=leader_lease_s))
        status = status_dir / str(os.getpid())

        async def beat() -> None:  # the scheduler's heartbeat: renew or try to take the lease
            while not stop.is_set():
                await leader.is_leader()
                await asyncio.sleep(leader_lease_s / 3)

        async def report() -> None:  # what the parent reads: leading now, per the last renewal
            while not stop.is_set():
                status.write_text("1" if leader.holds() else "0")
                await asyncio.sleep(0.3)

        beating = asyncio.gather(beat(), report())
        print("ready", flush=True)
        await sender.run(stop, poll_s=0.1)
        beating.cancel()
        await leader.close()
        await channel.stop()
    await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description="One instance for the kill test.")
    parser.add_argument("--db", required=True)
    parser.add_argument("--api-base", required=True)
    parser.add_argument("--status-dir", required=True, type=Path)
    parser.add_argument("--lease", type=float, default=10.0)
    parser.add_argument("--leader-lease", type=float, default=10.0)
    args = parser.parse_args()
    asyncio.run(serve(args.db, args.api_base, args.status_dir, args.lease, args.leader_lease))


if __name__ == "__main__":
    main()
