"""The theme book in the database: what the product department shapes in chat (and, later, on the board).

Themes come from three places: the TOML dictionary seeds the book (``kind = "theme"``), discovery adds
clusters among demands no theme covers (``discovered``), and the product department keeps what it names
(``kept``: its quotes become examples, and later demands that mean the same join it). Every edit —
rename, merge, split — is written to the audit log. A merged theme keeps its row with ``merged_into``,
so the dictionary or a known cluster that still points at it sends new demands to where it was merged.

Each function takes an open session and leaves committing to the caller; errors are ``ThemeError`` with
a message a person can read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain import audit
from domain.clustering import KnownCluster
from domain.numerals import all_digits, typed_number
from domain.themes import Theme, ThemeBook, contains, normalize_text, searchable, spans_clauses
from storage.models import Demand, DemandCluster
from storage.upsert import insert_ignore

MAX_EXAMPLES = 30  # quotes kept as a theme's examples (the most recent)
# A kept theme's likeness to a demand is measured against its most recent MATCHED_EXAMPLES quotes, as many
# as a dictionary theme has: the best 3 of 30 would beat the best 3 of 10 for the same text.
MATCHED_EXAMPLES = 10
KEYWORD_WEIGHT = 3.0  # a kept theme's keyword alone is enough to assign a demand (min_score is 1)
KNOWN_CLUSTER_DAYS = 180  # discovered clusters whose members are this recent can be joined
KNOWN_MEMBERS = 20  # member texts per known cluster used to compare
# A discovered cluster merged into another theme keeps pulling its look-alikes there while it is alive as
# an unmerged one would be: for KNOWN_CLUSTER_DAYS after the merge or after the last demand it pulled,
# compared by its KNOWN_MEMBERS newest quotes, and at most MERGED_PULLING of them (the most recently
# active): a scan's cost does not grow with every merge ever made.
MERGED_PULLING = 200
MAX_LABEL = 40


class ThemeError(ValueError):
    """An edit that cannot be done; the message says why, in words for the product department."""


@dataclass(frozen=True)
class ThemeRow:
    key: str
    label: str
    kind: str
    count: int  # demands in the window asked for
    examples: int


async def seed(session: AsyncSession, book: ThemeBook, now: datetime) -> None:
    """Put every dictionary theme in the book once. A theme renamed in chat keeps its new name."""
    known = set((await session.execute(select(DemandCluster.key))).scalars())
    for theme in book.themes:
        if theme.key not in known:
            await insert_ignore(
                session,
                DemandCluster,
                {
                    "key": theme.key,
                    "label": theme.label,
                    "kind": "theme",
                    "created_at": now,
                    "examples": [],
                    "keywords": [],
                    "merged_into": "",
                },
            )


@dataclass(frozen=True)
class BookView:
    """What the clusterer needs from the database: extra keyword themes, example sets, redirects, names."""

    book: ThemeBook
    kept: tuple[KnownCluster, ...]
    labels: dict[str, str]
    merged: dict[str, str]

    def resolve(self, key: str) -> str:
        seen = set()
        while key in self.merged and key not in seen:
            seen.add(key)
            key = self.merged[key]
        return key

    def label(self, key: str, fallback: str) -> str:
        return self.labels.get(self.resolve(key), fallback)


async def view(session: AsyncSession, book: ThemeBook, now: datetime | None = None) -> BookView:
    """The book as the clusterer sees it. A merged theme still pulls what it pulled before the merge —
    a kept one by its keywords and examples, a discovered one by its defining word and its quotes
    (``merge`` keeps them on its row; see MERGED_PULLING for how long, ``now`` default: no limit) —
    and ``resolve`` sends what it pulls to where it was merged, whatever that theme's kind."""
    rows = list((await session.execute(select(DemandCluster))).scalars())
    merged = {r.key: r.merged_into for r in rows if r.merged_into}
    labels = {r.key: r.label for r in rows}
    extra: list[Theme] = []
    kept: list[KnownCluster] = []
    since = now - timedelta(days=KNOWN_CLUSTER_DAYS) if now is not None else None
    pulling = sorted(
        (
            r
            for r in rows
            if r.kind == "discovered"
            and r.merged_into
            and r.examples
            and (since is None or (r.updated_at or r.created_at) >= since)
        ),
        key=lambda r: (r.updated_at or r.created_at, r.key),
        reverse=True,
    )[:MERGED_PULLING]
    for r in pulling:
        # Joined as before the merge: its defining word (the label's first part) or like its quotes.
        kept.append(KnownCluster(r.key, r.label, tuple(r.examples[:KNOWN_MEMBERS])))
    for r in rows:
        if r.kind != "kept":
            continue
        words = tuple((normalize_text(w), KEYWORD_WEIGHT) for w in r.keywords or () if normalize_text(w))
        if words or r.examples:
            # Its examples compete with the dictionary's (domain.clustering.example_matches).
            extra.append(
                Theme(r.key, r.label, words, frozenset(), tuple((r.examples or ())[:MATCHED_EXAMPLES]))
            )
        if r.examples:
            kept.append(KnownCluster(r.key, r.label, tuple(r.examples)))
    # Kept themes come first: the product department's own themes win a tie with the dictionary, and
    # they apply even where the dictionary does not fit the company's demands.
    merged_book = replace(book, themes=(*extra, *book.themes), always=frozenset(t.key for t in extra))
    return BookView(merged_book, tuple(kept), labels, merged)


