"""``import users``: check every row against the file and the database, then apply all or nothing.

Rules (docs/org.md has the user-facing version):

* A row is matched to an existing person by any platform id; failing that, by name when exactly one
  person of that name exists whose ids do not contradict the row. Otherwise the row adds a person.
* Columns present in the file are the truth for the people in it (an empty cell clears the value);
  columns left out of the file are not touched.
* People not in the file are left alone unless ``deactivate_missing``. Nobody is ever deleted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain.people import (
    ROLE_LABELS,
    customers_of,
    find_cycle,
    load_people,
    split_roles,
)
from domain.person_changes import KEEP, Change, Desired, NodeKey, apply_desired
from domain.roster.columns import BY_KEY, ID_FIELDS, TEXT_FIELDS, parse_status
from domain.roster.files import RawRow, RosterFile
from domain.safe_text import BadText, clean_name
from storage.models import ROLES, User, UserStatus


class RosterInvalid(ValueError):
    """The file's people do not check out; nothing was changed. ``problems`` start with the line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class ImportResult:
    people: int
    changes: list[Change]
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Row:
    raw: RawRow
    name: str = ""
    roles: list[str] | None = None
    supervisor: str | None = None
    status: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)  # non-empty platform ids
    user: User | None = None
    supervisor_node: Any = KEEP

    @property
    def line(self) -> int:
        return self.raw.line


def _parse(raw: RawRow, columns: tuple[str, ...], problems: list[tuple[int, str]]) -> _Row:
    row = _Row(raw)
    cells = raw.cells
    for key in columns:
        value = cells[key]
        if len(value) > BY_KEY[key].max_length:
            problems.append((raw.line, f"{key} is longer than {BY_KEY[key].max_length} characters"))
    row.name = cells["name"]
    if not row.name:
        problems.append((raw.line, "name is empty"))
    else:
        try:
            row.name = clean_name(row.name, what="姓名")
        except BadText as exc:
            problems.append((raw.line, f"name {row.name!r}: {exc}"))
    if "roles" in columns:
        roles, unknown = split_roles(cells["roles"])
        for word in unknown:
            known = ", ".join(ROLES) + " / " + "、".join(ROLE_LABELS.values())
            problems.append((raw.line, f"unknown role {word!r} (known roles: {known})"))
        row.roles = roles
    if "supervisor" in columns:
        row.supervisor = cells["supervisor"]
    if "status" in columns:
        status = parse_status(cells["status"])
        if status is None:
            problems.append(
                (raw.line, f"unknown status {cells['status']!r} (use active, inactive or pending)")
            )
        row.status = status or UserStatus.ACTIVE
    for key in TEXT_FIELDS:
        if key in columns:
            row.values[key] = cells[key]
    for key in ID_FIELDS:
        if key in columns:
            row.values[key] = cells[key]
            if cells[key]:
                row.ids[key] = cells[key]
    return row


def _who(user: User) -> str:
    return f"{user.name} (#{user.id})"


def _match(rows: list[_Row], people: list[User], problems: list[tuple[int, str]]) -> None:
    """Find each row's existing person (or none); report contradictions."""
    by_id: dict[tuple[str, str], User] = {}
    for u in people:
        for key in ID_FIELDS:
            value = getattr(u, key)
            if value:
                by_id[(key, value)] = u
    # duplicate ids inside the file
    seen: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row in rows:
        for key, value in row.ids.items():
            seen[(key, value)].append(row.line)
    duplicated: set[int] = set()
    for (key, value), lines in seen.items():
        if len(lines) > 1:
            duplicated.update(lines)
            for line in lines:
                others = ", ".join(str(n) for n in lines if n != line)
                problems.append((line, f"{key} {value!r} is also on line {others}"))
    id_matched: set[int] = set()
    for row in rows:
        hits = {by_id[(k, v)].id: (k, v, by_id[(k, v)]) for k, v in row.ids.items() if (k, v) in by_id}
        if len(hits) > 1:
            parts = [f"{k} {v!r} belongs to {_who(u)}" for k, v, u in hits.values()]
            problems.append((row.line, "conflicting ids: " + " but ".join(parts)))
        elif hits:
            row.user = next(iter(hits.values()))[2]
            id_matched.add(row.user.id)
    by_name: dict[str, list[User]] = defaultdict(list)
    for u in people:
        by_name[u.name].append(u)
    for row in rows:
        if row.user is not None or not row.name:
            continue
        candidates = [
            u
            for u in by_name.get(row.name, [])
            if u.id not in id_matched
            and all(not getattr(u, k) or getattr(u, k) == v for k, v in row.ids.items())
        ]
        if len(candidates) == 1:
            row.user = candidates[0]
        elif len(candidates) > 1:
            who = ", ".join(_who(u) for u in candidates)
            problems.append(
                (
                    row.line,
                    f"{len(candidates)} people named {row.name} already exist ({who}); "
                    "add a platform id to say which",
                )
            )
    matched: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        if row.user is not None:
            matched[row.user.id].append(row.line)
    for row in rows:
        if row.user is not None and len(matched[row.user.id]) > 1 and row.line not in duplicated:
            others = ", ".join(str(n) for n in matched[row.user.id] if n != row.line)
            problems.append((row.line, f"is the same person as line {others} ({_who(row.user)})"))
    no_id: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        if row.name and not row.ids and row.user is None:
            no_id[row.name].append(row.line)
    for name, lines in no_id.items():
        if len(lines) > 1:
            for line in lines:
                others = ", ".join(str(n) for n in lines if n != line)
                problems.append(
                    (
                        line,
                        f"{name} is also on line {others} and neither has a platform id; "
                        "add ids to tell them apart",
                    )
                )


