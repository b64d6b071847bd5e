"""The channel as the application builds it from settings (the path `actionflow run` takes)."""

from __future__ import annotations

from pathlib import Path

from bot.app import Application
from bot.channels import build_channels
from bot.channels.dingtalk import DingTalkChannel
from bot.testing import make_settings
from core.clock import ManualClock
from emulators.dingtalk import DingTalkEmulator
from emulators.dingtalk.rig import dingtalk_settings
from storage.models import User, UserRole
from tests.dingtalk.helpers import STAFF


async def test_the_factory_builds_the_channel_and_the_app_runs_it(tmp_path: Path) -> None:
    clock = ManualClock()
    with DingTalkEmulator(clock=clock) as emu:
        settings = make_settings(tmp_path, dingtalk=dingtalk_settings(emu), app={"timezone": "Asia/Urumqi"})
        assert not settings.console_enabled
        [channel] = build_channels(settings, clock)
        assert isinstance(channel, DingTalkChannel) and str(channel.tz) == "Asia/Urumqi"

        app = Application(settings, clock=clock, scheduler_realtime=False)
        await app.start()
        try:
            assert list(app.channels) == ["dingtalk"]
            async with app.db.transaction() as session:
                now = clock.now()
                user = User(
                    name="王磊", dingtalk_staff_id=STAFF, status="active", created_at=now, updated_at=now
                )
                user.role_rows = [UserRole(role="rep")]
                session.add(user)
            await emu.wait_connected()
            await emu.wait_acked(emu.push_text(STAFF, "帮助"))
            await app.idle()
            assert any("我能帮你做这些" in t for t in emu.texts_to(STAFF))
        finally:
            await app.stop()
