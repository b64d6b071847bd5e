"""Channel adapters (console, DingTalk, WeCom) and the factory that picks them from settings."""

from __future__ import annotations

from config.settings import Settings
from core.channel import Channel
from core.clock import Clock


def build_channels(settings: Settings, clock: Clock) -> list[Channel]:
    channels: list[Channel] = []
    if settings.console_enabled:
        from bot.channels.console import ConsoleChannel

        channels.append(ConsoleChannel(show_all=settings.console.show_alerts))
    if settings.dingtalk.enabled:
        from bot.channels.dingtalk import DingTalkChannel

        channels.append(
            DingTalkChannel(
                settings.dingtalk, clock=clock, data_dir=settings.app.data_dir, timezone=settings.app.timezone
            )
        )
    if settings.wecom.enabled:
        from bot.channels.wecom import WeComChannel

        channels.append(WeComChannel(settings.wecom, clock=clock, data_dir=settings.app.data_dir))
    return channels
