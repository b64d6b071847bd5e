"""WeCom (企业微信) self-built app channel: callback server, app messages, template cards, robots.

Modules: ``crypto`` (verify/decrypt with wechatpy, replay window), ``server`` (aiohttp callback URL),
``parse`` (XML → neutral events), ``inbound`` (claim, card updates, approvals in the background),
``approvals`` (approval detail → ApprovalEvent), ``client`` (wechatpy client on ``api_base``),
``cards`` (template cards, task ids), ``outbound`` (messages → API calls), ``webhook`` (group robots),
``errors`` (error codes → send errors), ``store`` (the channel's small SQLite state), ``channel``.
"""

from bot.channels.wecom.channel import WeComChannel

__all__ = ["WeComChannel"]
