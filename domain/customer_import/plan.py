"""Validating an import: columns (Chinese or English, any order), then every row, nothing written.

Columns: 客户名称/name (required), 客户类型/kind, 客户等级/grade, 所在区域/region, 负责人/owner,
共享/shared, 决策者偏好/preferences, 别名/aliases (other names the team uses, separated by 、 or ;),
and per key person N (1, 2, …): 关键人N角色组/kpN_role,
关键人N姓名/kpN_name, 关键人N职务/kpN_title, 关键人N最近沟通日期/kpN_last_contact, 关键人N电话/kpN_phone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from domain import profiles
from domain.customer_import.files import cell
from domain.identity.parse import flat
from domain.profiles import KeyPersonInput
from domain.safe_text import BadText, clean_name, formula_risk
from domain.twins import NameIndex
from storage.models import User, UserStatus

COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("客户名称", "名称", "name"),
    "kind": ("客户类型", "类型", "kind"),
    "grade": ("客户等级", "等级", "grade"),
    "region": ("所在区域", "区域", "region"),
    "owner": ("负责人", "owner"),
    "shared": ("共享", "shared"),
    "preferences": ("决策者偏好", "偏好", "preferences"),
    "aliases": ("别名", "aliases", "alias"),
}
_ALIAS_SPLIT = re.compile(r"[、,，;；/|\n]+")
PERSON_PARTS = {
    "角色组": "role",
    "姓名": "name",
    "职务": "title",
    "最近沟通日期": "last_contact",
    "电话": "phone",
}
_PERSON_ZH = re.compile(r"^关键人(\d+)(角色组|姓名|职务|最近沟通日期|电话)$")
_PERSON_EN = re.compile(r"^kp(\d+)_(role|name|title|last_contact|phone)$", re.IGNORECASE)
TRUE = {"是", "y", "yes", "true", "1", "共享"}
FALSE = {"", "否", "n", "no", "false", "0"}


@dataclass(frozen=True)
class Problem:
    line: int
    message: str


@dataclass
class CustomerRow:
    line: int
    name: str
    kind: str = ""
    grade: str = ""
    region: str = ""
    owner: User | None = None
    shared: bool = False
    preferences: str = ""
    key_persons: list[KeyPersonInput] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return len(self.key_persons) >= profiles.MIN_KEY_PERSONS


@dataclass
class ImportPlan:
    rows: list[CustomerRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    existing: list[tuple[int, str]] = field(default_factory=list)  # (line, name) already in the database
    # (line, customer id, alias): aliases a row adds to a customer that already exists
    existing_aliases: list[tuple[int, int, str]] = field(default_factory=list)
    total: int = 0

    @property
    def bad_lines(self) -> set[int]:
        return {p.line for p in self.problems}


@dataclass(frozen=True)
class Options:
    """Allowed values (from the customer form); an empty tuple accepts anything."""

    kinds: tuple[str, ...] = ()
    grades: tuple[str, ...] = ()
    role_groups: tuple[str, ...] = profiles.ROLE_GROUPS


def _columns(header: Sequence[Any]) -> tuple[dict[str, int], dict[int, dict[str, int]], list[str]]:
    plain: dict[str, int] = {}
    persons: dict[int, dict[str, int]] = {}
    unknown: list[str] = []
    aliases = {alias.lower(): key for key, names in COLUMNS.items() for alias in names}
    for i, raw in enumerate(header):
        name = cell(raw)
        if not name:
            continue
        m = _PERSON_ZH.match(name)
        if m:
            persons.setdefault(int(m.group(1)), {})[PERSON_PARTS[m.group(2)]] = i
            continue
        m = _PERSON_EN.match(name)
        if m:
            persons.setdefault(int(m.group(1)), {})[m.group(2).lower()] = i
            continue
        key = aliases.get(name.lower())
        if key is None:
            unknown.append(name)
        else:
            plain[key] = i
    return plain, persons, unknown


def parse_day(value: Any, today: date) -> date:
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        text = cell(value)
        m = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?", text)
        if not m:
            raise ValueError(f"date {text!r} is not like 2026-11-20")
        try:
            day = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError as exc:
            raise ValueError(f"date {text!r} does not exist") from exc
    if day > today:
        raise ValueError(f"date {day.isoformat()} is in the future")
    return day


def _option(value: str, options: tuple[str, ...], what: str) -> str:
    if not value or not options:
        return value
    if value in options:
        return value
    hits = [o for o in options if value in o]
    if len(hits) == 1:
        return hits[0]
    raise ValueError(f"{what} {value!r} is not one of: {' / '.join(options)}")


class OwnerDirectory:
    def __init__(self, users: Sequence[User]) -> None:
        self.users = [u for u in users if u.status == UserStatus.ACTIVE]

    def find(self, text: str) -> User:
        ids = [
            u
            for u in self.users
            if text in (u.console_id, u.dingtalk_staff_id, u.wecom_userid) or text == str(u.id)
        ]
        if len(ids) == 1:
            return ids[0]
        named = [u for u in self.users if u.name == text]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise ValueError(f"owner {text!r} matches {len(named)} people; use their platform id")
        raise ValueError(f"owner {text!r} is not a known active user")


@dataclass(frozen=True)
class _Layout:
    plain: dict[str, int]
    persons: dict[int, dict[str, int]]


@dataclass(frozen=True)
class _Context:
    directory: OwnerDirectory
    default_owner: User | None
    options: Options
    today: date


def _key_persons(
    values_by_n: dict[int, dict[str, Any]], ctx: _Context, problems: list[str]
) -> list[KeyPersonInput]:
    people = []
    for n, values in sorted(values_by_n.items()):
        if not any(cell(v) for v in values.values()):
            continue
        name = cell(values.get("name"))
        if not name:
            problems.append(f"关键人{n}姓名 is missing")
        else:
            try:
                name = clean_name(name, what=f"关键人{n}姓名")
            except BadText as exc:
                problems.append(f"关键人{n}姓名 {name!r}: {exc}")
        role = cell(values.get("role"))
        try:
            role = _option(role, ctx.options.role_groups, f"关键人{n}角色组")
            if not role:
                raise ValueError(f"关键人{n}角色组 is missing")
        except ValueError as exc:
            problems.append(str(exc))
        last: date | None = None
        if cell(values.get("last_contact")):
            try:
                last = parse_day(values.get("last_contact"), ctx.today)
            except ValueError as exc:
                problems.append(f"关键人{n}最近沟通日期: {exc}")
        people.append(
            KeyPersonInput(
                role_group=role,
                name=name,
                title=cell(values.get("title")),
                last_contact_on=last,
                phone=cell(values.get("phone")),
            )
        )
    return people


def _row(line: int, cells: list[Any], layout: _Layout, ctx: _Context) -> tuple[CustomerRow, list[str]]:
    """One row's values and everything wrong with them (twins aside)."""

    def get(index: int | None) -> Any:
        return cells[index] if index is not None and index < len(cells) else None

    problems: list[str] = []
    for value in cells:
        text = cell(value)
        if formula_risk(text):
            problems.append(f"{text[:30]!r} starts with {text[0]!r} and would run as a spreadsheet formula")
    plain = layout.plain
    name = cell(get(plain["name"]))
    if name:
        try:
            name = clean_name(name, what="客户名称")
        except BadText as exc:
            problems.append(f"客户名称 {name!r}: {exc}")
    row = CustomerRow(line=line, name=name)
    if len(name) < 2:
        problems.append("客户名称 is missing" if not name else f"客户名称 {name!r} is too short")
    for key, what, opts in (
        ("kind", "客户类型", ctx.options.kinds),
        ("grade", "客户等级", ctx.options.grades),
    ):
        try:
            setattr(row, key, _option(cell(get(plain.get(key))), opts, what))
        except ValueError as exc:
            problems.append(str(exc))
    row.region = cell(get(plain.get("region")))
    row.aliases = [a.strip() for a in _ALIAS_SPLIT.split(cell(get(plain.get("aliases")))) if a.strip()]
    row.preferences = cell(get(plain.get("preferences")))
    shared = cell(get(plain.get("shared"))).lower()
    if shared in TRUE:
        row.shared = True
    elif shared not in FALSE:
        problems.append(f"共享 {shared!r} should be 是 or 否")
    owner_text = cell(get(plain.get("owner")))
    if owner_text:
        try:
            row.owner = ctx.directory.find(owner_text)
        except ValueError as exc:
            problems.append(str(exc))
    elif ctx.default_owner is not None:
        row.owner = ctx.default_owner
    else:
        problems.append("负责人 (owner) is empty; fill it in or pass --owner")
    values = {n: {part: get(i) for part, i in cols.items()} for n, cols in layout.persons.items()}
    row.key_persons = _key_persons(values, ctx, problems)
    return row, problems


