"""Competitor analysis (竞对分析): triggered by the rep or by the customer's words; the supervisor reviews."""

from __future__ import annotations

import re

from sqlalchemy import select

from core.events import CardActionEvent
from core.messages import Choice
from domain import competitors
from domain.audit import snapshot
from domain.numerals import DIGIT, echo_number, row_id
from handlers.board import board_line
from handlers.commands import Command
from handlers.completion import Audit, Progress, finish
from handlers.context import Turn
from handlers.flowkit import find_customer, not_found, start_form, supervisor_of
from handlers.forms.answers import Answers
from handlers.forms.engine import RETYPED_COMMAND, FormResult
from handlers.registry import Registry
from storage.models import CompetitorAnalysis, ConversationState, Customer, ReviewStatus, User

FIELDS = ("status", "competitor", "price", "delivery_cycle", "weaknesses", "reviewer_id", "review_comment")
APPROVE, COMMENT = "通过", "批注"
STATUS: dict[ReviewStatus, str] = {  # as the board's REVIEW_STATUS
    ReviewStatus.DRAFT: "待填写",
    ReviewStatus.PENDING_REVIEW: "待审核",
    ReviewStatus.APPROVED: "已通过",
    ReviewStatus.COMMENTED: "已批注",
    ReviewStatus.WITHDRAWN: "已放弃",
}


def status_label(status: str) -> str:
    """The word a person reads for a review status (the database only holds ``ReviewStatus`` values)."""
    return STATUS[ReviewStatus(status)]


async def start_competitor(
    turn: Turn,
    *,
    customer: Customer,
    visit_id: int | None,
    source: str,
    text: str,
    reason: str = "",
    chained: bool = True,
) -> CompetitorAnalysis | None:
    """Create the draft (and its 24 h deadline) and start the form; once per visit."""
    if visit_id is not None and await competitors.for_visit(turn.session, visit_id) is not None:
        return None
    row = await competitors.trigger(
        turn.session,
        now=turn.now,
        rep_id=turn.user.id,
        customer_id=customer.id,
        visit_id=visit_id,
        source=source,
        text=text,
        due_hours=turn.services.settings.flows.competitor_analysis_hours,
    )
    turn.audit("competitor.trigger", "competitor_analysis", row.id, after={"trigger": source, "text": text})
    if reason:
        await turn.reply(
            f"{reason}，请补充竞对分析（{turn.services.settings.flows.competitor_analysis_hours} 小时内）。"
        )
    await start_form(
        turn,
        "competitor",
        context={"competitor_id": row.id, "customer_id": customer.id, "customer_name": customer.name},
        chained=chained,
    )
    return row


def summary(row: CompetitorAnalysis, customer: str, rep: str) -> str:
    lines = [
        f"竞对分析 #{row.id}（{rep} · {customer}）",
        f"竞争对手：{row.competitor}",
        f"对方报价：{row.price}",
        f"交付周期：{row.delivery_cycle}",
        f"服务短板：{row.weaknesses}",
    ]
    if row.trigger == "quote" and row.trigger_text:
        lines.append(f"触发原话：“{row.trigger_text}”")
    if row.review_comment:
        lines.append(f"批注：{row.review_comment}")
    return "\n".join(lines)


async def _names(turn: Turn, row: CompetitorAnalysis) -> tuple[str, str]:
    customer = await turn.session.get(Customer, row.customer_id) if row.customer_id else None
    rep = await turn.session.get(User, row.rep_id)
    return (customer.name if customer else "未关联客户"), (rep.name if rep else "")


class CompetitorAnswers(Answers):
    competitor: str = ""
    price: str = ""
    delivery_cycle: str = ""
    weaknesses: str = ""


class CommentAnswers(Answers):
    comment: str = ""


