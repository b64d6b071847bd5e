"""OA approval events → :class:`ApprovalEvent`.

``bpms_instance_change`` says *that* an instance changed (start / finish+agree|refuse / terminate /
delete) but not what the form holds; the instance is fetched (``GET /v1.0/workflow/processInstances``)
and its ``formComponentValues`` are mapped by label (``dingtalk.approval_fields``) to the neutral names
customer / start / end / purpose. Only configured process codes are looked at: every lookup counts
against the monthly API quota."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.channels.dingtalk.parse import CHANNEL, Malformed
from config.settings import ApprovalMapping
from core.events import ApprovalEvent, ApprovalStatus

log = logging.getLogger("actionflow.dingtalk.approvals")

INSTANCE_EVENT = "bpms_instance_change"


def status_of(change: str, result: str | None) -> ApprovalStatus | None:
    if change == "start":
        return "submitted"
    if change == "finish":
        return {"agree": "approved", "refuse": "refused"}.get(result or "")  # type: ignore[return-value]
    if change == "terminate":
        return "withdrawn"
    if change == "delete":
        return "deleted"
    return None


def wanted(data: dict[str, Any], process_codes: list[str]) -> bool:
    return isinstance(data, dict) and data.get("processCode") in process_codes


def approval_base(data: dict[str, Any], event_born_ms: int | None) -> dict[str, Any]:
    """The event's own facts; raises :class:`Malformed` when they are missing."""
    instance = data.get("processInstanceId")
    staff = data.get("staffId")
    if not isinstance(instance, str) or not instance:
        raise Malformed("processInstanceId missing")
    if not isinstance(staff, str) or not staff:
        raise Malformed("staffId missing")
    status = status_of(str(data.get("type", "")), data.get("result"))
    if status is None:
        raise Malformed(f"unknown change type={data.get('type')!r} result={data.get('result')!r}")
    born = event_born_ms or data.get("finishTime") or data.get("createTime")
    return {
        "channel": CHANNEL,
        # One id per (instance, state): a redelivery, or the same change under a new eventId, stops here.
        "event_id": f"approval:{instance}:{status}",
        "sender_id": staff,
        "approval_id": instance,
        "status": status,
        "process_code": str(data.get("processCode", "")),
        "title": str(data.get("title", "")),
        "occurred_at": datetime.fromtimestamp(born / 1000, UTC) if isinstance(born, int | float) else None,
    }


def build_event(
    base: dict[str, Any], instance: dict[str, Any] | None, fields: dict[str, str]
) -> ApprovalEvent:
    if instance and not base["title"]:
        base = {**base, "title": str(instance.get("title", ""))}
    return ApprovalEvent(**base, fields=fields)


# -- form fields ---------------------------------------------------------------------------
def _values(instance: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in instance.get("formComponentValues") or []:
        if not isinstance(item, dict):
            continue
        value = item.get("value")
        if value is None or value == "":
            continue
        for key in (item.get("name"), item.get("bizAlias")):
            if isinstance(key, str) and key and key not in out:
                out[key] = str(value)
    return out


def _as_list(value: str) -> list[str] | None:
    if not value.startswith("["):
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return None
    return [str(v) for v in parsed] if isinstance(parsed, list) else None


_DATETIME = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")


def parse_time(value: str, tz: ZoneInfo) -> str | None:
    """A form time → ISO-8601 with offset. Local times (no zone) are read in ``tz``."""
    text = value.strip()
    if text.isdigit() and len(text) >= 12:
        return datetime.fromtimestamp(int(text) / 1000, UTC).astimezone(tz).isoformat(timespec="seconds")
    match = _DATETIME.match(text)
    if match:
        y, mo, d, h, mi, s = (int(g) if g else 0 for g in match.groups())
        try:
            return datetime(y, mo, d, h, mi, s, tzinfo=tz).isoformat(timespec="seconds")
        except ValueError:
            return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(tz).isoformat(timespec="seconds")


def map_fields(instance: dict[str, Any], mapping: ApprovalMapping, tz: ZoneInfo) -> dict[str, str]:
    """formComponentValues → {customer, start, end, purpose} (absent when missing or unreadable)."""
    values = _values(instance)
    fields: dict[str, str] = {}
    customer = values.get(mapping.customer)
    if customer:
        listed = _as_list(customer)
        fields["customer"] = "、".join(listed) if listed else customer.strip()
    start_raw, end_raw = values.get(mapping.start), values.get(mapping.end)
    span = _as_list(start_raw) if start_raw else None
    if span and len(span) == 2:  # a date-range component holds both ends
        start_raw = span[0]
        end_raw = end_raw if end_raw and not _as_list(end_raw) else span[1]
    for name, raw in (("start", start_raw), ("end", end_raw)):
        if raw:
            parsed = parse_time(raw, tz)
            if parsed is None:
                log.warning("approval field %s has an unreadable time %r", name, raw)
            else:
                fields[name] = parsed
    purpose = values.get(mapping.purpose)
    if purpose:
        fields["purpose"] = purpose.strip()
    return fields
