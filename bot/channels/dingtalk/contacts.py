"""Reading the organisation from DingTalk's contact APIs (for the contact sync of docs/org.md).

Walks ``topapi/v2/department/listsub`` from the root department (1) and pages ``topapi/v2/user/list``
(cursor, 100 a page) for each department. A person in several departments is one member; ``leader`` in
a department's list marks the leaders. Everyone listed is a member, activated or not (people who left
are not listed). Everything is fetched before it is returned: an API error anywhere
raises :class:`ApiError` and nothing partial comes back.

The result is plain dicts whose keys are the fields of ``domain.contacts.Department`` (id, name,
parent_id, leader_ids) and ``Member`` (userid, name, department_ids, main_department, union_id, title,
phone, leader_in, active), so the sync builds its directory with ``Department(**d)`` / ``Member(**m)``.
Contact APIs do not count against the monthly API quota.
"""

from __future__ import annotations

from typing import Any

from bot.channels.dingtalk.api import ApiError, OpenApi

ROOT = 1
PAGE = 100
MAX_DEPARTMENTS = 5000


async def _oapi(api: OpenApi, path: str, name: str, body: dict[str, Any], what: str) -> dict[str, Any]:
    """One call; an error names the call (``user/list of department 3 from member 100: errcode …``)."""
    try:
        return await api.oapi(path, api=name, json=body)
    except ApiError as exc:
        raise ApiError(
            f"{what}: {exc}",
            status=exc.status,
            code=exc.code,
            transient=exc.transient,
            retry_after=exc.retry_after,
        ) from exc


async def _subdepartments(api: OpenApi, dept_id: int) -> list[dict[str, Any]]:
    answer = await _oapi(
        api,
        "/topapi/v2/department/listsub",
        "listsub",
        {"dept_id": dept_id},
        f"department/listsub of department {dept_id}",
    )
    result = answer.get("result")
    if not isinstance(result, list):
        raise ApiError(f"department/listsub {dept_id}: no result list", transient=False)
    return [d for d in result if isinstance(d, dict) and "dept_id" in d]


async def _members(api: OpenApi, dept_id: int) -> list[dict[str, Any]]:
    people: list[dict[str, Any]] = []
    cursor = 0
    while True:
        body = {"dept_id": dept_id, "cursor": cursor, "size": PAGE, "contain_access_limit": False}
        where = f"user/list of department {dept_id}" + (f" from member {cursor}" if cursor else "")
        answer = await _oapi(api, "/topapi/v2/user/list", "user-list", body, where)
        result = answer.get("result")
        if not isinstance(result, dict) or not isinstance(result.get("list"), list):
            raise ApiError(f"user/list {dept_id}@{cursor}: no result list", transient=False)
        people += [p for p in result["list"] if isinstance(p, dict) and p.get("userid")]
        if not result.get("has_more"):
            return people
        next_cursor = result.get("next_cursor")
        if not isinstance(next_cursor, int) or next_cursor <= cursor:
            raise ApiError(f"user/list {dept_id}: has_more without a usable next_cursor", transient=False)
        cursor = next_cursor


async def fetch_directory(api: OpenApi) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(departments, members)`` of the whole organisation the app can see."""
    root = await _oapi(
        api, "/topapi/v2/department/get", "department-get", {"dept_id": ROOT}, "department/get of the root"
    )
    root_name = str((root.get("result") or {}).get("name", ""))
    departments: dict[int, dict[str, Any]] = {ROOT: {"id": str(ROOT), "name": root_name, "parent_id": None}}
    queue = [ROOT]
    while queue:
        parent = queue.pop(0)
        for d in await _subdepartments(api, parent):
            dept_id = int(d["dept_id"])
            if dept_id in departments:
                continue
            departments[dept_id] = {
                "id": str(dept_id),
                "name": str(d.get("name", "")),
                "parent_id": str(parent),
            }
            queue.append(dept_id)
            if len(departments) > MAX_DEPARTMENTS:
                raise ApiError("more than 5000 departments: refusing to walk further", transient=False)
    leaders: dict[int, list[str]] = {}
    members: dict[str, dict[str, Any]] = {}
    for dept_id in departments:
        for p in await _members(api, dept_id):
            uid = str(p["userid"])
            dept_ids = [str(x) for x in p.get("dept_id_list") or [dept_id]]
            member = members.setdefault(
                uid,
                {
                    "userid": uid,
                    "name": str(p.get("name", "")),
                    "department_ids": tuple(dept_ids),
                    "main_department": dept_ids[0] if dept_ids else None,
                    "union_id": str(p.get("unionid", "")),
                    "title": str(p.get("title", "")),
                    "phone": str(p.get("mobile", "")),
                    "leader_in": (),
                    # DingTalk's ``active`` says whether they have activated DingTalk yet, not whether
                    # they still work here: people who left are not listed at all. A newcomer who has
                    # not activated yet is still a member (deactivating them would lock them out).
                    "active": True,
                },
            )
            if p.get("leader"):
                member["leader_in"] = (*member["leader_in"], str(dept_id))
                leaders.setdefault(dept_id, []).append(uid)
    result = [{**d, "leader_ids": tuple(leaders.get(dept_id, ()))} for dept_id, d in departments.items()]
    return result, list(members.values())
