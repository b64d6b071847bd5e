"""After the visit: 拜访完成 or the planned end starts the visit report, then the demand confirmation."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.messages import Text
from domain import audit, outcomes, visits
from domain.audit import snapshot
from domain.wording import duration
from handlers.commands import Command
from handlers.competitor import start_competitor
from handlers.completion import Audit, DeadlineMet, Progress, finish
from handlers.context import Services, Turn
from handlers.flowkit import find_customer, not_found, stages_of, start_form
from handlers.forms.answers import Answers, PhotoValue
from handlers.forms.engine import FormResult
from handlers.forms.fields import NOTES_KEY
from handlers.key_persons import MET_KEY, chain_context, record_met
from handlers.photos import describe, store_visit_photo
from handlers.registry import Registry
from storage.models import Customer, User, UserStatus, Visit

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
    await visits.start_report(session, now=now, visit=visit, alerts=services.settings.alerts)
    due = visits.end_of(visit) or now
    demand_due = due + timedelta(minutes=services.settings.alerts.demand_confirmation_minutes)
    name = customer.name if customer else visit.customer_text
    when = demand_due.astimezone(services.tz).strftime("%H:%M")
    if demand_due > now:
        notice = (
            f"「{name}」的拜访已结束。请填写拜访报告；需求确认单请在 {when} 前提交（拜访结束后 "
            f"{duration(services.settings.alerts.demand_confirmation_minutes)}内）。"
        )
    else:  # started late: the deadline has passed, say so instead of quoting a window already gone
        notice = (
            f"「{name}」的拜访已结束。请填写拜访报告；需求确认单已过截止时间（{when}），"
            "填完拜访报告后请尽快补上。"
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
    chain = chain_context(customer) if customer is not None else []
    context = {"visit_id": visit.id, "customer_id": visit.customer_id, "customer_name": name, MET_KEY: chain}
    await services.forms.start(
        session,
        now=now,
        user=rep,
        form_name="visit_report",
        channel=channel or (turn.event.channel if turn else ""),
        context=context,
        prefill=None if chain else {"met": []},  # nobody on the chain to ask about
        turn=turn,
    )


async def sweep_due_reports(session: AsyncSession, services: Services, now: datetime) -> int:
    """At each visit's planned end, start its report."""
    due = await visits.due_for_report(session, now)
    for visit in due:
        rep = await session.get(User, visit.rep_id)
        if rep is None or rep.status != UserStatus.ACTIVE:
            visits.skip_report(visit, now)
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
            await not_found(turn, args, matches)
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
    visits.ended_by_rep(visit, turn.now)
    await begin_report(turn.session, turn.services, turn.now, visit, turn.user, turn=turn)


class VisitReportAnswers(Answers):
    photo: PhotoValue | None = None
    progress: str = ""
    progress_note: str = ""
    comparing_vendors: bool | None = None
    met: tuple[int, ...] = ()  # key persons met (indices into the chain offered)


async def complete_visit_report(turn: Turn, result: FormResult) -> None:
    ctx, answers = result.context, result.typed(VisitReportAnswers)
    visit = await turn.session.get(Visit, int(ctx.get("visit_id", 0)))
    customer = await turn.session.get(Customer, int(ctx.get("customer_id") or 0))
    if visit is None or customer is None:
        await turn.reply("找不到这次拜访的记录，报告未保存，请联系管理员。")
        return
    lines = []
    if answers.photo is not None and answers.photo.media_id:
        photo = await store_visit_photo(turn, media_id=answers.photo.media_id, visit=visit, customer=customer)
        if photo is not None:
            lines.append(describe(photo))
    progress = answers.progress
    extra = result.answers.get(NOTES_KEY, {})  # what the rep wrote beyond a choice or a yes/no
    note = "；".join(n for n in [answers.progress_note, *map(str, extra.values())] if n)
    before = snapshot(visit, VISIT_FIELDS)
    visits.report_done(visit, turn.now)
    after = {
        **snapshot(visit, VISIT_FIELDS),
        "progress": progress,
        "note": note,
        "comparing_vendors": answers.comparing_vendors,
    }
    met = await record_met(turn, customer, list(answers.met))
    if met:
        lines.append(f"已更新 {'、'.join(met)} 的最近沟通日期。")
    stages = stages_of(turn.services)
    target = outcomes.stage_for_progress(stages, customer, progress)
    if target is not None:
        old_stage = customer.stage
        outcomes.set_stage(
            turn.session,
            customer,
            target,
            now=turn.now,
            actor_id=turn.user.id,
            source=turn.source,
            reason=f"拜访进展：{progress}",
        )
        lines.append(f"客户阶段：{stages.label(old_stage)} → {stages.label(target)}。")
    await finish(
        turn,
        audit=[Audit("visit.report", "visit", visit.id, before=before, after=after)],
        progress=Progress(customer, "visit_report", progress, note, visit.id),
        deadline=DeadlineMet("visit_report", "visit", visit.id),
        reply=lambda due: "\n".join([f"拜访报告已提交{due}。", *lines]),
    )
    context = {"visit_id": visit.id, "customer_id": customer.id, "customer_name": customer.name}
    await start_form(turn, "demand_confirmation", context=context, chained=True)
    if answers.comparing_vendors:
        await start_competitor(
            turn, customer=customer, visit_id=visit.id, source="rep", text="拜访报告：客户在比较其他厂家"
        )


def setup(registry: Registry) -> None:
    registry.sweep("visit-report-start", sweep_due_reports)
    registry.completer("visit_report", complete_visit_report, answers=VisitReportAnswers)
    registry.command(
        Command(
            ("拜访完成",),
            visit_done,
            "结束拜访，填写拜访报告和需求确认单（临时拜访：拜访完成 <客户>）",
            group="拜访",
        )
    )