async def themes_in_window(
    session: AsyncSession, since: datetime, until: datetime, rep_ids: set[int] | None = None
) -> list[ThemeRow]:
    """Themes with demands in [since, until) (of ``rep_ids``; None = everyone's), most demands first
    (then by name). A theme the demands name but the book lacks (a dictionary theme removed from the
    TOML since) is put in the book, so every listed theme can be edited."""
    stmt = (
        select(Demand.cluster_key, func.count(), func.max(Demand.cluster_label))
        .where(Demand.created_at >= since, Demand.created_at < until, Demand.cluster_key != "")
        .group_by(Demand.cluster_key)
    )
    if rep_ids is not None:
        stmt = stmt.where(Demand.rep_id.in_(rep_ids))
    counts = {key: (int(n), label) for key, n, label in (await session.execute(stmt)).all()}
    rows = {
        r.key: r
        for r in (
            await session.execute(select(DemandCluster).where(DemandCluster.key.in_(list(counts))))
        ).scalars()
    }
    out = []
    for key, (n, demand_label) in counts.items():
        row = rows.get(key)
        if row is None:
            row = DemandCluster(
                key=key,
                label=(demand_label or key)[:100],
                kind="discovered",
                created_at=until,
                examples=[],
                keywords=[],
                merged_into="",
            )
            session.add(row)
        out.append(ThemeRow(key, row.label, row.kind, n, len(row.examples or [])))
    await session.flush()
    out.sort(key=lambda t: (-t.count, t.label))
    return out


async def find(session: AsyncSession, name: str, listed: list[ThemeRow]) -> DemandCluster:
    """A theme by its number in ``listed`` (as 需求主题 shows it) or by its name."""
    name = name.strip()
    if all_digits(name):
        number = typed_number(name)
        if number is None or not 1 <= number <= len(listed):
            which = f"编号 {number} 的" if number is not None else "这个编号的"
            raise ThemeError(f"没有{which}主题，请先发「需求主题」查看编号。")
        row = await session.get(DemandCluster, listed[number - 1].key)
        if row is None or row.merged_into:
            raise ThemeError(f"主题 {number} 已经合并或删除，请重新发「需求主题」查看编号。")
        return row
    norm = normalize_text(name)
    rows = list(
        (await session.execute(select(DemandCluster).where(DemandCluster.merged_into == ""))).scalars()
    )
    hits = [r for r in rows if normalize_text(r.label) == norm] or [
        r for r in rows if norm and norm in normalize_text(r.label)
    ]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise ThemeError(f"没有找到主题「{name}」，请先发「需求主题」查看名称或编号。")
    names = "、".join(f"「{r.label}」" for r in hits[:5])
    raise ThemeError(f"「{name}」对应多个主题：{names}，请写全名或用编号。")


