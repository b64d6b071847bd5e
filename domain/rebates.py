"""Quarterly rebates: inputs from the stored ERP orders, the configured formula, stored results.

Inputs per customer and quarter (only signed orders count):

* ``contract_amount`` — the sum of the customer's signed order amounts dated in the quarter;
* ``order_count`` — how many such orders;
* ``target`` — the customer's quarterly target (``rebates.quarterly_targets``, by customer name), else 0;
* ``target_increment`` — ``max(0, contract_amount − target)`` when a target is set, else 0: the
  amount above the target (季度达标增量);
* ``new_hospitals`` — end hospitals (the order's ``hospital``, or the customer itself) that had no signed
  order from anyone before the quarter and got one in it (新入院数); each is credited once, to the
  customer with the earliest such order. End hospitals are compared as institutions, not as text
  (see :mod:`domain.hospitals`): 富阳, 富阳区人民医院 and 富阳区人民医院（总院） are one hospital. A
  hospital that is a customer whose first order or last deal is dated before the quarter is not new
  (a first import that holds only this quarter's orders does not make every old customer new). A
  name that may be an existing customer or an earlier order's hospital but is not certain is not
  credited: it is listed in ``RebateRun.unresolved`` for finance to check (add an alias, run again).

Running a quarter again replaces its results (same inputs → same figures): it is idempotent.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.hospitals import HospitalKeys
from domain.names import normalize
from domain.rebate_formula import Formula, in_words
from storage.models import Customer, Order, RebateResult

_PERIOD = re.compile(r"^(\d{4})Q([1-4])$")


@dataclass(frozen=True)
class Period:
    key: str
    start: date
    end: date  # exclusive


def parse_period(text: str) -> Period:
    m = _PERIOD.match(text.strip().upper())
    if not m:
        raise ValueError(f"period {text!r} must look like 2026Q1")
    year, quarter = int(m.group(1)), int(m.group(2))
    start = date(year, 3 * quarter - 2, 1)
    end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return Period(f"{year}Q{quarter}", start, end)


def period_of(day: date) -> Period:
    return parse_period(f"{day.year}Q{(day.month - 1) // 3 + 1}")


@dataclass(frozen=True)
class RebateLine:
    customer_id: int
    customer_name: str
    inputs: dict[str, Decimal]
    amount: Decimal


@dataclass
class RebateRun:
    period: Period
    formula: str
    version: str
    lines: list[RebateLine] = field(default_factory=list)
    previous_total: Decimal | None = None
    unresolved: list[str] = field(default_factory=list)  # end hospitals not credited: finance checks

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


async def compute(
    session: AsyncSession,
    period: Period,
    formula: Formula,
    targets: Mapping[str, float],
    unresolved: list[str] | None = None,
) -> list[RebateLine]:
    """Per customer lines of ``period``; ``unresolved`` (if given) receives the end-hospital names
    that were not credited as new because they could not be told apart from a known hospital."""
    orders = list(
        (
            await session.execute(
                select(Order)
                .where(Order.signed.is_(True), Order.customer_id.is_not(None), Order.order_date < period.end)
                .order_by(Order.order_date, Order.external_id)
            )
        ).scalars()
    )
    keys = await HospitalKeys.load(session, before=period.start)
    seen_before: set[str] = set(keys.dealt_before)
    credited: dict[str, int] = {}
    amount: dict[int, Decimal] = defaultdict(lambda: Decimal("0.00"))
    count: dict[int, int] = defaultdict(int)
    doubtful: dict[str, None] = {}
    for order in orders:
        hospital = keys.key(order.hospital or order.customer_name)
        if order.order_date < period.start:
            seen_before.add(hospital.key)
            continue
        assert order.customer_id is not None
        amount[order.customer_id] += Decimal(order.amount)
        count[order.customer_id] += 1
        if hospital.doubtful:
            doubtful.setdefault(hospital.text, None)
            continue
        if hospital.key not in seen_before and hospital.key not in credited:
            credited[hospital.key] = order.customer_id
    if unresolved is not None:
        unresolved.extend(doubtful)
    new_hospitals: dict[int, int] = defaultdict(int)
    for customer_id in credited.values():
        new_hospitals[customer_id] += 1
    names = {
        c.id: c.name
        for c in (await session.execute(select(Customer).where(Customer.id.in_(list(amount))))).scalars()
    }
    by_norm = {normalize(k): Decimal(str(v)) for k, v in targets.items()}
    lines = []
    for customer_id in sorted(amount, key=lambda cid: (names.get(cid, ""), cid)):
        contract = amount[customer_id]
        target = by_norm.get(normalize(names.get(customer_id, "")), Decimal("0"))
        inputs = {
            "contract_amount": contract,
            "order_count": Decimal(count[customer_id]),
            "target": target,
            "target_increment": max(Decimal("0.00"), contract - target) if target > 0 else Decimal("0.00"),
            "new_hospitals": Decimal(new_hospitals[customer_id]),
        }
        lines.append(RebateLine(customer_id, names.get(customer_id, ""), inputs, formula.evaluate(inputs)))
    return lines


async def run_period(
    session: AsyncSession,
    period: Period,
    formula: Formula,
    targets: Mapping[str, float],
    now: datetime,
) -> RebateRun:
    """Compute the quarter and store it (replacing earlier results of that quarter)."""
    previous = list(
        (await session.execute(select(RebateResult).where(RebateResult.period == period.key))).scalars()
    )
    run = RebateRun(period, formula.text, formula.version)
    run.previous_total = sum((Decimal(r.amount) for r in previous), Decimal("0.00")) if previous else None
    run.lines = await compute(session, period, formula, targets, run.unresolved)
    keep = {line.customer_id for line in run.lines}
    stale = [r.id for r in previous if r.customer_id not in keep]
    if stale:
        await session.execute(delete(RebateResult).where(RebateResult.id.in_(stale)))
    existing = {r.customer_id: r for r in previous}
    for line in run.lines:
        inputs = {k: str(v) for k, v in line.inputs.items()} | {"customer": line.customer_name}
        row = existing.get(line.customer_id)
        if row is None:
            session.add(
                RebateResult(
                    period=period.key,
                    customer_id=line.customer_id,
                    inputs=inputs,
                    formula=formula.text[:500],
                    formula_version=formula.version,
                    amount=line.amount,
                    computed_at=now,
                )
            )
        else:
            row.inputs = inputs
            row.formula = formula.text[:500]
            row.formula_version = formula.version
            row.amount = line.amount
            row.computed_at = now
    await session.flush()
    return run


def _yuan(value: Decimal) -> str:
    return f"{value:,.2f}"


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    gap = " " * max(width - _width(text), 0)
    return gap + text if right else text + gap


def table(run: RebateRun) -> str:
    """The per-customer table (what `actionflow rebates run` prints)."""
    head = ["客户", "合同金额", "季度目标", "达标增量", "新入院", "订单数", "返利"]
    rows = [
        [
            line.customer_name,
            _yuan(line.inputs["contract_amount"]),
            _yuan(line.inputs["target"]),
            _yuan(line.inputs["target_increment"]),
            str(line.inputs["new_hospitals"]),
            str(line.inputs["order_count"]),
            _yuan(line.amount),
        ]
        for line in run.lines
    ]
    rows.append(["合计", "", "", "", "", "", _yuan(run.total)])
    widths = [max(_width(r[i]) for r in [head, *rows]) for i in range(len(head))]
    out = [
        f"period {run.period.key} ({run.period.start} – {run.period.end}), "
        f"formula {run.version}: {run.formula}",
        "  ".join(_pad(h, w, i > 0) for i, (h, w) in enumerate(zip(head, widths, strict=True))),
    ]
    out += [
        "  ".join(_pad(c, w, i > 0) for i, (c, w) in enumerate(zip(r, widths, strict=True))) for r in rows
    ]
    if run.unresolved:
        out.append(unresolved_text(run))
    return "\n".join(out)


def unresolved_text(run: RebateRun, limit: int = 20) -> str:
    """The end hospitals finance must check before the run is final (not counted as new)."""
    names = "、".join(run.unresolved[:limit]) + (
        f" 等 {len(run.unresolved)} 个" if len(run.unresolved) > limit else ""
    )
    return (
        f"⚠️ 以下终端医院未能确认是哪家医院，暂未计入新开医院数：{names}。"
        "请核对：若是已有客户的简称，用「添加别名 <客户> <简称>」登记后重新计算。"
    )


def finance_summary(run: RebateRun, as_of: str, max_lines: int = 10, details_url: str | None = None) -> str:
    """The finance message. Beyond ``max_lines`` customers it points at the full table: the board's
    rebates page when ``details_url`` is given, else the admin's export command."""
    lines = [
        f"返利计算完成：{run.period.key}（订单截至 {as_of}）",
        f"客户 {len(run.lines)} 家，返利合计 ¥{_yuan(run.total)}",
    ]
    if run.previous_total is not None:
        diff = run.total - run.previous_total
        lines.append(f"较上次计算 {'+' if diff >= 0 else '-'}¥{_yuan(abs(diff))}")
    for line in sorted(run.lines, key=lambda x: -x.amount)[:max_lines]:
        lines.append(
            f"· {line.customer_name}：¥{_yuan(line.amount)}（合同 ¥{_yuan(line.inputs['contract_amount'])}）"
        )
    if len(run.lines) > max_lines:
        more = len(run.lines) - max_lines
        where = (
            f"在看板中查看：{details_url}"
            if details_url
            else f"可请管理员导出（actionflow rebates run --period {run.period.key}）"
        )
        lines.append(f"  …另有 {more} 家，完整明细{where}")
    if run.unresolved:
        lines.append(unresolved_text(run))
    lines.append(f"计算方法（版本 {run.version}）：返利 = {in_words(run.formula)}")
    return "\n".join(lines)
