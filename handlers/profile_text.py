"""Chinese text for a customer profile (`客户 <名称>`) and the visit brief."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from domain.customer_view import ContactView, CustomerView, UpdateView
from domain.quotes import render_quote
from domain.wording import days_ago
from storage.models import CompetitorAnalysis, Demand, ReviewStatus, Visit

UPDATE_KINDS = {
    "visit_report": "拜访",
    "demand": "需求确认",
    "competitor": "竞对分析",
    "trial": "试用反馈",
    "profile": "档案",
    "note": "备注",
    "deal": "成交",
    "stage": "阶段",
}
REVIEW_STATUS: dict[str, str] = {
    ReviewStatus.PENDING_REVIEW: "待主管审核",
    ReviewStatus.APPROVED: "主管已通过",
    ReviewStatus.COMMENTED: "主管已批注",
}
NONE = "  （暂无）"


def _day(when: datetime, tz: ZoneInfo) -> str:
    return when.astimezone(tz).strftime("%m-%d")


def _contact(c: ContactView, customer: str) -> str:
    p = c.person
    line = f"  · {p.role_group} {p.name}" + (f"（{p.title}）" if p.title else "")
    update = f"回复「更新关键人 {customer} {p.name}」更新"
    if c.days_since_contact is None:
        return line + f" ⚠️ 未记录最近沟通日期，请先确认是否仍在岗（{update}）"
    last = p.last_contact_on.strftime("%m-%d") if p.last_contact_on else ""
    if c.stale:
        return (
            line + f" ⚠️ 已 {c.days_since_contact} 天未联系（最近 {last}），可能已换人，请先确认（{update}）"
        )
    return line + f" 最近沟通 {last}（{days_ago(c.days_since_contact)}）"


def _competitor(row: CompetitorAnalysis) -> str:
    parts = [
        f"报价 {row.price}" if row.price else "",
        f"交付 {row.delivery_cycle}" if row.delivery_cycle else "",
    ]
    if row.weaknesses:
        parts.append(f"短板 {row.weaknesses}")
    status = REVIEW_STATUS.get(row.status, row.status)
    if row.review_comment:
        status += f"：{row.review_comment}"
    return f"  · {row.competitor or '未填写'}：{'；'.join(p for p in parts if p)}（{status}）"


def _demand(d: Demand, view: CustomerView) -> str:
    """One open demand: the quote's text from the ledger (numbered, so it can be corrected), its notes."""
    quote = view.quotes.get(d.quote_id or 0)
    number = f"原话 #{quote.quote_id} " if quote is not None else ""
    tried = f" 已试：{d.tried_solutions}" if d.tried_solutions else ""
    return f"  · [{d.scenario or '未分类'}] {number}{render_quote(quote, d.text)}{tried}"


def _update(u: UpdateView, tz: ZoneInfo) -> str:
    """One 最近跟进 line; a 需求确认 shows its quote as the ledger does (not the copy taken at filing)."""
    line = f"  · {_day(u.update.created_at, tz)} {u.rep} {UPDATE_KINDS.get(u.update.kind, u.update.kind)}"
    line += f"：{u.update.progress}" if u.update.progress else ""
    if u.demand is not None:
        return line + f" {u.note}"
    return line + (f"（{u.note}）" if u.note else "")


def sections(view: CustomerView, tz: ZoneInfo) -> list[str]:
    c = view.customer
    facts = " · ".join(x for x in (c.kind, c.grade, c.region) if x)
    lines = [f"客户：{facts or '未填写类型'}" + (f" · 负责人 {view.owner}" if view.owner else "")]
    deal = f" · 最近成交 {_day(c.last_deal_at, tz)}" if c.last_deal_at else " · 尚未成交"
    lines.append(f"阶段：{view.stage_label or c.stage}{deal}")
    if view.aliases:
        lines.append(f"别名：{'、'.join(view.aliases)}")
    if view.missing_key_persons:
        lines.append(
            f"⚠️ 档案不完整：决策链还缺 {view.missing_key_persons} 位关键人（回复「添加关键人 {c.name}」补充）"
        )
    lines.append("决策链：")
    lines += [_contact(x, c.name) for x in view.contacts] or [NONE]
    lines.append("客户个性标签：")
    lines += [f"  · {t.tag} — {t.basis}" + (f"（{t.author}）" if t.author else "") for t in view.tags] or [
        NONE
    ]
    lines.append(f"决策者偏好：{c.preferences or '（暂无）'}")
    lines.append("最近跟进：")
    lines += [_update(u, tz) for u in view.updates] or [NONE]
    if view.orders:
        lines.append("成交记录：")
        lines += [
            f"  · {o.order_date:%m-%d} ¥{o.amount:,.2f}（订单 {o.external_id}）"
            + (f" 终端 {o.hospital}" if o.hospital and o.hospital != o.customer_name else "")
            for o in view.orders
        ]
    lines.append("开放需求：")
    lines += [_demand(d, view) for d in view.demands] or [NONE]
    lines.append("竞品动态：")
    lines += [_competitor(r) for r in view.competitors] or [NONE]
    return lines


def profile_text(view: CustomerView, tz: ZoneInfo) -> str:
    return "\n".join([f"【客户档案】{view.customer.name}", *sections(view, tz)])


def visit_window(visit: Visit, tz: ZoneInfo) -> str:
    if visit.planned_start is None:
        return "未填写"
    start = visit.planned_start.astimezone(tz)
    text = start.strftime("%m-%d %H:%M")
    if visit.planned_end is not None:
        end = visit.planned_end.astimezone(tz)
        text += "–" + end.strftime("%H:%M" if end.date() == start.date() else "%m-%d %H:%M")
    return text


def brief_text(view: CustomerView, visit: Visit, tz: ZoneInfo) -> str:
    head = [f"【拜访简报】{view.customer.name}", f"拜访时间：{visit_window(visit, tz)}"]
    if visit.purpose:
        head.append(f"拜访事由：{visit.purpose}")
    tail = ["", "拜访结束后我会请你填写拜访报告和需求确认单；提前结束可回复「拜访完成」。"]
    return "\n".join([*head, *sections(view, tz), *tail])