def _check_label(label: str) -> str:
    label = " ".join(label.split())
    if not normalize_text(label):
        raise ThemeError("新名称不能为空。")
    if len(label) > MAX_LABEL:
        raise ThemeError(f"名称太长了，请控制在 {MAX_LABEL} 个字以内。")
    return label


async def _label_taken(session: AsyncSession, label: str, but: str = "") -> DemandCluster | None:
    norm = normalize_text(label)
    for r in (
        await session.execute(
            select(DemandCluster).where(DemandCluster.merged_into == "", DemandCluster.key != but)
        )
    ).scalars():
        if normalize_text(r.label) == norm:
            return r
    return None


async def _check_not_a_scenario(session: AsyncSession, label: str, scenarios: Collection[str]) -> None:
    """Refuse a theme name that is a scenario: one a rep picks (``scenarios``, from the demand form) or
    one filed on a demand. 「需求主题 <名称>」 looks a scenario up first, so such a theme could not be
    found by its name."""
    norm = normalize_text(label)
    filed = (await session.execute(select(Demand.scenario).distinct())).scalars()
    name = next((s for s in (*scenarios, *filed) if s and normalize_text(s) == norm), None)
    if name is not None:
        raise ThemeError(
            f"「{name}」已是业务场景的名称（发「需求主题 {name}」会列出该场景的需求），"
            "主题不能与它重名，请换一个名称。"
        )


