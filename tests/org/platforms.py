"""One organisation, served by either platform's emulator, for the contact sync tests.

    with org_on("wecom") as org:
        org.set(DEPTS, STAFF)              # platform-neutral departments and staff
        org.env()                          # ACTIONFLOW_* variables that point the CLI at the emulator
        org.fail_members(3, 60011, "…")    # department 3's members fail (DingTalk: its 2nd page if any)

Leaders are given once (``Staff.leads``) and written the platform's way: DingTalk's ``leader`` flag in
``user/list``; WeCom's ``department_leader`` on the department and ``is_leader_in_dept`` on the member.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from emulators.dingtalk import Department as DingTalkDepartment
from emulators.dingtalk import DingTalkEmulator, Person
from emulators.wecom import WeComEmulator
from tests.wecom.world import AES_KEY, TOKEN

State = Literal["active", "invited", "disabled", "left"]
# WeCom user status: 1 activated, 2 disabled, 4 not activated yet, 5 left the company.
WECOM_STATUS = {"active": 1, "disabled": 2, "invited": 4, "left": 5}
PAGE = 100  # DingTalk user/list page size the reader asks for


@dataclass(frozen=True)
class Dept:
    id: int
    name: str
    parent: int = 1


@dataclass(frozen=True)
class Staff:
    uid: str
    name: str
    depts: tuple[int, ...]
    leads: tuple[int, ...] = ()
    title: str = ""
    mobile: str = ""
    state: State = "active"


class Org(Protocol):
    platform: str
    id_field: str

    def set(self, depts: list[Dept], staff: list[Staff]) -> None: ...
    def env(self) -> dict[str, str]: ...
    def section(self) -> dict[str, Any]: ...
    def fail_members(self, dept_id: int, errcode: int, errmsg: str) -> None: ...
    def member_calls(self) -> int: ...


class DingTalkOrg:
    platform = "dingtalk"
    id_field = "dingtalk_staff_id"

    def __init__(self, emu: DingTalkEmulator) -> None:
        self.emu = emu
        self.sizes: dict[int, int] = {}

    def set(self, depts: list[Dept], staff: list[Staff]) -> None:
        assert all(s.state in ("active", "invited") for s in staff), "DingTalk lists no disabled/left people"
        self.sizes = {d.id: sum(1 for s in staff if d.id in s.depts) for d in depts}
        self.emu.set_org(
            [DingTalkDepartment(d.id, d.name, d.parent) for d in depts if d.id != 1],
            [
                Person(
                    s.uid,
                    s.name,
                    list(s.depts),
                    leader_in=list(s.leads),
                    title=s.title,
                    mobile=s.mobile,
                    active=s.state == "active",
                )
                for s in staff
            ],
        )

    def section(self) -> dict[str, Any]:
        return {"enabled": True, **self.emu.credentials}

    def env(self) -> dict[str, str]:
        return {f"ACTIONFLOW_DINGTALK__{k.upper()}": str(v) for k, v in self.section().items()}

    def fail_members(self, dept_id: int, errcode: int, errmsg: str) -> None:
        """The department's second page of members fails (its first was read), or its only page."""
        cursor = PAGE if self.sizes.get(dept_id, 0) > PAGE else 0
        self.emu.fail_contacts("user/list", dept_id=dept_id, cursor=cursor, errcode=errcode, errmsg=errmsg)

    def member_calls(self) -> int:
        return sum(1 for path, _ in self.emu.directory.calls if path == "user/list")


class WeComOrg:
    platform = "wecom"
    id_field = "wecom_userid"

    def __init__(self, emu: WeComEmulator) -> None:
        self.emu = emu

    def set(self, depts: list[Dept], staff: list[Staff]) -> None:
        everyone = [Dept(1, "公司", 0), *(d for d in depts if d.id != 1)]
        self.emu.set_contacts(
            [
                {
                    "id": d.id,
                    "name": d.name,
                    "parentid": d.parent,
                    "order": n,
                    "department_leader": [s.uid for s in staff if d.id in s.leads],
                }
                for n, d in enumerate(everyone)
            ],
            [
                {
                    "userid": s.uid,
                    "name": s.name,
                    "department": list(s.depts),
                    "main_department": s.depts[0],
                    "is_leader_in_dept": [1 if d in s.leads else 0 for d in s.depts],
                    "position": s.title,
                    "mobile": s.mobile,
                    "status": WECOM_STATUS[s.state],
                }
                for s in staff
            ],
        )

    def section(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "corp_id": self.emu.corp_id,
            "secret": self.emu.secret,
            "agent_id": self.emu.agent_id,
            "api_base": self.emu.base_url,
            "token": TOKEN,  # the callback settings a configured WeCom channel has
            "encoding_aes_key": AES_KEY,
        }

    def env(self) -> dict[str, str]:
        return {f"ACTIONFLOW_WECOM__{k.upper()}": str(v) for k, v in self.section().items()}

    def fail_members(self, dept_id: int, errcode: int, errmsg: str) -> None:
        self.emu.fail_next("user/list", errcode, errmsg, query={"department_id": str(dept_id)})

    def member_calls(self) -> int:
        return len(self.emu.calls("user/list"))


@contextmanager
def org_on(platform: str) -> Iterator[Org]:
    if platform == "dingtalk":
        with DingTalkEmulator() as dt:
            yield DingTalkOrg(dt)
    else:
        wc = WeComEmulator(corp_id="ww-sync-test", secret="contacts-test-secret").start()
        try:
            yield WeComOrg(wc)
        finally:
            wc.stop()
