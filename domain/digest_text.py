"""The Chinese texts of digests and command answers, shared by scheduled alerts and chat commands."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo

from domain.metrics import Metrics
from domain.stages import DEFAULT_LABELS
from domain.staleness import KeyPersonAlert, StaleCustomer, ZombieCustomer

STAGE_NAMES: Mapping[str, str] = DEFAULT_LABELS  # callers pass the forms file's [stages] labels
WEEKDAYS = "一二三四五六日"


def age(hours: float) -> str:
    if hours < 72:
        return f"{hours:.0f} 小时"
    return f"{hours / 24:.0f} 天"


def hours_label(hours: float) -> str:
    return f"{hours:g} 小时"


def local_day(when: datetime, tz: tzinfo) -> str:
    local = when.astimezone(tz)
    return f"{local.month}月{local.day}日（周{WEEKDAYS[local.weekday()]}）"


def _more(total: int, shown: int) -> list[str]:
    return [f"  …另有 {total - shown} 家"] if total > shown else []


def stale_lines(
    items: Sequence[StaleCustomer],
    max_items: int,
    total: int | None = None,
    labels: Mapping[str, str] = STAGE_NAMES,
) -> list[str]:
    lines = [
        f"· {s.name}（{labels.get(s.stage, s.stage)}，"
        f"{age(s.hours)}未更新{'，从未记录进展' if s.last_update_at is None else ''}）"
        for s in items[:max_items]
    ]
    return lines + _more(len(items) if total is None else total, min(len(items), max_items))


def stale_for_rep(
    items: Sequence[StaleCustomer],
    hours: float,
    max_items: int,
    total: int | None = None,
    labels: Mapping[str, str] = STAGE_NAMES,
) -> str:
    n = len(items) if total is None else total
    if not n:
        return f"你名下没有超过 {hours_label(hours)}未更新的客户，保持得很好！"
    head = f"你有 {n} 家客户超过 {hours_label(hours)}没有更新进展，请尽快跟进："
    return "\n".join([head, *stale_lines(items, max_items, n, labels)])


def stale_by_rep(
    groups: Sequence[tuple[str, Sequence[StaleCustomer], int]],
    hours: float,
    max_items: int,
    title: str,
    labels: Mapping[str, str] = STAGE_NAMES,
) -> str:
    """``groups``: (rep name, their first stale customers, how many they have in all)."""
    total = sum(n for _, _, n in groups)
    lines = [title] if title else []
    if not total:
        return "\n".join([*lines, f"没有超过 {hours_label(hours)}未更新的客户。"])
    lines.append(f"共 {total} 家客户超过 {hours_label(hours)}未更新：")
    for rep, items, n in groups:
        if n:
            lines.append(f"\n{rep}（{n} 家）")
            lines += stale_lines(items, max_items, n, labels)
    return "\n".join(lines)


def zombie_lines(items: Sequence[ZombieCustomer], max_items: int, total: int | None = None) -> list[str]:
    lines = [
        f"· {z.name}（{'从未成交' if z.last_deal_at is None else f'{z.days} 天无成交'}）"
        for z in items[:max_items]
    ]
    return lines + _more(len(items) if total is None else total, min(len(items), max_items))


def share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "—"


def zombie_for_rep(
    items: Sequence[ZombieCustomer], active: int, days: int, max_items: int, total: int | None = None
) -> str:
    n = len(items) if total is None else total
    if not n:
        return f"你名下没有超过 {days} 天无成交的僵尸客户。"
    head = (
        f"你有 {n} 家客户超过 {days} 天无成交，"
        f"占你名下客户的 {share(n, active)}（{n}/{active}）。建议激活或调整跟进策略："
    )
    hint = "已经成交但没有订单记录的，请回复「成交 <客户> [金额]」补记。"
    return "\n".join([head, *zombie_lines(items, max_items, n), hint])


def zombie_by_rep(
    groups: Sequence[tuple[str, Sequence[ZombieCustomer], int, int]], days: int, max_items: int, title: str
) -> str:
    """``groups``: (rep name, their first zombies, their active customers, their zombies in all)."""
    total = sum(z for _, _, _, z in groups)
    active = sum(n for _, _, n, _ in groups)
    lines = [title] if title else []
    lines.append(f"超过 {days} 天无成交的客户：{total} 家，占 {share(total, active)}（{total}/{active}）")
    for rep, items, n, z in groups:
        lines.append(f"\n{rep}：{z}/{n}，占 {share(z, n)}")
        lines += zombie_lines(items, max_items, z)
    return "\n".join(lines)


def key_person_lines(items: Sequence[KeyPersonAlert]) -> list[str]:
    lines = []
    for kp in items:
        who = f"{kp.customer_name} {kp.role_group} {kp.name}{f'（{kp.title}）' if kp.title else ''}"
        if kp.reason == "replaced":
            after = f"，新的关键人是{kp.successor}" if kp.successor else "，请确认新的关键人"
            lines.append(f"· {who} 已更换{after}，尽快建立联系，别错过招标和采购节点")
        elif kp.last_contact_on is None:
            lines.append(f"· {who} 没有记录过沟通日期")
        else:
            lines.append(f"· {who} 最近沟通：{kp.last_contact_on.isoformat()}")
    return lines


def key_person_hint(example: KeyPersonAlert) -> str:
    """What the rep can do about a key-person alert: the command, with a real example."""
    return (
        f"联系过、换了人或已离职，都请回复「更新关键人 <客户> <姓名>」记录，"
        f"例如「更新关键人 {example.customer_name} {example.name}」。"
    )


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _mark(healthy: bool | None) -> str:
    return "" if healthy is None else (" ✅" if healthy else " ⚠️")


def metrics_lines(m: Metrics) -> list[str]:
    change = "—" if m.conversion_change is None else f"{m.conversion_change:+.1%}"
    fresh = "—" if m.freshness_hours is None else f"{m.freshness_hours:.1f} 小时"
    lines = [
        f"动作规范率：{_pct(m.compliance)}（{m.compliance_on_time}/{m.compliance_due} 按时完成，"
        f"健康 ≥{m.compliance_target:.0%}）{_mark(m.compliance_healthy)}",
        f"线索转化率：{_pct(m.conversion)}（近 {m.window_days} 天新增线索 {m.leads} 条，"
        f"{m.converted} 条在 {m.conversion_days} 天内签下首单），较上期 {change}"
        f"{_mark(m.conversion_healthy)}",
        f"  较上期：与上期转化率相比的相对变化，健康 ≥{m.conversion_lift_target:+.0%}；"
        f"上期：再往前 {m.window_days} 天的新增线索，转化率 {_pct(m.previous_conversion)}"
        f"（{m.previous_converted}/{m.previous_leads}）",
        f"过程数据鲜度：中位 {fresh}（{m.reps} 名销售，健康 ≤{m.freshness_target_hours:g} 小时）"
        f"{_mark(m.freshness_healthy)}",
    ]
    if m.reps_without_updates:
        lines.append(f"  其中 {m.reps_without_updates} 名销售从未记录过客户更新")
    return lines


def metrics_text(m: Metrics, tz: tzinfo) -> str:
    local = m.as_of.astimezone(tz)
    head = f"健康指标（近 {m.window_days} 天，截至 {local:%m-%d %H:%M}）"
    return "\n".join([head, *metrics_lines(m)])