def _twin_problem(name: str, existing: NameIndex, in_file: NameIndex, threshold: float) -> str | None:
    similar = existing.similar(name, threshold) or in_file.similar(name, threshold)
    if not similar:
        return None
    where = f"line {-similar[0].customer_id}" if similar[0].customer_id < 0 else "the database"
    return f"looks like {similar[0].name!r} in {where} (use --allow-similar if it is another customer)"


class _Aliases:
    """Aliases claimed so far: by existing customers (id > 0) and by earlier rows (id = -line)."""

    def __init__(self, existing: NameIndex) -> None:
        self.existing = existing
        self.claimed: dict[str, tuple[int, str]] = {}  # flat alias → (owner id, what to call it)

    def _owner(self, key: str) -> tuple[int, str] | None:
        hit = self.existing.resolver.aliases.get(key)
        if hit is not None and hit in self.existing.resolver.entries:
            return hit, repr(self.existing.resolver.entries[hit].name)
        for cid in self.existing.resolver.by_flat.get(key, ()):
            return cid, repr(self.existing.resolver.entries[cid].name)
        return self.claimed.get(key)

    def check(self, line: int, owner_id: int, name: str, aliases: list[str]) -> list[str]:
        problems = []
        for alias in aliases:
            key = flat(alias)
            if len(key) < 2:
                problems.append(f"别名 {alias!r} is too short")
                continue
            other = self._owner(key)
            if other is not None and other[0] != owner_id:
                where = f"line {-other[0]}" if other[0] < 0 else "the database"
                problems.append(f"别名 {alias!r} already names {other[1]} ({where})")
        if not problems:
            for alias in [name, *aliases]:
                self.claimed.setdefault(flat(alias), (owner_id, repr(name)))
        return problems

    def new_for(self, owner_id: int, aliases: list[str]) -> list[str]:
        """The aliases an existing customer does not have yet."""
        known = self.existing.resolver.aliases
        return [
            a
            for a in aliases
            if known.get(flat(a)) != owner_id and flat(a) not in self.existing.resolver.by_flat
        ]


