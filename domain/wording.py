"""Small helpers for the bot's Chinese wording."""

from __future__ import annotations


def quoted(text: str, limit: int = 30) -> str:
    """``text`` in Chinese quotation marks, cut to ``limit`` characters with an ellipsis: a reply that
    echoes what someone typed must not repeat a pasted paragraph back at them."""
    text = text.strip()
    return f"“{text if len(text) <= limit else text[:limit] + '…'}”"
