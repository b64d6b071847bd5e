"""The daily ledger head: verify the quote ledger and send its head to the admins and the log.

The chain alone cannot show that its newest entries were removed, or that someone with database access
rewrote entries and recomputed every hash after them. A head kept outside the database can: the admins'
chat history and the log keep one per day the ledger changed, and ``actionflow audit verify --head HEAD``
checks the ledger still contains it unchanged. A head already sent is not sent again (``alert_log``).
"""

from __future__ import annotations

import logging

from domain.people import active_admins
from scheduler.context import AppLike, postman
from scheduler.service import RunContext
from speech.ledger import ChainReport, verify_chain
from storage.models import AlertLog
from storage.upsert import insert_ignore

log = logging.getLogger("actionflow.ledger")

TITLE = "🔒 客户原话账本每日校验"


def body(report: ChainReport) -> str:
    if report.broken is not None:
        which = "标注" if report.broken.chain == "annotation" else "原话"
        return (
            f"⚠️ 校验未通过：第 {report.broken.seq} 条{which}"
            "与记录不符，可能被改动或删除。请尽快运行 actionflow audit verify 查看详情。"
        )
    lines = [f"校验通过：共 {report.count} 条原话、{report.annotations} 条更正和标注。"]
    if report.changed_copies:
        lines.append(
            f"⚠️ 有 {len(report.changed_copies)} 条需求里的原话副本与账本不一致（已被改动），"
            "运行 actionflow audit verify 可查看是哪几条。"
        )
    lines += [
        f"今日链头：{report.head}",
        "请保留这条消息。日后运行 actionflow audit verify --head 加上这个链头，"
        "可以查出今天以前的记录有没有被删改。",
    ]
    return "\n".join(lines)


async def ledger_head_job(app: AppLike, ctx: RunContext) -> None:
    async with app.db.read() as session:
        report = await verify_chain(session)
    if report.ok and report.count == 0 and report.annotations == 0:
        return
    log.info(
        "quote ledger head",
        extra={
            "head": report.head,
            "ok": report.ok,
            "quotes": report.count,
            "annotations": report.annotations,
            "broken": report.broken.describe() if report.broken else "",
            "changed_copies": len(report.changed_copies),
        },
    )
    async with app.db.transaction() as session:
        fresh = await insert_ignore(
            session,
            AlertLog,
            {
                "kind": "ledger_head",
                "key": (
                    f"{report.head}/{len(report.changed_copies)}"
                    if report.broken is None
                    else f"broken:{report.broken.describe()}"[:200]
                ),
                "period": "",
                "target": "admins",
                "payload": {"ok": report.ok, "changed_copies": len(report.changed_copies)},
                "created_at": ctx.now,
            },
        )
        if not fresh:  # the same head and changed copies (or the same break) were already sent
            return
        post = postman(app, session, ctx.now, f"ledger-head:{ctx.period}")
        for admin in await active_admins(session):
            await post.to_user(admin, TITLE, body(report), key=str(admin.id))
