"""Numbers as people type them: 一, 十二, 二十三, 两, or digits (ASCII or full-width; never ² or ①, which
``str.isdigit`` accepts, nor a run too long to be anything's number)."""

from __future__ import annotations

import re

MAX_DIGITS = 12  # more than any count, page or row number; int() of a long run is slow, then refused
DIGIT = "0-9０-９"  # ASCII and full-width digits, for a regex character class
_TYPED = re.compile(rf"[{DIGIT}]{{1,{MAX_DIGITS}}}")
_RUN = re.compile(rf"[{DIGIT}]+")
_ASCII = str.maketrans("０１２３４５６７８９", "0123456789")
MAX_ROW_ID = 2**31 - 1  # ids are INTEGER on PostgreSQL: a larger number names no row, and is never looked up

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


def typed_number(text: str) -> int | None:
    """``12`` / ``１２`` → 12: the whole of ``text`` in ASCII or full-width digits, at most
    :data:`MAX_DIGITS` of them; None otherwise. ``str.isdigit`` also accepts ², ① and other characters
    ``int`` refuses, and ``int`` refuses a run of more than 4,300 digits."""
    return int(text) if _TYPED.fullmatch(text) else None


def all_digits(text: str) -> bool:
    """Whether ``text`` is a number in ASCII or full-width digits, however long (one too long for
    :func:`typed_number` is a number nothing has)."""
    return _RUN.fullmatch(text) is not None


def row_id(text: str) -> int | None:
    """A record's number as typed (``12``, ``１２``) when a row could have it; None otherwise."""
    number = typed_number(text)
    return number if number is not None and 0 < number <= MAX_ROW_ID else None


def echo_number(digits: str, limit: int = 20) -> str:
    """A typed number as a reply repeats it: ASCII digits without leading zeros, cut short after ``limit``
    digits (a pasted run of thousands must not come back whole)."""
    ascii_ = (digits.translate(_ASCII).lstrip("0") or "0") if all_digits(digits) else digits
    return ascii_ if len(ascii_) <= limit else ascii_[:limit] + "…"


def small_number(text: str) -> int | None:
    """``15`` / ``十五`` / ``二十三`` / ``三十一`` / ``两`` → int; None if it is not a number below 100."""
    typed = typed_number(text)
    if typed is not None:
        return typed
    if not text or any(c not in DIGITS and c != "十" for c in text):
        return None
    if "十" not in text:
        return DIGITS[text] if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1 or "十" in ones:
        return None
    return (DIGITS[tens] if tens else 1) * 10 + (DIGITS[ones] if ones else 0)
