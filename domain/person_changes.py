"""Apply a desired state to people (from a file or a platform's contacts) and say what changed.

A :class:`Desired` names the attributes a source manages for one person; attributes it leaves out
are not touched. People are never deleted here: the ids (and so every visit, quote and audit row
pointing at them) stay. Every change writes one audit row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from domain import audit
from domain.people import PLATFORM_FIELDS, set_roles, snapshot
from storage.models import ROLES, User, UserStatus

NodeKey = tuple[str, int]  # ("new", index into the desired list) or ("user", user id)
KEEP: Any = object()  # "leave the supervisor as it is"

ChangeKind = Literal["added", "updated", "deactivated", "reactivated"]


@dataclass
class Desired:
    user: User | None  # the existing person, or None to add one
    values: dict[str, Any]  # attribute -> value (name, status, team, platform ids…)
    roles: list[str] | None = None  # None: leave the roles alone
    supervisor: Any = KEEP  # KEEP, None (no supervisor) or a NodeKey
    origin: str = ""  # where this came from, for messages ("line 4", "dingtalk:0123")


@dataclass
class Change:
    kind: ChangeKind
    user_id: int
    name: str
    details: list[str] = field(default_factory=list)

    def describe(self) -> str:
        mark = {"added": "+", "updated": "~", "deactivated": "-", "reactivated": "+"}[self.kind]
        text = f"{mark} {self.name} ({self.kind})"
        return f"{text}: {'; '.join(self.details)}" if self.details else text


def _show(value: Any) -> str:
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, list):
        return ",".join(value) or "(none)"
    return str(value)


def _diff(before: dict[str, Any], after: dict[str, Any], names: dict[int, str]) -> list[str]:
    details = []
    for key, new in after.items():
        old = before.get(key)
        if old == new:
            continue
        if key == "supervisor_id":
            details.append(f"supervisor: {_show(names.get(old) if old else None)} → {_show(names.get(new))}")
        else:
            details.append(f"{key}: {_show(old)} → {_show(new)}")
    return details


def _kind(before: dict[str, Any] | None, after: dict[str, Any]) -> ChangeKind:
    if before is None:
        return "added"
    if before["status"] != after["status"] and UserStatus.INACTIVE in (before["status"], after["status"]):
        return "deactivated" if after["status"] == UserStatus.INACTIVE else "reactivated"
    return "updated"


async def apply_desired(
    session: AsyncSession,
    desired: Sequence[Desired],
    *,
    now: datetime,
    source: str,
    action: str,
    names: dict[int, str],
    actor_id: int | None = None,
) -> list[Change]:
    """Write ``desired`` in the caller's transaction; ``names`` maps user id → name (for messages)."""
    befores: list[dict[str, Any] | None] = [snapshot(d.user) if d.user else None for d in desired]

    # Platform ids move between people only via empty: clear the ones that change first, so two
    # people swapping ids never meet the unique constraints halfway.
    cleared = False
    for d in desired:
        if d.user is None:
            continue
        for f in PLATFORM_FIELDS:
            if f in d.values and getattr(d.user, f) and getattr(d.user, f) != d.values[f]:
                setattr(d.user, f, None)
                cleared = True
    if cleared:
        await session.flush()

    users: list[User] = []
    for d in desired:
        values = {k: (v if v != "" or k not in PLATFORM_FIELDS else None) for k, v in d.values.items()}
        if d.user is None:
            user = User(
                name=values.pop("name"),
                status=values.pop("status", UserStatus.ACTIVE),
                team=values.pop("team", ""),
                region=values.pop("region", ""),
                title=values.pop("title", ""),
                phone=values.pop("phone", ""),
                created_at=now,
                updated_at=now,
                **values,
            )
            user.role_rows = []
            set_roles(user, d.roles or [])
            session.add(user)
        else:
            user = d.user
            for key, value in values.items():
                if getattr(user, key) != value:
                    setattr(user, key, value)
            if d.roles is not None and sorted(d.roles) != sorted(user.roles):
                set_roles(user, d.roles)
        users.append(user)
    await session.flush()
    for user in users:
        names[user.id] = user.name

    def node_id(key: NodeKey) -> int:
        kind, value = key
        return users[value].id if kind == "new" else value

    for d, user in zip(desired, users, strict=True):
        if d.supervisor is KEEP:
            continue
        wanted = None if d.supervisor is None else node_id(d.supervisor)
        if user.supervisor_id != wanted:
            user.supervisor_id = wanted

    changes: list[Change] = []
    for before, user in zip(befores, users, strict=True):
        after = snapshot(user)
        if before == after:
            continue
        user.updated_at = now
        kind = _kind(before, after)
        if before is None:
            details = [f"roles: {_show(after['roles'])}"] if after["roles"] else []
            if after["supervisor_id"]:
                details.append(f"supervisor: {names.get(after['supervisor_id'])}")
            details += [
                f"{k}: {after[k]}" for k in ("team", *PLATFORM_FIELDS) if after.get(k) not in (None, "")
            ]
            if after["status"] != UserStatus.ACTIVE:
                details.append(f"status: {after['status']}")
        else:
            details = _diff(before, after, names)
        changes.append(Change(kind, user.id, user.name, details))
        audit.record(
            session,
            now=now,
            actor_id=actor_id,
            action=f"{action}.{kind}",
            entity_type="user",
            entity_id=user.id,
            before=before,
            after=after,
            source_event=source,
        )
    await session.flush()
    return changes


def roles_in_order(roles: Sequence[str]) -> list[str]:
    wanted = set(roles)
    return [r for r in ROLES if r in wanted]
