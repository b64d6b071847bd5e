"""Decrypted callback XML → neutral events (or work the channel still has to do).

wechatpy 1.8.18 has no classes for ``sys_approval_change`` or ``template_card_event`` (they parse as
``UnknownMessage``), so this reads the xmltodict dict directly. xmltodict gives a dict for one
element and a list for repeated ones, ``None`` for an empty CDATA and strings for every leaf:
:func:`as_list` and :func:`text` normalise that.

Dedupe keys (the inbox claims ``(channel, event_id)``): messages use ``MsgId``; events use sender +
``CreateTime`` + a discriminator, because approval events all come from ``sys``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import xmltodict
from defusedxml import ElementTree as SafeET

from core.events import (
    CardActionEvent,
    EnterEvent,
    Event,
    FileEvent,
    ImageEvent,
    LocationEvent,
    MediaRef,
    TextEvent,
    VoiceEvent,
)

log = logging.getLogger(__name__)

CHANNEL = "wecom"
MAX_EVENT_ID = 200


class UnreadableXml(ValueError):
    """The decrypted message is not XML we accept (malformed, or with a DTD/entities)."""


class MalformedCallback(ValueError):
    """Well-formed XML whose fields are not what WeCom sends (a repeated leaf, a time out of range).

    The channel answers 400: a 500 would make WeCom retry the same message forever.
    """


# CreateTime is Unix seconds; a negative time or one after 2100 is not a real callback (and would
# overflow datetime.fromtimestamp).
MIN_CREATE_TIME = 0
MAX_CREATE_TIME = 4_102_444_800


def load_xml(data: str | bytes) -> dict[str, Any]:
    """The ``<xml>`` root as a dict. DTDs and entity declarations are refused before xmltodict runs.

    xmltodict 1.0.4 already rejects entity declarations (``disable_entities=True``), but only as
    a generic ``ValueError`` deep in expat; defusedxml refuses any DTD first, explicitly.
    """
    try:
        SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
        doc = xmltodict.parse(data, disable_entities=True)
    except Exception as exc:
        raise UnreadableXml(f"{type(exc).__name__}: {exc}") from None
    root = doc.get("xml") if isinstance(doc, dict) else None
    if not isinstance(root, dict):
        raise UnreadableXml("no <xml> root element")
    return root


def as_list(value: Any) -> list[Any]:
    """xmltodict's one-or-many: ``None`` → ``[]``, a single dict/str → ``[it]``, a list stays."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def text(node: dict[str, Any], key: str) -> str:
    """The one text value of a leaf element; a repeated element is refused, not guessed at."""
    value = node.get(key)
    if value is None:
        return ""
    if isinstance(value, list):
        raise MalformedCallback(f"element <{key}> appears {len(value)} times")
    if isinstance(value, dict):  # <X attr="…">text</X>
        value = value.get("#text", "")
    return str(value).strip()


def _short(event_id: str) -> str:
    if len(event_id) <= MAX_EVENT_ID:
        return event_id
    head = event_id[:80]
    return f"{head}:{hashlib.sha256(event_id.encode()).hexdigest()}"


# -- parse results ------------------------------------------------------------------
@dataclass(frozen=True)
class Ready:
    """An event to claim as it is."""

    event: Event


@dataclass(frozen=True)
class Click:
    """A template-card click: claim ``event``, then update the card with ``response_code``."""

    event: CardActionEvent
    task_id: str
    response_code: str
    card_type: str


@dataclass(frozen=True)
class ApprovalChange:
    """``sys_approval_change``: the form data must be fetched (``oa/getapprovaldetail``) first."""

    key: str
    sp_no: str
    template_id: str
    applicant: str
    sp_status: int
    change: str
    create_time: int


@dataclass(frozen=True)
class Ignored:
    reason: str


Parsed = Ready | Click | ApprovalChange | Ignored


def _int(value: str, default: int = 0) -> int:
    try:
        return int(value)
    except ValueError:
        return default


def _create_time(root: dict[str, Any]) -> int:
    raw = text(root, "CreateTime")
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise MalformedCallback(f"CreateTime {raw[:40]!r} is not a number") from None
    if not MIN_CREATE_TIME <= value <= MAX_CREATE_TIME:
        raise MalformedCallback(f"CreateTime {raw[:40]!r} is out of range")
    return value


