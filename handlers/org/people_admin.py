"""Admin commands about people: 人员列表, 设置角色, 设置主管, 设置团队, 停用, 启用, 转移客户."""

from __future__ import annotations

from collections import defaultdict

from domain import people
from domain.people import (
    STATUS_LABELS,
    PeopleError,
    customers_of,
    guard_last_admin,
    label,
    load_people,
    reassign_customers,
    reps_in_team,
    resolve_one,
    role_text,
    snapshot,
    split_roles,
)
from handlers.context import Turn
from handlers.forms.answers import Answers
from handlers.forms.engine import FormResult
from handlers.org.person_field import PersonValue, offer
from storage.models import User, UserStatus

ALL_WORDS = {"全部", "所有", "all"}
NONE_WORDS = {"无", "没有", "不设", "清除", "none"}


async def list_people(turn: Turn, args: str) -> None:
    """人员列表 [团队|全部]: everyone active by team (全部 adds inactive and pending people)."""
    shown = await load_people(turn.session)
    wanted = args.strip()
    show_all = wanted in ALL_WORDS
    if wanted and not show_all:
        known = sorted({u.team for u in shown if u.team})
        if wanted not in known:
            await turn.reply(f"没有团队“{wanted}”。现有团队：{'、'.join(known) or '（无）'}。")
            return
        shown = [u for u in shown if u.team == wanted]
    if not show_all:
        shown = [u for u in shown if u.status == UserStatus.ACTIVE]
    if not shown:
        await turn.reply("还没有人员。可用命令行 `actionflow import users FILE` 导入，或同步通讯录。")
        return
    names = {u.id: u.name for u in await load_people(turn.session)}
    teams: dict[str, list[User]] = defaultdict(list)
    for u in shown:
        teams[u.team or "（未分组）"].append(u)
    active = sum(1 for u in shown if u.status == UserStatus.ACTIVE)
    lines = [f"人员列表（在职 {active} 人{'，含停用' if show_all else ''}）："]
    for team in sorted(teams):
        lines.append(f"\n【{team}】")
        for u in teams[team]:
            extra = [role_text(u.roles)]
            if u.supervisor_id:
                extra.append(f"主管 {names.get(u.supervisor_id, '#' + str(u.supervisor_id))}")
            if u.status != UserStatus.ACTIVE:
                extra.append(STATUS_LABELS.get(u.status, u.status))
            lines.append(f"· {u.name} #{u.id} — {'，'.join(extra)}")
    await turn.reply("\n".join(lines))


async def _two_args(turn: Turn, args: str, usage: str) -> tuple[str, str] | None:
    parts = args.split(maxsplit=1)
    if len(parts) < 2:
        await turn.reply(usage)
        return None
    return parts[0], parts[1].strip()


async def set_role(turn: Turn, args: str) -> None:
    usage = (
        "用法：设置角色 <姓名> <角色…>，如「设置角色 王磊 销售 经理」。"
        "角色：销售、经理、产品部、财务、管理员。"
    )
    parsed = await _two_args(turn, args, usage)
    if parsed is None:
        return
    ref, rest = parsed
    roles, unknown = split_roles(rest)
    if unknown or not roles:
        await turn.reply(f"不认识的角色：{'、'.join(unknown) or '（空）'}。{usage}")
        return
    try:
        user = await resolve_one(
            turn.session, ref, statuses=(UserStatus.ACTIVE, UserStatus.PENDING, UserStatus.INACTIVE)
        )
        await guard_last_admin(turn.session, user, losing_admin="admin" not in roles)
    except PeopleError as exc:
        await turn.reply(str(exc))
        return
    before = snapshot(user)
    if set(roles) == user.roles:
        await turn.reply(f"{user.name} 的角色本来就是：{role_text(roles)}。")
        return
    people.change_roles(user, roles, turn.now)
    turn.audit("user.set_roles", "user", user.id, before=before, after=snapshot(user))
    await turn.reply(f"已把 {user.name} 的角色设为：{role_text(roles)}。")


async def set_boss(turn: Turn, args: str) -> None:
    usage = "用法：设置主管 <姓名> <主管姓名>，如「设置主管 王磊 李强」；清除主管写「无」。"
    parsed = await _two_args(turn, args, usage)
    if parsed is None:
        return
    ref, boss_ref = parsed
    try:
        user = await resolve_one(
            turn.session, ref, statuses=(UserStatus.ACTIVE, UserStatus.PENDING, UserStatus.INACTIVE)
        )
        boss = None if boss_ref in NONE_WORDS else await resolve_one(turn.session, boss_ref, what="主管")
        before = snapshot(user)
        changed = await people.change_supervisor(turn.session, user, boss, turn.now)
    except PeopleError as exc:
        await turn.reply(str(exc))
        return
    if not changed:
        await turn.reply(f"{user.name} 的主管本来就是 {boss.name if boss else '（无）'}。")
        return
    turn.audit("user.set_supervisor", "user", user.id, before=before, after=snapshot(user))
    await turn.reply(f"已把 {user.name} 的主管设为 {boss.name if boss else '（无）'}。")
    if boss is not None:
        await turn.tell(boss, f"{user.name} 现在向您汇报，相关审核和提醒会发给您。")