async def _recent_texts(session: AsyncSession, key: str, limit: int = MAX_EXAMPLES) -> list[str]:
    stmt = (
        select(Demand.text)
        .where(Demand.cluster_key == key, Demand.text != "")
        .order_by(Demand.created_at.desc(), Demand.id.desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


def _snap(row: DemandCluster) -> dict[str, object]:
    return audit.snapshot(row, ("key", "label", "kind", "keywords", "merged_into"))


def _keep(row: DemandCluster, texts: list[str]) -> None:
    """A theme the product department touched is kept; its quotes become its examples."""
    if row.kind == "discovered":
        row.kind = "kept"
    if row.kind == "kept":
        row.examples = list(dict.fromkeys([*texts, *row.examples]))[:MAX_EXAMPLES]


async def rename(
    session: AsyncSession,
    row: DemandCluster,
    new_label: str,
    *,
    actor_id: int | None,
    now: datetime,
    source: str = "",
    scenarios: Collection[str] = (),
) -> DemandCluster:
    """Rename a theme. Naming a discovered cluster keeps it as a theme, its quotes as examples.
    A name another theme already has is refused, naming that theme; so is a scenario's name
    (``scenarios``: the demand form's options; scenarios filed on demands count too)."""
    label = _check_label(new_label)
    other = await _label_taken(session, label, but=row.key)
    if other is not None:
        raise ThemeError(f"已有主题叫「{other.label}」，不能重名。想把两个并在一起，请用「主题合并」。")
    await _check_not_a_scenario(session, label, scenarios)
    before = _snap(row)
    row.label = label
    _keep(row, await _recent_texts(session, row.key))
    row.updated_at = now
    await session.execute(
        update(Demand).where(Demand.cluster_key == row.key).values(cluster_label=label[:100])
    )
    audit.record(
        session,
        now=now,
        actor_id=actor_id,
        action="theme.rename",
        entity_type="demand_theme",
        entity_id=row.key,
        before=before,
        after=_snap(row),
        source_event=source,
    )
    return row


async def merge(
    session: AsyncSession,
    source: DemandCluster,
    target: DemandCluster,
    *,
    actor_id: int | None,
    now: datetime,
    event: str = "",
) -> int:
    """Move every demand of ``source`` into ``target``; later demands for ``source`` land in ``target``.
    Returns how many demands moved."""
    if source.key == target.key:
        raise ThemeError("不能把主题合并到它自己。")
    before = {"source": _snap(source), "target": _snap(target)}
    if source.kind != "theme":
        # The source's row keeps its quotes, so it goes on pulling the demands it would have pulled
        # (see ``view``); a dictionary theme keeps pulling by the dictionary's keywords and examples.
        carried = await _recent_texts(session, source.key)
        source.examples = list(dict.fromkeys([*carried, *source.examples]))[:MAX_EXAMPLES]
    moved = await session.execute(
        update(Demand)
        .where(Demand.cluster_key == source.key)
        .values(cluster_key=target.key, cluster_label=target.label[:100])
    )
    texts = await _recent_texts(session, target.key)
    _keep(target, texts)
    if target.kind == "kept":
        target.examples = list(dict.fromkeys([*target.examples, *source.examples]))[:MAX_EXAMPLES]
        target.keywords = list(dict.fromkeys([*target.keywords, *source.keywords]))
    source.merged_into = target.key
    source.updated_at = target.updated_at = now
    # Themes that were merged into ``source`` earlier follow it.
    await session.execute(
        update(DemandCluster).where(DemandCluster.merged_into == source.key).values(merged_into=target.key)
    )
    count = int(moved.rowcount or 0)  # type: ignore[attr-defined]
    audit.record(
        session,
        now=now,
        actor_id=actor_id,
        action="theme.merge",
        entity_type="demand_theme",
        entity_id=source.key,
        before=before,
        after={"source": _snap(source), "target": _snap(target), "moved": count},
        source_event=event,
    )
    return count


async def split(
    session: AsyncSession,
    row: DemandCluster,
    word: str,
    new_label: str,
    *,
    actor_id: int | None,
    now: datetime,
    source: str = "",
    scenarios: Collection[str] = (),
) -> tuple[DemandCluster, int]:
    """Move the demands of ``row`` whose words contain ``word`` into a new kept theme ``new_label``;
    later demands with that word join the new theme. Returns the new theme and how many moved. The new
    name is checked as ``rename`` checks one."""
    label = _check_label(new_label)
    needle = normalize_text(word)
    if not needle:
        raise ThemeError("请写上用来拆分的关键词，例如：主题拆分 3 试用 试用申请。")
    if spans_clauses(word):
        raise ThemeError("拆分用的关键词请写一个词，不要带逗号、句号等标点。")
    other = await _label_taken(session, label)
    if other is not None:
        raise ThemeError(f"已有主题叫「{other.label}」，不能重名。想把两个并在一起，请用「主题合并」。")
    await _check_not_a_scenario(session, label, scenarios)
    members = list(
        (await session.execute(select(Demand.id, Demand.text).where(Demand.cluster_key == row.key))).all()
    )
    # The same rule as theme matching: the word inside one clause of the quote.
    ids = [i for i, text in members if contains(searchable(text or ""), needle)]
    if not ids:
        raise ThemeError(f"「{row.label}」里没有提到「{word}」的需求，没有拆分。")
    if len(ids) == len(members):
        raise ThemeError(
            f"「{row.label}」的需求都提到了「{word}」，拆分后原主题会变空，可以直接用「主题改名」。"
        )
    key = "k-" + hashlib.sha1(f"{label}|{now.isoformat()}".encode()).hexdigest()[:10]
    moving = set(ids)
    texts = [text for i, text in members if i in moving]
    new = DemandCluster(
        key=key,
        label=label,
        kind="kept",
        created_at=now,
        updated_at=now,
        examples=texts[-MAX_EXAMPLES:],
        keywords=[word.strip()],
        merged_into="",
    )
    session.add(new)
    await session.flush()
    await session.execute(
        update(Demand).where(Demand.id.in_(ids)).values(cluster_key=key, cluster_label=label[:100])
    )
    before = _snap(row)
    _keep(row, [t for i, t in members if i not in moving])
    row.updated_at = now
    audit.record(
        session,
        now=now,
        actor_id=actor_id,
        action="theme.split",
        entity_type="demand_theme",
        entity_id=row.key,
        before=before,
        after={"from": _snap(row), "new": _snap(new), "moved": len(ids)},
        source_event=source,
    )
    return new, len(ids)
