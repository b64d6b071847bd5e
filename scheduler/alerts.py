"""Periodic digests: stale customers, zombie customers, key persons, the morning digest.

Every job computes and writes its messages in ONE transaction, keyed by job and period, so a job run
again for the same period (after a crash, or on a second instance) cannot send anything twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from domain import digest_text as text
from domain.audience import Scopes, manager_scopes
from domain.metrics import active_reps, compute, valid_updates_by_rep
from domain.stages import load_stages
from domain.staleness import (
    KeyPersonAlert,
    StaleCustomer,
    ZombieCustomer,
    active_customer_counts,
    key_person_alerts,
    stale_counts,
    stale_customers,
    zombie_counts,
    zombie_customers,
)
from scheduler.board_job import with_board_link
from scheduler.context import AppLike, Postman, postman, tz
from scheduler.service import RunContext
from storage.models import AlertLog
from storage.upsert import insert_ignore

STALE_PAGE = "/board/customers?stale=1"  # the board's 超 48 小时未更新 list
ZOMBIE_PAGE = "/board/customers?zombie=1"

T = TypeVar("T", StaleCustomer, ZombieCustomer, KeyPersonAlert)


def _by_owner(items: Sequence[T]) -> dict[int | None, list[T]]:
    out: dict[int | None, list[T]] = defaultdict(list)
    for item in items:
        out[item.owner_id].append(item)
    return out


def _orphans(scopes: Scopes, owners: Sequence[int | None]) -> list[int | None]:
    return [o for o in owners if o is None or o in scopes.uncovered or o not in scopes.users]


async def stale_job(app: AppLike, ctx: RunContext) -> None:
    alerts = app.settings.alerts
    hours, most, by_stage = alerts.stale_hours, alerts.digest_max_items, alerts.stale_hours_by_stage
    labels = load_stages(app.settings.forms.path).labels
    async with app.db.transaction() as session:
        totals = await stale_counts(session, ctx.now, hours, by_stage=by_stage)
        if not totals:
            return
        items = await stale_customers(session, ctx.now, hours, by_stage=by_stage, per_owner=most)
        scopes = await manager_scopes(session)
        post = postman(app, session, ctx.now, f"stale:{ctx.period}")
        by_owner = _by_owner(items)
        for owner_id, mine in by_owner.items():
            user = scopes.users.get(owner_id) if owner_id is not None else None
            if user is not None:
                body = text.stale_for_rep(mine, hours, most, totals[owner_id], labels)
                await post.to_user(user, "超时未跟进客户提醒", body, f"user:{owner_id}")
        title = f"超时未跟进客户（{text.local_day(ctx.scheduled_for, tz(app))}）"
        for manager, below in scopes.managers:
            groups = [(scopes.name(o), by_owner[o], totals[o]) for o in sorted(below) if o in by_owner]
            if groups:
                body = with_board_link(app, text.stale_by_rep(groups, hours, most, "", labels), STALE_PAGE)
                await post.to_user(manager, title, body, f"manager:{manager.id}")
        orphans = _orphans(scopes, list(by_owner))
        if orphans:
            groups = [(scopes.name(o), by_owner[o], totals[o]) for o in orphans]
            body = with_board_link(app, text.stale_by_rep(groups, hours, most, "", labels), STALE_PAGE)
            await post.to_route("managers", title, body)


async def zombie_job(app: AppLike, ctx: RunContext) -> None:
    alerts = app.settings.alerts
    days, most = alerts.zombie_days, alerts.digest_max_items
    async with app.db.transaction() as session:
        totals = await zombie_counts(session, ctx.now, days)
        if not totals:
            return
        items = await zombie_customers(session, ctx.now, days, per_owner=most)
        counts = await active_customer_counts(session)
        scopes = await manager_scopes(session)
        post = postman(app, session, ctx.now, f"zombie:{ctx.period}")
        by_owner = _by_owner(items)
        title = f"僵尸客户周报（{text.local_day(ctx.scheduled_for, tz(app))}）"
        for owner_id, mine in by_owner.items():
            user = scopes.users.get(owner_id) if owner_id is not None else None
            if user is not None:
                body = text.zombie_for_rep(mine, counts.get(owner_id, 0), days, most, totals[owner_id])
                await post.to_user(user, title, body, f"user:{owner_id}")

        def groups(owners: Sequence[int | None]) -> list[tuple[str, list[ZombieCustomer], int, int]]:
            return [
                (scopes.name(o), by_owner.get(o, []), counts.get(o, 0), totals.get(o, 0))
                for o in owners
                if counts.get(o)
            ]

        for manager, below in scopes.managers:
            mine_groups = groups(sorted(below))
            if any(g[3] for g in mine_groups):
                body = with_board_link(app, text.zombie_by_rep(mine_groups, days, most, ""), ZOMBIE_PAGE)
                await post.to_user(manager, title, body, f"manager:{manager.id}")
        orphans = [o for o in _orphans(scopes, list(counts)) if o in by_owner]
        if orphans:
            await post.to_route("managers", title, text.zombie_by_rep(groups(orphans), days, most, ""))


async def key_person_job(app: AppLike, ctx: RunContext) -> None:
    alerts = app.settings.alerts
    today = ctx.now.astimezone(tz(app)).date()
    async with app.db.transaction() as session:
        items = await key_person_alerts(session, today, alerts.key_person_stale_days)
        fresh: list[KeyPersonAlert] = []
        for kp in items:
            period = kp.last_contact_on.isoformat() if kp.reason == "stale" and kp.last_contact_on else ""
            logged = await insert_ignore(
                session,
                AlertLog,
                {
                    "kind": "key_person",
                    "key": f"{kp.key_person_id}:{kp.reason}",
                    "period": period,
                    "target": str(kp.owner_id or ""),
                    "payload": {"customer": kp.customer_name, "name": kp.name},
                    "created_at": ctx.now,
                },
            )
            if logged:
                fresh.append(kp)
        if not fresh:
            return
        scopes = await manager_scopes(session)
        post = postman(app, session, ctx.now, f"keyperson:{ctx.period}")
        for owner_id, mine in _by_owner(fresh).items():
            user = scopes.users.get(owner_id) if owner_id is not None else None
            if user is None:
                continue
            head = f"以下决策链关键人需要关注（超过 {alerts.key_person_stale_days} 天未联系或已更换）："
            body = "\n".join([head, *text.key_person_lines(mine), text.key_person_hint(mine[0])])
            await post.to_user(user, "关键人提醒", body, f"user:{owner_id}")


async def _yesterday(app: AppLike, session: AsyncSession, ctx: RunContext) -> list[str]:
    zone = tz(app)
    day = ctx.scheduled_for.astimezone(zone).date() - timedelta(days=1)
    start = datetime.combine(day, time(0), zone)
    counts = await valid_updates_by_rep(session, start, start + timedelta(days=1))
    reps = await active_reps(session)
    lines = [f"昨日（{day.month}月{day.day}日）有效客户更新：共 {sum(counts.values())} 条"]
    ranked = sorted(reps, key=lambda r: (-counts.get(r.id, 0), r.id))
    lines += [
        f"· {r.name}：{counts.get(r.id, 0)} 条{' ✅' if counts.get(r.id, 0) >= 3 else ''}" for r in ranked
    ]
    good = [r.name for r in ranked if counts.get(r.id, 0) >= 3]
    lines.append(f"完成 3 条以上的：{'、'.join(good) if good else '没有人'}")
    return lines


async def morning_digest_job(app: AppLike, ctx: RunContext) -> None:
    alerts = app.settings.alerts
    async with app.db.transaction() as session:
        lines = await _yesterday(app, session, ctx)
        metrics = await compute(session, ctx.now, app.settings.metrics)
        lines += ["", *text.metrics_lines(metrics)]
        per_rep = await stale_counts(
            session, ctx.now, alerts.stale_hours, by_stage=alerts.stale_hours_by_stage
        )
        scopes = await manager_scopes(session)
        detail = "、".join(f"{scopes.name(o)} {n}" for o, n in sorted(per_rep.items(), key=lambda kv: -kv[1]))
        detail = f"（{detail}）" if detail else ""
        lines.append(
            f"超 {text.hours_label(alerts.stale_hours)}未更新客户：{sum(per_rep.values())} 家{detail}"
        )
        lines = with_board_link(app, "\n".join(lines), "/board/").split("\n")
        title = f"早报 · {text.local_day(ctx.scheduled_for, tz(app))}"
        post: Postman = postman(app, session, ctx.now, f"morning:{ctx.period}")
        if not await post.to_route("managers", title, "\n".join(lines)):
            for manager, _ in scopes.managers:
                await post.to_user(manager, title, "\n".join(lines), f"manager:{manager.id}")
