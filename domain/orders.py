"""ERP order rows: read from CSV/XLSX exports or an SQL query, validated all-or-nothing, upserted.

Columns (header names in English or Chinese; order does not matter; extra columns are ignored):

| column | 中文 | required | meaning |
|---|---|---|---|
| order_no | 订单号 | yes | the ERP's order id; re-importing the same id updates the row |
| customer | 客户名称 | yes | the paying customer, as named in ActionFlow (matched by normalised name) |
| order_date | 订单日期 | yes | YYYY-MM-DD (also YYYY/MM/DD, or an Excel date cell) |
| amount | 金额 | yes | yuan, at most 2 decimals; negative for a credit note |
| signed | 已签约 | no | yes/no, 是/否, 1/0, true/false; default yes. Only signed orders count |
| hospital | 终端医院 | no | the end hospital the goods are for (a dealer's customer); default: the customer |
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.names import normalize, similarity
from domain.safe_text import formula_risk
from domain.sheets import SheetRefused, xlsx_rows
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
    """Every problem found, each naming its file and line; nothing was applied."""

    problems: list[str]

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


def _parse_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip().replace("/", "-").replace(".", "-")
    return date.fromisoformat("-".join(p.zfill(2) for p in text.split(" ")[0].split("-")))


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
        earlier = seen.get(order_no)
        if earlier is not None and (earlier.customer, earlier.order_date, earlier.amount, earlier.signed) != (
            row.customer,
            row.order_date,
            row.amount,
            row.signed,
        ):
            problems.append(
                f"{where}: order_no {order_no} appears again with different values ({earlier.source})"
            )
            continue
        seen[order_no] = row
        out.append(row)
    if problems:
        raise OrderProblems(problems)
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


def read_folder(folder: Path) -> list[OrderRow]:
    """Every CSV/XLSX in ``folder`` by name; a later file's row replaces an earlier one's (same order_no)."""
    problems: list[str] = []
    rows: dict[str, OrderRow] = {}
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in (".csv", ".xlsx", ".xlsm")):
        try:
            for row in read_file(path):
                rows[row.order_no] = row
        except OrderProblems as exc:
            problems.extend(exc.problems)
    if problems:
        raise OrderProblems(problems)
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


async def resolve_customers(session: AsyncSession, rows: Sequence[OrderRow]) -> dict[str, Customer]:
    """Customer by order-file name (normalised exact match, else one confident fuzzy match).

    Raises OrderProblems naming the lines whose customer is unknown or ambiguous."""
    customers = list((await session.execute(select(Customer))).scalars())
    by_norm: dict[str, list[Customer]] = {}
    for c in customers:
        by_norm.setdefault(c.normalized_name or normalize(c.name), []).append(c)
    found: dict[str, Customer] = {}
    problems: list[str] = []
    for row in rows:
        if row.customer in found:
            continue
        exact = by_norm.get(normalize(row.customer), [])
        if len(exact) == 1:
            found[row.customer] = exact[0]
            continue
        scored = sorted(((similarity(row.customer, c.name), c) for c in customers), key=lambda sc: -sc[0])
        if not exact and scored and scored[0][0] >= 90 and (len(scored) == 1 or scored[1][0] < 80):
            found[row.customer] = scored[0][1]
            continue
        reason = "matches several customers" if len(exact) > 1 else "is not a customer in ActionFlow"
        problems.append(f"{row.source}: customer {row.customer!r} {reason} (import it or fix the name)")
    if problems:
        raise OrderProblems(problems)
    return found


async def upsert(session: AsyncSession, rows: Sequence[OrderRow], now: datetime) -> tuple[int, int]:
    """Insert new orders, update changed ones (by order_no). Returns (inserted, updated)."""
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
