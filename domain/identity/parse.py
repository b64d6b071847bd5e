"""A Chinese institution name taken apart: places, university, core name, type, ordinal, branch.

``浙江大学医学院附属第一医院`` → org 浙江大学, ordinal 1, kind 医院 (province 浙江 from the university);
``中大附一`` → org 中山大学, ordinal 1;
``永辉超市福州鼓楼店`` → brand 永辉, kind 超市, city 福州, branch 鼓楼;
``富阳区人民医院`` → district 富阳, kind 人民医院; ``省人医`` → the speaker's own province, 人民医院.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass, replace
from typing import Final

import opencc

from domain.identity import lexicon
from domain.identity.places import CITY_PROVINCE, PROVINCE_FULL, PROVINCES

HOME: Final = "@"  # a place the speaker left implicit: 省人民医院 = the province the rep works in

_NOISE = re.compile(r"[\s·•．.、,，\-—_/\\'\"“”‘’「」【】\[\]<>《》:：;；!！?？*#]+")
_PAREN = re.compile(r"[（(]([^（）()]*)[）)]")
_COMPANY = ("股份有限公司", "有限责任公司", "有限公司", "股份公司", "集团公司", "集团")
_MAIN = frozenset({"总院", "本部", "院本部", "主院区", "总部", "本院"})
_BRANCH_TAIL = re.compile(r"^(.+?)(院区|分院|校区|分部|分店|店)$")
_DISTRICT = re.compile(r"^([\u4e00-\u9fff]{2,4}?)(新区|自治县|区|县|市|旗)")
_NOT_PLACE = frozenset(
    {"社区", "院区", "园区", "小区", "病区", "景区", "校区", "分区", "超市", "门市", "集市", "城市"}
)
_CITY_SUFFIX = re.compile(r"^(?:[\u4e00-\u9fff]{1,6}?族)*自治州|^(?:市|地区|盟|州)")
_ORDINAL_TAIL = re.compile(
    rf"(?:第?([{lexicon.DIGITS}\d]{{1,3}})(?:附属?)?|附属?([{lexicon.DIGITS}]{{1,2}}))$"
)
_AFFIL_HEAD = re.compile(rf"^(?:医学院|医学部|医科)?(?:第([{lexicon.DIGITS}]{{1,2}}))?附属")


@dataclass(frozen=True)
class Identity:
    """What a name says about the institution. Places are short names (杭州, not 杭州市).

    ``level`` is the most specific place the name itself states (province / city / district), the
    level a generic institution (人民医院 with no name of its own) belongs to.
    """

    text: str  # normalised full text
    province: str | None = None
    city: str | None = None
    district: str | None = None
    level: str | None = None  # "province" | "city" | "district"
    org: str | None = None  # a university, full name
    core: str | None = None  # the institution's own name (邵逸夫, 和睦) or a chain's brand (永辉)
    kind: str | None = None  # canonical type (人民医院, 中医院, 超市 …)
    ordinal: int | None = None
    branch: str | None = None  # campus, branch hospital or store

    @property
    def store(self) -> bool:
        return self.kind in lexicon.STORES

    @property
    def implicit(self) -> bool:
        """The name leans on the speaker's own province or city (省人民医院, 市一医院)."""
        return HOME in (self.province, self.city)


_LOCAL = threading.local()


def _simplified(text: str) -> str:
    """Traditional characters as simplified (醫院 → 医院); one converter per thread."""
    converter = getattr(_LOCAL, "t2s", None)
    if converter is None:
        converter = _LOCAL.t2s = opencc.OpenCC("t2s")
    return str(converter.convert(text))


def normalize(name: str) -> str:
    """Width, case, spaces and punctuation folded; traditional characters simplified; company
    suffixes dropped; brackets kept."""
    text = _simplified(unicodedata.normalize("NFKC", name).strip().lower())
    text = _NOISE.sub("", text)
    for suffix in _COMPANY:
        if text.endswith(suffix) and len(text) > len(suffix) + 1:
            text = text[: -len(suffix)]
            break
    return text


