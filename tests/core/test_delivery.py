"""Inbox dedupe, the durable outbox (retries, crash recovery, rate limits, digests, dead letters; on
SQLite and PostgreSQL) and per-user serialisation. The failing channel below is a test double for a platform that errors; the real
platform failure modes are exercised against the emulators in tests/dingtalk and tests/wecom."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.outbox_sender import OutboxSender
from bot.testing import BotHarness
from config.settings import OutboxSettings
from core.channel import Channel, EventSink, PermanentSendError, RateLimit, Target, TransientSendError
from core.clock import ManualClock
from core.events import Event, TextEvent
from core.messages import Message, Text, render_text
from domain.outbox import enqueue
from storage.db import Database
from storage.migrate import upgrade
from storage.models import ConversationState, InboundEvent, OutboxMessage


class FlakyChannel(Channel):
    """Fails the first ``failures`` sends (transiently), then delivers; can throttle like a webhook."""

    name = "flaky"

    def __init__(self, failures: int = 0, *, permanent_for: str = "", limit: RateLimit | None = None) -> None:
        self.failures = failures
        self.permanent_for = permanent_for
        self.limit = limit
        self.delivered: list[tuple[str, str, str]] = []  # (target, text, key)
        self.attempts = 0

    async def start(self, sink: EventSink) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(self, target: Target, message: Message, *, key: str) -> None:
        self.attempts += 1
        if target.address == self.permanent_for:
            raise PermanentSendError("no such user")
        if self.failures > 0:
            self.failures -= 1
            raise TransientSendError("platform busy")
        self.delivered.append((target.address, render_text(message), key))

    def rate_limit(self, target: Target, message: Message) -> RateLimit | None:
        return self.limit

    def mergeable(self, target: Target) -> bool:
        return target.kind == "group"


async def _db(url: str) -> Database:
    db = Database(url)
    await upgrade(db)
    return db


async def _queue(db: Database, clock: ManualClock, target: str, texts: list[str], kind: str = "user") -> None:
    async with db.transaction() as session:
        for i, text in enumerate(texts):
            await enqueue(
                session,
                now=clock.now(),
                channel="flaky",
                target_kind=kind,
                target=target,
                message=Text(text=text),
                key=f"{target}:{i}:{text}",
            )


async def _statuses(db: Database) -> dict[str, int]:
    async with db.read() as s:
        rows = await s.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
        return dict(rows.all())


async def test_failing_sender_that_later_succeeds_delivers_exactly_once(db_url: str) -> None:
    db, clock = await _db(db_url), ManualClock()
    channel = FlakyChannel(failures=3)
    sender = OutboxSender(db, clock, {"flaky": channel}, OutboxSettings(backoff_base_s=2, backoff_cap_s=60))
    await _queue(db, clock, "u1", ["你好"])
    for _ in range(6):
        await sender.drain()
        clock.advance(timedelta(seconds=70))
    await sender.drain()
    assert channel.attempts == 4
    assert channel.delivered == [("u1", "你好", "u1:0:你好")]
    assert await _statuses(db) == {"sent": 1}
    await db.dispose()


async def test_backoff_grows_and_order_is_kept_per_target(db_url: str) -> None:
    db, clock = await _db(db_url), ManualClock()
    channel = FlakyChannel(failures=2)
    sender = OutboxSender(db, clock, {"flaky": channel}, OutboxSettings(backoff_base_s=10, backoff_cap_s=600))
    await _queue(db, clock, "u1", ["第一条", "第二条"])
    await sender.drain()
    assert channel.delivered == []
    await _queue(db, clock, "u1", ["第三条"])  # arrives while the first two wait: must not overtake them
    await sender.drain()
    assert channel.delivered == []
    clock.advance(timedelta(seconds=11))
    await sender.drain()
    assert channel.delivered == []  # second failure: the delay doubled
    clock.advance(timedelta(seconds=12))
    await sender.drain()
    assert channel.delivered == []
    clock.advance(timedelta(seconds=10))
    await sender.drain()
    assert [t for _, t, _ in channel.delivered] == ["第一条", "第二条", "第三条"]
    await db.dispose()


async def test_process_killed_between_commit_and_send_delivers_after_restart(db_url: str) -> None:
    db, clock = await _db(db_url), ManualClock()
    await _queue(db, clock, "u1", ["提醒：拜访报告"])
    # A first process claimed the row and died before sending (it stays 'sending' with a lease).
    dead_channel = FlakyChannel()
    dying = OutboxSender(db, clock, {"flaky": dead_channel}, OutboxSettings(lease_s=60))
    claimed = await dying._claim(clock.now())
    assert len(claimed) == 1 and await _statuses(db) == {"sending": 1}
    await db.dispose()

    db2 = Database(db_url)  # the restarted process
    channel = FlakyChannel()
    sender = OutboxSender(db2, clock, {"flaky": channel}, OutboxSettings(lease_s=60))
    await sender.drain()
    assert channel.delivered == []  # the lease is still held
    clock.advance(timedelta(seconds=61))
    await sender.drain()
    await sender.drain()
    assert [t for _, t, _ in channel.delivered] == ["提醒：拜访报告"]
    assert await _statuses(db2) == {"sent": 1}
    await db2.dispose()


async def test_throttled_group_backlog_becomes_a_digest_nothing_lost_nothing_twice(db_url: str) -> None:
    db, clock = await _db(db_url), ManualClock()
    channel = FlakyChannel(limit=RateLimit("webhook:managers", calls=20, per_s=60))
    sender = OutboxSender(db, clock, {"flaky": channel}, OutboxSettings())
    texts = [f"告警 {i}" for i in range(60)]
    for text in texts[:25]:  # queued one by one, as separate alerts would be
        await _queue(db, clock, "managers", [text], kind="group")
        await sender.drain()
    assert len(channel.delivered) == 20  # the window is full: five wait, none merged yet
    assert all("汇总" not in text for _, text, _ in channel.delivered)
    for text in texts[25:]:  # 35 more arrive while they wait
        await _queue(db, clock, "managers", [text], kind="group")
        await sender.drain()
    assert len(channel.delivered) == 20
    clock.advance(timedelta(seconds=61))
    await sender.drain()
    # 40 waiting, 20 slots: 19 go out as they are, the other 21 as one digest.
    assert len(channel.delivered) == 40
    digest = channel.delivered[-1][1]
    assert digest.count("告警 ") == 21 and digest.startswith("告警 39")
    seen = [t for _, text, _ in channel.delivered for t in texts if t in text.split("\n")]
    assert sorted(seen) == sorted(texts)
    assert await _statuses(db) == {"sent": 60}
    clock.advance(timedelta(seconds=61))
    await _queue(db, clock, "managers", ["告警 新"], kind="group")
    await sender.drain()
    assert channel.delivered[-1][1] == "告警 新"  # under the limit again: no digest
    await db.dispose()


async def test_permanent_failure_is_dead_lettered_and_does_not_block_others(db_url: str) -> None:
    db, clock = await _db(db_url), ManualClock()
    channel = FlakyChannel(permanent_for="ghost")
    sender = OutboxSender(db, clock, {"flaky": channel}, OutboxSettings())
    await _queue(db, clock, "ghost", ["没人收"])
    await _queue(db, clock, "u2", ["有人收"])
    await sender.drain()
    assert channel.delivered == [("u2", "有人收", "u2:0:有人收")]
    assert await _statuses(db) == {"dead": 1, "sent": 1}
    async with db.read() as s:
        dead = (await s.execute(select(OutboxMessage).where(OutboxMessage.status == "dead"))).scalar_one()
        assert "no such user" in dead.last_error
    await db.dispose()


async def test_gives_up_after_max_attempts(db_url: str) -> None:
    db, clock = await _db(db_url), ManualClock()
    channel = FlakyChannel(failures=100)
    sender = OutboxSender(db, clock, {"flaky": channel}, OutboxSettings(max_attempts=3, backoff_cap_s=5))
    await _queue(db, clock, "u1", ["x"])
    for _ in range(5):
        await sender.drain()
        clock.advance(timedelta(seconds=10))
    assert channel.attempts == 3
    assert await _statuses(db) == {"dead": 1}
    await db.dispose()


async def test_same_event_three_times_is_handled_once(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await bot.add_user("rep")
        event = TextEvent(channel="console", event_id="evt-1", sender_id="rep", text="帮助")
        results = [await bot.submit(event) for _ in range(3)]
        assert results == [True, False, False]
        assert len(bot.texts_to("rep")) == 1
        async with bot.session() as s:
            assert (await s.execute(select(func.count()).select_from(InboundEvent))).scalar_one() == 1


async def test_racing_duplicates_are_claimed_once(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await bot.add_user("rep")
        event = TextEvent(channel="console", event_id="evt-race", sender_id="rep", text="帮助")
        results = await asyncio.gather(*(bot.app.submit(event) for _ in range(5)))
        await bot.settle()
        assert sorted(results) == [False, False, False, False, True]
        assert len(bot.texts_to("rep")) == 1


async def test_event_another_instance_finished_is_not_handled_again(tmp_path: Path, db_url: str) -> None:
    # After a restart each instance re-runs every unprocessed event, including ones another instance
    # claimed and is still working through: the second run must not apply the answer again (it would
    # become the answer to the next question).
    async with BotHarness(tmp_path, db_url=db_url) as bot:
        await bot.add_user("rep")
        await bot.send("rep", "新建客户")
        before = len(bot.texts_to("rep"))
        event = TextEvent(channel="console", event_id="evt-twice", sender_id="rep", text="杭州测试医院")
        assert await bot.app.inbox.claim(event)  # claimed, not yet handled here
        await bot.app.dispatcher.process(event)  # the other instance, just restarted, handles it
        await bot.settle()
        once = bot.texts_to("rep")[before:]
        await bot.app.dispatcher.process(event)  # then this instance's own run comes
        await bot.settle()
        assert bot.texts_to("rep")[before:] == once  # nothing more: no second answer, no apology
        async with bot.session() as s:
            row = await s.get(InboundEvent, ("console", "evt-twice"))
            assert row is not None and row.status == "done" and row.error == ""
            state = (
                await s.execute(select(ConversationState).where(ConversationState.status == "active"))
            ).scalar_one()
            assert list(state.answers.values()) == ["杭州测试医院"]


async def test_event_left_unprocessed_is_run_again_by_the_sweep(tmp_path: Path) -> None:
    async with BotHarness(tmp_path) as bot:
        await bot.add_user("rep")
        event = TextEvent(channel="console", event_id="evt-stuck", sender_id="rep", text="帮助")
        assert await bot.app.inbox.claim(event)  # claimed, but its processing task never ran
        texts = await bot.advance(timedelta(minutes=1))  # too recent: another worker may have it
        assert not [t for t in texts if "我能帮你做这些" in t]
        texts = await bot.advance(timedelta(minutes=2))
        assert [t for t in texts if "我能帮你做这些" in t] != []
        async with bot.session() as s:
            row = await s.get(InboundEvent, ("console", "evt-stuck"))
            assert row is not None and row.status == "done"


async def test_one_user_is_served_one_step_at_a_time_in_order(tmp_path: Path) -> None:
    from bot.testing import make_settings
    from tests.core.formkit import FORMKIT_MODULES
    from tests.core.test_forms import FORMS

    settings = make_settings(tmp_path, forms={"path": str(FORMS)})
    async with BotHarness(tmp_path, settings=settings, modules=FORMKIT_MODULES) as bot:
        await bot.add_user("rep")
        await bot.add_user("other")
        await bot.send("rep", "短表单")
        active: list[str] = []
        peak = 0
        original = bot.app.dispatcher.process

        async def tracking(event: Event) -> None:
            nonlocal peak
            active.append(event.user_key)
            peak = max(peak, active.count(event.user_key))
            await asyncio.sleep(0.01)  # widen the window a race would need
            try:
                await original(event)
            finally:
                active.remove(event.user_key)

        bot.app.dispatcher.process = tracking  # type: ignore[method-assign]
        # A burst: each message is claimed (fast) and processed in the background, all overlapping.
        await bot.console.say("rep", "一")
        await bot.console.say("other", "帮助")
        await bot.console.say("rep", "二")
        await bot.console.say("rep", "跳过")
        await bot.settle()
        assert peak == 1
        done = [t for t in bot.texts_to("rep") if t.startswith("完成：")]
        assert done == ['完成：{"a": "一", "b": "二"}']
