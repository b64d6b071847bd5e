"""Contact APIs on the old host, as a contact sync reads them:

* ``POST /topapi/v2/department/listsub`` ``{"dept_id"}`` → the direct sub-departments;
* ``POST /topapi/v2/department/get`` ``{"dept_id"}`` → one department with ``dept_manager_userid_list``;
* ``POST /topapi/v2/user/list`` ``{"dept_id", "cursor", "size"}`` → a page of a department's direct
  members (``leader`` = leads this department), ``has_more`` / ``next_cursor``;
* ``POST /topapi/v2/user/get`` ``{"userid"}`` → one person with ``leader_in_dept`` and ``manager_userid``;
* ``POST /topapi/user/listid`` ``{"dept_id"}`` → the member ids.

The root department is ``1``. Errors are HTTP 200 with ``errcode`` (60003 unknown department, 60121
unknown user, 40035 bad parameter); faults injected for a given page come back the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from emulators.dingtalk.oapi import oapi_error, token_ok
from emulators.dingtalk.openapi import STATE

ROOT = 1


@dataclass
class Department:
    dept_id: int
    name: str
    parent_id: int = ROOT
    manager_userids: list[str] = field(default_factory=list)


@dataclass
class Person:
    userid: str
    name: str
    dept_ids: list[int] = field(default_factory=lambda: [ROOT])
    leader_in: list[int] = field(default_factory=list)
    title: str = ""
    unionid: str = ""
    mobile: str = ""
    job_number: str = ""
    manager_userid: str = ""
    active: bool = True
    admin: bool = False

    def listed(self, dept_id: int) -> dict[str, Any]:
        return {
            "userid": self.userid,
            "unionid": self.unionid or f"union-{self.userid}",
            "name": self.name,
            "avatar": "",
            "state_code": "86",
            "mobile": self.mobile,
            "hide_mobile": False,
            "title": self.title,
            "job_number": self.job_number,
            "email": "",
            "work_place": "",
            "remark": "",
            "dept_id_list": list(self.dept_ids),
            "dept_order": 0,
            "extension": "{}",
            "active": self.active,
            "admin": self.admin,
            "boss": False,
            "leader": dept_id in self.leader_in,
            "exclusive_account": False,
        }


@dataclass
class ContactFault:
    path: str
    dept_id: int | None
    cursor: int | None
    errcode: int
    errmsg: str
    times: int


class Directory:
    """The organisation the contact APIs serve; tests replace it with :meth:`set`."""

    def __init__(self) -> None:
        self.departments: dict[int, Department] = {ROOT: Department(ROOT, "公司", 0)}
        self.people: dict[str, Person] = {}
        self.faults: list[ContactFault] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def set(self, departments: list[Department], people: list[Person]) -> None:
        self.departments = {ROOT: Department(ROOT, "公司", 0)}
        self.departments.update({d.dept_id: d for d in departments})
        self.people = {p.userid: p for p in people}

    def fault_for(self, path: str, body: dict[str, Any]) -> ContactFault | None:
        for fault in self.faults:
            if fault.path != path or fault.times <= 0:
                continue
            if fault.dept_id is not None and body.get("dept_id") != fault.dept_id:
                continue
            if fault.cursor is not None and int(body.get("cursor", 0) or 0) != fault.cursor:
                continue
            fault.times -= 1
            return fault
        return None

    def members(self, dept_id: int) -> list[Person]:
        return sorted((p for p in self.people.values() if dept_id in p.dept_ids), key=lambda p: p.userid)

    def department_dict(self, dept: Department) -> dict[str, Any]:
        managers = dept.manager_userids or [
            p.userid for p in self.people.values() if dept.dept_id in p.leader_in
        ]
        return {
            "dept_id": dept.dept_id,
            "name": dept.name,
            "parent_id": dept.parent_id,
            "dept_manager_userid_list": managers,
            "auto_add_user": True,
            "create_dept_group": False,
            "order": dept.dept_id,
        }


DIRECTORY: web.AppKey[Directory] = web.AppKey("dingtalk_directory", Directory)


def _ok(result: Any) -> web.Response:
    return web.json_response({"errcode": 0, "errmsg": "ok", "result": result, "request_id": "emu"})


async def _prepare(request: web.Request, path: str) -> tuple[Directory, dict[str, Any]] | web.Response:
    st = request.app[STATE]
    st.count(path)
    if not token_ok(request):
        return oapi_error(40014, "不合法的access_token")
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return oapi_error(40035, "缺少参数")
    if not isinstance(body, dict):
        return oapi_error(40035, "缺少参数")
    directory = request.app[DIRECTORY]
    with st.lock:
        directory.calls.append((path, body))
        fault = directory.fault_for(path, body)
    if fault is not None:
        return oapi_error(fault.errcode, fault.errmsg)
    return directory, body


def _dept(directory: Directory, body: dict[str, Any]) -> Department | web.Response:
    try:
        dept_id = int(body.get("dept_id", ROOT))
    except (TypeError, ValueError):
        return oapi_error(40035, "dept_id 不合法")
    dept = directory.departments.get(dept_id)
    if dept is None:
        return oapi_error(60003, "部门不存在")
    return dept


async def listsub(request: web.Request) -> web.Response:
    prepared = await _prepare(request, "department/listsub")
    if isinstance(prepared, web.Response):
        return prepared
    directory, body = prepared
    dept = _dept(directory, body)
    if isinstance(dept, web.Response):
        return dept
    children = [
        d for d in directory.departments.values() if d.parent_id == dept.dept_id and d.dept_id != ROOT
    ]
    return _ok(
        [
            {
                "dept_id": d.dept_id,
                "name": d.name,
                "parent_id": d.parent_id,
                "auto_add_user": True,
                "create_dept_group": False,
            }
            for d in sorted(children, key=lambda d: d.dept_id)
        ]
    )


async def department_get(request: web.Request) -> web.Response:
    prepared = await _prepare(request, "department/get")
    if isinstance(prepared, web.Response):
        return prepared
    directory, body = prepared
    dept = _dept(directory, body)
    if isinstance(dept, web.Response):
        return dept
    return _ok(directory.department_dict(dept))


async def user_list(request: web.Request) -> web.Response:
    prepared = await _prepare(request, "user/list")
    if isinstance(prepared, web.Response):
        return prepared
    directory, body = prepared
    dept = _dept(directory, body)
    if isinstance(dept, web.Response):
        return dept
    try:
        cursor = int(body.get("cursor", 0) or 0)
        size = int(body.get("size", 0))
    except (TypeError, ValueError):
        return oapi_error(40035, "cursor/size 不合法")
    if not 1 <= size <= 100:
        return oapi_error(40035, "size 的取值范围是 1–100")
    members = directory.members(dept.dept_id)
    page = members[cursor : cursor + size]
    more = cursor + size < len(members)
    result: dict[str, Any] = {"has_more": more, "list": [p.listed(dept.dept_id) for p in page]}
    if more:
        result["next_cursor"] = cursor + size
    return _ok(result)


async def user_get(request: web.Request) -> web.Response:
    prepared = await _prepare(request, "user/get")
    if isinstance(prepared, web.Response):
        return prepared
    directory, body = prepared
    person = directory.people.get(str(body.get("userid", "")))
    if person is None:
        return oapi_error(60121, "找不到该用户")
    data = person.listed(person.dept_ids[0] if person.dept_ids else ROOT)
    data.pop("leader", None)
    data["leader_in_dept"] = [{"dept_id": d, "leader": d in person.leader_in} for d in person.dept_ids]
    data["manager_userid"] = person.manager_userid
    return _ok(data)


async def user_listid(request: web.Request) -> web.Response:
    prepared = await _prepare(request, "user/listid")
    if isinstance(prepared, web.Response):
        return prepared
    directory, body = prepared
    dept = _dept(directory, body)
    if isinstance(dept, web.Response):
        return dept
    return _ok({"userid_list": [p.userid for p in directory.members(dept.dept_id)]})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/topapi/v2/department/listsub", listsub)
    app.router.add_post("/topapi/v2/department/get", department_get)
    app.router.add_post("/topapi/v2/user/list", user_list)
    app.router.add_post("/topapi/v2/user/get", user_get)
    app.router.add_post("/topapi/user/listid", user_listid)
