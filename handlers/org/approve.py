"""批准 / 拒绝 / 待审核: admins answer the unknown-sender notice in chat.

``批准 <名称> [角色…] [主管姓名]`` opens the account at once; without roles a short form asks for the
roles and the supervisor (a card where the platform has them). ``关联 <姓名>`` adds the platform id to
someone who already exists (one person on both platforms); ``新建`` insists on a new person when
someone of the same name exists.
"""

from __future__ import annotations

from sqlalchemy import select

from core.messages import Text
from domain.directory import find_by_platform_id, with_role
from domain.join_requests import approve_request, reject_request
from domain.outbox import enqueue
from domain.people import (
    CHANNEL_LABELS,
    PeopleError,
    label,
    link_account,
    open_account,
    parse_role,
    resolve,
    resolve_one,
    role_text,
    set_roles,
    set_supervisor,
    snapshot,
)
from domain.wording import quoted
from handlers.context import Turn
from handlers.forms.answers import Answers
from handlers.forms.engine import FormResult, ReaskError
from handlers.org.person_field import PersonValue, offer
from handlers.unknown import REJECTED
from storage.models import PendingSender, PendingStatus, User, UserStatus

USAGE = "用法：批准 <名称> [角色…] [主管姓名]，如「批准 张三 销售 李强」。回复「待审核」查看申请。"
LINK_WORDS = {"关联", "即", "就是"}
NEW_WORDS = {"新建", "新用户", "新同事"}


def _where(p: PendingSender) -> str:
    return f"{CHANNEL_LABELS.get(p.channel, p.channel)}：{p.platform_id}"


async def find_pending(
    turn: Turn,
    ref: str,
    *,
    statuses: tuple[str, ...] = (PendingStatus.PENDING, PendingStatus.REJECTED),
    verb: str = "批准",
) -> PendingSender | None:
    """The one request ``ref`` names (display name, platform id or ``channel:id``); replies otherwise."""
    rows = list(
        (
            await turn.session.execute(
                select(PendingSender).order_by(PendingSender.created_at, PendingSender.platform_id)
            )
        ).scalars()
    )
    channel, _, pid = ref.partition(":")
    hits = [
        p
        for p in rows
        if ref in (p.display_name, p.platform_id) or (pid and p.channel == channel and p.platform_id == pid)
    ]
    open_hits = [p for p in hits if p.status in statuses]
    if not open_hits:
        if any(p.status == PendingStatus.APPROVED for p in hits):
            await turn.reply(f"{quoted(ref)}的申请已经批准过了。")
        else:
            await turn.reply(f"没有找到{quoted(ref)}的待审核申请。回复「待审核」查看全部申请。")
        return None
    if len(open_hits) > 1:
        lines = [f"有 {len(open_hits)} 个{quoted(ref)}的申请，请用账号指明："]
        lines += [f"· {p.display_name}（{_where(p)}）：“{p.first_text[:30]}”" for p in open_hits]
        first = open_hits[0]
        lines.append(f"例如「{verb} {first.channel}:{first.platform_id} …」")
        await turn.reply("\n".join(lines))
        return None
    return open_hits[0]


async def list_pending(turn: Turn, args: str) -> None:
    stmt = (
        select(PendingSender)
        .where(PendingSender.status == PendingStatus.PENDING)
        .order_by(PendingSender.created_at)
    )
    rows = list((await turn.session.execute(stmt)).scalars())
    if not rows:
        await turn.reply("目前没有待审核的申请。")
        return
    lines = [f"待审核的申请（{len(rows)} 个）："]
    for p in rows:
        when = turn.local(p.created_at).strftime("%m-%d %H:%M")
        lines.append(
            f"· {p.display_name}（{_where(p)}，{when}，{p.message_count} 条消息）：“{p.first_text[:30]}”"
        )
    lines.append("回复「批准 <名称> 销售 <主管姓名>」开通，或「拒绝 <名称>」。")
    await turn.reply("\n".join(lines))


async def approve(turn: Turn, args: str) -> None:
    tokens = args.split()
    if not tokens:
        await turn.reply(USAGE)
        return
    # A display name may contain spaces ("Li Lei"): take the longest open request's name that starts
    # the arguments as one token.
    stmt = select(PendingSender.display_name).where(
        PendingSender.status.in_((PendingStatus.PENDING, PendingStatus.REJECTED))
    )
    for name in sorted(set((await turn.session.execute(stmt)).scalars()), key=len, reverse=True):
        if " " in name and (args.strip() == name or args.strip().startswith(name + " ")):
            tokens = [name, *args.strip()[len(name) :].split()]
            break
    pending = await find_pending(turn, tokens[0])
    if pending is None:
        return
    roles: list[str] = []
    refs: list[str] = []
    link_ref: str | None = None
    force_new = False
    rest = iter(tokens[1:])
    for word in rest:
        if word in LINK_WORDS:
            link_ref = next(rest, "")
        elif word in NEW_WORDS:
            force_new = True
        elif (role := parse_role(word)) is not None:
            roles.append(role)
        else:
            refs.append(word)
    if len(refs) > 1:
        await turn.reply(f"看不懂「{' '.join(refs)}」：只能写一位主管。{USAGE}")
        return
    try:
        supervisor = await resolve_one(turn.session, refs[0], what="主管") if refs else None
        link = (
            await resolve_one(turn.session, link_ref, statuses=(UserStatus.ACTIVE, UserStatus.INACTIVE))
            if link_ref
            else None
        )
    except PeopleError as exc:
        await turn.reply(str(exc))
        return
    if link is None and not force_new:
        twins = [
            u for u in await resolve(turn.session, pending.display_name) if not u.platform_id(pending.channel)
        ]
        if twins:
            who = "；".join(label(u) for u in twins)
            await turn.reply(
                f"已有同名的同事：{who}。\n若是同一个人，回复「批准 {tokens[0]} 关联 #{twins[0].id}」；"
                f"若是另一位新同事，回复「批准 {tokens[0]} 新建 {role_text(roles or ['rep'])} …」。"
            )
            return
    if not roles and link is None:
        await _ask(turn, pending, supervisor)
        return
    await activate(turn, pending, roles=roles or None, supervisor=supervisor, link=link)
    await _close_open_form(turn, pending)


