"""Customer-name normalisation and fuzzy search (Chinese hospital names and their abbreviations)."""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz import fuzz

_NOISE = re.compile(r"[\s·•．.（）()【】\[\]「」“”\"'、,，-]+")
_SUFFIXES = ("有限责任公司", "有限公司", "股份公司", "集团")


def normalize(name: str) -> str:
    text = unicodedata.normalize("NFKC", name).strip().lower()
    text = _NOISE.sub("", text)
    for suffix in _SUFFIXES:
        text = text.removesuffix(suffix)
    return text


def _expand_abbreviation(text: str) -> str:
    # 杭州一院 → 杭州第一人民医院 style expansions make abbreviations comparable.
    digits = "一二三四五六七八九十"
    m = re.fullmatch(rf"(.+?)市?([{digits}]+)院", text)
    if m:
        return f"{m.group(1)}第{m.group(2)}人民医院"
    return text


def _canon(text: str) -> str:
    text = normalize(text)
    text = _expand_abbreviation(text)
    return text.replace("市", "").replace("省", "")


def similarity(a: str, b: str) -> float:
    """0–100: how likely two customer names mean the same place."""
    ca, cb = _canon(a), _canon(b)
    if not ca or not cb:
        return 0.0
    if ca == cb:
        return 100.0
    return max(fuzz.ratio(ca, cb), 0.9 * fuzz.partial_ratio(ca, cb) if min(len(ca), len(cb)) >= 3 else 0)
