"""ERP order rows: read from CSV/XLSX exports or an SQL query, validated all-or-nothing, upserted.

Columns (header names in English or Chinese; order does not matter; extra columns are ignored):

| column | 中文 | required | meaning |
|---|---|---|---|
| order_no | 订单号 | yes | the ERP's order id; re-importing the same id updates the row |
| customer | 客户名称 | yes | the paying customer: its name, an alias, or a short form it is sure of |
| order_date | 订单日期 | yes | YYYY-MM-DD (also YYYY/MM/DD, YYYY.MM.DD, 2026年11月3日, an Excel date) |
| amount | 金额 | yes | yuan, at most 2 decimals, not negative (a credit note corrects the order's amount) |
| signed | 已签约 | no | yes/no, 是/否, 1/0, true/false; default yes. Only signed orders count |
| hospital | 终端医院 | no | the end hospital the goods are for (a dealer's customer); default: the customer |

A date that starts with the day or month (11/3/2026) is refused as ambiguous. Every problem of a
file (unreadable cells, an order number used twice, customers ActionFlow does not know) is reported
in one round, each with its line; nothing is stored from a file with a problem.
:func:`import_orders` is the one path every source takes (``actionflow import orders``, ``rebates run
--orders``, the nightly ERP pull): it stores the orders and records each signed one as a deal
(domain/outcomes.py).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import audit
from domain.audit import snapshot
from domain.identity import store as identity_store
from domain.outcomes import OUTCOME_FIELDS, Outcome, apply_deal, order_moment
from domain.safe_text import formula_risk
from domain.sheets import SheetRefused, xlsx_rows
from domain.stages import Stages
from storage.models import Customer, Order

COLUMNS: dict[str, tuple[str, ...]] = {
    "order_no": ("order_no", "订单号", "订单编号", "单号"),
    "customer": ("customer", "客户名称", "客户"),
    "order_date": ("order_date", "订单日期", "日期", "签约日期"),
    "amount": ("amount", "金额", "订单金额", "合同金额"),
    "signed": ("signed", "已签约", "是否签约"),
    "hospital": ("hospital", "终端医院", "医院"),
}
REQUIRED = ("order_no", "customer", "order_date", "amount")
_TRUE = {"", "yes", "y", "true", "1", "是", "已签约", "签约"}
_FALSE = {"no", "n", "false", "0", "否", "未签约"}


@dataclass(frozen=True)
class OrderRow:
    source: str  # file:line
    order_no: str
    customer: str
    order_date: date
    amount: Decimal
    signed: bool
    hospital: str


@dataclass
class OrderProblems(Exception):
    """Every problem found, each naming its file and line; nothing was applied. ``rows`` are the rows
    that did parse, so later checks (the customers) can report their problems in the same round."""

    problems: list[str]
    rows: list[OrderRow] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(self.problems)


def _header_map(header: Sequence[Any]) -> tuple[dict[str, int], list[str]]:
    index: dict[str, int] = {}
    wanted = {alias.lower(): key for key, aliases in COLUMNS.items() for alias in aliases}
    for i, raw in enumerate(header):
        key = wanted.get(str(raw or "").strip().lower())
        if key and key not in index:
            index[key] = i
    missing = [f"{k} ({COLUMNS[k][1]})" for k in REQUIRED if k not in index]
    return index, missing


_YMD = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?$")
_DAY_FIRST = re.compile(r"^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}(?:\s.*)?$")


class AmbiguousDate(ValueError):
    """11/3/2026: 3 November or 11 March? Refused rather than guessed."""


def _parse_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    m = _YMD.match(text)
    if m:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if _DAY_FIRST.match(text):
        raise AmbiguousDate(text)
    raise ValueError(text)


def _parse_amount(value: Any) -> Decimal:
    if isinstance(value, float):
        value = repr(value)
    text = str(value).strip().replace(",", "").replace("，", "").removeprefix("¥").removeprefix("￥")
    amount = Decimal(text)
    if not amount.is_finite():
        raise InvalidOperation(text)
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError("more than 2 decimals")
    return amount.quantize(Decimal("0.01"))


def parse_rows(rows: Iterable[tuple[int, Sequence[Any]]], source: str) -> list[OrderRow]:
    """``rows`` = (line number, cells) with the header first. Raises OrderProblems."""
    problems: list[str] = []
    out: list[OrderRow] = []
    iterator = iter(rows)
    header = next(iterator, None)
    if header is None:
        raise OrderProblems([f"{source}: the file is empty"])
    index, missing = _header_map(header[1])
    if missing:
        raise OrderProblems([f"{source} line {header[0]}: missing column(s) {', '.join(missing)}"])
    seen: dict[str, OrderRow] = {}
    for line, cells in iterator:
        if not any(str(c or "").strip() for c in cells):
            continue

        def cell(key: str, cells: Sequence[Any] = cells) -> Any:
            i = index.get(key)
            return cells[i] if i is not None and i < len(cells) else None

        where = f"{source} line {line}"
        row_problems = []
        order_no = str(cell("order_no") or "").strip()
        customer = str(cell("customer") or "").strip()
        if not order_no:
            row_problems.append("order_no is empty")
        if not customer:
            row_problems.append("customer is empty")
        try:
            order_date = _parse_date(cell("order_date"))
        except AmbiguousDate:
            row_problems.append(
                f"order_date {cell('order_date')!r} is ambiguous (day or month first?); use YYYY-MM-DD"
            )
        except (ValueError, TypeError):
            row_problems.append(f"order_date {cell('order_date')!r} is not a date (use YYYY-MM-DD)")
        try:
            amount = _parse_amount(cell("amount"))
        except (InvalidOperation, ValueError, TypeError):
            row_problems.append(f"amount {cell('amount')!r} is not an amount in yuan with at most 2 decimals")
        signed_raw = str(cell("signed") if cell("signed") is not None else "").strip().lower()
        if signed_raw not in _TRUE | _FALSE:
            row_problems.append(f"signed {signed_raw!r} must be yes/no (是/否)")
        for key in ("order_no", "customer", "hospital"):
            text = str(cell(key) or "").strip()
            if formula_risk(text):
                row_problems.append(f"{key} {text[:30]!r} would run as a spreadsheet formula")
        if row_problems:
            problems.extend(f"{where}: {p}" for p in row_problems)
            continue
        row = OrderRow(
            where,
            order_no,
            customer,
            order_date,
            amount,
            signed_raw not in _FALSE,
            str(cell("hospital") or "").strip() or customer,
        )
        if row.amount < 0:
            problems.append(
                f"{where}: amount {cell('amount')!r} is negative "
                "(for a credit note, correct the order's amount)"
            )
            continue
        earlier = seen.get(order_no)
        if earlier is not None:
            problems.append(f"{where}: order_no {order_no} appears twice (also {earlier.source})")
            continue
        seen[order_no] = row
        out.append(row)
    if problems:
        raise OrderProblems(problems, out)
    return out


def _decode(data: bytes, source: str) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise OrderProblems([f"{source}: not UTF-8 or GB18030 text"])


def read_csv(path: Path) -> list[OrderRow]:
    text = _decode(path.read_bytes(), path.name)
    reader = csv.reader(io.StringIO(text))
    rows: list[tuple[int, list[str]]] = []
    try:
        line = 1
        for cells in reader:
            rows.append((line, cells))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise OrderProblems([f"{path.name} line {reader.line_num}: {exc}"]) from None
    return parse_rows(rows, path.name)


def read_xlsx(path: Path) -> list[OrderRow]:
    try:
        rows = list(xlsx_rows(path))
    except SheetRefused as exc:
        raise OrderProblems([f"{path.name}: {exc}"]) from None
    return parse_rows(rows, path.name)


def read_file(path: Path) -> list[OrderRow]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv(path)
    if suffix in (".xlsx", ".xlsm"):
        return read_xlsx(path)
    raise OrderProblems([f"{path.name}: unsupported file type (use .csv or .xlsx)"])


def read_lenient(path: Path) -> tuple[list[OrderRow], list[str]]:
    """The rows of ``path`` that parse and the problems of the others (to report with the customers')."""
    try:
        return read_file(path), []
    except OrderProblems as exc:
        return exc.rows, exc.problems


def read_folder(folder: Path) -> list[OrderRow]:
    """Every CSV/XLSX in ``folder`` by name; a later file's row replaces an earlier one's (same order_no)."""
    problems: list[str] = []
    rows: dict[str, OrderRow] = {}
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in (".csv", ".xlsx", ".xlsm")):
        try:
            parsed = read_file(path)
        except OrderProblems as exc:
            problems.extend(exc.problems)
            parsed = exc.rows
        for row in parsed:
            rows[row.order_no] = row
    if problems:
        raise OrderProblems(problems, list(rows.values()))
    return list(rows.values())


