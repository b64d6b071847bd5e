"""Reading the organisation from WeCom's contact APIs (for the contact sync of docs/org.md).

``department/list`` gives every department the app can see (its visibility range, 可见范围) with
``department_leader``; then ``user/list?department_id=…`` is read for each of them (a department's direct
members; WeCom does not page it). A person in several departments is one member; a department's leaders
are its ``department_leader`` list and the members whose ``is_leader_in_dept`` flag is 1 for it.
``status`` 1 (activated) and 4 (not activated yet: invited, still a member) count as members; 2 (disabled)
and 5 (left the company) do not.

Everything is fetched before it is returned: any error raises :class:`ContactsReadError` and nothing
partial comes back. The result is plain dicts keyed like ``domain.contacts.Department`` / ``Member``
(the same shape as the DingTalk reader). Synchronous (wechatpy): run it off the event loop.
"""

from __future__ import annotations

from typing import Any

import requests
from wechatpy.exceptions import WeChatClientException

from bot.channels.wecom.client import WeComClient
from core.redact import redact

MAX_DEPARTMENTS = 5000
ACTIVE_STATUSES = {1, 4}  # 1 activated, 4 not activated yet; 2 disabled, 5 left the company


class ContactsReadError(Exception):
    """A contact call failed or answered something unusable. ``errcode``: WeCom's, when it gave one."""

    def __init__(self, message: str, errcode: int | None = None) -> None:
        super().__init__(message)
        self.errcode = errcode


def _get(client: WeComClient, path: str, params: dict[str, Any], key: str, what: str) -> list[Any]:
    """``GET path`` (one token refresh on a token error); the list under ``key``."""
    try:
        answer = client.call(lambda: client.get(path, params=dict(params)))
    except WeChatClientException as exc:
        if exc.errcode is None:
            status = getattr(exc.response, "status_code", None)
            raise ContactsReadError(f"{what}: HTTP {status or 'error'}") from exc
        raise ContactsReadError(f"{what}: WeCom error {exc.errcode}: {exc.errmsg}", exc.errcode) from exc
    except (requests.RequestException, OSError) as exc:
        raise ContactsReadError(redact(f"{what}: network: {type(exc).__name__}: {exc}")) from exc
    items = answer.get(key) if isinstance(answer, dict) else None
    if not isinstance(items, list):
        raise ContactsReadError(f"{what}: the answer has no {key} list")
    return items


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _departments(client: WeComClient) -> list[dict[str, Any]]:
    listed = _get(client, "department/list", {}, "department", "department/list")
    found: dict[int, dict[str, Any]] = {}
    for d in listed:
        dept_id = _int(d.get("id")) if isinstance(d, dict) else None
        if dept_id is None:
            raise ContactsReadError(f"department/list: a department without an id: {d!r:.80}")
        found[dept_id] = d
    if len(found) > MAX_DEPARTMENTS:
        raise ContactsReadError(f"department/list: more than {MAX_DEPARTMENTS} departments; refusing")
    result = []
    for dept_id, d in found.items():
        parent = _int(d.get("parentid"))
        leaders = d.get("department_leader") or []
        result.append(
            {
                "id": str(dept_id),
                "name": str(d.get("name") or dept_id),
                "parent_id": str(parent) if parent in found and parent != dept_id else None,
                "leader_ids": tuple(str(u) for u in leaders if u),
            }
        )
    return result


def _member(raw: dict[str, Any], dept_id: str) -> dict[str, Any]:
    uid = str(raw["userid"])
    dept_ids = tuple(str(x) for x in raw.get("department") or [dept_id])
    flags = raw.get("is_leader_in_dept") or []
    leader_in = tuple(d for d, flag in zip(dept_ids, flags, strict=False) if _int(flag) == 1)
    main = _int(raw.get("main_department"))
    status = _int(raw.get("status"))
    return {
        "userid": uid,
        "name": str(raw.get("name") or uid),
        "department_ids": dept_ids,
        "main_department": str(main) if main else (dept_ids[0] if dept_ids else None),
        "title": str(raw.get("position") or ""),
        "phone": str(raw.get("mobile") or ""),  # not given to apps created after 2022-06-20
        "leader_in": leader_in,
        "active": status is None or status in ACTIVE_STATUSES,
    }


def fetch_directory(client: WeComClient) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(departments, members)`` of everything the app can see."""
    departments = _departments(client)
    members: dict[str, dict[str, Any]] = {}
    for dept in departments:
        what = f"user/list of department {dept['id']} ({dept['name']})"
        listed = _get(client, "user/list", {"department_id": dept["id"]}, "userlist", what)
        for raw in listed:
            if isinstance(raw, dict) and raw.get("userid"):
                members.setdefault(str(raw["userid"]), _member(raw, dept["id"]))
    return departments, list(members.values())