def _resolve_supervisors(
    rows: list[_Row], people: list[User], problems: list[tuple[int, str]]
) -> dict[NodeKey, NodeKey | None]:
    """Set each row's supervisor node; return the whole supervisor graph after the import."""
    matched_ids = {row.user.id for row in rows if row.user is not None}
    row_of_user = {row.user.id: ("new", i) for i, row in enumerate(rows) if row.user is not None}
    others = [u for u in people if u.id not in matched_ids]

    def node_of_user(uid: int | None) -> NodeKey | None:
        if uid is None:
            return None
        return row_of_user.get(uid, ("user", uid))

    by_name: dict[str, list[NodeKey]] = defaultdict(list)
    by_id: dict[str, list[NodeKey]] = defaultdict(list)
    renamed: dict[str, _Row] = {}
    for j, r in enumerate(rows):
        by_name[r.name].append(("new", j))
        for value in r.ids.values():
            by_id[value].append(("new", j))
        if r.user is not None and r.user.name != r.name:
            renamed.setdefault(r.user.name, r)
    for u in others:
        by_name[u.name].append(("user", u.id))
        for value in {getattr(u, k) for k in ID_FIELDS if getattr(u, k)}:
            by_id[value].append(("user", u.id))

    for i, row in enumerate(rows):
        if row.supervisor is None:
            continue
        ref = row.supervisor
        if not ref:
            row.supervisor_node = None
            continue
        nodes = by_name.get(ref) or by_id.get(ref) or []
        if not nodes and ref in renamed:
            other = renamed[ref]
            problems.append(
                (row.line, f"unknown supervisor {ref!r}: line {other.line} renames {ref} to {other.name}")
            )
        elif not nodes:
            problems.append((row.line, f"unknown supervisor {ref!r} (not in the file, not in the database)"))
        elif len(nodes) > 1:
            where = ", ".join(f"line {rows[n[1]].line}" if n[0] == "new" else f"#{n[1]}" for n in nodes)
            problems.append(
                (row.line, f"supervisor {ref!r} is ambiguous ({where}); write one of their platform ids")
            )
        elif nodes[0] == ("new", i):
            problems.append((row.line, f"{row.name} cannot be their own supervisor"))
        else:
            row.supervisor_node = nodes[0]

    graph: dict[NodeKey, NodeKey | None] = {}
    for i, row in enumerate(rows):
        if row.supervisor_node is not KEEP:
            graph[("new", i)] = row.supervisor_node
        else:
            graph[("new", i)] = node_of_user(row.user.supervisor_id if row.user else None)
    for u in others:
        graph[("user", u.id)] = node_of_user(u.supervisor_id)
    return graph


