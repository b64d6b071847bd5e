"""Contact sync, platform-neutral: a fetched :class:`Directory` (departments and members) becomes
changes to people.

The platform side (DingTalk, WeCom) only fetches; everything is fetched before the transaction opens,
so an API error halfway changes nothing. Rules (docs/org.md):

* members are matched by their platform id, then (DingTalk) unionId, then by name when exactly one
  person of that name has no id on this platform yet (one person on both platforms);
* name, title, phone (when the platform gives one) and team (the main department) follow the platform;
* with ``leaders_are_supervisors`` a member's supervisor is their department's leader (a leader's is
  the leader of the nearest department above with one); otherwise supervisors are not touched;
* roles are set only when a person is added (leaders get ``leader_roles``, others ``member_roles``);
* people with an id on this platform who are no longer in the synced departments are deactivated,
  never deleted; people deactivated here are not reactivated by a sync (an admin does that).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.join_requests import approve_request
from domain.people import CHANNEL_FIELD, customers_of, load_people
from domain.person_changes import KEEP, Change, Desired, apply_desired
from storage.models import PendingSender, PendingStatus, User, UserStatus

Platform = Literal["dingtalk", "wecom"]


class ContactsError(RuntimeError):
    """The platform's contact API failed or answered something unusable; nothing was applied."""


@dataclass(frozen=True)
class Department:
    id: str
    name: str
    parent_id: str | None = None
    leader_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Member:
    userid: str
    name: str
    department_ids: tuple[str, ...]
    main_department: str | None = None
    union_id: str = ""
    title: str = ""
    phone: str = ""
    leader_in: tuple[str, ...] = ()  # departments this member leads
    active: bool = True  # False: disabled or quit on the platform


@dataclass(frozen=True)
class Directory:
    platform: Platform
    departments: tuple[Department, ...]
    members: tuple[Member, ...]


class ContactSource(Protocol):
    """Fetches one platform's whole directory (raises :class:`ContactsError`)."""

    platform: Platform

    async def fetch(self) -> Directory: ...


@dataclass(frozen=True)
class SyncOptions:
    leaders_are_supervisors: bool = True
    departments: tuple[str, ...] = ()  # names or ids of the subtrees to sync; empty = everyone
    member_roles: tuple[str, ...] = ("rep",)
    leader_roles: tuple[str, ...] = ("manager",)
    match_by_name: bool = True


@dataclass
class SyncReport:
    platform: str
    departments: int
    members: int
    changes: list[Change]
    warnings: list[str] = field(default_factory=list)


def _scope(directory: Directory, wanted: Sequence[str]) -> dict[str, Department]:
    """The departments to sync: the named ones and everything below them (all when none named)."""
    depts = {d.id: d for d in directory.departments}
    if not wanted:
        return depts
    roots = {d.id for d in directory.departments if d.id in wanted or d.name in wanted}
    missing = [w for w in wanted if w not in depts and not any(d.name == w for d in directory.departments)]
    if missing:
        raise ContactsError(f"org.sync_departments names departments the platform does not have: {missing}")
    children: dict[str | None, list[str]] = {}
    for d in directory.departments:
        children.setdefault(d.parent_id, []).append(d.id)
    keep: set[str] = set()
    frontier = list(roots)
    while frontier:
        current = frontier.pop()
        if current in keep:
            continue
        keep.add(current)
        frontier.extend(children.get(current, []))
    return {k: v for k, v in depts.items() if k in keep}


def _leaders(depts: dict[str, Department], members: dict[str, Member]) -> dict[str, list[str]]:
    leaders: dict[str, list[str]] = {
        d: [u for u in dept.leader_ids if u in members] for d, dept in depts.items()
    }
    for m in members.values():
        for d in m.leader_in:
            if d in leaders and m.userid not in leaders[d]:
                leaders[d].append(m.userid)
    return leaders


def _main_department(member: Member, depts: dict[str, Department]) -> str:
    if member.main_department and member.main_department in depts:
        return member.main_department
    return next(d for d in member.department_ids if d in depts)


def _supervisor_of(
    member: Member, main: str, depts: dict[str, Department], leaders: dict[str, list[str]]
) -> str | None:
    current: str | None = main
    seen: set[str] = set()
    while current is not None and current in depts and current not in seen:
        seen.add(current)
        for leader in leaders.get(current, []):
            if leader != member.userid:
                return leader
        current = depts[current].parent_id
    return None


