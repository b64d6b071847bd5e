"""DingTalk (钉钉): Stream mode through the official ``dingtalk-stream`` SDK, OpenAPI with our own client.

Modules: ``api`` (token, throttling, errors), ``stream`` (the SDK client in its own thread),
``inbound`` (frames → inbox claims), ``parse`` / ``approvals`` / ``cards`` (payloads → neutral events),
``outgoing`` / ``webhook`` / ``media`` (sending), ``channel`` (the :class:`DingTalkChannel`).
"""

from bot.channels.dingtalk.channel import DingTalkChannel

__all__ = ["DingTalkChannel"]