def _check_cycles(
    rows: list[_Row],
    people: list[User],
    graph: dict[NodeKey, NodeKey | None],
    problems: list[tuple[int, str]],
) -> None:
    index = {key: n for n, key in enumerate(graph)}
    edges = {index[k]: (index[v] if v is not None and v in index else None) for k, v in graph.items()}
    keys = list(graph)
    names = {u.id: u.name for u in people}

    def name(key: NodeKey) -> str:
        return rows[key[1]].name if key[0] == "new" else names.get(key[1], f"#{key[1]}")

    reported: set[frozenset[int]] = set()
    for n in range(len(keys)):
        cycle = find_cycle(edges, n)
        if not cycle or frozenset(cycle) in reported:
            continue
        reported.add(frozenset(cycle))
        chain = " → ".join(name(keys[c]) for c in [*cycle, cycle[0]])
        for c in cycle:
            if keys[c][0] == "new":
                problems.append((rows[keys[c][1]].line, f"the supervisor chain loops: {chain}"))


async def import_roster(
    session: AsyncSession,
    roster: RosterFile,
    *,
    now: datetime,
    source: str,
    deactivate_missing: bool = False,
) -> ImportResult:
    """Validate everything, then apply. Raises :class:`RosterInvalid` (the caller rolls back)."""
    problems: list[tuple[int, str]] = []
    people = await load_people(session)
    rows = [_parse(raw, roster.columns, problems) for raw in roster.rows]
    if not rows:
        raise RosterInvalid(["the file has a header but no people"])
    _match(rows, people, problems)
    graph = _resolve_supervisors(rows, people, problems)
    _check_cycles(rows, people, graph, problems)
    matched = {row.user.id for row in rows if row.user is not None}
    missing = (
        [u for u in people if u.id not in matched and u.status == UserStatus.ACTIVE]
        if deactivate_missing
        else []
    )

    def final_admin(row: _Row) -> bool:
        roles = row.roles if row.roles is not None else (sorted(row.user.roles) if row.user else [])
        status = row.status or (row.user.status if row.user else UserStatus.ACTIVE)
        return "admin" in roles and status == UserStatus.ACTIVE

    admins_before = [u for u in people if u.status == UserStatus.ACTIVE and u.has_role("admin")]
    admins_after = [r for r in rows if final_admin(r)] + [
        u for u in admins_before if u.id not in matched and u not in missing
    ]
    if admins_before and not admins_after:
        problems.append((0, "after this import nobody would be an active admin; keep at least one admin row"))
    if problems:
        problems.sort(key=lambda p: p[0])
        raise RosterInvalid([f"line {line}: {text}" if line else text for line, text in problems])

    desired = []
    for row in rows:
        values: dict[str, Any] = dict(row.values)
        values["name"] = row.name
        if row.status is not None:
            values["status"] = row.status
        desired.append(Desired(row.user, values, row.roles, row.supervisor_node, origin=f"line {row.line}"))
    for user in missing:
        desired.append(Desired(user, {"status": UserStatus.INACTIVE}, origin="not in the file"))
    names = {u.id: u.name for u in people}
    changes = await apply_desired(session, desired, now=now, source=source, action="user.import", names=names)
    warnings = []
    for change in changes:
        if change.kind == "deactivated":
            owned = await customers_of(session, change.user_id)
            if owned:
                warnings.append(
                    f"{change.name} is now inactive but still owns {len(owned)} customer(s); "
                    f"reassign them in chat: 转移客户 {change.name} <新负责人>"
                )
    return ImportResult(people=len(rows), changes=changes, warnings=warnings)


async def export_rows(session: AsyncSession, *, lang: str = "en") -> list[dict[str, str]]:
    """Everyone, in id order, as roster cells (the format :func:`import_roster` reads)."""
    from domain.roster.columns import roles_cell, status_cell

    people = await load_people(session)
    by_id = {u.id: u for u in people}
    name_count: dict[str, int] = defaultdict(int)
    for u in people:
        name_count[u.name] += 1
    rows = []
    for u in people:
        supervisor = ""
        if u.supervisor_id is not None and u.supervisor_id in by_id:
            sup = by_id[u.supervisor_id]
            supervisor = sup.name
            if name_count[sup.name] > 1:
                supervisor = next((getattr(sup, k) for k in ID_FIELDS if getattr(sup, k)), sup.name)
        row = {
            "name": u.name,
            "roles": roles_cell([r for r in ROLES if r in u.roles], "zh" if lang == "zh" else "en"),
            "supervisor": supervisor,
            "status": status_cell(u.status, "zh" if lang == "zh" else "en"),
        }
        for key in TEXT_FIELDS:
            row[key] = getattr(u, key) or ""
        for key in ID_FIELDS:
            row[key] = getattr(u, key) or ""
        rows.append(row)
    return rows