async def complete_competitor(turn: Turn, result: FormResult) -> None:
    answers = result.typed(CompetitorAnswers)
    row = await turn.session.get(CompetitorAnalysis, int(result.context.get("competitor_id", 0)))
    if row is None:
        await turn.reply("找不到这份竞对分析的记录，请联系管理员。")
        return
    boss = await supervisor_of(turn.session, turn.user)
    before = snapshot(row, FIELDS)
    await competitors.submit(
        turn.session,
        now=turn.now,
        row=row,
        competitor=answers.competitor,
        price=answers.price,
        delivery_cycle=answers.delivery_cycle,
        weaknesses=answers.weaknesses,
        reviewer_id=boss.id if boss else None,
        review_hours=turn.services.settings.alerts.competitor_review_hours,
    )
    audit = [
        Audit("competitor.submit", "competitor_analysis", row.id, before=before, after=snapshot(row, FIELDS))
    ]
    customer_name, rep_name = await _names(turn, row)
    customer = await turn.session.get(Customer, row.customer_id) if row.customer_id else None
    progress = (
        Progress(customer, "competitor", row.competitor, f"报价 {row.price}", row.visit_id)
        if customer is not None
        else None
    )
    if boss is None:
        await finish(
            turn,
            audit=audit,
            progress=progress,
            reply="竞对分析已保存。你还没有设置主管，无法发起审核，请联系管理员设置主管。",
        )
        return
    # The details as text, then a short card (platform cards hold little text); typing works too.
    await turn.tell(
        boss,
        "请审核竞对分析：\n"
        + summary(row, customer_name, rep_name)
        + f"\n回复「审核 {row.id} 通过」或「批注 {row.id} 你的意见」，或点击下方卡片。"
        + board_line(turn, f"/board/reviews#review-{row.id}", "在看板中审核"),
    )
    await turn.tell(
        boss,
        Choice(
            prompt=f"审核竞对分析 #{row.id}",
            options=[APPROVE, COMMENT],
            token=f"review:{row.id}",
            note=f"{rep_name} · {customer_name} · {row.competitor}",
        ),
    )
    await finish(
        turn, audit=audit, progress=progress, reply=f"竞对分析 #{row.id} 已提交，等待主管 {boss.name} 审核。"
    )


async def _load_for_review(turn: Turn, number: str) -> CompetitorAnalysis | None:
    found = row_id(number)
    row = await turn.session.get(CompetitorAnalysis, found) if found is not None else None
    if row is None or row.status == ReviewStatus.DRAFT:
        await turn.reply(f"没有编号为 {echo_number(number)} 的待审竞对分析。")
        return None
    if not await competitors.may_review(turn.session, turn.user, row.rep_id):
        await turn.reply("只有这位销售的主管可以审核这份竞对分析。")
        return None
    return row


async def _decide(turn: Turn, row: CompetitorAnalysis, *, approve: bool, comment: str = "") -> None:
    if approve and row.status == ReviewStatus.APPROVED:
        await turn.reply(f"竞对分析 #{row.id} 已经审核通过了。")
        return
    before = snapshot(row, FIELDS)
    await competitors.review(
        turn.session, now=turn.now, row=row, reviewer_id=turn.user.id, approve=approve, comment=comment
    )
    turn.audit(
        "competitor.approve" if approve else "competitor.comment",
        "competitor_analysis",
        row.id,
        before=before,
        after=snapshot(row, FIELDS),
    )
    customer_name, _ = await _names(turn, row)
    rep = await turn.session.get(User, row.rep_id)
    if approve:
        await turn.reply(f"已通过竞对分析 #{row.id}，已通知销售。")
        message = f"主管 {turn.user.name} 已通过你对「{customer_name}」的竞对分析 #{row.id}。"
    else:
        await turn.reply(f"已批注竞对分析 #{row.id}，已通知销售。")
        message = f"主管 {turn.user.name} 批注了你对「{customer_name}」的竞对分析 #{row.id}：{comment}"
    if rep is not None:
        await turn.tell(rep, message)


async def _ask_comment(turn: Turn, row: CompetitorAnalysis) -> None:
    await start_form(turn, "competitor_comment", context={"competitor_id": row.id, RETYPED_COMMAND: "批注"})


async def review_card(turn: Turn) -> None:
    event = turn.event
    if not isinstance(event, CardActionEvent):
        return
    row = await _load_for_review(turn, event.card_id.removeprefix("review:"))
    if row is None:
        return
    value = event.values[0] if event.values else ""
    if value in ("1", APPROVE):
        await _decide(turn, row, approve=True)
    elif value in ("2", COMMENT):
        await _ask_comment(turn, row)
    else:
        await turn.reply("请选择「通过」或「批注」。")


