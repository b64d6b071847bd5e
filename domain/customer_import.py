"""`actionflow import customers FILE`: read CSV/XLSX, validate every row, then import all or nothing.

Columns (header row; Chinese or English names, any order):

    客户名称/name (required), 客户类型/kind, 客户等级/grade, 所在区域/region, 负责人/owner, 共享/shared,
    决策者偏好/preferences, and per key person N (1, 2, …): 关键人N角色组/kpN_role, 关键人N姓名/kpN_name,
    关键人N职务/kpN_title, 关键人N最近沟通日期/kpN_last_contact, 关键人N电话/kpN_phone.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain import audit, profiles
from domain.profiles import KeyPersonInput
from domain.twins import NameIndex
from storage.models import Customer, User

COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("客户名称", "名称", "name"),
    "kind": ("客户类型", "类型", "kind"),
    "grade": ("客户等级", "等级", "grade"),
    "region": ("所在区域", "区域", "region"),
    "owner": ("负责人", "owner"),
    "shared": ("共享", "shared"),
    "preferences": ("决策者偏好", "偏好", "preferences"),
}
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


class ImportFileError(ValueError):
    """The file cannot be read at all (missing, wrong type, no header)."""


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

    @property
    def complete(self) -> bool:
        return len(self.key_persons) >= profiles.MIN_KEY_PERSONS


@dataclass
class ImportPlan:
    rows: list[CustomerRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    existing: list[tuple[int, str]] = field(default_factory=list)  # (line, name) already in the database
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


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_table(path: Path) -> list[tuple[int, list[Any]]]:
    """(line number, cells) for every non-empty row, the header first. CSV in UTF-8 or GBK, or XLSX."""
    if not path.is_file():
        raise ImportFileError(f"{path}: file not found")
    suffix = path.suffix.lower()
    rows: list[tuple[int, list[Any]]] = []
    if suffix == ".csv":
        raw = path.read_bytes()
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise ImportFileError(f"{path}: not UTF-8 or GBK text")
        reader = csv.reader(io.StringIO(text, newline=""))
        start = 1
        for cells in reader:
            if any(c.strip() for c in cells):
                rows.append((start, list(cells)))
            start = reader.line_num + 1
    elif suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:
            raise ImportFileError(f"{path}: not a readable XLSX file ({exc})") from exc
        sheet = book.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), 1):
            if any(_cell(v) for v in values):
                rows.append((number, list(values)))
        book.close()
    else:
        raise ImportFileError(f"{path}: use a .csv or .xlsx file")
    if not rows:
        raise ImportFileError(f"{path}: the file is empty")
    return rows


def _columns(header: Sequence[Any]) -> tuple[dict[str, int], dict[int, dict[str, int]], list[str]]:
    plain: dict[str, int] = {}
    persons: dict[int, dict[str, int]] = {}
    unknown: list[str] = []
    aliases = {alias.lower(): key for key, names in COLUMNS.items() for alias in names}
    for i, raw in enumerate(header):
        name = _cell(raw)
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
        text = _cell(value)
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
        self.users = [u for u in users if u.status == "active"]

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
    """Validate every row; nothing is written. Each bad row is reported with its line number."""
    (header_line, header), body = rows[0], rows[1:]
    plain, person_cols, unknown = _columns(header)
    result = ImportPlan(total=len(body))
    if unknown:
        result.problems.append(Problem(header_line, f"unknown column(s): {', '.join(unknown)}"))
    if "name" not in plain:
        result.problems.append(Problem(header_line, "no 客户名称 (name) column"))
    if result.problems:
        return result
    in_file = NameIndex()
    for line, cells in body:

        def get(index: int | None, cells: list[Any] = cells) -> Any:
            return cells[index] if index is not None and index < len(cells) else None

        problems: list[str] = []
        name = _cell(get(plain["name"]))
        row = CustomerRow(line=line, name=name)
        if len(name) < 2:
            problems.append("客户名称 is missing" if not name else f"客户名称 {name!r} is too short")
        for key, what, opts in (("kind", "客户类型", options.kinds), ("grade", "客户等级", options.grades)):
            try:
                setattr(row, key, _option(_cell(get(plain.get(key))), opts, what))
            except ValueError as exc:
                problems.append(str(exc))
        row.region = _cell(get(plain.get("region")))
        row.preferences = _cell(get(plain.get("preferences")))
        shared = _cell(get(plain.get("shared"))).lower()
        if shared in TRUE:
            row.shared = True
        elif shared not in FALSE:
            problems.append(f"共享 {shared!r} should be 是 or 否")
        owner_text = _cell(get(plain.get("owner")))
        if owner_text:
            try:
                row.owner = directory.find(owner_text)
            except ValueError as exc:
                problems.append(str(exc))
        elif default_owner is not None:
            row.owner = default_owner
        else:
            problems.append("负责人 (owner) is empty; fill it in or pass --owner")
        for n in sorted(person_cols):
            cols = person_cols[n]
            values = {part: get(i) for part, i in cols.items()}
            if not any(_cell(v) for v in values.values()):
                continue
            person_name = _cell(values.get("name"))
            role = _cell(values.get("role"))
            if not person_name:
                problems.append(f"关键人{n}姓名 is missing")
            try:
                role = _option(role, options.role_groups, f"关键人{n}角色组")
                if not role:
                    raise ValueError(f"关键人{n}角色组 is missing")
            except ValueError as exc:
                problems.append(str(exc))
            last: date | None = None
            if _cell(values.get("last_contact")):
                try:
                    last = parse_day(values.get("last_contact"), today)
                except ValueError as exc:
                    problems.append(f"关键人{n}最近沟通日期: {exc}")
            row.key_persons.append(
                KeyPersonInput(
                    role_group=role,
                    name=person_name,
                    title=_cell(values.get("title")),
                    last_contact_on=last,
                    phone=_cell(values.get("phone")),
                )
            )
        if name:
            exact = existing.exact(name)
            twin_in_file = in_file.exact(name)
            if twin_in_file:
                problems.append(f"same customer as line {-twin_in_file[0].customer_id}")
            elif exact:
                if not problems:
                    result.existing.append((line, exact[0].name))
                    continue
            elif not allow_similar:
                similar = existing.similar(name, similar_threshold) or in_file.similar(
                    name, similar_threshold
                )
                if similar:
                    where = (
                        f"line {-similar[0].customer_id}" if similar[0].customer_id < 0 else "the database"
                    )
                    problems.append(
                        f"looks like {similar[0].name!r} in {where} "
                        "(use --allow-similar if it is another customer)"
                    )
            in_file.add(-line, name)
        for message in problems:
            result.problems.append(Problem(line, message))
        if not problems:
            result.rows.append(row)
    return result


async def apply(
    session: AsyncSession, *, now: datetime, rows: list[CustomerRow], source: str
) -> list[Customer]:
    """Create the customers (one transaction is the caller's); every one is audited."""
    created = []
    for row in rows:
        customer = await profiles.create_customer(
            session,
            now=now,
            name=row.name,
            owner_id=row.owner.id if row.owner else None,
            kind=row.kind,
            grade=row.grade,
            region=row.region,
            shared=row.shared,
            key_persons=row.key_persons,
        )
        customer.preferences = row.preferences
        audit.record(
            session,
            now=now,
            actor_id=None,
            action="customer.import",
            entity_type="customer",
            entity_id=customer.id,
            after={
                "name": customer.name,
                "owner_id": customer.owner_id,
                "line": row.line,
                "key_persons": [p.name for p in row.key_persons],
                "profile_complete": customer.profile_complete,
            },
            source_event=source,
        )
        created.append(customer)
    return created
