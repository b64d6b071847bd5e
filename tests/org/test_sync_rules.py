"""The platform-neutral sync rules (``domain.contacts``) on both storage backends.

The platform clients are tested against the emulators in test_sync_platforms.py; here the directory is
given directly so every rule (add, change, leave a department, leave the company, leaders as
supervisors, scope, one person on both platforms) is checked on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from domain.contacts import (
    ContactsError,
    Department,
    Directory,
    Member,
    SyncOptions,
    SyncReport,
    plan_and_apply,
)
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Customer, PendingSender, User, UserRole

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
DEPTS = (
    Department("1", "总公司"),
    Department("2", "销售部", "1", ("boss",)),
    Department("3", "杭州一组", "2", ("liqiang",)),
    Department("4", "杭州二组", "2"),
    Department("5", "行政部", "1", ("admin1",)),
)


def member(uid: str, name: str, *depts: str, **kw: object) -> Member:
    return Member(uid, name, tuple(depts), **kw)  # type: ignore[arg-type]


BASE = (
    member("boss", "赵总", "2", title="销售总监", leader_in=("2",)),
    member("liqiang", "李强", "3", title="区域经理", leader_in=("3",), phone="13800000002"),
    member("wanglei", "王磊", "3", title="销售代表"),
    member("zhangting", "张婷", "3", title="销售代表"),
    member("wugang", "吴刚", "4", title="销售代表"),
    member("admin1", "周敏", "5"),
)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    await upgrade(database)
    yield database
    await database.dispose()


async def sync(db: Database, members: tuple[Member, ...], **options: object) -> SyncReport:
    opts = SyncOptions(**{"departments": ("销售部",), **options})  # type: ignore[arg-type]
    async with db.transaction() as session:
        return await plan_and_apply(
            session, Directory("dingtalk", DEPTS, members), opts, now=NOW, source="sync:dingtalk"
        )


async def people(db: Database) -> dict[str, User]:
    async with db.read() as session:
        rows = (await session.execute(select(User))).scalars().all()
        return {u.name: u for u in rows}


async def test_sync_adds_changes_moves_and_deactivates(db: Database) -> None:
    report = await sync(db, BASE)
    assert report.members == 5 and report.departments == 3  # 行政部 is outside the synced subtree
    assert [c.kind for c in report.changes] == ["added"] * 5
    p = await people(db)
    assert "周敏" not in p
    assert p["王磊"].supervisor_id == p["李强"].id and p["王磊"].team == "杭州一组"
    assert p["李强"].supervisor_id == p["赵总"].id  # a leader reports to the leader above
    assert p["吴刚"].supervisor_id == p["赵总"].id  # 杭州二组 has no leader: the one above
    assert p["赵总"].supervisor_id is None
    assert p["李强"].roles == {"manager"} and p["王磊"].roles == {"rep"}
    assert p["李强"].phone == "13800000002" and p["李强"].dingtalk_staff_id == "liqiang"

    assert (await sync(db, BASE)).changes == []  # idempotent

    async with db.transaction() as session:  # history: a customer and an admin's own role change
        session.add(
            Customer(
                name="杭州市第一人民医院",
                normalized_name="x",
                owner_id=p["张婷"].id,
                created_at=NOW,
                updated_at=NOW,
            )
        )
        session.add(UserRole(user_id=p["王磊"].id, role="admin"))

    moved = (
        member("boss", "赵总", "2", title="销售总监", leader_in=("2",)),
        member("liqiang", "李强", "3", title="高级区域经理", leader_in=("3",)),
        member("wanglei", "王磊", "4", title="销售代表"),  # left 杭州一组 for 杭州二组
        member("wugang", "吴刚", "4", title="销售代表", leader_in=("4",)),  # now leads 杭州二组
        member("admin1", "周敏", "5"),
        member("zhangting", "张婷", "5", title="行政"),  # left the synced departments
        member("newbie", "孙悦", "3"),
    )
    report = await sync(db, moved)
    described = {c.name: c.describe() for c in report.changes}
    assert described["李强"] == "~ 李强 (updated): title: 区域经理 → 高级区域经理"  # no phone given: kept
    assert described["王磊"] == "~ 王磊 (updated): supervisor: 李强 → 吴刚; team: 杭州一组 → 杭州二组"
    assert described["张婷"].startswith("- 张婷 (deactivated)")
    assert described["孙悦"].startswith("+ 孙悦 (added): roles: rep; supervisor: 李强; team: 杭州一组")
    assert "张婷 left and still owns 1 customer(s)" in report.warnings[0]
    p = await people(db)
    assert p["王磊"].roles == {"rep", "admin"}  # roles an admin gave are never taken by a sync
    assert p["张婷"].status == "inactive" and p["李强"].phone == "13800000002"

    gone = tuple(m for m in moved if m.userid != "wugang")  # 吴刚 left the company
    report = await sync(db, gone)
    assert [(c.name, c.kind) for c in report.changes] == [("王磊", "updated"), ("吴刚", "deactivated")]
    assert (await people(db))["王磊"].supervisor_id == (await people(db))["赵总"].id
    assert len(await people(db)) == 6  # nobody deleted

    back = (*gone, member("zhangting", "张婷", "3"))
    report = await sync(db, back)
    assert report.changes == [] and "张婷 is in the dingtalk contacts but inactive here" in report.warnings[0]


async def test_leaders_are_not_supervisors_when_switched_off(db: Database) -> None:
    await sync(db, BASE, leaders_are_supervisors=False)
    assert {u.supervisor_id for u in (await people(db)).values()} == {None}


async def test_one_person_on_both_platforms_and_pending_senders_settled(db: Database) -> None:
    async with db.transaction() as session:
        user = User(name="王磊", wecom_userid="WangLei", status="active", created_at=NOW, updated_at=NOW)
        user.role_rows = [UserRole(role="rep")]
        session.add(user)
        session.add(
            PendingSender(
                channel="dingtalk",
                platform_id="zhangting",
                display_name="张婷",
                created_at=NOW,
                updated_at=NOW,
            )
        )
    report = await sync(db, BASE)
    assert report.changes[0].describe() == (
        "~ 王磊 (updated): supervisor: (empty) → 李强; team: (empty) → 杭州一组; title: (empty) → 销售代表; "
        "dingtalk_staff_id: (empty) → wanglei"
    )
    p = await people(db)
    assert (p["王磊"].wecom_userid, p["王磊"].dingtalk_staff_id) == ("WangLei", "wanglei")
    async with db.read() as session:
        pending = (await session.execute(select(PendingSender))).scalar_one()
        assert pending.status == "approved" and pending.user_id == p["张婷"].id


async def test_unknown_department_in_config_is_an_error_and_changes_nothing(db: Database) -> None:
    with pytest.raises(ContactsError, match="sync_departments"):
        await sync(db, BASE, departments=("市场部",))
    assert await people(db) == {}
