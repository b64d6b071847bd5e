"""The deadline sweep (every tick): remind at due time, escalate to the supervisor after a delay.

Each deadline is reminded once (``reminded_at``) and escalated once (``escalated_at``), marked in the
same transaction that writes the messages; one message per recipient per sweep lists all their items.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select

from domain.deadline_view import describe, what
from domain.wording import duration
from scheduler.context import AppLike, postman
from storage.models import Deadline, DeadlineStatus, User


def _ids_key(ids: list[int]) -> str:
    return hashlib.sha1(",".join(map(str, sorted(ids))).encode()).hexdigest()[:16]


def _what_next(items: list[Deadline]) -> str:
    """How to act on the reminded items: forms are resumed with 继续, reviews answered with 审核."""
    reviews = any(d.kind == "competitor_review" for d in items)
    forms = any(d.kind != "competitor_review" for d in items)
    if reviews and forms:
        return "请尽快完成：回复「继续」接着填写表单，回复「审核」查看待审核的竞对分析。"
    if reviews:
        return "请尽快处理：回复「审核」查看待审核的竞对分析。"
    return "请尽快完成：回复「继续」接着填写未完成的表单。"


async def nudge(app: AppLike, now: datetime) -> int:
    """Before the demand confirmation is due, nudge the rep once (the outbox key makes it once).

    A rep still filling the visit report is told to finish it first: the demand confirmation opens
    right after it, so 「继续」 leads there."""
    alerts = app.settings.alerts
    if not alerts.demand_confirmation_nudge_minutes:
        return 0
    ahead = timedelta(minutes=alerts.demand_confirmation_minutes - alerts.demand_confirmation_nudge_minutes)
    zone = ZoneInfo(app.settings.app.timezone)
    stmt = (
        select(Deadline)
        .where(
            Deadline.kind == "demand_confirmation",
            Deadline.status == DeadlineStatus.PENDING,
            Deadline.reminded_at.is_(None),
            Deadline.due_at > now,
            Deadline.due_at <= now + ahead,
        )
        .order_by(Deadline.due_at, Deadline.id)
        .limit(500)
    )
    async with app.db.transaction() as session:
        rows = [d for d in (await session.execute(stmt)).scalars() if d.user_id is not None]
        if not rows:
            return 0
        about = await describe(session, rows)
        reports = {
            d.entity_id
            for d in (
                await session.execute(
                    select(Deadline).where(
                        Deadline.kind == "visit_report",
                        Deadline.status == DeadlineStatus.PENDING,
                        Deadline.entity_type == "visit",
                        Deadline.entity_id.in_([r.entity_id for r in rows]),
                    )
                )
            ).scalars()
        }
        post = postman(app, session, now, "deadline")
        sent = 0
        for d in rows:
            user = await session.get(User, d.user_id)
            if user is None:
                continue
            customer, _ = about[d.id]
            due = f"{d.due_at.astimezone(zone):%H:%M}"
            if d.entity_id in reports:
                body = (
                    f"「{customer}」的需求确认单将于 {due} 截止。请先填完拜访报告，需求确认单会紧接着打开；"
                    "回复「继续」接着填写。"
                )
            else:
                body = f"「{customer}」的需求确认单将于 {due} 截止，还差一点就完成了。回复「继续」接着填写。"
            sent += await post.to_user(user, "⏰ 快到截止时间了", body, f"nudge:{d.id}")
        return sent


async def sweep(app: AppLike, now: datetime) -> int:
    """Remind and escalate what is due; returns how many deadlines were handled."""
    delay = timedelta(minutes=app.settings.alerts.overdue_supervisor_delay_minutes)
    zone = ZoneInfo(app.settings.app.timezone)
    stmt = (
        select(Deadline)
        .where(
            Deadline.status == DeadlineStatus.PENDING,
            Deadline.due_at <= now,
            or_(
                Deadline.reminded_at.is_(None),
                and_(Deadline.escalated_at.is_(None), Deadline.due_at <= now - delay),
            ),
        )
        .order_by(Deadline.due_at, Deadline.id)
        .limit(500)
    )
    async with app.db.transaction() as session:
        if not app.db.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        rows = list((await session.execute(stmt)).scalars())
        if not rows:
            return 0
        about = await describe(session, rows)
        users = {u.id: u for u in (await session.execute(select(User))).scalars()}
        post = postman(app, session, now, "deadline")
        remind: dict[int, list[Deadline]] = defaultdict(list)
        escalate: dict[int | None, list[Deadline]] = defaultdict(list)
        for d in rows:
            if d.reminded_at is None:
                d.reminded_at = now
                if d.user_id is not None:
                    remind[d.user_id].append(d)
            if d.escalated_at is None and d.due_at <= now - delay:
                d.escalated_at = now
                actor = users.get(d.user_id) if d.user_id is not None else None
                escalate[actor.supervisor_id if actor else None].append(d)

        def line(d: Deadline) -> str:
            customer, rep = about[d.id]
            rep_name = users[rep].name if rep in users else ""
            return what(d, customer, rep_name)

        for user_id, items in remind.items():
            user = users.get(user_id)
            if user is None:
                continue
            body = [f"· {line(d)}（截止 {d.due_at.astimezone(zone):%m-%d %H:%M}，已到期）" for d in items]
            body.append(_what_next(items))
            await post.to_user(
                user, "⏰ 待办提醒", "\n".join(body), f"remind:{user_id}:{_ids_key([d.id for d in items])}"
            )
        for supervisor_id, items in escalate.items():
            body = []
            for d in items:
                actor = users.get(d.user_id) if d.user_id is not None else None
                late = duration(int((now - d.due_at).total_seconds() // 60))
                body.append(f"· {actor.name if actor else '（无人）'}：{line(d)}，已逾期 {late}")
            key = f"escalate:{supervisor_id}:{_ids_key([d.id for d in items])}"
            supervisor = users.get(supervisor_id) if supervisor_id is not None else None
            text = "\n".join([*body, "请督促尽快完成。"])
            if supervisor is None or not await post.to_user(supervisor, "⚠️ 逾期未完成", text, key):
                await post.to_route("managers", "⚠️ 逾期未完成", text, key)
        return len(rows)
