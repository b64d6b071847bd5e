"""People: roles and their names, finding a person from what an admin typed, supervisor chains,
activation, and moving customers from one rep to another (with the audit trail).

Everything here works inside the caller's transaction and never commits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from domain import audit
from domain.numerals import all_digits, row_id
from domain.wording import quoted
from storage.models import (
    ROLES,
    AuditLog,
    CompetitorAnalysis,
    ConversationState,
    Customer,
    Deadline,
    Demand,
    PersonalityTag,
    Photo,
    ProgressUpdate,
    Quote,
    QuoteAnnotation,
    TrialFeedback,
    User,
    UserRole,
    UserStatus,
    Visit,
)

ROLE_LABELS: dict[str, str] = {
    "rep": "销售",
    "manager": "经理",
    "product": "产品部",
    "finance": "财务",
    "admin": "管理员",
}
_ROLE_ALIASES: dict[str, str] = {
    **{r: r for r in ROLES},
    **{label: role for role, label in ROLE_LABELS.items()},
    "销售代表": "rep",
    "业务员": "rep",
    "销售经理": "manager",
    "区域经理": "manager",
    "产品": "product",
    "产品经理": "product",
    "财务部": "finance",
    "管理": "admin",
    "系统管理员": "admin",
}
STATUSES = (UserStatus.ACTIVE, UserStatus.PENDING, UserStatus.INACTIVE)
STATUS_LABELS: dict[str, str] = {
    UserStatus.ACTIVE: "在职",
    UserStatus.PENDING: "待审核",
    UserStatus.INACTIVE: "停用",
}
PLATFORM_FIELDS: tuple[str, ...] = ("dingtalk_staff_id", "dingtalk_union_id", "wecom_userid", "console_id")
CHANNEL_FIELD: dict[str, str] = {
    "dingtalk": "dingtalk_staff_id",
    "wecom": "wecom_userid",
    "console": "console_id",
}
CHANNEL_LABELS: dict[str, str] = {"dingtalk": "钉钉", "wecom": "企业微信", "console": "控制台"}
_ROLE_SPLIT = re.compile(r"[,，、;；/\s]+")


class PeopleError(ValueError):
    """A change that cannot be made; the message is in plain words (Chinese, for chat)."""


def parse_role(word: str) -> str | None:
    """``销售`` / ``rep`` / ``销售代表`` → ``rep``; None when the word is not a role."""
    return _ROLE_ALIASES.get(word.strip().casefold()) or _ROLE_ALIASES.get(word.strip())


def split_roles(text: str) -> tuple[list[str], list[str]]:
    """Roles in ``text`` (any separator) in canonical order, and the words that are not roles."""
    found: set[str] = set()
    unknown: list[str] = []
    for word in _ROLE_SPLIT.split(text.strip()):
        if not word:
            continue
        role = parse_role(word)
        if role is None:
            unknown.append(word)
        else:
            found.add(role)
    return [r for r in ROLES if r in found], unknown


def role_text(roles: Iterable[str]) -> str:
    wanted = set(roles)
    return "、".join(ROLE_LABELS[r] for r in ROLES if r in wanted) or "无角色"


def label(user: User) -> str:
    """``王磊（#3，杭州一组，销售）`` — enough to tell two people with one name apart."""
    parts = [f"#{user.id}"]
    if user.team:
        parts.append(user.team)
    parts.append(role_text(user.roles))
    if user.status != UserStatus.ACTIVE:
        parts.append(STATUS_LABELS.get(user.status, user.status))
    return f"{user.name}（{'，'.join(parts)}）"


# -- finding people ---------------------------------------------------------------------
async def load_people(session: AsyncSession) -> list[User]:
    """Everyone, with roles loaded, in id order."""
    stmt = select(User).options(selectinload(User.role_rows)).order_by(User.id)
    return list((await session.execute(stmt)).scalars())


async def resolve(
    session: AsyncSession, ref: str, *, statuses: Iterable[str] = (UserStatus.ACTIVE,)
) -> list[User]:
    """People ``ref`` may mean: ``#12`` (an id), an exact name, or a platform id. Several = ambiguous."""
    ref = ref.strip()
    wanted = tuple(statuses)
    if not ref:
        return []
    if ref.startswith("#") and all_digits(ref[1:]):
        user_id = row_id(ref[1:])
        user = await session.get(User, user_id) if user_id is not None else None
        return [user] if user is not None and user.status in wanted else []
    stmt = (
        select(User)
        .options(selectinload(User.role_rows))
        .where(User.name == ref, User.status.in_(wanted))
        .order_by(User.id)
    )
    found = list((await session.execute(stmt)).scalars())
    if found:
        return found
    for field in PLATFORM_FIELDS:
        stmt = select(User).where(getattr(User, field) == ref, User.status.in_(wanted))
        user = (await session.execute(stmt)).scalar_one_or_none()
        if user is not None:
            return [user]
    return []