async def set_team(turn: Turn, args: str) -> None:
    parsed = await _two_args(turn, args, "用法：设置团队 <姓名> <团队>，如「设置团队 王磊 杭州二组」。")
    if parsed is None:
        return
    ref, team = parsed
    if len(team) > 100:
        await turn.reply("团队名称太长（最多 100 个字）。")
        return
    try:
        user = await resolve_one(
            turn.session, ref, statuses=(UserStatus.ACTIVE, UserStatus.PENDING, UserStatus.INACTIVE)
        )
    except PeopleError as exc:
        await turn.reply(str(exc))
        return
    before = snapshot(user)
    people.set_team(user, team, turn.now)
    turn.audit("user.set_team", "user", user.id, before=before, after=snapshot(user))
    await turn.reply(f"已把 {user.name} 调到团队「{team}」。")


async def deactivate(turn: Turn, args: str) -> None:
    """停用 <姓名>: the person can no longer use the bot; their customers are offered to a rep."""
    ref = args.strip()
    if not ref:
        await turn.reply("用法：停用 <姓名>。停用后本人无法再使用，名下客户可转给其他销售。")
        return
    try:
        user = await resolve_one(turn.session, ref, statuses=(UserStatus.ACTIVE, UserStatus.PENDING))
        if user.id == turn.user.id:
            raise PeopleError("不能停用自己。")
        await guard_last_admin(turn.session, user, losing_admin=True)
    except PeopleError as exc:
        await turn.reply(str(exc))
        return
    before = snapshot(user)
    lines = [f"已停用 {label(user)}。历史记录都保留。"]
    people.deactivate(user, turn.now)
    turn.audit("user.deactivate", "user", user.id, before=before, after=snapshot(user))
    reports = [
        u
        for u in await load_people(turn.session)
        if u.supervisor_id == user.id and u.status == UserStatus.ACTIVE
    ]
    if reports:
        names = "、".join(u.name for u in reports)
        lines.append(f"注意：{names} 的主管仍是 {user.name}，可用「设置主管」调整。")
    customers = await customers_of(turn.session, user.id)
    if not customers:
        await turn.reply("\n".join(lines))
        return
    shown = "、".join(c.name for c in customers[:8]) + ("等" if len(customers) > 8 else "")
    lines.append(f"{user.name} 名下有 {len(customers)} 家客户：{shown}。")
    reps = await reps_in_team(turn.session, user.team, exclude=user.id)
    if not reps:
        lines.append(f"目前没有在职的销售可以接手，客户暂时保留在 {user.name} 名下。")
        await turn.reply("\n".join(lines))
        return
    await turn.reply("\n".join(lines))
    await turn.services.forms.start(
        turn.session,
        now=turn.now,
        user=turn.user,
        form_name="org_reassign",
        channel=turn.event.channel,
        context={
            "from_id": user.id,
            "people": {"to": offer(reps)},
            "people_roles": {"to": ["rep"]},
            "people_exclude": [user.id],
        },
        turn=turn,
    )


class ReassignAnswers(Answers):
    to: PersonValue | None = None


async def complete_reassign(turn: Turn, result: FormResult) -> None:
    """``on_complete = "org_reassign"``: move the deactivated rep's customers to the chosen rep."""
    source = await turn.session.get(User, int(result.context["from_id"]))
    chosen = result.typed(ReassignAnswers).to
    if source is None:
        await turn.reply("找不到原负责人。")
        return
    if chosen is None:
        await turn.reply(
            f"好的，客户暂时保留在 {source.name} 名下。之后可回复「转移客户 {source.name} <新负责人>」。"
        )
        return
    target = await turn.session.get(User, chosen.id)
    if target is None:
        await turn.reply("找不到新负责人。")
        return
    await _move(turn, source, target)


async def _move(turn: Turn, source: User, target: User) -> None:
    try:
        moves = await reassign_customers(
            turn.session,
            now=turn.now,
            from_user=source,
            to_user=target,
            actor_id=turn.user.id,
            source=turn.source,
        )
    except PeopleError as exc:
        await turn.reply(str(exc))
        return
    if not moves:
        await turn.reply(f"{source.name} 名下没有客户。")
        return
    names = "、".join(m.customer_name for m in moves)
    await turn.reply(f"已把 {len(moves)} 家客户从 {source.name} 转给 {target.name}：{names}。")
    await turn.tell(
        target, f"管理员把 {source.name} 的 {len(moves)} 家客户转给了您：{names}。回复「帮助」查看可用命令。"
    )


async def move_customers(turn: Turn, args: str) -> None:
    parsed = await _two_args(turn, args, "用法：转移客户 <原负责人> <新负责人>，如「转移客户 王磊 张婷」。")
    if parsed is None:
        return
    try:
        source = await resolve_one(
            turn.session, parsed[0], statuses=(UserStatus.ACTIVE, UserStatus.PENDING, UserStatus.INACTIVE)
        )
        target = await resolve_one(turn.session, parsed[1], what="新负责人")
    except PeopleError as exc:
        await turn.reply(str(exc))
        return
    await _move(turn, source, target)


async def reactivate(turn: Turn, args: str) -> None:
    ref = args.strip()
    if not ref:
        await turn.reply("用法：启用 <姓名>。")
        return
    try:
        user = await resolve_one(
            turn.session, ref, statuses=(UserStatus.INACTIVE, UserStatus.PENDING), what="已停用的同事"
        )
    except PeopleError as exc:
        await turn.reply(str(exc))
        return
    before = snapshot(user)
    people.reactivate(user, turn.now)
    turn.audit("user.reactivate", "user", user.id, before=before, after=snapshot(user))
    await turn.reply(f"已重新启用 {label(user)}。")
    await turn.tell(user, f"{user.name}，您的 ActionFlow 账号已重新启用。回复「帮助」查看我能做什么。")