async def read_sql(url: str, query: str) -> list[OrderRow]:
    """Rows from an ERP database; the query must return the documented column names."""
    import asyncio

    from sqlalchemy import create_engine, text
    from sqlalchemy.ext.asyncio import create_async_engine

    def rows_of(result: Any) -> list[tuple[int, Sequence[Any]]]:
        out: list[tuple[int, Sequence[Any]]] = [(0, list(result.keys()))]
        out += [(i, list(r)) for i, r in enumerate(result.fetchall(), 1)]
        return out

    if "+asyncpg" in url or "+aiosqlite" in url:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                rows = rows_of(await conn.execute(text(query)))
        finally:
            await engine.dispose()
    else:

        def run() -> list[tuple[int, Sequence[Any]]]:
            sync_engine = create_engine(url)
            try:
                with sync_engine.connect() as conn:
                    return rows_of(conn.execute(text(query)))
            finally:
                sync_engine.dispose()

        rows = await asyncio.to_thread(run)
    return parse_rows(rows, "ERP query row")


async def match_customers(
    session: AsyncSession, rows: Sequence[OrderRow]
) -> tuple[dict[str, Customer], list[str]]:
    """The customer each order-file name means, and a problem line for each name that means none.

    Through the identity resolver: a short form, an alias or a campus suffix names the customer; a
    different ordinal, place or store never does; a name it can only guess at is a problem."""
    resolver = await identity_store.index(session, fresh=True)
    found: dict[str, Customer] = {}
    problems: list[str] = []
    failed: dict[str, str] = {}
    for row in rows:
        if row.customer in found:
            continue
        if row.customer not in failed:
            result = resolver.resolve(row.customer)
            best = result.best
            customer = await session.get(Customer, best.id) if result.outcome == "exact" and best else None
            if customer is not None:
                found[row.customer] = customer
                continue
            if result.outcome in ("pick", "ask"):
                names = ", ".join(c.name for c in result.candidates[:3])
                failed[row.customer] = (
                    f"is not certain (it may be: {names}); use the customer's full name or add an alias"
                )
            else:
                failed[row.customer] = "is not a customer in ActionFlow (import it or fix the name)"
        problems.append(f"{row.source}: customer {row.customer!r} {failed[row.customer]}")
    return found, problems