def flat(name: str) -> str:
    """:func:`normalize` without brackets (the form exact lookups and aliases use)."""
    return normalize(name).replace("(", "").replace(")", "")


class Gazetteer:
    """County-level places learned from indexed names and regions (district → city)."""

    def __init__(self) -> None:
        self.district_city: dict[str, set[str]] = {}
        self.brands: set[str] = set()  # chain brands seen in indexed store names

    def learn(self, city: str | None, district: str | None) -> None:
        if city and district and city != HOME:
            self.district_city.setdefault(district, set()).add(city)

    def city_of(self, district: str) -> str | None:
        cities = self.district_city.get(district)
        return next(iter(cities)) if cities and len(cities) == 1 else None

    def knows(self, word: str) -> bool:
        return word in self.district_city


def _take_province(text: str) -> tuple[str | None, str]:
    for full, short in PROVINCE_FULL.items():
        if text.startswith(full):
            return short, text[len(full) :]
    if text.startswith("省"):
        return HOME, text[1:]
    for size in (3, 2):
        head = text[:size]
        if head in PROVINCES and len(text) > size:
            rest = text[size:]
            if rest.startswith("省"):
                return head, rest[1:]
            if head not in CITY_PROVINCE:  # 浙江人民医院; a municipality is taken as a city
                return head, rest
    return None, text


def _take_city(text: str) -> tuple[str | None, str]:
    if text.startswith("市") and len(text) > 1:
        return HOME, text[1:]
    for size in (4, 3, 2):
        head = text[:size]
        if head in CITY_PROVINCE and len(text) > size:
            rest = text[size:]
            m = _CITY_SUFFIX.match(rest)
            if m:
                rest = rest[m.end() :]
            if head == "中山" and rest.startswith("大学"):  # 中山大学 is a university, not the city
                return None, text
            return head, rest
    return None, text


def _take_district(text: str, gazetteer: Gazetteer | None) -> tuple[str | None, str]:
    m = _DISTRICT.match(text)
    if m is None or (m.group(2) == "市" and len(text) == m.end()):
        return None, text
    word = m.group(1) + m.group(2)
    if word[-2:] in _NOT_PLACE or m.group(1) in CITY_PROVINCE:
        return None, text
    if any(k in m.group(1) for k in ("医", "院", "店", "中心")):
        return None, text
    return m.group(1), text[m.end() :]


_ORG_BY_HEAD: dict[str, list[str]] = {}
for _word in lexicon.UNIVERSITY_WORDS:
    _ORG_BY_HEAD.setdefault(_word[:2], []).append(_word)
_ORG_GENERIC = re.compile(r"^([\u4e00-\u9fff]{2,8}?(?:医科大学|中医药大学|大学|医学院))(?=.)")


def _take_org(text: str) -> tuple[str | None, str]:
    for word in _ORG_BY_HEAD.get(text[:2], ()):
        if text.startswith(word) and (len(text) > len(word)):
            return lexicon.UNIVERSITY_ALIASES[word], text[len(word) :]
    if "大学" not in text and "医学院" not in text:
        return None, text
    m = _ORG_GENERIC.match(text)
    if m and not m.group(1).startswith(("附属", "第")):
        return m.group(1), text[m.end() :]
    return None, text


def _take_kind(text: str) -> tuple[str | None, str]:
    for word in lexicon.KIND_WORDS:
        if text.endswith(word):
            rest = text[: -len(word)]
            if word == "院" and not rest:
                return None, text
            if word == "中医" and rest.endswith(("上", "浙")):  # 上中医/浙中医 are universities
                continue
            return lexicon.KINDS[word], rest
    return None, text