def plan(
    rows: list[tuple[int, list[Any]]],
    *,
    directory: OwnerDirectory,
    default_owner: User | None,
    existing: NameIndex,
    options: Options,
    today: date,
    similar_threshold: float,
    allow_similar: bool = False,
) -> ImportPlan:
    """Validate every row; nothing is written. Each bad row is reported with its line number.

    A customer already in the database (same normalised name) is listed in ``existing`` and skipped;
    a probable twin of an existing customer or of an earlier row is a problem unless ``allow_similar``.
    """
    (header_line, header), body = rows[0], rows[1:]
    plain, persons, unknown = _columns(header)
    result = ImportPlan(total=len(body))
    if unknown:
        result.problems.append(Problem(header_line, f"unknown column(s): {', '.join(unknown)}"))
    if "name" not in plain:
        result.problems.append(Problem(header_line, "no 客户名称 (name) column"))
    if result.problems:
        return result
    layout, ctx = _Layout(plain, persons), _Context(directory, default_owner, options, today)
    in_file = NameIndex()  # rows seen so far, keyed by -line
    aliases = _Aliases(existing)
    for line, cells in body:
        row, problems = _row(line, cells, layout, ctx)
        if row.name:
            earlier, exact = in_file.exact(row.name), existing.exact(row.name)
            owner_id = exact[0].customer_id if exact else -line
            problems += aliases.check(line, owner_id, row.name, row.aliases)
            if earlier:
                problems.append(f"same customer as line {-earlier[0].customer_id}")
            elif exact and not problems:
                result.existing.append((line, exact[0].name))
                result.existing_aliases += [
                    (line, owner_id, a) for a in aliases.new_for(owner_id, row.aliases)
                ]
                continue
            elif not exact and not allow_similar:
                twin = _twin_problem(row.name, existing, in_file, similar_threshold)
                if twin:
                    problems.append(twin)
            in_file.add(-line, row.name)
        result.problems.extend(Problem(line, message) for message in problems)
        if not problems:
            result.rows.append(row)
    return result