def parse(root: dict[str, Any], *, token_for_task: Callable[[str], str | None]) -> Parsed:
    """Turn one decrypted callback into what the channel does next.

    ``token_for_task`` maps a card ``TaskId`` back to the ``Choice.token`` it was sent for.
    Raises :class:`MalformedCallback` for fields WeCom never sends that way.
    """
    msg_type = text(root, "MsgType").lower()
    sender = text(root, "FromUserName")
    create_time = _create_time(root)
    if not msg_type or not sender:
        return Ignored("no MsgType or FromUserName")
    base: dict[str, Any] = {
        "channel": CHANNEL,
        "sender_id": sender,
        "occurred_at": datetime.fromtimestamp(create_time, UTC) if create_time else None,
    }
    if msg_type == "event":
        return _parse_event(root, base, sender, create_time, token_for_task)
    msg_id = text(root, "MsgId")
    if not msg_id:
        digest = hashlib.sha256(repr(sorted(root.items())).encode()).hexdigest()[:24]
        msg_id = f"{sender}:{create_time}:{digest}"
    base["event_id"] = _short(f"msg:{msg_id}")
    if msg_type == "text":
        return Ready(TextEvent(**base, text=text(root, "Content")))
    if msg_type == "voice":
        fmt = (text(root, "Format") or "amr").lower()
        media_id = text(root, "MediaId")
        if not media_id:
            return Ignored("voice without MediaId")
        ref = MediaRef(token=media_id, filename=f"voice.{fmt}", mime=f"audio/{fmt}")
        return Ready(
            VoiceEvent(**base, media=ref, format=fmt, platform_recognition=text(root, "Recognition") or None)
        )
    if msg_type == "image":
        media_id = text(root, "MediaId")
        if not media_id:
            return Ignored("image without MediaId")
        ref = MediaRef(token=media_id, filename="photo.jpg", mime="image/jpeg")
        return Ready(ImageEvent(**base, media=ref))
    if msg_type == "file":  # not documented for self-built apps; accepted defensively
        media_id = text(root, "MediaId")
        if not media_id:
            return Ignored("file without MediaId")
        name = text(root, "FileName") or text(root, "Title") or "file"
        return Ready(FileEvent(**base, media=MediaRef(token=media_id, filename=name)))
    if msg_type == "location":
        try:
            lat, lon = float(text(root, "Location_X")), float(text(root, "Location_Y"))
        except ValueError:
            return Ignored("location without coordinates")
        return Ready(LocationEvent(**base, latitude=lat, longitude=lon, label=text(root, "Label")))
    return Ignored(f"message type {msg_type!r} is not handled")


def _parse_event(
    root: dict[str, Any],
    base: dict[str, Any],
    sender: str,
    create_time: int,
    token_for_task: Callable[[str], str | None],
) -> Parsed:
    name = text(root, "Event").lower()
    prefix = f"evt:{sender}:{create_time}:{name}"
    if name == "enter_agent":
        return Ready(EnterEvent(**{**base, "event_id": _short(prefix)}))
    if name == "template_card_event":
        return _parse_click(root, base, prefix, token_for_task)
    if name == "sys_approval_change":
        info = root.get("ApprovalInfo")
        if not isinstance(info, dict):
            return Ignored("sys_approval_change without ApprovalInfo")
        sp_no = text(info, "SpNo") or text(info, "SpNoStr")
        change = text(info, "StatuChangeEvent")
        applyer = info.get("Applyer")
        applicant = text(applyer, "UserId") if isinstance(applyer, dict) else ""
        if not sp_no:
            return Ignored("sys_approval_change without SpNo")
        return ApprovalChange(
            key=_short(f"{prefix}:{sp_no}:{change}"),
            sp_no=sp_no,
            template_id=text(info, "TemplateId"),
            applicant=applicant,
            sp_status=_int(text(info, "SpStatus")),
            change=change,
            create_time=create_time,
        )
    return Ignored(f"event {name!r} is not handled")


def selected_options(root: dict[str, Any]) -> list[str]:
    """Option ids from ``SelectedItems``, accepting both ``OptionIds`` and the misspelt ``OpitonIds``."""
    values: list[str] = []
    items = root.get("SelectedItems")
    if not isinstance(items, dict):
        return values
    for item in as_list(items.get("SelectedItem")):
        if not isinstance(item, dict):
            continue
        for outer, inner in (("OptionIds", "OptionId"), ("OpitonIds", "OpitonId")):
            group = item.get(outer)
            if isinstance(group, dict):
                values += [str(v).strip() for v in as_list(group.get(inner)) if v is not None]
    return values


def _parse_click(
    root: dict[str, Any],
    base: dict[str, Any],
    prefix: str,
    token_for_task: Callable[[str], str | None],
) -> Parsed:
    task_id = text(root, "TaskId")
    event_key = text(root, "EventKey")
    code = text(root, "ResponseCode")
    card_type = text(root, "CardType")
    if not task_id:
        return Ignored("template_card_event without TaskId")
    token = token_for_task(task_id)
    if token is None:
        return Ignored(f"card task {task_id!r} was not sent by this bot")
    values = selected_options(root)
    if not values and event_key.isdigit():
        values = [event_key]  # button_interaction: the button key is the option number
    digest = hashlib.sha256(f"{task_id}\n{event_key}\n{code}".encode()).hexdigest()[:32]
    event = CardActionEvent(
        **{**base, "event_id": _short(f"{prefix}:{digest}")},
        card_id=token,
        values=values,
        action=event_key,
        params={"task_id": task_id, "card_type": card_type},
    )
    return Click(event=event, task_id=task_id, response_code=code, card_type=card_type)
