"""Small helpers for the bot's Chinese wording."""

from __future__ import annotations


def quoted(text: str, limit: int = 30) -> str:
    """``text`` in Chinese quotation marks, cut to ``limit`` characters with an ellipsis: a reply that
    echoes what someone typed must not repeat a pasted paragraph back at them."""
    text = text.strip()
    return f"“{text if len(text) <= limit else text[:limit] + '…'}”"


def duration(minutes: int) -> str:
    """A span a person reads at a glance: 「45 分钟」, 「5 小时 20 分钟」, 「2 天 3 小时」."""
    minutes = max(int(minutes), 1)
    if minutes < 60:
        return f"{minutes} 分钟"
    if minutes < 24 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} 小时" + (f" {rest} 分钟" if rest else "")
    days, rest = divmod(minutes, 24 * 60)
    hours = rest // 60
    return f"{days} 天" + (f" {hours} 小时" if hours else "")


def days_ago(days: int) -> str:
    """「今天」, 「昨天」, 「前天」 or 「N 天前」."""
    return {0: "今天", 1: "昨天", 2: "前天"}.get(days, f"{days} 天前")