PENDING_SHOWN = 10


async def list_pending(turn: Turn) -> None:
    """审核 alone: the analyses waiting for this reviewer, oldest first."""
    rows = (
        await turn.session.execute(
            select(CompetitorAnalysis)
            .where(CompetitorAnalysis.status == ReviewStatus.PENDING_REVIEW)
            .order_by(CompetitorAnalysis.created_at, CompetitorAnalysis.id)
        )
    ).scalars()
    mine = [row for row in rows if await competitors.may_review(turn.session, turn.user, row.rep_id)]
    if not mine:
        await turn.reply("目前没有待你审核的竞对分析。")
        return
    lines = [f"待你审核的竞对分析（{len(mine)} 份）："]
    for row in mine[:PENDING_SHOWN]:
        customer_name, rep_name = await _names(turn, row)
        lines.append(f"· #{row.id} {rep_name} · {customer_name}：{row.competitor or '未填写竞争对手'}")
    if len(mine) > PENDING_SHOWN:
        lines.append(f"另有 {len(mine) - PENDING_SHOWN} 份未列出。")
    lines.append("回复「审核 <编号>」查看详情，「审核 <编号> 通过」直接通过。")
    await turn.reply("\n".join(lines))


async def review_command(turn: Turn, args: str) -> None:
    """审核 alone lists what waits; 审核 <编号> [通过]: approve, or show the analysis with how to answer."""
    if not args.strip():
        await list_pending(turn)
        return
    m = re.fullmatch(rf"[#＃]?([{DIGIT}]+)\s*(通过|同意|ok)?", args.strip(), re.IGNORECASE)
    if not m:
        await turn.reply("用法：审核 <编号> 通过，或 批注 <编号> <意见>。")
        return
    row = await _load_for_review(turn, m.group(1))
    if row is None:
        return
    if m.group(2):
        await _decide(turn, row, approve=True)
        return
    customer_name, rep_name = await _names(turn, row)
    await turn.reply(
        summary(row, customer_name, rep_name)
        + f"\n状态：{status_label(row.status)}"
        + f"\n回复「审核 {row.id} 通过」或「批注 {row.id} 你的意见」。"
    )


async def comment_command(turn: Turn, args: str) -> None:
    """批注 <编号> <意见>."""
    m = re.fullmatch(rf"[#＃]?([{DIGIT}]+)\s*(.*)", args.strip(), re.DOTALL)
    if not m:
        await turn.reply("用法：批注 <编号> <意见>，例如「批注 12 请补充对方的售后条款」。")
        return
    row = await _load_for_review(turn, m.group(1))
    if row is None:
        return
    comment = m.group(2).strip()
    if not comment:
        await _ask_comment(turn, row)
        return
    await _decide(turn, row, approve=False, comment=comment)


async def return_command(turn: Turn, args: str) -> None:
    """退回 <编号> <意见>: the rep redoes the analysis with the reviewer's comment."""
    m = re.fullmatch(rf"[#＃]?([{DIGIT}]+)\s*(.*)", args.strip(), re.DOTALL)
    comment = m.group(2).strip() if m else ""
    if m is None or not comment:
        await turn.reply("用法：退回 <编号> <原因>，例如「退回 12 请写清报价是否含税」。")
        return
    row = await _load_for_review(turn, m.group(1))
    if row is None:
        return
    if row.status != ReviewStatus.PENDING_REVIEW:
        state = status_label(row.status)
        await turn.reply(f"竞对分析 #{row.id} 现在是「{state}」，只能退回待审核的。")
        return
    rep = await turn.session.get(User, row.rep_id)
    customer_name, _ = await _names(turn, row)
    before = snapshot(row, FIELDS)
    hours = turn.services.settings.flows.competitor_analysis_hours
    earlier = "；".join(
        f"{label} {value}"
        for label, value in (
            ("竞争对手", row.competitor),
            ("报价", row.price),
            ("交付周期", row.delivery_cycle),
            ("服务短板", row.weaknesses),
        )
        if value
    )
    await competitors.send_back(
        turn.session, now=turn.now, row=row, reviewer_id=turn.user.id, comment=comment, due_hours=hours
    )
    turn.audit("competitor.return", "competitor_analysis", row.id, before=before, after=snapshot(row, FIELDS))
    await turn.reply(f"已退回竞对分析 #{row.id}，已通知 {rep.name if rep else '销售'} 修改后重新提交。")
    if rep is None:
        return
    await turn.tell(
        rep,
        f"主管 {turn.user.name} 退回了你对「{customer_name}」的竞对分析 #{row.id}：{comment}\n"
        f"请修改后重新提交（{hours} 小时内）。" + (f"\n上次填写：{earlier}" if earlier else ""),
    )
    await turn.services.forms.start(
        turn.session,
        now=turn.now,
        user=rep,
        form_name="competitor",
        channel=rep.preferred_channel or "",
        context={"competitor_id": row.id, "customer_id": row.customer_id, "customer_name": customer_name},
    )


