"""`actionflow status`, `outbox retry` and `events retry`: dead messages and failed events are shown,
and once the cause is fixed they are sent and handled again, nothing lost. The snapshot and the
requeues run on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli.main import main
from bot.outbox_sender import OutboxSender
from bot.testing import MODULES, BotHarness, make_settings
from config.settings import OutboxSettings
from core.clock import ManualClock, SystemClock
from domain.health import requeue_dead, requeue_failed, snapshot
from domain.outbox import enqueue
from storage.db import Database
from storage.migrate import upgrade
from storage.models import InboundEvent, JobRun, OutboxMessage
from tests.core import crashkit
from tests.core.test_delivery import FlakyChannel

CRASH_MODULES = (*MODULES, "tests.core.crashkit")


def _config(tmp_path: Path) -> str:
    config = tmp_path / "actionflow.toml"
    config.write_text(f'[database]\nurl = "{make_settings(tmp_path).database.url}"\n', encoding="utf-8")
    return str(config)


async def _dead_letter(db: Database, clock: ManualClock) -> None:
    """A message to someone the platform says does not exist: dead after its first attempt."""
    async with db.transaction() as session:
        await enqueue(
            session,
            now=clock.now(),
            channel="flaky",
            target_kind="user",
            target="ghost",
            message={"kind": "text", "text": "没人收"},
            key="to-ghost",
        )
    await OutboxSender(db, clock, {"flaky": FlakyChannel(permanent_for="ghost")}, OutboxSettings()).drain()


def test_status_shows_what_failed_and_retry_recovers_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(crashkit.BROKEN, "on", True)
    monkeypatch.chdir(tmp_path)
    config = _config(tmp_path)

    async def break_things() -> tuple[InboundEvent, OutboxMessage]:
        async with BotHarness(tmp_path, modules=CRASH_MODULES) as bot:
            await bot.add_user("rep")
            r = await bot.send("rep", "崩溃")
            assert "处理这条消息时出错了" in r[0]
            await _dead_letter(bot.app.db, bot.clock)
            async with bot.session() as s:
                failed = select(InboundEvent).where(InboundEvent.status == "failed")
                dead = select(OutboxMessage).where(OutboxMessage.status == "dead")
                return (await s.execute(failed)).scalar_one(), (await s.execute(dead)).scalar_one()

    event, dead = asyncio.run(break_things())
    assert main(["--config", config, "status"]) == 3
    out = capsys.readouterr().out
    assert f"dead #{dead.id} to flaky user ghost" in out and "no such user" in out
    assert f"failed console:{event.event_id}" in out and "RuntimeError: boom: the handler has a bug" in out
    assert "actionflow outbox retry --all" in out and "actionflow events retry --all" in out
    assert out.rstrip().endswith("Needs attention.")

    assert main(["--config", config, "outbox", "retry", str(dead.id)]) == 0
    assert "1 dead message(s) queued again." in capsys.readouterr().out
    assert main(["--config", config, "events", "retry", f"console:{event.event_id}", "console:nope"]) == 0
    out = capsys.readouterr().out
    assert "1 failed event(s) will be handled again" in out and "1 of the events given have not failed" in out

    # The platform account is fixed and the handler's bug too: the next start sends and handles them.
    monkeypatch.setitem(crashkit.BROKEN, "on", False)

    async def deliver() -> list[tuple[str, str]]:
        db = Database(make_settings(tmp_path).database.url)
        try:
            fixed = FlakyChannel()
            await OutboxSender(db, SystemClock(), {"flaky": fixed}, OutboxSettings()).drain()
            return [(target, text) for target, text, _ in fixed.delivered]
        finally:
            await db.dispose()

    async def restart() -> list[str]:
        async with BotHarness(tmp_path, modules=CRASH_MODULES) as bot:
            await bot.settle()
            return bot.texts_to("rep")

    assert asyncio.run(deliver()) == [("ghost", "没人收")]
    assert "这次处理好了" in asyncio.run(restart())
    assert main(["--config", config, "status", "--json"]) == 0
    assert '"needs_attention": false' in capsys.readouterr().out


def test_retry_commands_refuse_unclear_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["--config", config, "events", "retry", "msg-without-channel"])
    assert exc.value.code == 1
    assert "'msg-without-channel' is not CHANNEL:EVENT_ID" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["--config", config, "outbox", "retry"])
    assert exc.value.code == 2
    assert "one of the arguments ID --all is required" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # a wrong path is not reported as a healthy empty database
        main(["--config", config, "status"])
    assert exc.value.code == 1
    assert f"there is no database at {tmp_path / 'bot.db'}" in capsys.readouterr().err
    assert not (tmp_path / "bot.db").exists()


async def test_snapshot_and_requeue_on_every_backend(db_url: str) -> None:
    db, clock = Database(db_url), ManualClock()
    await upgrade(db)
    try:
        now = clock.now()
        async with db.transaction() as session:
            for i in range(3):
                session.add(
                    OutboxMessage(
                        idempotency_key=f"k{i}",
                        channel="dingtalk",
                        target_kind="user",
                        target=f"u{i}",
                        payload={"kind": "text", "text": "x"},
                        status="dead" if i else "pending",
                        attempts=12 if i else 0,
                        next_attempt_at=now,
                        last_error=f"error {i}"
                        if i < 2
                        else "404 for url https://x/robot/send?access_token=s3cret&a=1",
                        created_at=now + timedelta(minutes=i),
                    )
                )
            for i in range(2):
                session.add(
                    InboundEvent(
                        channel="wecom",
                        event_id=f"e{i}",
                        kind="text",
                        user_key=f"wecom:u{i}",
                        payload={},
                        status="failed",
                        attempts=1,
                        error=f"bug {i}",
                        received_at=now + timedelta(minutes=i),
                    )
                )
            for period, status in (("2026-11-22", "done"), ("2026-11-23", "failed")):
                session.add(
                    JobRun(
                        job="daily-stale",
                        period=period,
                        status=status,
                        started_at=now - timedelta(days=2 if status == "done" else 1),
                        error="" if status == "done" else "scan broke",
                    )
                )
        async with db.read() as session:
            health = await snapshot(session, now, limit=1)
        assert health.outbox == {"pending": 1, "dead": 2} and health.oldest_pending == now
        # The newest (limit 1), with the webhook's secret masked.
        assert [(d.target, d.error) for d in health.dead] == [
            ("u2", "404 for url https://x/robot/send?access_token=***&a=1")
        ]
        assert health.events == {"failed": 2} and [f.event_id for f in health.failed] == ["e1"]
        assert [(j.job, j.period, j.status, j.error) for j in health.jobs] == [
            ("daily-stale", "2026-11-23", "failed", "scan broke")
        ]
        assert health.needs_attention
        async with db.transaction() as session:
            assert await requeue_dead(session, now, [2]) == 1  # id 2 is u1's message
            assert await requeue_failed(session, [("wecom", "e0"), ("dingtalk", "e1")]) == 1
        async with db.read() as session:
            health = await snapshot(session, now)
            again = await session.get(OutboxMessage, 2)
        assert health.outbox == {"pending": 2, "dead": 1} and health.events == {"failed": 1, "received": 1}
        assert again is not None and (again.attempts, again.next_attempt_at) == (0, now)
    finally:
        await db.dispose()


async def test_admin_sees_system_status_in_chat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(crashkit.BROKEN, "on", True)
    async with BotHarness(tmp_path, modules=CRASH_MODULES) as bot:
        await bot.add_user("admin", "管理员", roles=("admin",))
        await bot.add_user("rep")
        r = await bot.send("admin", "系统状态")
        assert "处理出错 0 条" in r[0] and "一切正常。" in r[0]
        assert "语音转写：排队 0 条，正在转写 0 条" in r[0]  # the real transcriber, idle

        await bot.send("rep", "崩溃")
        await _dead_letter(bot.app.db, bot.clock)
        async with bot.session() as s:
            event = (
                await s.execute(select(InboundEvent).where(InboundEvent.status == "failed"))
            ).scalar_one()
        text = (await bot.send("admin", "系统状态"))[0]
        assert "发送失败 1 条" in text and "→ flaky ghost：no such user" in text
        assert "处理出错 1 条" in text and f"出错 console:{event.event_id}（来自 console:rep）" in text
        assert "RuntimeError: boom" in text and "actionflow outbox retry --all" in text

        r = await bot.send("rep", "系统状态")
        assert "只对" in r[0] and "发送失败" not in r[0]

        # Fixed and put back while the bot runs: its sweep handles the event within minutes.
        monkeypatch.setitem(crashkit.BROKEN, "on", False)
        async with bot.app.db.transaction() as s:
            assert await requeue_failed(s) == 1
        assert "这次处理好了" in await bot.advance(timedelta(minutes=3))
