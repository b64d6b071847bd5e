"""One index of institution names (customers and their aliases) and the decision for a typed name.

Outcomes: ``exact`` (open it), ``pick`` (one candidate: offer it, the rep confirms), ``ask``
(several close candidates: list them, 回复 1/2), ``none``. Lookups touch only the few entries that
share the typed name's own name, university or place (dict buckets), so they stay fast at tens of
thousands of customers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Literal

from pypinyin import lazy_pinyin
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from domain.identity import lexicon
from domain.identity.match import Tier, compare
from domain.identity.parse import (
    HOME,
    Gazetteer,
    Identity,
    _take_city,
    _take_province,
    flat,
    normalize,
    parse,
)

Outcome = Literal["exact", "pick", "ask", "none"]
MAX_NAME = 200
_SCORES = {0: 100.0, Tier.SAME: 95.0, Tier.LOOSER: 85.0, Tier.NEAR: 80.0}


@dataclass(frozen=True)
class Home:
    """Where the speaker works: what 省人民医院 and 市一医院 mean for them."""

    province: str | None = None
    city: str | None = None


def home_of(region: str) -> Home:
    """``浙江`` / ``浙江省杭州市`` / ``杭州`` → the province and city a person's region names."""
    text = normalize(region) + "x"
    province, rest = _take_province(text)
    city, _ = _take_city(rest)
    if province == HOME:
        province = None
    if city == HOME:
        city = None
    if province is None and city is not None:
        from domain.identity.places import CITY_PROVINCE

        province = CITY_PROVINCE.get(city)
    return Home(province, city)


@dataclass(frozen=True)
class Candidate:
    id: int
    name: str
    tier: int  # 0 = the very name or a confirmed alias, else a Tier
    score: float


@dataclass(frozen=True)
class Resolution:
    outcome: Outcome
    candidates: tuple[Candidate, ...] = ()
    total: int = 0  # candidates before the list was cut
    learnable: bool = False  # the typed text names one institution on its own (worth remembering)

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


@dataclass
class _Entry:
    id: int
    name: str
    ident: Identity
    pinyin: str | None
    region: str = ""


@lru_cache(maxsize=20_000)
def _sound(ch: str) -> str:
    return lazy_pinyin(ch)[0]


def _pinyin(core: str | None) -> str | None:
    """The name's sound, character by character (邵一夫 and 邵逸夫 sound alike)."""
    return " ".join(_sound(ch) for ch in core) if core and len(core) >= 2 else None


def _kind_class(kind: str | None) -> str:
    return "G" if kind is None or kind in lexicon.GENERAL else kind