async def resolve_customers(session: AsyncSession, rows: Sequence[OrderRow]) -> dict[str, Customer]:
    """Customer by order-file name. Raises OrderProblems naming the lines whose customer is unknown or
    not certain."""
    found, problems = await match_customers(session, rows)
    if problems:
        raise OrderProblems(problems)
    return found


_LINE = re.compile(r"^(.*?) line (\d+)")


def _by_line(problem: str) -> tuple[str, int, str]:
    m = _LINE.match(problem)
    return (m.group(1), int(m.group(2)), problem) if m else (problem, 0, problem)


@dataclass(frozen=True)
class ImportResult:
    inserted: int
    updated: int
    signed: int  # signed orders in the input
    deals: list[Outcome]  # customers whose deal dates or stage changed

    @property
    def moved_to_won(self) -> list[Customer]:
        return [d.customer for d in self.deals if d.stage_moved]


async def import_orders(
    session: AsyncSession,
    rows: Sequence[OrderRow],
    *,
    now: datetime,
    stages: Stages,
    tz: tzinfo,
    source: str,
    problems: Sequence[str] = (),
    actor_id: int | None = None,
) -> ImportResult:
    """Store ``rows`` and record every signed order as a deal of its customer, all in the caller's
    transaction. ``problems`` found while reading are reported together with the unknown customers:
    raises OrderProblems (every problem, by line) and changes nothing when there is any."""
    customers, unknown = await match_customers(session, rows)
    everything = sorted([*problems, *unknown], key=_by_line)
    if everything:
        raise OrderProblems(everything)
    inserted, updated = await upsert(session, rows, now, customers=customers)
    latest: dict[int, tuple[datetime, datetime]] = {}
    order_numbers: dict[int, list[str]] = {}
    for row in rows:
        if not row.signed:
            continue
        customer = customers[row.customer]
        moment = order_moment(row.order_date, tz, now)
        first, last = latest.get(customer.id, (moment, moment))
        latest[customer.id] = (min(first, moment), max(last, moment))
        order_numbers.setdefault(customer.id, []).append(row.order_no)
    by_id = {c.id: c for c in customers.values()}
    deals: list[Outcome] = []
    for customer_id, (first, last) in latest.items():
        customer = by_id[customer_id]
        numbers = order_numbers[customer_id]
        before = snapshot(customer, OUTCOME_FIELDS)
        apply_deal(customer, first, stages, now)
        outcome = apply_deal(customer, last, stages, now)
        if outcome.after == before:
            continue
        audit.record(
            session,
            now=now,
            actor_id=actor_id,
            action="deal.record",
            entity_type="customer",
            entity_id=customer.id,
            before=before,
            after={**outcome.after, "orders": numbers[:20], "order_count": len(numbers)},
            source_event=source,
        )
        deals.append(Outcome(customer, before, outcome.after))
    await session.flush()
    return ImportResult(inserted, updated, sum(1 for r in rows if r.signed), deals)


async def upsert(
    session: AsyncSession,
    rows: Sequence[OrderRow],
    now: datetime,
    *,
    customers: dict[str, Customer] | None = None,
) -> tuple[int, int]:
    """Insert new orders, update changed ones (by order_no). Returns (inserted, updated)."""
    if customers is None:
        customers = await resolve_customers(session, rows)
    existing = {
        o.external_id: o
        for o in (
            await session.execute(select(Order).where(Order.external_id.in_([r.order_no for r in rows])))
        ).scalars()
    }
    inserted = updated = 0
    for row in rows:
        values = {
            "customer_id": customers[row.customer].id,
            "customer_name": row.customer,
            "order_date": row.order_date,
            "amount": row.amount,
            "signed": row.signed,
            "hospital": row.hospital,
            "source": row.source[:300],
        }
        order = existing.get(row.order_no)
        if order is None:
            session.add(Order(external_id=row.order_no, imported_at=now, **values))
            inserted += 1
        elif any(getattr(order, k) != v for k, v in values.items() if k != "source"):
            for k, v in values.items():
                setattr(order, k, v)
            order.imported_at = now
            updated += 1
    await session.flush()
    return inserted, updated