async def complete_comment(turn: Turn, result: FormResult) -> None:
    row = await _load_for_review(turn, str(result.context.get("competitor_id", "")))
    if row is not None:
        comment = result.typed(CommentAnswers).comment.strip()
        # Asked for the comment, a reviewer often types the whole command again (「批注 12 …」).
        retyped = re.sub(rf"^批注\s*#?{row.id}(?!\d)\s*", "", comment)
        await _decide(turn, row, approve=False, comment=retyped or comment)


async def manual_start(turn: Turn, args: str) -> None:
    """竞对分析 <客户>: the rep starts one without a visit."""
    if not args:
        await turn.reply("用法：竞对分析 <客户名称>。拜访报告中选择「客户在比较其他厂家」也会自动发起。")
        return
    customer, matches = await find_customer(turn, args)
    if customer is None:
        await not_found(turn, args, matches)
        return
    open_draft = await competitors.open_draft(turn.session, rep_id=turn.user.id, customer_id=customer.id)
    if open_draft is not None:  # one open analysis per customer: finish or give up the first
        await turn.reply(
            f"「{customer.name}」已有一份没填完的竞对分析（#{open_draft.id}）。"
            "回复「继续」接着填，或回复「放弃」后再重新发起。"
        )
        return
    await start_competitor(
        turn, customer=customer, visit_id=None, source="rep", text="销售主动发起", chained=False
    )


async def discard_competitor(turn: Turn, state: ConversationState) -> None:
    """放弃 on the competitor form: the draft is withdrawn and its deadline ends (no overdue count)."""
    row = await turn.session.get(CompetitorAnalysis, int(state.context.get("competitor_id", 0)))
    if row is None or row.status != ReviewStatus.DRAFT:
        return
    await competitors.withdraw(turn.session, row)
    turn.audit("competitor.withdraw", "competitor_analysis", row.id, after={"status": row.status})


def setup(registry: Registry) -> None:
    registry.completer("competitor_analysis", complete_competitor, answers=CompetitorAnswers)
    registry.discarder("competitor", discard_competitor)
    registry.completer("competitor_comment", complete_comment, answers=CommentAnswers)
    registry.card("review:", review_card)
    reviewers = frozenset({"manager", "admin"})
    registry.command(
        Command(
            ("竞对分析",),
            manual_start,
            "填写竞品报价、交付周期和服务短板，发给主管审核：竞对分析 <客户>",
            group="拜访",
        )
    )
    registry.command(
        Command(
            ("退回",),
            return_command,
            "把竞对分析退回给销售修改：退回 <编号> <原因>",
            roles=reviewers,
            group="主管",
        )
    )
    registry.command(
        Command(
            ("审核",),
            review_command,
            "审核竞对分析：审核（列出待审核）或 审核 <编号> [通过]",
            roles=reviewers,
            group="主管",
        )
    )
    registry.command(
        Command(("批注",), comment_command, "批注竞对分析：批注 <编号> <意见>", roles=reviewers, group="主管")
    )


# The board (bot/web/board/actions.py) approves and comments through the same code as the chat.
load_for_review = _load_for_review
decide = _decide