async def plan_and_apply(
    session: AsyncSession,
    directory: Directory,
    options: SyncOptions,
    *,
    now: datetime,
    source: str,
) -> SyncReport:
    """Apply ``directory`` to people in the caller's transaction; returns what changed."""
    platform = directory.platform
    id_field = CHANNEL_FIELD[platform]
    depts = _scope(directory, options.departments)
    members = {
        m.userid: m
        for m in directory.members
        if m.active and m.userid and any(d in depts for d in m.department_ids)
    }
    leaders = _leaders(depts, members)
    people = await load_people(session)
    by_platform = {getattr(u, id_field): u for u in people if getattr(u, id_field)}
    by_union = {u.dingtalk_union_id: u for u in people if u.dingtalk_union_id}
    warnings: list[str] = []

    matched: dict[str, User | None] = {}
    taken: set[int] = set()
    for m in members.values():
        user = by_platform.get(m.userid)
        if user is None and platform == "dingtalk" and m.union_id:
            user = by_union.get(m.union_id)
            if user is not None and getattr(user, id_field):
                user = None  # that unionId belongs to someone with another staff id: leave it
        if user is not None:
            taken.add(user.id)
        matched[m.userid] = user
    if options.match_by_name:
        for m in members.values():
            if matched[m.userid] is not None:
                continue
            same = [u for u in people if u.name == m.name and not getattr(u, id_field) and u.id not in taken]
            if len(same) == 1:
                matched[m.userid] = same[0]
                taken.add(same[0].id)
            elif len(same) > 1:
                warnings.append(
                    f"{m.name} ({platform} {m.userid}): {len(same)} people of that name have no "
                    f"{platform} id; added as a new person — merge by hand if one of them is this person"
                )

    order = sorted(members.values(), key=lambda m: (matched[m.userid] is None, m.userid))
    index = {m.userid: i for i, m in enumerate(order)}
    leading = {u for ls in leaders.values() for u in ls}
    desired: list[Desired] = []
    for m in order:
        user = matched[m.userid]
        main = _main_department(m, depts)
        values: dict[str, Any] = {"name": m.name, id_field: m.userid, "team": depts[main].name}
        if m.title:
            values["title"] = m.title
        if m.phone:
            values["phone"] = m.phone
        if platform == "dingtalk" and m.union_id:
            owner = by_union.get(m.union_id)
            if owner is None or owner is user:
                values["dingtalk_union_id"] = m.union_id
        supervisor: Any = KEEP
        if options.leaders_are_supervisors:
            boss = _supervisor_of(m, main, depts, leaders)
            if boss is not None:
                supervisor = ("new", index[boss])
        roles = None
        if user is None:
            roles = list(options.leader_roles if m.userid in leading else options.member_roles)
        elif user.status == UserStatus.INACTIVE:
            warnings.append(
                f"{user.name} is in the {platform} contacts but inactive here; reactivate in chat "
                f"(启用 {user.name}) if they are back"
            )
        desired.append(Desired(user, values, roles, supervisor, origin=f"{platform}:{m.userid}"))

    # ("new", i) keys point into ``order``; existing people are resolved to their ids by apply_desired.
    gone = [u for u in people if getattr(u, id_field) and u.status == UserStatus.ACTIVE and u.id not in taken]
    for u in gone:
        desired.append(Desired(u, {"status": UserStatus.INACTIVE}, origin=f"{platform}: left"))
    names = {u.id: u.name for u in people}
    changes = await apply_desired(
        session, desired, now=now, source=source, action=f"user.sync.{platform}", names=names
    )
    for change in changes:
        if change.kind == "deactivated":
            owned = await customers_of(session, change.user_id)
            if owned:
                warnings.append(
                    f"{change.name} left and still owns {len(owned)} customer(s); "
                    f"reassign them in chat: 转移客户 {change.name} <新负责人>"
                )
    await _settle_pending(session, platform, id_field, now)
    return SyncReport(platform, len(depts), len(members), changes, warnings)


async def _settle_pending(session: AsyncSession, platform: str, id_field: str, now: datetime) -> None:
    """Unknown senders who are now known people no longer wait for an admin."""
    stmt = (
        select(PendingSender, User)
        .join(User, getattr(User, id_field) == PendingSender.platform_id)
        .where(
            PendingSender.channel == platform,
            PendingSender.status == PendingStatus.PENDING,
            User.status == UserStatus.ACTIVE,
        )
    )
    for pending, user in (await session.execute(stmt)).all():
        approve_request(pending, user, now)