def _take_ordinal(text: str) -> tuple[int | None, str]:
    m = _ORDINAL_TAIL.search(text)
    if not m:
        return None, text
    value = lexicon.chinese_number(m.group(1) or m.group(2))
    rest = text[: m.start()]
    if value is None or value == 0 or value > 20:
        return None, text
    bare = m.group(1) and not m.group(0).startswith("第") and not m.group(0).endswith("附属")
    if bare and rest and rest[-1] in lexicon.DIGITS:
        return None, text  # a bare numeral counts only right before the type: 杭州一院, 湘雅二院
    return value, rest


def _strip_affiliation(text: str) -> tuple[int | None, str]:
    """The 医学院附属 / 第一附属 / 附属 words that follow a university's name."""
    text = re.sub(r"^[\u4e00-\u9fff]{2,4}?医学院(?=附属)", "", text)  # 同济医学院附属协和医院
    m = _AFFIL_HEAD.match(text)
    if m:
        value = lexicon.chinese_number(m.group(1)) if m.group(1) else None
        return value, text[m.end() :]
    for word in ("医学院", "医学部", "医学中心"):
        if text.startswith(word) and len(text) > len(word):
            return None, text[len(word) :]
    return None, text


def parse(name: str, *, region: str = "", gazetteer: Gazetteer | None = None) -> Identity:
    """Take ``name`` apart. ``region`` (a customer's 所在区域, 杭州市上城区) fills places the name
    leaves out without changing the name's own ``level``."""
    text = normalize(name)
    branch: str | None = None
    for inner in _PAREN.findall(text):
        inner_flat = flat(inner)
        if inner_flat and inner_flat not in _MAIN:
            branch = re.sub(r"(院区|分院|校区|分部|分店|店)$", "", inner_flat) or inner_flat
    body = _PAREN.sub("", text).replace("(", "").replace(")", "")
    ident = _parse_body(body, gazetteer)
    if branch is not None and ident.branch is None:
        ident = replace(ident, branch=branch)
    ident = replace(ident, text=flat(name))
    if region:
        ident = _fill_region(ident, region, gazetteer)
    return _fill_up(ident, gazetteer)


def _parse_body(body: str, gazetteer: Gazetteer | None) -> Identity:
    province = city = district = None
    org, rest = _take_org(body)  # first: 浙江大学 starts with a province's name
    if org is None:
        province, rest = _take_province(body)
        city, rest = _take_city(rest)
        district, rest = _take_district(rest, gazetteer)
        org, rest = _take_org(rest)
    if city and city != HOME and district is None and org is None and rest in ("医院", "院"):
        # 中山医院, 瑞金医院: a place's name before a bare 医院 is usually the hospital's own name
        return Identity(text=body, province=province, core=city, kind="医院")
    level = "district" if district else "city" if city else "province" if province else None
    affil_ordinal: int | None = None
    if org is not None:
        affil_ordinal, rest = _strip_affiliation(rest)
        named_city, after = _take_city(rest)  # 首都医科大学附属北京天坛医院: 北京 is where, not a name
        if named_city not in (None, HOME) and after and after not in ("医院", "院"):
            city, rest = city or named_city, after
    branch: str | None = None
    kind: str | None = None
    core: str | None = None
    # Stores: brand + type + [city] + branch + 店
    store_at = -1
    store_word = ""
    for word in lexicon.STORE_WORDS:
        at = rest.find(word)
        if at > 0:
            store_at, store_word = at, word
            break
    if store_at > 0 and rest.endswith("店") and not rest.endswith(store_word):
        core = rest[:store_at]
        kind = lexicon.KINDS[store_word]
        tail = rest[store_at + len(store_word) :]
        tail_city, tail = _take_city(tail)
        city = city or (tail_city if tail_city != HOME else None)
        branch = _store_branch(re.sub(r"(分店|店)$", "", tail))
        return Identity(
            text=body,
            province=province,
            city=city,
            district=district,
            level=level or None,
            org=org,
            core=core or None,
            kind=kind,
            branch=branch,
        )
    m = _BRANCH_TAIL.match(rest)
    if m and (m.group(2) != "店" or _chain_prefix(m.group(1), gazetteer)) and not m.group(1).endswith("总"):
        head = m.group(1)
        # 邵逸夫医院下沙院区: the branch is what follows the institution's type word
        for word in lexicon.KIND_WORDS:
            at = head.rfind(word)
            if word != "院" and at > 0 and at + len(word) < len(head):
                branch = head[at + len(word) :]
                rest = head[: at + len(word)]
                break
        else:
            chain = _chain_prefix(head, gazetteer)
            if m.group(2) == "店" and chain:
                brand, used = chain
                tail_city, _ = _take_city(head[used:])
                city = city or (tail_city if tail_city != HOME else None)
                return Identity(
                    text=body,
                    province=province,
                    city=city,
                    district=district,
                    level=level,
                    org=org,
                    core=brand,
                    kind=None,
                    branch=_store_branch(head[used:]),
                )
    kind, rest = _take_kind(rest)
    ordinal, rest = _take_ordinal(rest)
    if ordinal is None:
        ordinal = affil_ordinal
    if rest.startswith("第") and kind is None:  # 中大附一 style: 附一 already taken
        pass
    m2 = re.match(rf"^附属?([{lexicon.DIGITS}]{{1,2}})$", rest)
    if m2 and ordinal is None:
        ordinal, rest = lexicon.chinese_number(m2.group(1)), ""
    rest = rest.removeprefix("附属").removesuffix("附属")
    if rest.endswith("第") or (rest.endswith("市") and rest[:-1] in CITY_PROVINCE):
        rest = rest[:-1]
    core = rest or None
    if ordinal is not None and kind is None:
        kind = "医院"
    return Identity(
        text=body,
        province=province,
        city=city,
        district=district,
        level=level,
        org=org,
        core=core,
        kind=kind,
        ordinal=ordinal,
        branch=branch,
    )


