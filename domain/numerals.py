"""Small numbers as people write them in Chinese: 一, 十二, 二十三, 两 — or in digits."""

from __future__ import annotations

DIGITS: dict[str, int] = {
    "〇": 0,
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}


def small_number(text: str) -> int | None:
    """``15`` / ``十五`` / ``二十三`` / ``三十一`` / ``两`` → int; None if it is not a number below 100."""
    if text.isdigit():
        return int(text)
    if not text or any(c not in DIGITS and c != "十" for c in text):
        return None
    if "十" not in text:
        return DIGITS[text] if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1 or "十" in ones:
        return None
    return (DIGITS[tens] if tens else 1) * 10 + (DIGITS[ones] if ones else 0)
