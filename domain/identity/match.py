"""Whether a typed name can mean an indexed institution, and how sure that is.

Tiers: ``SAME`` (everything the typed name states agrees: open it when it is the only one),
``LOOSER`` (agrees, but the indexed institution is more specific, e.g. a campus or a store the
typed name does not state: offer it), ``NEAR`` (a one-character typo or a homophone in the
institution's own name: offer it), ``None`` (a different institution: never offered).

Hard rules, never relaxed: a different province, city or district; a different ordinal (第一 vs
第二 vs none); a different type (中医院 vs 人民医院); a different university; a different branch or
store; for a hospital without a name of its own, a different place level (杭州市第一人民医院 is not
建德市第一人民医院).
"""

from __future__ import annotations

from enum import IntEnum

from rapidfuzz.distance import Levenshtein

from domain.identity import lexicon
from domain.identity.parse import HOME, Identity


class Tier(IntEnum):
    SAME = 1
    LOOSER = 2
    NEAR = 3


def same_org(a: str, b: str) -> bool:
    """Universities agree (交大 stands for every university it may mean)."""
    return a == b or bool(set(a.split(lexicon.ORG_SEP)) & set(b.split(lexicon.ORG_SEP)))


def _places_clash(q: Identity, c: Identity) -> bool:
    for a, b in ((q.province, c.province), (q.city, c.city), (q.district, c.district)):
        if a and b and HOME not in (a, b) and a != b:
            return True
    return False


def _kind_tier(q: Identity, c: Identity) -> Tier | None:
    qk, ck = q.kind, c.kind
    if qk == ck:
        return Tier.SAME
    if qk is None:
        if ck in lexicon.GENERAL:
            return Tier.SAME
        if ck in lexicon.STORES and q.branch is not None:
            return Tier.SAME
        if ck in lexicon.STORES:
            return Tier.LOOSER
        return None
    if ck is None:
        return (
            Tier.SAME if qk in lexicon.GENERAL and c.core and c.ordinal is None and c.kind is None else None
        )
    if {qk, ck} <= lexicon.GENERAL:
        # 第一医院 = 第一人民医院; without an ordinal or a name of its own 医院 is too vague to open
        return Tier.SAME if (q.ordinal is not None or q.core or q.org) else Tier.LOOSER
    return None


def near(a: str, b: str, pinyin_a: str | None = None, pinyin_b: str | None = None) -> bool:
    """A one-character typo in a name of at least three characters, or the same sound."""
    if a == b:
        return True
    if pinyin_a and pinyin_a == pinyin_b and len(a) == len(b):
        return True
    return min(len(a), len(b)) >= 3 and Levenshtein.distance(a, b, score_cutoff=1) <= 1


def _place_names(c: Identity) -> set[str]:
    return {p for p in (c.district, c.city if c.level != "district" else None) if p and p != HOME}


def compare(
    q: Identity, c: Identity, *, q_pinyin: str | None = None, c_pinyin: str | None = None
) -> Tier | None:
    """How ``q`` (typed) can mean ``c`` (indexed). Both already carry the speaker's home places."""
    if _places_clash(q, c):
        return None
    if q.org and c.org and not same_org(q.org, c.org):
        return None
    tier = Tier.SAME
    if q.ordinal != c.ordinal:
        # 浙江大学医学院附属医院 names none of the university's numbered hospitals: ask, never open
        vague = q.ordinal is None and q.org and c.org and same_org(q.org, c.org) and not q.core and not c.core
        if not vague:
            return None
        tier = Tier.LOOSER
    if q.core and c.core:  # the institution's own name, or a chain's brand
        if q.core != c.core:
            if not near(q.core, c.core, q_pinyin, c_pinyin):
                return None
            tier = Tier.NEAR
    elif q.core:
        # 富阳 / 桐庐: a bare place names that place's hospital of the stated (or general) type
        if c.org or q.core not in _place_names(c):
            return None
        if q.kind == "医院" and c.kind != "医院":
            tier = Tier.LOOSER  # 瑞金医院 more likely names a hospital called 瑞金 than 瑞金市人民医院
    elif c.core:
        return None
    elif q.org and not c.org:
        # 浙大一院 is not a city's 第一人民医院
        if c.level is not None:
            return None
        tier = Tier.LOOSER
    elif c.org and not q.org:
        if q.level is not None:  # 杭州一院 is not a university's 第一医院
            return None
        tier = Tier.LOOSER
    elif not q.org:
        # a hospital with no name of its own is named by its place: 浙江省人民医院 ≠ 杭州市人民医院
        if q.level and c.level and q.level != c.level:
            return None
        if q.level is None or c.level is None:
            tier = Tier.LOOSER
    kind = _kind_tier(q, c)
    if kind is None:
        return None
    tier = max(tier, kind)
    if q.branch != c.branch:
        if q.branch and c.branch:
            return None
        if c.branch or c.store or (q.branch and c.kind is None and c.core):
            tier = max(tier, Tier.LOOSER)
        # a campus named on a hospital that is indexed without it is that hospital
    return tier
