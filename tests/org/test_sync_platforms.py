"""`actionflow sync users --from dingtalk|wecom` against both emulators (real HTTP), and the scheduled sync.

The same organisation is served by the DingTalk and the WeCom emulator (tests/org/platforms.py); every
scenario runs on both: add, run again (0 changes), change (department, name, leader), leave a
department, leave the company, leaders not supervisors, an API error halfway, the job on a schedule.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.contacts.wecom import WeComContacts
from bot.testing import BotHarness, make_settings
from config.settings import WeComSettings
from domain.contacts import ContactsError
from domain.people import load_people
from storage.db import Database
from storage.models import AuditLog, Customer, JobRun
from tests.org.cli import Cli, write
from tests.org.platforms import PAGE, Dept, Org, Staff, org_on

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
DEPTS = [Dept(2, "销售部"), Dept(3, "杭州一组", 2), Dept(4, "杭州二组", 2), Dept(5, "财务部")]
STAFF = [
    Staff("zhaozong", "赵总", (2,), leads=(2,), title="销售总监"),
    Staff("liqiang", "李强", (3,), leads=(3,), title="区域经理", mobile="13800000002"),
    Staff("wanglei", "王磊", (3,), title="销售代表"),
    Staff("zhangting", "张婷", (3,), title="销售代表"),
    Staff("wugang", "吴刚", (4,), title="销售代表"),
    Staff("sunyue", "孙悦", (4,), title="销售代表", state="invited"),  # not activated yet: still staff
    Staff("qianfang", "钱芳", (5,), leads=(5,), title="财务经理"),
]


def changed(platform: str) -> list[Staff]:
    """王磊 moves to 杭州二组, 吴刚 now leads it, 钱芳's name is corrected, 张婷 leaves the company
    (DingTalk no longer lists her; WeCom lists her with status 5)."""
    by_uid = {s.uid: s for s in STAFF}
    staff = [
        by_uid["zhaozong"],
        by_uid["liqiang"],
        replace(by_uid["wanglei"], depts=(4,)),
        replace(by_uid["wugang"], leads=(4,)),
        by_uid["sunyue"],
        replace(by_uid["qianfang"], name="钱方"),
    ]
    if platform == "wecom":
        staff.append(replace(by_uid["zhangting"], state="left"))
    return staff


@pytest.fixture(params=["dingtalk", "wecom"])
def org(request: pytest.FixtureRequest) -> Iterator[Org]:
    with org_on(request.param) as platform_org:
        yield platform_org


@pytest.fixture
def cli(org: Org, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    for key, value in org.env().items():
        monkeypatch.setenv(key, value)
    return Cli(tmp_path, monkeypatch, capsys)


async def _people(session: AsyncSession, id_field: str) -> dict[str, dict[str, Any]]:
    people = await load_people(session)
    names = {u.id: u.name for u in people}
    return {
        u.name: {
            "id": u.id,
            "status": u.status,
            "team": u.team,
            "supervisor": names.get(u.supervisor_id) if u.supervisor_id else None,
            "roles": u.roles,
            "title": u.title,
            "phone": u.phone,
            "platform_id": getattr(u, id_field),
        }
        for u in people
    }


def people(cli: Cli, org: Org) -> dict[str, dict[str, Any]]:
    return cli.db(lambda s: _people(s, org.id_field))


def sync(cli: Cli, org: Org, *extra: str) -> Any:
    return cli("sync", "users", "--from", org.platform, *extra)


def test_sync_adds_updates_and_deactivates_without_losing_history(org: Org, cli: Cli) -> None:
    org.set(DEPTS, STAFF)
    first = sync(cli, org)
    assert first.code == 0, first.err
    assert first.out.startswith(f"{org.platform}: 7 people in 5 departments\n")
    added = f"+ 王磊 (added): roles: rep; supervisor: 李强; team: 杭州一组; {org.id_field}: wanglei"
    assert added in first.out
    assert first.out.rstrip().endswith("7 changes: 7 added")
    p = people(cli, org)
    assert {n: (v["supervisor"], v["team"]) for n, v in p.items()} == {
        "赵总": (None, "销售部"),  # the root department has no leader
        "李强": ("赵总", "杭州一组"),  # a leader reports to the leader of the department above
        "王磊": ("李强", "杭州一组"),
        "张婷": ("李强", "杭州一组"),
        "吴刚": ("赵总", "杭州二组"),  # 杭州二组 has no leader: the nearest one above
        "孙悦": ("赵总", "杭州二组"),
        "钱芳": (None, "财务部"),
    }
    assert p["李强"]["roles"] == {"manager"} and p["钱芳"]["roles"] == {"manager"}
    assert p["王磊"]["roles"] == {"rep"} and p["王磊"]["platform_id"] == "wanglei"
    assert p["李强"]["phone"] == "13800000002" and p["赵总"]["title"] == "销售总监"
    assert {v["status"] for v in p.values()} == {"active"}

    again = sync(cli, org)
    assert again.code == 0 and again.out.rstrip().endswith("\n0 changes"), again.out

    async def history(session: AsyncSession) -> None:
        for owner, hospital in (("王磊", "杭州市第一人民医院"), ("张婷", "浙江省人民医院")):
            session.add(
                Customer(
                    name=hospital,
                    normalized_name=hospital,
                    owner_id=p[owner]["id"],
                    created_at=NOW,
                    updated_at=NOW,
                )
            )

    cli.db(history)
    org.set(DEPTS, changed(org.platform))
    dry = sync(cli, org, "--dry-run")
    assert dry.code == 0 and "(dry run: nothing was changed)" in dry.out
    assert "~ 王磊 (updated): supervisor: 李强 → 吴刚; team: 杭州一组 → 杭州二组" in dry.out
    assert people(cli, org) == p

    third = sync(cli, org)
    assert third.code == 0, third.err
    lines = third.out.splitlines()
    assert "  ~ 王磊 (updated): supervisor: 李强 → 吴刚; team: 杭州一组 → 杭州二组" in lines
    assert "  ~ 孙悦 (updated): supervisor: 赵总 → 吴刚" in lines  # the new leader of 杭州二组
    assert "  ~ 钱方 (updated): name: 钱芳 → 钱方" in lines
    assert "  - 张婷 (deactivated): status: active → inactive" in lines
    assert "4 changes: 3 updated, 1 deactivated" in lines
    assert any(line.startswith("warning: 张婷 left and still owns 1 customer(s)") for line in lines)

    after = people(cli, org)
    assert len(after) == 7  # nobody deleted
    assert after["王磊"]["id"] == p["王磊"]["id"] and after["钱方"]["id"] == p["钱芳"]["id"]
    assert after["张婷"]["status"] == "inactive" and after["张婷"]["platform_id"] == "zhangting"
    assert after["吴刚"]["roles"] == {"rep"}  # roles are set only when a sync adds someone

    async def owners_and_audit(session: AsyncSession) -> tuple[dict[str, int | None], int]:
        rows = (await session.execute(select(Customer))).scalars()
        owners = {c.name: c.owner_id for c in rows}
        audit = await session.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.action.like(f"user.sync.{org.platform}.%"))
        )
        return owners, int(audit or 0)

    owners, audited = cli.db(owners_and_audit)
    assert owners == {"杭州市第一人民医院": p["王磊"]["id"], "浙江省人民医院": p["张婷"]["id"]}
    assert audited == 7 + 4  # one row per change: the additions, then the four changes

    last = sync(cli, org)
    assert last.code == 0 and last.out.rstrip().endswith("\n0 changes"), last.out


def test_supervisors_are_untouched_when_leaders_are_not_supervisors(
    org: Org, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACTIONFLOW_ORG__LEADERS_ARE_SUPERVISORS", "false")
    roster = write(
        tmp_path / "people.csv",
        f"name,roles,supervisor,{org.id_field}\n"
        "周敏,admin,,\n"
        "钱芳,finance manager,周敏,qianfang\n"
        "王磊,rep,钱芳,wanglei\n",
    )
    imported = cli("import", "users", str(roster))
    assert imported.code == 0, imported.err
    org.set(DEPTS, STAFF)
    result = sync(cli, org)
    assert result.code == 0, result.err
    assert "~ 王磊 (updated): team: (empty) → 杭州一组; title: (empty) → 销售代表" in result.out
    p = people(cli, org)
    assert p["王磊"]["supervisor"] == "钱芳" and p["钱芳"]["supervisor"] == "周敏"  # as the admin set them
    assert {p[n]["supervisor"] for n in ("赵总", "李强", "张婷", "吴刚", "孙悦")} == {None}
    assert p["钱芳"]["roles"] == {"finance", "manager"} and p["周敏"]["status"] == "active"

    org.set(DEPTS, changed(org.platform))
    moved = sync(cli, org)
    assert "~ 王磊 (updated): team: 杭州一组 → 杭州二组" in moved.out  # no supervisor change
    assert people(cli, org)["王磊"]["supervisor"] == "钱方"  # the same person, renamed


def test_an_api_error_halfway_changes_nothing(org: Org, cli: Cli) -> None:
    crowd = [Staff(f"rep{n:03d}", f"销售{n:03d}", (3,)) for n in range(PAGE)]  # 杭州一组 needs two pages
    org.set(DEPTS, STAFF + crowd)
    assert sync(cli, org).code == 0
    before = cli.export()

    org.set(DEPTS, changed(org.platform) + crowd)
    org.fail_members(3, 60011, "no privilege to access/modify contact/party/agent")
    calls = org.member_calls()
    failed = sync(cli, org)
    assert failed.code == 1 and failed.out == ""
    first_line = failed.err.splitlines()[0]
    assert first_line.startswith(f"error: {org.platform} contacts: user/list of department 3")
    assert "60011" in first_line and first_line.endswith("; nothing was changed")
    hint = "成员信息读权限" if org.platform == "dingtalk" else "可见范围"
    assert hint in first_line  # says which permission or visibility the app lacks
    assert org.member_calls() - calls >= 3  # earlier departments / pages were read, then it stopped
    assert cli.export() == before  # the previous state is intact

    retried = sync(cli, org)  # the fault was one-off: the next run applies everything
    assert retried.code == 0 and "~ 王磊 (updated): supervisor: 李强 → 吴刚" in retried.out

    org.set(DEPTS, [])  # an app that suddenly sees nobody must not deactivate the company
    emptied = sync(cli, org)
    assert emptied.code == 1 and "returned no members at all" in emptied.err
    assert "nothing was changed" in emptied.err
    assert {v["status"] for n, v in people(cli, org).items() if n != "张婷"} == {"active"}


@pytest.mark.parametrize(
    ("platform", "needed"),
    [
        ("dingtalk", "set dingtalk.enabled = true, dingtalk.client_id, dingtalk.client_secret"),
        ("wecom", "set wecom.enabled = true, wecom.corp_id, wecom.secret"),
    ],
)
def test_a_platform_that_is_not_configured_says_what_to_set(
    platform: str,
    needed: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli = Cli(tmp_path, monkeypatch, capsys)
    result = cli("sync", "users", "--from", platform)
    assert result.code == 1 and needed in result.err and "nothing was changed" in result.err
    monkeypatch.setenv("ACTIONFLOW_ORG__SYNC_FROM", platform)  # the scheduled sync: check-config says so
    checked = cli("check-config")
    assert (
        checked.code != 0 and f"org.sync_from is {platform} but the {platform} channel is not" in checked.out
    )
    assert needed in checked.out


async def test_wecom_members_leaders_and_statuses_are_read_as_wecom_means_them() -> None:
    with org_on("wecom") as org:
        org.set(
            DEPTS,
            [
                Staff("liqiang", "李强", (3, 4), leads=(3,)),  # in two departments: one member
                Staff("wanglei", "王磊", (4, 3)),  # main department 杭州二组
                Staff("sunyue", "孙悦", (3,), state="invited"),
                Staff("banned", "停用者", (3,), state="disabled"),
                Staff("gone", "离职者", (3,), state="left"),
            ],
        )
        section = WeComSettings(**org.section())
        directory = await WeComContacts(section).fetch()
        members = {m.userid: m for m in directory.members}
        assert {d.id: (d.parent_id, d.leader_ids) for d in directory.departments}["3"] == ("2", ("liqiang",))
        assert members["liqiang"].department_ids == ("3", "4") and members["liqiang"].leader_in == ("3",)
        assert members["wanglei"].main_department == "4"
        assert {u: m.active for u, m in members.items()} == {
            "liqiang": True,
            "wanglei": True,
            "sunyue": True,
            "banned": False,
            "gone": False,
        }
        wrong = WeComSettings(**{**org.section(), "secret": "not-the-secret"})
        with pytest.raises(ContactsError, match=r"40001.*check wecom.corp_id / wecom.secret"):
            await WeComContacts(wrong).fetch()


async def _job_runs(db: Database) -> list[tuple[str, str, str]]:
    async with db.read() as session:
        rows = (await session.execute(select(JobRun).where(JobRun.job == "org-sync"))).scalars()
        return sorted((r.period, r.status, r.error) for r in rows)


async def test_the_scheduled_sync_runs_once_per_period(org: Org, tmp_path: Path) -> None:
    org.set(DEPTS, STAFF)
    scheduled = {"sync_from": org.platform, "sync_cron": "0 3 * * *"}
    if org.platform == "dingtalk":
        settings = make_settings(tmp_path, org=scheduled, dingtalk=org.section())
    else:
        settings = make_settings(tmp_path, org=scheduled, wecom=org.section())
    async with BotHarness(tmp_path, settings=settings) as bot:  # Monday 09:00 in Shanghai
        db = bot.app.db

        async def person(name: str) -> dict[str, Any]:
            async with db.read() as session:
                return (await _people(session, org.id_field))[name]

        await bot.tick()  # today's 03:00 run was missed: caught up once
        assert await _job_runs(db) == [("2026-11-23T03:00", "done", "")]
        assert (await person("王磊"))["supervisor"] == "李强"
        calls = org.member_calls()
        await bot.tick()
        assert org.member_calls() == calls  # once per period

        org.set(DEPTS, changed(org.platform))
        await bot.advance(timedelta(hours=17, minutes=59))  # Tuesday 02:59
        assert org.member_calls() == calls and (await person("王磊"))["team"] == "杭州一组"
        await bot.advance(timedelta(minutes=1))  # 03:00
        assert (await person("王磊"))["team"] == "杭州二组"
        assert (await person("张婷"))["status"] == "inactive"
        assert len(await _job_runs(db)) == 2

        org.set(DEPTS, STAFF)  # 王磊 back in 杭州一组, but Wednesday's read fails halfway
        org.fail_members(3, 60011, "no privilege")
        await bot.advance(timedelta(days=1))
        runs = await _job_runs(db)
        assert runs[-1][:2] == ("2026-11-25T03:00", "failed") and "60011" in runs[-1][2]
        assert (await person("王磊"))["team"] == "杭州二组"  # nothing applied