def _store_branch(text: str) -> str | None:
    """鼓楼 from 鼓楼, 鼓楼区 or 福州鼓楼 (a branch named after its city's district)."""
    _, text = _take_city(text) if len(text) > 2 else (None, text)
    return re.sub(r"(区|县)$", "", text) or None


def _chain_prefix(text: str, gazetteer: Gazetteer | None) -> tuple[str, int] | None:
    """The chain brand ``text`` starts with: a known brand, or the first two or more characters of
    exactly one brand (漱玉 for 漱玉平民)."""
    brands = set(lexicon.CHAINS) | (gazetteer.brands if gazetteer is not None else set())
    for brand in sorted(brands, key=len, reverse=True):
        if text.startswith(brand) and len(text) > len(brand):
            return brand, len(brand)
    for size in (3, 2):
        head = text[:size]
        hits = [b for b in brands if len(b) > size and b.startswith(head)]
        if len(hits) == 1 and len(text) > size:
            return hits[0], size
    return None


def _fill_region(ident: Identity, region: str, gazetteer: Gazetteer | None) -> Identity:
    """Places from the customer's region, only where they agree with what the name says."""
    where = _fill_up(_parse_body(normalize(region) + "x", gazetteer), gazetteer)
    mine = _fill_up(ident, gazetteer)
    for a, b in ((mine.province, where.province), (mine.city, where.city), (mine.district, where.district)):
        if a and b and a != b:
            return ident
    return replace(
        ident,
        province=ident.province or where.province,
        city=ident.city or where.city,
        district=ident.district or where.district,
    )


def _fill_up(ident: Identity, gazetteer: Gazetteer | None) -> Identity:
    city, province = ident.city, ident.province
    if city is None and ident.district and gazetteer is not None:
        city = gazetteer.city_of(ident.district)
    if province is None and city and city != HOME:
        province = CITY_PROVINCE.get(city)
    if province is None and ident.org:
        province = lexicon.UNIVERSITY_PROVINCE.get(ident.org)
    return replace(ident, city=city, province=province)
