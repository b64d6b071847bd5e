"""After the visit: 拜访完成 or the planned end starts the visit report, then the demand confirmation."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.messages import Text
from domain import audit, deadlines, visits
from domain import progress as progress_log
from domain.audit import snapshot
from handlers.commands import Command
from handlers.competitor import start_competitor
from handlers.context import Services, Turn
from handlers.flowkit import due_note, find_customer, not_found_text, start_form
from handlers.forms.engine import FormResult
from handlers.forms.fields import NOTES_KEY
from handlers.photos import describe, store_visit_photo
from handlers.registry import Registry
from storage.models import Customer, User, Visit

VISIT_FIELDS = ("status", "done_at", "report_started_at")


async def begin_report(
    session: AsyncSession,
    services: Services,
    now: datetime,
    visit: Visit,
    rep: User,
    *,
    turn: Turn | None = None,
) -> None:
    """Start the visit report for ``visit`` (queued behind an open form) and tell the rep the deadline."""
    customer = await session.get(Customer, visit.customer_id) if visit.customer_id else None
    before = snapshot(visit, VISIT_FIELDS)
    visit.report_started_at = now
    if visit.done_at is None:
        visit.done_at = min(now, visit.planned_end) if visit.planned_end else now
    visit.updated_at = now
    await visits.schedule_deadlines(session, now=now, visit=visit, alerts=services.settings.alerts)
    due = visits.end_of(visit) or now
    demand_due = due + timedelta(minutes=services.settings.alerts.demand_confirmation_minutes)
    name = customer.name if customer else visit.customer_text
    notice = (
        f"「{name}」的拜访已结束。请填写拜访报告；需求确认单请在 "
        f"{demand_due.astimezone(services.tz).strftime('%H:%M')} 前提交（拜访结束后 "
        f"{services.settings.alerts.demand_confirmation_minutes} 分钟内）。"
    )
    channel = visit.source_channel if visit.source_channel in services.notifier.channels else ""
    if turn is not None:
        await turn.reply(notice)
        turn.audit(
            "visit.report_started", "visit", visit.id, before=before, after=snapshot(visit, VISIT_FIELDS)
        )
    else:
        await services.notifier.to_user(
            session,
            now=now,
            user=rep,
            message=Text(text=notice),
            key=f"visit-report:{visit.id}",
            prefer=channel or None,
        )
        audit.record(
            session,
            now=now,
            actor_id=None,
            action="visit.report_started",
            entity_type="visit",
            entity_id=visit.id,
            before=before,
            after=snapshot(visit, VISIT_FIELDS),
            source_event="sweep:visit-report",
        )
    context = {"visit_id": visit.id, "customer_id": visit.customer_id, "customer_name": name}
    await services.forms.start(
        session,
        now=now,
        user=rep,
        form_name="visit_report",
        channel=channel or (turn.event.channel if turn else ""),
        context=context,
        turn=turn,
    )


async def sweep_due_reports(session: AsyncSession, services: Services, now: datetime) -> int:
    """At each visit's planned end, start its report."""
    due = await visits.due_for_report(session, now)
    for visit in due:
        rep = await session.get(User, visit.rep_id)
        if rep is None or rep.status != "active":
            visit.report_started_at = now
            continue
        await begin_report(session, services, now, visit, rep)
    return len(due)


async def visit_done(turn: Turn, args: str) -> None:
    """拜访完成 [客户]: the visit ended now; start its report."""
    open_visits = await visits.open_for_rep(turn.session, turn.user.id)
    visit: Visit | None = None
    if args:
        customer, matches = await find_customer(turn, args)
        if customer is None:
            await turn.reply(not_found_text(args, matches))
            return
        visit = visits.closest([v for v in open_visits if v.customer_id == customer.id], turn.now)
        if visit is None:  # an unplanned visit: record it now
            visit = await visits.create(
                turn.session,
                now=turn.now,
                rep_id=turn.user.id,
                customer_id=customer.id,
                customer_text=customer.name,
                source_channel="chat",
                source_approval_id=None,
                purpose="临时拜访",
                start=turn.now,
                end=turn.now,
            )
            turn.audit(
                "visit.create", "visit", visit.id, after={"customer_id": customer.id, "source": "拜访完成"}
            )
    else:
        visit = visits.closest(open_visits, turn.now)
        if visit is None:
            await turn.reply("没有待填写报告的拜访。临时拜访请回复「拜访完成 客户名称」。")
            return
    if visit.customer_id is None:
        await turn.reply(
            "这次拜访还没有关联客户，请先回答「确认拜访客户」的问题，或回复「拜访完成 客户名称」。"
        )
        return
    if visit.planned_end is None or turn.now < visit.planned_end:
        visit.done_at = turn.now  # ended early: the deadlines count from now
    await begin_report(turn.session, turn.services, turn.now, visit, turn.user, turn=turn)


async def complete_visit_report(turn: Turn, result: FormResult) -> None:
    ctx, answers = result.context, result.answers
    visit = await turn.session.get(Visit, int(ctx.get("visit_id", 0)))
    customer = await turn.session.get(Customer, int(ctx.get("customer_id") or 0))
    if visit is None or customer is None:
        await turn.reply("找不到这次拜访的记录，报告未保存，请联系管理员。")
        return
    lines = []
    photo_answer = answers.get("photo")
    if isinstance(photo_answer, dict) and photo_answer.get("media_id"):
        photo = await store_visit_photo(
            turn, media_id=int(photo_answer["media_id"]), visit=visit, customer=customer
        )
        if photo is not None:
            lines.append(describe(photo))
    progress = str(answers.get("progress", ""))
    extra = answers.get(NOTES_KEY, {})  # what the rep wrote beyond a choice or a yes/no
    note = "；".join(n for n in [str(answers.get("progress_note", "")), *map(str, extra.values())] if n)
    before = snapshot(visit, VISIT_FIELDS)
    visit.status, visit.updated_at = "done", turn.now
    turn.audit(
        "visit.report",
        "visit",
        visit.id,
        before=before,
        after={
            **snapshot(visit, VISIT_FIELDS),
            "progress": progress,
            "note": note,
            "comparing_vendors": answers.get("comparing_vendors"),
        },
    )
    await progress_log.record(
        turn.session,
        now=turn.now,
        customer=customer,
        rep_id=turn.user.id,
        kind="visit_report",
        progress=progress,
        note=note,
        visit_id=visit.id,
    )
    row = await deadlines.complete(
        turn.session, now=turn.now, kind="visit_report", entity_type="visit", entity_id=visit.id
    )
    lines.insert(0, f"拜访报告已提交{due_note(row, turn.services.tz)}。")
    await turn.reply("\n".join(lines))
    context = {"visit_id": visit.id, "customer_id": customer.id, "customer_name": customer.name}
    await start_form(turn, "demand_confirmation", context=context, chained=True)
    if answers.get("comparing_vendors"):
        await start_competitor(
            turn, customer=customer, visit_id=visit.id, source="rep", text="拜访报告：客户在比较其他厂家"
        )


def setup(registry: Registry) -> None:
    registry.sweep("visit-report-start", sweep_due_reports)
    registry.completer("visit_report", complete_visit_report)
    registry.command(
        Command(
            ("拜访完成",),
            visit_done,
            "结束拜访，填写拜访报告和需求确认单（临时拜访：拜访完成 <客户>）",
            group="拜访",
        )
    )
