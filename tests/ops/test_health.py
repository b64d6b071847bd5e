"""/healthz and /metrics over HTTP, and the admins told in chat once per incident."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from bot.testing import BotHarness
from core.channel import Channel, EventSink, PermanentSendError, Target
from core.messages import Message, Text
from domain.outbox import enqueue


class Platform(Channel):
    """A platform link that can be down; sends to ``nobody`` are refused for good."""

    name = "wecom"

    def __init__(self) -> None:
        self.up = True

    async def start(self, sink: EventSink) -> None:
        pass

    async def stop(self) -> None:
        pass

    def connected(self) -> bool | None:
        return self.up

    async def send(self, target: Target, message: Message, *, key: str) -> None:
        if target.address == "nobody":
            raise PermanentSendError("WeCom error 60111: userid not found")


async def _get(bot: BotHarness, path: str) -> tuple[int, str, dict[str, object] | None]:
    assert bot.app.web is not None
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{bot.app.web.port}{path}") as r:
        body = await r.text()
        data = await r.json(content_type=None) if r.content_type == "application/json" else None
        return r.status, body, data


def _harness(tmp_path: Path, platform: Platform) -> BotHarness:
    return BotHarness(
        tmp_path,
        extra_channels=[platform],
        web={"listen": "127.0.0.1:0"},
        ops={"channel_window_s": 60, "channel_down_alert_s": 120},
    )


async def test_healthz_reports_each_check_and_the_version(tmp_path: Path) -> None:
    platform = Platform()
    async with _harness(tmp_path, platform) as bot:
        status, _, data = await _get(bot, "/healthz")
        assert data is not None
        assert status == 503  # nobody has taken the scheduler's lease yet
        checks = data["checks"]
        assert isinstance(checks, dict)
        assert checks["scheduler"]["ok"] is False and checks["database"]["ok"] is True
        assert data["version"] and data["version"] != "0+unknown"
        await bot.tick()
        status, _, data = await _get(bot, "/healthz")
        assert status == 200 and data is not None and data["status"] == "ok"
        assert data["checks"]["scheduler"]["this_instance_leads"] is True  # type: ignore[index]
        # The WeCom link drops: healthy within its window, failing after it.
        clock = [1000.0]
        bot.app.incidents.seconds = lambda: clock[0]
        platform.up = False
        await bot.app.incidents.check_channels()
        status, _, data = await _get(bot, "/healthz")
        assert status == 200
        clock[0] += 61
        status, _, data = await _get(bot, "/healthz")
        assert status == 503 and data is not None
        assert data["checks"]["channels"]["wecom"] == {"ok": False, "connected": False, "down_s": 61.0}  # type: ignore[index]
        platform.up = True
        await bot.app.incidents.check_channels()
        assert (await _get(bot, "/healthz"))[0] == 200


async def test_metrics_in_prometheus_format(tmp_path: Path) -> None:
    async with _harness(tmp_path, Platform()) as bot:
        await bot.add_user("wanglei", "王磊")
        await bot.send("wanglei", "帮助")
        await bot.send("wanglei", "帮助")
        await bot.tick()
        async with bot.session() as session:
            await enqueue(
                session,
                now=bot.clock.now(),
                channel="wecom",
                target_kind="user",
                target="nobody",
                message=Text(text="x"),
                key="k1",
            )
        await bot.settle()
        status, body, _ = await _get(bot, "/metrics")
        assert status == 200
        lines = body.splitlines()
        assert 'actionflow_events_total{kind="text",outcome="ok"} 2.0' in lines
        assert any(
            line.startswith('actionflow_step_seconds_bucket{kind="text",le="+Inf"} 2.0') for line in lines
        )
        assert 'actionflow_outbox_messages{channel="wecom",status="dead"} 1.0' in lines
        assert "actionflow_scheduler_leader 1.0" in lines
        assert 'actionflow_channel_connected{channel="wecom"} 1.0' in lines
        assert "# TYPE actionflow_job_runs gauge" in lines
        assert "# TYPE actionflow_transcription_seconds histogram" in lines


async def test_admins_are_told_once_per_incident_through_another_channel(tmp_path: Path) -> None:
    platform = Platform()
    async with _harness(tmp_path, platform) as bot:
        await bot.add_user("admin", "周管理", roles=("admin",), wecom_userid="zhou")
        for key in ("a", "b"):  # two dead messages on WeCom: one alert
            async with bot.session() as session:
                await enqueue(
                    session,
                    now=bot.clock.now(),
                    channel="wecom",
                    target_kind="user",
                    target="nobody",
                    message=Text(text="x"),
                    key=key,
                )
            await bot.settle()
        told = bot.texts_to("admin")
        assert len(told) == 1 and "企业微信有消息发送失败" in told[0] and "60111" in told[0]
        # WeCom stays down past the threshold: told once, on the console (not on WeCom).
        clock = [0.0]
        bot.app.incidents.seconds = lambda: clock[0]
        platform.up = False
        for _ in range(4):
            await bot.app.incidents.check_channels()
            clock[0] += 60
        await bot.settle()
        told = bot.texts_to("admin")
        assert len(told) == 2 and "企业微信连接已断开约 2 分钟" in told[1]


async def test_a_failing_job_tells_the_admins_once_a_day(tmp_path: Path) -> None:
    from datetime import timedelta

    from scheduler.service import RunContext

    async with _harness(tmp_path, Platform()) as bot:
        await bot.add_user("admin", "周管理", roles=("admin",))

        async def broken(ctx: RunContext) -> None:
            raise RuntimeError("ERP 连接超时")

        bot.app.scheduler.add_periodic("erp-import", "*/10 * * * *", broken)
        for _ in range(3):  # three failed runs the same day
            await bot.advance(timedelta(minutes=10))
        told = bot.texts_to("admin")
        assert len(told) == 1 and "定时任务 erp-import" in told[0] and "ERP 连接超时" in told[0]
        await bot.advance(timedelta(days=1))
        assert len(bot.texts_to("admin")) == 2
