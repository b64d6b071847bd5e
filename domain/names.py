"""Customer-name normalisation and fuzzy search (Chinese hospital names and their abbreviations)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz import fuzz

from domain.safe_text import strip_invisible

_NOISE = re.compile(r"[\s·•．.（）()【】\[\]「」“”\"'、,，-]+")
_SUFFIXES = ("有限责任公司", "有限公司", "股份公司", "集团")


def normalize(name: str) -> str:
    text = unicodedata.normalize("NFKC", strip_invisible(name)).strip().lower()
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
    return _canon_normalized(normalize(text))


def _canon_normalized(text: str) -> str:
    return _expand_abbreviation(text).replace("市", "").replace("省", "")


def canonical(name: str) -> str:
    """The comparable form of a name (normalised, abbreviations expanded, 市/省 dropped)."""
    return _canon(name)


_ORDINAL = re.compile(r"第([一二三四五六七八九十百\d]+)")


def _ordinals(canon: str) -> set[str]:
    return set(_ORDINAL.findall(canon))


_CITY = re.compile(r"([\u4e00-\u9fff]{2})市")
_DISTRICT = re.compile(r"([\u4e00-\u9fff]{2})([区县])")
_NOT_A_DISTRICT = {"社区", "院区", "园区", "小区", "病区", "景区", "校区", "分区"}


def places(name: str) -> tuple[set[str], set[str]]:
    """The cities (X市) and districts/counties (X区, X县) a name states near its start."""
    return _places_normalized(normalize(name))


def _places_normalized(normalized: str) -> tuple[set[str], set[str]]:
    head = normalized[:10]
    cities = {m.group(0) for m in _CITY.finditer(head)}
    districts = {
        m.group(0) for m in _DISTRICT.finditer(head) if m.group(1)[-1] + m.group(2) not in _NOT_A_DISTRICT
    }
    return cities, districts


@dataclass(frozen=True)
class NameKey:
    """What :func:`score` compares, computed once per name (indexes keep one per customer)."""

    canon: str
    ordinals: frozenset[str]
    cities: frozenset[str]
    districts: frozenset[str]


def key(name: str) -> NameKey:
    normalized = normalize(name)
    canon = _canon_normalized(normalized)
    cities, districts = _places_normalized(normalized)
    return NameKey(canon, frozenset(_ordinals(canon)), frozenset(cities), frozenset(districts))


def _different_places(a: NameKey, b: NameKey) -> bool:
    return bool(
        (a.cities and b.cities and not a.cities & b.cities)
        or (a.districts and b.districts and not a.districts & b.districts)
    )


def score(a: NameKey, b: NameKey) -> float:
    """:func:`similarity` on prepared keys."""
    ca, cb = a.canon, b.canon
    if not ca or not cb:
        return 0.0
    if ca == cb:
        return 100.0
    if (a.ordinals and b.ordinals and a.ordinals != b.ordinals) or _different_places(a, b):
        return min(50.0, float(fuzz.ratio(ca, cb)))
    return max(fuzz.ratio(ca, cb), 0.9 * fuzz.partial_ratio(ca, cb) if min(len(ca), len(cb)) >= 3 else 0)


def similarity(a: str, b: str) -> float:
    """0–100: how likely two customer names mean the same place.

    Names that carry different ordinals (第一 vs 第三人民医院, 杭州三院 vs 杭州市第一人民医院), or that
    both state a city or district and differ in it (上城区 vs 西湖区人民医院), are different places
    however alike the rest of the text is: they score at most 50.
    """
    return score(key(a), key(b))