async def _close_open_form(turn: Turn, pending: PendingSender) -> None:
    """The one-line 批准 typed while the approval form for the same person is open settles it: the
    form is closed instead of asking its question again."""
    forms = turn.services.forms
    state = await forms.active(turn.session, turn.user.id)
    if pending.status != PendingStatus.APPROVED or state is None or state.form != "org_approve":
        return
    if state.context.get("pending") != [pending.channel, pending.platform_id]:
        return
    await forms.withdraw(
        turn.session,
        now=turn.now,
        user=turn.user,
        state=state,
        message="（开通表单已关闭：已按这条命令开通。）",
    )


async def _ask(turn: Turn, pending: PendingSender, supervisor: User | None) -> None:
    managers = await with_role(turn.session, "manager")
    context = {
        "pending": [pending.channel, pending.platform_id],
        "people": {"supervisor": offer(managers)},
    }
    prefill = {"supervisor": {"id": supervisor.id, "name": supervisor.name}} if supervisor else None
    await turn.reply(f"为 {pending.display_name}（{_where(pending)}）开通 ActionFlow：")
    await turn.services.forms.start(
        turn.session,
        now=turn.now,
        user=turn.user,
        form_name="org_approve",
        channel=turn.event.channel,
        context=context,
        prefill=prefill,
        turn=turn,
    )


class ApprovalAnswers(Answers):
    roles: tuple[str, ...] = ()
    supervisor: PersonValue | None = None


async def complete_approval(turn: Turn, result: FormResult) -> None:
    """``on_complete = "org_approve"``: the form's roles and supervisor."""
    channel, platform_id = result.context["pending"]
    pending = await turn.session.get(PendingSender, (channel, platform_id))
    if pending is None or pending.status == PendingStatus.APPROVED:
        await turn.reply("这个申请已经处理过了。")
        return
    answers = result.typed(ApprovalAnswers)
    roles = [r for r in (parse_role(v) for v in answers.roles) if r]
    if not roles:
        raise ReaskError("roles", "没有识别出角色（表单选项需是 销售/经理/产品部/财务/管理员）")
    chosen = answers.supervisor
    supervisor = await turn.session.get(User, chosen.id) if chosen is not None else None
    await activate(turn, pending, roles=roles, supervisor=supervisor, link=None)


async def activate(
    turn: Turn,
    pending: PendingSender,
    *,
    roles: list[str] | None,
    supervisor: User | None,
    link: User | None,
) -> None:
    """Create (or link) the person, mark the request approved, tell the newcomer and the admin."""
    now = turn.now
    user = link or await find_by_platform_id(turn.session, pending.channel, pending.platform_id)
    if user is not None and user.platform_id(pending.channel) not in (None, pending.platform_id):
        await turn.reply(f"{user.name} 已经有另一个{CHANNEL_LABELS.get(pending.channel)}账号，不能再关联。")
        return
    before = snapshot(user) if user is not None else None
    if user is None:
        user = await open_account(
            turn.session,
            now=now,
            name=pending.display_name,
            team=supervisor.team if supervisor is not None else "",
            channel=pending.channel,
            platform_id=pending.platform_id,
        )
    else:
        link_account(user, pending.channel, pending.platform_id, now)
    if roles is not None:
        set_roles(user, roles)
    try:
        if supervisor is not None:
            await set_supervisor(turn.session, user, supervisor)
    except PeopleError as exc:
        await turn.reply(str(exc))
        return
    approve_request(pending, user, now)
    await turn.session.flush()
    turn.audit("user.approve", "user", user.id, before=before, after=snapshot(user))
    boss = f"；主管：{supervisor.name}" if supervisor is not None else ""
    await turn.tell(
        user,
        f"您好，{user.name}！管理员已为您开通 ActionFlow（角色：{role_text(user.roles)}{boss}）。"
        "回复「帮助」查看我能做什么。",
    )
    note = "" if supervisor is not None else f"\n未设置主管，可回复「设置主管 {user.name} <主管姓名>」。"
    verb = "已关联" if link is not None else "已开通"
    await turn.reply(f"{verb}：{label(user)}{boss}。已通知本人。{note}")


async def reject(turn: Turn, args: str) -> None:
    ref = args.strip()
    if not ref:
        await turn.reply("用法：拒绝 <名称>。回复「待审核」查看申请。")
        return
    pending = await find_pending(turn, ref, statuses=(PendingStatus.PENDING,), verb="拒绝")
    if pending is None:
        return
    reject_request(pending, turn.now)
    turn.audit(
        "pending.reject",
        "pending_sender",
        f"{pending.channel}:{pending.platform_id}",
        before={"status": PendingStatus.PENDING},
        after={"status": PendingStatus.REJECTED},
    )
    await enqueue(
        turn.session,
        now=turn.now,
        channel=pending.channel,
        target_kind="user",
        target=pending.platform_id,
        message=Text(text=REJECTED),
        key=f"pending-rejected:{pending.channel}:{pending.platform_id}:{turn.event.event_id}",
    )
    await turn.reply(f"已拒绝 {pending.display_name}（{_where(pending)}）的申请，并已礼貌告知对方。")
