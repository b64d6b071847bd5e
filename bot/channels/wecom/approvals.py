"""``oa/getapprovaldetail`` → :class:`core.events.ApprovalEvent` for the configured visit templates.

Controls are matched by their title (config ``wecom.approval_fields``) and read by their ``control``
type, never by "the key that is not empty": real answers carry empty arrays for every unrelated key
. Times come as epoch seconds and are written as ISO-8601 in China time (WeCom's
``day`` dates are midnight there).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from config.settings import ApprovalMapping
from core.events import ApprovalEvent, ApprovalStatus

log = logging.getLogger(__name__)

CHINA = ZoneInfo("Asia/Shanghai")

# sp_status: 1 审批中, 2 已通过, 3 已驳回, 4 已撤销, 6 通过后撤销, 7 已删除, 10 已支付.
STATUS: dict[int, ApprovalStatus] = {
    1: "submitted",
    2: "approved",
    3: "refused",
    4: "withdrawn",
    6: "withdrawn",
    7: "deleted",
    10: "approved",
}


def title_of(control: dict[str, Any]) -> str:
    titles = [t for t in control.get("title") or [] if isinstance(t, dict)]
    for t in titles:
        if t.get("lang") == "zh_CN" and t.get("text"):
            return str(t["text"]).strip()
    return str(titles[0].get("text", "")).strip() if titles else ""


def _when(seconds: Any, tz: tzinfo) -> str:
    try:
        value = int(str(seconds))
    except ValueError:
        return ""
    if value <= 0:
        return ""
    if value > 10**11:  # milliseconds
        value //= 1000
    return datetime.fromtimestamp(value, UTC).astimezone(tz).isoformat()


def _texts(items: Any) -> list[str]:
    out = []
    for item in items or []:
        if isinstance(item, dict) and item.get("text"):
            out.append(str(item["text"]))
    return out


def value_of(control: dict[str, Any], tz: tzinfo = CHINA) -> str | tuple[str, str]:
    """A control's value as text; a ``DateRange`` gives ``(begin, end)``."""
    kind = str(control.get("control", ""))
    value = control.get("value") or {}
    if not isinstance(value, dict):
        return ""
    if kind in ("Text", "Textarea"):
        return str(value.get("text") or "").strip()
    if kind == "Number":
        return str(value.get("new_number") or "")
    if kind == "Money":
        return str(value.get("new_money") or "")
    if kind == "Date":
        return _when((value.get("date") or {}).get("s_timestamp", ""), tz)
    if kind == "DateRange":
        rng = value.get("date_range") or {}
        return _when(rng.get("new_begin", ""), tz), _when(rng.get("new_end", ""), tz)
    if kind == "Selector":
        options = (value.get("selector") or {}).get("options") or []
        chosen = [t for o in options if isinstance(o, dict) for t in _texts(o.get("value"))[:1]]
        return "、".join(chosen)
    if kind == "Contact":
        people = [m.get("name") or m.get("userid") for m in value.get("members") or []]
        people += [d.get("name") or d.get("openapi_id") for d in value.get("departments") or []]
        return "、".join(str(p) for p in people if p)
    if kind == "Location":
        loc = value.get("location") or {}
        return str(loc.get("title") or loc.get("address") or "")
    if kind == "Formula":
        return str((value.get("formula") or {}).get("value") or "")
    return ""


def map_fields(contents: list[Any], mapping: ApprovalMapping, tz: tzinfo = CHINA) -> dict[str, str]:
    """Neutral field names (customer, start, end, purpose) from the form's controls."""
    wanted = {
        mapping.customer: "customer",
        mapping.start: "start",
        mapping.end: "end",
        mapping.purpose: "purpose",
    }
    fields: dict[str, str] = {}
    range_end = ""
    for control in contents:
        if not isinstance(control, dict):
            continue
        name = wanted.get(title_of(control))
        if name is None:
            continue
        value = value_of(control, tz)
        if isinstance(value, tuple):
            begin, end = value
            value = begin if name != "end" else end
            range_end = range_end or end
        if value:
            fields[name] = value
    if "start" in fields and "end" not in fields and range_end:
        fields["end"] = range_end
    return fields


def approval_event(
    info: dict[str, Any],
    *,
    mapping: ApprovalMapping,
    template_ids: Collection[str],
    occurred_at: datetime | None = None,
    tz: tzinfo = CHINA,
) -> ApprovalEvent | None:
    """The neutral event, or None for another template or a status the bot has no word for."""
    sp_no = str(info.get("sp_no") or "")
    template_id = str(info.get("template_id") or "")
    if template_id not in template_ids:
        log.info("approval %s uses template %s, which is not a visit template; ignored", sp_no, template_id)
        return None
    try:
        status = STATUS[int(info.get("sp_status") or 0)]
    except (KeyError, ValueError):
        log.info("approval %s has status %r, which the bot does not track", sp_no, info.get("sp_status"))
        return None
    applicant = str((info.get("applyer") or {}).get("userid") or "")
    if not sp_no or not applicant:
        log.warning("approval detail without sp_no or applicant: %r", sp_no)
        return None
    contents = (info.get("apply_data") or {}).get("contents") or []
    return ApprovalEvent(
        channel="wecom",
        event_id=f"approval:{sp_no}:{status}",
        sender_id=applicant,
        occurred_at=occurred_at,
        approval_id=sp_no,
        status=status,
        process_code=template_id,
        title=str(info.get("sp_name") or ""),
        fields=map_fields(list(contents), mapping, tz),
    )
