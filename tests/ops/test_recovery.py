"""Crash recovery of the outbox on SQLite and PostgreSQL: a restart sends what its previous life left
unsent at once (not after a lease), deliveries are recorded as the platform accepts them (not at the
end of a round), a frozen sender does not send what another took over, and a channel that is not up
yet costs no attempts."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import timedelta

from sqlalchemy import select, update

from bot.outbox_sender import OutboxSender, holder_id
from config.settings import OutboxSettings
from core.channel import Channel, EventSink, Target, TransientSendError
from core.clock import ManualClock
from core.messages import Message, Text, render_text
from domain.outbox import enqueue
from storage.db import Database
from storage.migrate import upgrade
from storage.models import OutboxMessage


class Platform(Channel):
    """A platform that accepts sends; it can be down, hang on one text, or freeze the whole process."""

    name = "flaky"

    def __init__(self) -> None:
        self.delivered: list[str] = []
        self.up = True
        self.hang_on: str | None = None
        self.hanging = asyncio.Event()
        self.release = asyncio.Event()
        self.freeze_s = 0.0

    async def start(self, sink: EventSink) -> None:
        pass

    async def stop(self) -> None:
        pass

    def ready(self) -> bool:
        return self.up

    async def send(self, target: Target, message: Message, *, key: str) -> None:
        text = render_text(message)
        if not self.up:
            raise TransientSendError("the channel is not running")
        if text == self.hang_on:
            self.hanging.set()
            await self.release.wait()
        self.delivered.append(text)
        if self.freeze_s:
            time.sleep(self.freeze_s)  # noqa: ASYNC251 - the whole process stops (as under SIGSTOP) right after a send
            self.freeze_s = 0.0


async def _db(url: str) -> Database:
    db = Database(url)
    await upgrade(db)
    return db


async def _queue(db: Database, clock: ManualClock, texts: list[str], target: str = "u1") -> None:
    async with db.transaction() as session:
        for text in texts:
            await enqueue(
                session,
                now=clock.now(),
                channel="flaky",
                target_kind="user",
                target=target,
                message=Text(text=text),
                key=f"{target}:{text}",
            )


async def _rows(db: Database) -> dict[str, tuple[str, int]]:
    async with db.read() as s:
        rows = await s.execute(select(OutboxMessage.payload, OutboxMessage.status, OutboxMessage.attempts))
        return {payload["text"]: (status, attempts) for payload, status, attempts in rows.all()}


async def test_a_restart_sends_what_its_previous_life_left_at_once(db_url: str) -> None:
    db, clock = await _db(db_url), ManualClock()
    await _queue(db, clock, ["提醒一", "提醒二"])
    dying = OutboxSender(db, clock, {"flaky": Platform()}, OutboxSettings(lease_s=60))
    assert len(await dying._claim(clock.now())) == 2  # claimed, then the process died before sending
    dying.close()
    await db.dispose()

    db = Database(db_url)
    platform = Platform()
    sender = OutboxSender(db, clock, {"flaky": platform}, OutboxSettings(lease_s=60))
    await sender.drain()  # the clock has not moved: the 60 s lease did not have to run out
    assert platform.delivered == ["提醒一", "提醒二"]
    assert await _rows(db) == {"提醒一": ("sent", 0), "提醒二": ("sent", 0)}
    await db.dispose()


async def test_rows_of_a_dead_process_on_this_host_are_taken_back(db_url: str) -> None:
    db, clock = await _db(db_url), ManualClock()
    await _queue(db, clock, ["给王磊"])
    dead = subprocess.run(  # noqa: ASYNC221 - a process that has exited, for its pid
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    holder = holder_id("deadbeef").replace(f"|{os.getpid()}|", f"|{int(dead.stdout)}|")
    async with db.transaction() as s:
        await s.execute(
            update(OutboxMessage).values(
                status="sending", claimed_by=holder, locked_until=clock.now() + timedelta(seconds=60)
            )
        )
    platform = Platform()
    await OutboxSender(db, clock, {"flaky": platform}, OutboxSettings()).drain()
    assert platform.delivered == ["给王磊"]
    await db.dispose()


async def test_a_live_instance_keeps_its_rows_until_its_lease_runs_out(db_url: str) -> None:
    db, clock = await _db(db_url), ManualClock()
    await _queue(db, clock, ["给李强"])
    other = OutboxSender(db, clock, {"flaky": Platform()}, OutboxSettings(lease_s=10))
    assert await other._claim(clock.now())  # another instance (still alive) is sending it
    platform = Platform()
    sender = OutboxSender(db, clock, {"flaky": platform}, OutboxSettings(lease_s=10))
    await sender.drain()
    assert platform.delivered == []
    clock.advance(timedelta(seconds=11))  # it stopped renewing (frozen, partitioned)
    await sender.drain()
    assert platform.delivered == ["给李强"]
    await db.dispose()


async def test_each_delivery_is_recorded_before_the_round_ends(db_url: str) -> None:
    db, clock = await _db(db_url), ManualClock()
    await _queue(db, clock, ["第一条", "第二条"])
    platform = Platform()
    platform.hang_on = "第二条"
    sender = OutboxSender(db, clock, {"flaky": platform}, OutboxSettings())
    round_ = asyncio.create_task(sender.run_once())
    await asyncio.wait_for(platform.hanging.wait(), 5)
    await asyncio.sleep(0.3)  # the platform accepted the first message; the round is still running
    assert (await _rows(db))["第一条"][0] == "sent"
    assert (await _rows(db))["第二条"][0] == "sending"
    platform.release.set()
    await round_
    assert await _rows(db) == {"第一条": ("sent", 0), "第二条": ("sent", 0)}
    await db.dispose()


async def test_a_frozen_sender_does_not_send_what_it_may_no_longer_hold(db_url: str) -> None:
    db, clock = await _db(db_url), ManualClock()
    await _queue(db, clock, ["甲", "乙", "丙"])
    frozen = Platform()
    frozen.freeze_s = 0.5  # frozen for longer than the lease, right after the platform took "甲"
    a = OutboxSender(db, clock, {"flaky": frozen}, OutboxSettings(lease_s=0.3))
    await a.run_once()
    assert frozen.delivered == ["甲"]  # on waking it did not go on with "乙" and "丙"
    clock.advance(timedelta(seconds=1))  # meanwhile their lease ran out for the other instance
    other = Platform()
    await OutboxSender(db, clock, {"flaky": other}, OutboxSettings(lease_s=0.3)).drain()
    assert other.delivered == ["乙", "丙"]
    assert {status for status, _ in (await _rows(db)).values()} == {"sent"}
    await db.dispose()


async def test_a_channel_that_is_not_up_costs_no_attempts(db_url: str) -> None:
    db, clock = await _db(db_url), ManualClock()
    await _queue(db, clock, ["早报"])
    platform = Platform()
    platform.up = False
    sender = OutboxSender(db, clock, {"flaky": platform}, OutboxSettings(max_attempts=2))
    for _ in range(5):
        await sender.drain()
        clock.advance(timedelta(seconds=30))
    assert await _rows(db) == {"早报": ("pending", 0)}
    platform.up = True
    await sender.drain()
    assert platform.delivered == ["早报"]
    assert await _rows(db) == {"早报": ("sent", 0)}
    await db.dispose()
