"""Unknown senders: a polite reply, a pending record, admins told once. Nothing is stored under a user."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from core.events import ApprovalEvent, Event, TextEvent
from core.messages import Text
from domain import directory, join_requests
from domain.outbox import enqueue
from handlers.context import Services
from storage.models import PendingSender, PendingStatus

log = logging.getLogger(__name__)

WAITING = "您好！您还没有开通 ActionFlow 的使用权限，已通知管理员审核，通过后会第一时间告诉您。"
STILL_WAITING = "您的开通申请仍在等待管理员审核，请稍候。"
REJECTED = "抱歉，您的 ActionFlow 使用申请未被批准。如有疑问请联系管理员。"
INACTIVE = "您的账号已停用。如有疑问请联系管理员。"


async def handle_unknown(
    session: AsyncSession, services: Services, event: Event, *, inactive: bool = False
) -> None:
    now = services.clock.now()
    if isinstance(event, ApprovalEvent):
        log.warning("approval %s from unknown applicant %s ignored", event.approval_id, event.sender_id)
        return

    async def reply(text: str, n: int = 0) -> None:
        await enqueue(
            session,
            now=now,
            channel=event.channel,
            target_kind="user",
            target=event.sender_id,
            message=Text(text=text),
            key=f"unknown:{event.channel}:{event.event_id}:{n}",
        )

    if inactive:
        await reply(INACTIVE)
        return
    pending = await session.get(PendingSender, (event.channel, event.sender_id))
    if pending is None:
        pending = await join_requests.open_request(
            session,
            now=now,
            channel=event.channel,
            platform_id=event.sender_id,
            display_name=event.sender_name or event.sender_id,
            first_text=event.text[:500] if isinstance(event, TextEvent) else f"[{event.kind}]",
        )
        await reply(WAITING)
        await _notify_admins(session, services, pending)
        return
    join_requests.seen_again(pending, now)
    if pending.status == PendingStatus.REJECTED:
        await reply(REJECTED)
    else:
        await reply(STILL_WAITING)
        if pending.admins_notified_at is None:
            await _notify_admins(session, services, pending)


async def _notify_admins(session: AsyncSession, services: Services, pending: PendingSender) -> None:
    now = services.clock.now()
    text = (
        f"新用户请求使用 ActionFlow：{pending.display_name}（{pending.channel}：{pending.platform_id}），"
        f"第一条消息：“{pending.first_text[:60]}”。\n"
        f"回复「批准 {pending.display_name} 销售 <主管姓名>」开通，或「拒绝 {pending.display_name}」。"
    )
    key = f"admin-notice:{pending.channel}:{pending.platform_id}"
    target = services.settings.org.admin_notice_target
    sent = False
    if target:
        sent = await services.notifier.to_group(
            session, now=now, group=target, message=Text(text=text), key=key
        )
    if not sent:
        for admin in await directory.with_role(session, "admin"):
            sent = (
                await services.notifier.to_user(
                    session, now=now, user=admin, message=Text(text=text), key=f"{key}:{admin.id}"
                )
                or sent
            )
    if sent:
        join_requests.admins_told(pending, now)
    else:
        log.warning("unknown sender %s:%s: no admin could be told", pending.channel, pending.platform_id)