async def resolve_one(
    session: AsyncSession,
    ref: str,
    *,
    statuses: Iterable[str] = (UserStatus.ACTIVE,),
    what: str = "同事",
    hint: str = "回复「人员列表」查看全部人员。",
) -> User:
    """Exactly one person, or :class:`PeopleError` saying none or which ones. ``hint`` follows
    "not found" (inside a form, where 人员列表 cannot be sent, the caller says what to answer)."""
    found = await resolve(session, ref, statuses=statuses)
    if not found:
        elsewhere = await resolve(session, ref, statuses=STATUSES)
        if elsewhere:
            u = elsewhere[0]
            state = STATUS_LABELS.get(u.status, u.status)
            raise PeopleError(f"{u.name}（#{u.id}）目前是{state}状态，这里用不了。")
        raise PeopleError(f"没有找到{what}{quoted(ref)}。{hint}")
    if len(found) > 1:
        options = "；".join(label(u) for u in found)
        raise PeopleError(f"有 {len(found)} 位{quoted(ref)}：{options}。请用编号指明，如 #{found[0].id}。")
    return found[0]


# -- supervisor chains ------------------------------------------------------------------
def find_cycle(edges: Mapping[int, int | None], start: int) -> list[int] | None:
    """The loop reached by following ``edges`` from ``start`` (as node ids in order), if any."""
    path: list[int] = []
    seen: dict[int, int] = {}
    node: int | None = start
    while node is not None:
        if node in seen:
            return path[seen[node] :]
        seen[node] = len(path)
        path.append(node)
        node = edges.get(node)
    return None


async def set_supervisor(session: AsyncSession, user: User, supervisor: User | None) -> None:
    if supervisor is not None and supervisor.id == user.id:
        raise PeopleError("不能把自己设为自己的主管。")
    if supervisor is not None:
        rows = (await session.execute(select(User.id, User.supervisor_id))).all()
        edges: dict[int, int | None] = {uid: sid for uid, sid in rows}
        edges[user.id] = supervisor.id
        cycle = find_cycle(edges, user.id)
        if cycle:
            names = {u.id: u.name for u in await load_people(session)}
            chain = " → ".join(names.get(n, f"#{n}") for n in [*cycle, cycle[0]])
            raise PeopleError(f"这样设置会形成循环的汇报关系：{chain}。")
    user.supervisor_id = supervisor.id if supervisor is not None else None


def set_roles(user: User, roles: Iterable[str]) -> None:
    wanted = [r for r in ROLES if r in set(roles)]
    keep = [row for row in user.role_rows if row.role in wanted]
    have = {row.role for row in keep}
    user.role_rows = keep + [UserRole(role=r) for r in wanted if r not in have]


def change_roles(user: User, roles: Iterable[str], now: datetime) -> None:
    """An admin set the person's roles (设置角色)."""
    set_roles(user, roles)
    user.updated_at = now


async def change_supervisor(
    session: AsyncSession, user: User, supervisor: User | None, now: datetime
) -> bool:
    """An admin set (or cleared) the person's supervisor (设置主管); :class:`PeopleError` when it would
    make a loop. Returns whether it changed."""
    was = user.supervisor_id
    await set_supervisor(session, user, supervisor)
    if user.supervisor_id == was:
        return False
    user.updated_at = now
    return True


def set_team(user: User, team: str, now: datetime) -> None:
    user.team, user.updated_at = team, now


def remember_channel(user: User, channel: str) -> None:
    """The person wrote on ``channel``: messages to them go there first from now on."""
    if user.preferred_channel != channel:
        user.preferred_channel = channel


# -- activation -------------------------------------------------------------------------
async def open_account(
    session: AsyncSession, *, now: datetime, name: str, team: str, channel: str, platform_id: str
) -> User:
    """A new active person reached at ``platform_id`` on ``channel`` (no roles yet: :func:`set_roles`)."""
    user = User(name=name, status=UserStatus.ACTIVE, team=team, created_at=now, updated_at=now)
    user.role_rows = []
    setattr(user, CHANNEL_FIELD[channel], platform_id)
    session.add(user)
    await session.flush()
    return user


def link_account(user: User, channel: str, platform_id: str, now: datetime) -> None:
    """Someone already known is also ``platform_id`` on ``channel``, and active."""
    setattr(user, CHANNEL_FIELD[channel], platform_id)
    user.status, user.updated_at = UserStatus.ACTIVE, now