@dataclass
class Resolver:
    """Names of institutions (by id), their aliases, and what the index learned about places."""

    gazetteer: Gazetteer = field(default_factory=Gazetteer)
    entries: dict[int, _Entry] = field(default_factory=dict)
    by_flat: dict[str, set[int]] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    by_core: dict[str, set[int]] = field(default_factory=dict)
    by_pinyin: dict[str, set[int]] = field(default_factory=dict)
    by_org: dict[str, set[int]] = field(default_factory=dict)
    by_kind: dict[tuple[str, int | None], set[int]] = field(default_factory=dict)
    by_place: dict[str, set[int]] = field(default_factory=dict)
    _long_cores: list[str] = field(default_factory=list)
    _long_core_set: set[str] = field(default_factory=set)
    _cityless: dict[str, set[int]] = field(default_factory=dict)  # district → entries without a city
    last_id: int = 0
    last_alias_id: int = 0

    def __len__(self) -> int:
        return len(self.entries)

    # -- building ---------------------------------------------------------------------------
    def add(self, entry_id: int, name: str, region: str = "") -> None:
        if entry_id in self.entries:
            return
        ident = parse(name, region=region, gazetteer=self.gazetteer)
        self.gazetteer.learn(ident.city, ident.district)
        if ident.core and (ident.store or (ident.branch and ident.kind is None)):
            self.gazetteer.brands.add(ident.core)
        entry = _Entry(entry_id, name, ident, _pinyin(ident.core), region)
        self.entries[entry_id] = entry
        self.last_id = max(self.last_id, entry_id)
        self.by_flat.setdefault(flat(name), set()).add(entry_id)
        if ident.core:
            self.by_core.setdefault(ident.core, set()).add(entry_id)
            if len(ident.core) >= 3 and ident.core not in self._long_core_set:
                self._long_core_set.add(ident.core)
                self._long_cores.append(ident.core)
        else:
            for place in (ident.district, ident.city if ident.level != "district" else None):
                if place and place != HOME:
                    self.by_core.setdefault(place, set()).add(entry_id)
        if entry.pinyin:
            self.by_pinyin.setdefault(entry.pinyin, set()).add(entry_id)
        if ident.org:
            for org in ident.org.split(lexicon.ORG_SEP):
                self.by_org.setdefault(org, set()).add(entry_id)
        self.by_kind.setdefault((_kind_class(ident.kind), ident.ordinal), set()).add(entry_id)
        for place in (ident.province, ident.city, ident.district):
            if place and place != HOME:
                self.by_place.setdefault(place, set()).add(entry_id)
        if ident.city is None and ident.district:
            self._cityless.setdefault(ident.district, set()).add(entry_id)

    def extend(self, rows: Iterable[tuple[int, str, str]]) -> None:
        """Add (id, name, region) rows, then fill the cities of districts learned meanwhile."""
        for entry_id, name, region in rows:
            self.add(entry_id, name, region)
        for district in [d for d in self._cityless if self.gazetteer.city_of(d)]:
            for entry_id in self._cityless.pop(district):
                entry = self.entries[entry_id]
                entry.ident = parse(entry.name, region=entry.region, gazetteer=self.gazetteer)
                for place in (entry.ident.province, entry.ident.city):
                    if place and place != HOME:
                        self.by_place.setdefault(place, set()).add(entry.id)

    def add_alias(self, alias: str, entry_id: int, alias_id: int = 0) -> None:
        key = flat(alias)
        if key:
            self.aliases[key] = entry_id
        self.last_alias_id = max(self.last_alias_id, alias_id)

    def drop_alias(self, alias: str) -> None:
        self.aliases.pop(flat(alias), None)

    # -- lookups ----------------------------------------------------------------------------
    def identity(self, text: str, home: Home | None = None) -> Identity:
        ident = parse(text, gazetteer=self.gazetteer)
        home = home or Home()
        province, city = ident.province, ident.city
        if province == HOME:
            province = home.province or HOME
        if city == HOME:
            city = home.city or HOME
            if province is None and home.province:
                province = home.province
        return replace(ident, province=province, city=city)

    def _pool(self, q: Identity) -> set[int]:
        if q.core:
            pool = set(self.by_core.get(q.core, ()))
            py = _pinyin(q.core)
            if py:
                pool |= self.by_pinyin.get(py, set())
            if len(q.core) >= 3 and self._long_cores:
                for _, _, i in process.extract(
                    q.core, self._long_cores, scorer=Levenshtein.distance, score_cutoff=1, limit=20
                ):
                    pool |= self.by_core.get(self._long_cores[i], set())
            return pool
        if q.org:
            pool = self._generic_pool(q, require_place=True)
            for org in q.org.split(lexicon.ORG_SEP):
                pool |= self.by_org.get(org, set())
            return pool
        return self._generic_pool(q, require_place=False)

    def _generic_pool(self, q: Identity, *, require_place: bool) -> set[int]:
        kinds = [_kind_class(q.kind)]
        pool: set[int] = set()
        for kind in kinds:
            pool |= self.by_kind.get((kind, q.ordinal), set())
        for place in (q.district, q.city, q.province):
            if place and place != HOME:
                return pool & self.by_place.get(place, set())
        return set() if require_place else pool

    def candidates(self, text: str, home: Home | None = None) -> list[Candidate]:
        """Every indexed institution ``text`` can mean, surest first (tier 0 = the name or an alias)."""
        key = flat(text)
        if not key:
            return []
        if len(key) > MAX_NAME:  # a pasted paragraph is no institution's name
            return []
        out: dict[int, Candidate] = {}
        for entry_id in self.by_flat.get(key, ()):
            out[entry_id] = Candidate(entry_id, self.entries[entry_id].name, 0, 100.0)
        alias = self.aliases.get(key)
        if alias is not None and alias in self.entries:
            out.setdefault(alias, Candidate(alias, self.entries[alias].name, 0, 100.0))
        q = self.identity(text, home)
        qpy = _pinyin(q.core)
        for entry_id in self._pool(q):
            if entry_id in out:
                continue
            entry = self.entries[entry_id]
            tier = compare(q, entry.ident, q_pinyin=qpy, c_pinyin=entry.pinyin)
            if tier is not None:
                out[entry_id] = Candidate(entry_id, entry.name, int(tier), _SCORES[tier])
        home = home or Home()

        def order(c: Candidate) -> tuple[int, int, int, str]:
            ident = self.entries[c.id].ident
            away = 0 if home.province is None or ident.province in (None, home.province) else 1
            return (c.tier, away, len(c.name), c.name)

        return sorted(out.values(), key=order)

    def resolve(
        self,
        text: str,
        home: Home | None = None,
        visible: Callable[[int], bool] | Collection[int] | None = None,
        limit: int = 5,
    ) -> Resolution:
        found = self.candidates(text, home)
        if visible is not None:
            allowed = visible if callable(visible) else visible.__contains__
            found = [c for c in found if allowed(c.id)]
        return decide(
            found, learnable=self.learnable(text, home), limit=limit, home=self._home_ids(found, home)
        )

    def _home_ids(self, found: list[Candidate], home: Home | None) -> set[int]:
        if home is None or home.province is None:
            return set()
        return {c.id for c in found if self.entries[c.id].ident.province == home.province}

    def learnable(self, text: str, home: Home | None = None) -> bool:
        """Whether ``text`` names one institution by itself (富阳, 浙大邵逸夫), so that a pick made
        for it can serve the whole team; 人民医院 or 省人民医院 depend on who says them."""
        q = parse(text, gazetteer=self.gazetteer)
        if q.implicit:
            return False
        return bool(q.core or q.org or q.province or q.city or q.district)


def decide(
    found: list[Candidate], *, learnable: bool = False, limit: int = 5, home: Collection[int] = ()
) -> Resolution:
    """``home``: ids of candidates in the speaker's province; when several institutions fit equally
    and exactly one of them is on the speaker's ground, it is offered first (never opened)."""
    if not found:
        return Resolution("none", learnable=learnable)
    best = found[0].tier
    top = [c for c in found if c.tier == best]
    if best in (0, Tier.SAME) and len(top) == 1:
        return Resolution("exact", (top[0],), 1, learnable)
    if best in (0, Tier.SAME):
        local = [c for c in top if c.id in home]
        if len(local) == 1 and best == Tier.SAME:
            # right for this speaker only: not worth remembering for the whole team
            return Resolution("pick", (local[0],), 1, False)
        return Resolution("ask", tuple(top[:limit]), len(top), learnable)
    if len(found) == 1:
        return Resolution("pick", (found[0],), 1, learnable)
    return Resolution("ask", tuple(found[:limit]), len(found), learnable)