def deactivate(user: User, now: datetime) -> None:
    """The person can no longer use the bot (停用); everything they recorded stays."""
    user.status, user.updated_at = UserStatus.INACTIVE, now


def reactivate(user: User, now: datetime) -> None:
    """启用: a deactivated (or pending) person can use the bot again."""
    user.status, user.updated_at = UserStatus.ACTIVE, now


async def active_admins(session: AsyncSession) -> list[User]:
    stmt = (
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == "admin", User.status == UserStatus.ACTIVE)
        .order_by(User.id)
    )
    return list((await session.execute(stmt)).scalars())


async def guard_last_admin(session: AsyncSession, user: User, *, losing_admin: bool) -> None:
    """Refuse a change that would leave nobody able to administer the bot."""
    if not losing_admin or user.status != UserStatus.ACTIVE or not user.has_role("admin"):
        return
    if [a for a in await active_admins(session) if a.id != user.id]:
        return
    raise PeopleError(f"{user.name} 是唯一的管理员，不能这样改。请先给另一位同事设置管理员角色。")


# -- history ----------------------------------------------------------------------------
_HISTORY: tuple[tuple[type, str], ...] = (
    (Customer, "owner_id"),
    (Visit, "rep_id"),
    (ProgressUpdate, "rep_id"),
    (Quote, "rep_id"),
    (Demand, "rep_id"),
    (CompetitorAnalysis, "rep_id"),
    (TrialFeedback, "rep_id"),
    (Photo, "rep_id"),
    (PersonalityTag, "author_id"),
    (ConversationState, "user_id"),
    (Deadline, "user_id"),
    (AuditLog, "actor_id"),
    (QuoteAnnotation, "author_id"),
    (CompetitorAnalysis, "reviewer_id"),
)


async def has_history(session: AsyncSession, user_id: int) -> bool:
    """Whether anything was recorded by or for this person (then they are never deleted)."""
    for model, column in _HISTORY:
        stmt = select(func.count()).select_from(model).where(getattr(model, column) == user_id)
        if (await session.execute(stmt)).scalar_one():
            return True
    return False


# -- customers --------------------------------------------------------------------------
async def customers_of(session: AsyncSession, user_id: int) -> list[Customer]:
    stmt = select(Customer).where(Customer.owner_id == user_id).order_by(Customer.id)
    return list((await session.execute(stmt)).scalars())


async def reps_in_team(session: AsyncSession, team: str, *, exclude: int | None = None) -> list[User]:
    """Active reps of ``team`` (all active reps when the team has none besides ``exclude``)."""
    stmt = (
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == "rep", User.status == UserStatus.ACTIVE)
        .order_by(User.id)
    )
    reps = [u for u in (await session.execute(stmt)).scalars() if u.id != exclude]
    same = [u for u in reps if team and u.team == team]
    return same or reps


@dataclass(frozen=True)
class Move:
    customer_id: int
    customer_name: str


async def reassign_customers(
    session: AsyncSession,
    *,
    now: datetime,
    from_user: User,
    to_user: User,
    actor_id: int | None,
    source: str,
    customer_ids: Iterable[int] | None = None,
) -> list[Move]:
    """Give ``from_user``'s customers (or the listed ones) to ``to_user``; one audit row per move."""
    if to_user.id == from_user.id:
        raise PeopleError("新负责人和原负责人是同一个人。")
    if to_user.status != UserStatus.ACTIVE:
        raise PeopleError(f"{to_user.name} 不在职，不能接手客户。")
    wanted = set(customer_ids) if customer_ids is not None else None
    moves: list[Move] = []
    for customer in await customers_of(session, from_user.id):
        if wanted is not None and customer.id not in wanted:
            continue
        customer.owner_id = to_user.id
        customer.updated_at = now
        audit.record(
            session,
            now=now,
            actor_id=actor_id,
            action="customer.reassign",
            entity_type="customer",
            entity_id=customer.id,
            before={"owner_id": from_user.id, "owner": from_user.name},
            after={"owner_id": to_user.id, "owner": to_user.name},
            source_event=source,
        )
        moves.append(Move(customer.id, customer.name))
    return moves


# -- snapshots for the audit trail ------------------------------------------------------
PERSON_FIELDS: tuple[str, ...] = (
    "name",
    "status",
    "supervisor_id",
    "team",
    "region",
    "title",
    "phone",
    *PLATFORM_FIELDS,
)


def snapshot(user: User) -> dict[str, Any]:
    data: dict[str, Any] = {f: getattr(user, f) for f in PERSON_FIELDS}
    data["roles"] = [r for r in ROLES if r in user.roles]
    return data
