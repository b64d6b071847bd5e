"""Robot-message and card-callback payloads (the frame's ``data``, already JSON-decoded) → neutral events.

A payload we cannot use raises :class:`Malformed`; the caller logs it and ACKs, so DingTalk does not
deliver it again and again. The event id is DingTalk's ``msgId``: a redelivered frame carries the same
one and stops at the inbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.channels.dingtalk.cards import card_id_from, chosen_values
from core.events import CardActionEvent, Event, FileEvent, ImageEvent, MediaRef, TextEvent, VoiceEvent

CHANNEL = "dingtalk"


class Malformed(ValueError):
    """A payload with missing or unusable fields."""


def _str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise Malformed(f"{key} missing")
    return value


def _when(ms: Any) -> datetime | None:
    if isinstance(ms, int | float) and ms > 0:
        return datetime.fromtimestamp(ms / 1000, UTC)
    return None


def _content(data: dict[str, Any]) -> dict[str, Any]:
    content = data.get("content")
    if isinstance(content, str):  # some gateways send it JSON-encoded
        try:
            content = json.loads(content)
        except json.JSONDecodeError as exc:
            raise Malformed("content is not JSON") from exc
    if not isinstance(content, dict):
        raise Malformed("content missing")
    return content


def robot_events(data: dict[str, Any], message_id: str) -> list[Event]:
    """One robot message → its events (a richText message may carry text and pictures)."""
    if not isinstance(data, dict):
        raise Malformed("data is not an object")
    msg_id = data.get("msgId") or message_id
    if not msg_id:
        raise Malformed("msgId missing")
    base: dict[str, Any] = {
        "channel": CHANNEL,
        "event_id": str(msg_id),
        "sender_id": _str(data, "senderStaffId"),
        "sender_name": str(data.get("senderNick") or ""),
        "conversation_id": str(data.get("conversationId") or ""),
        "is_group": str(data.get("conversationType")) == "2",
        "occurred_at": _when(data.get("createAt")),
    }
    kind = data.get("msgtype")
    if kind == "text":
        text = data.get("text")
        content = text.get("content") if isinstance(text, dict) else None
        if not isinstance(content, str) or not content.strip():
            raise Malformed("text.content missing")
        return [TextEvent(**base, text=content.strip())]
    if kind == "audio":
        c = _content(data)
        duration = str(c.get("duration", ""))
        recognition = c.get("recognition")
        return [
            VoiceEvent(
                **base,
                media=MediaRef(token=_str(c, "downloadCode")),
                duration_ms=int(duration) if duration.isdigit() else None,
                platform_recognition=recognition if isinstance(recognition, str) and recognition else None,
            )
        ]
    if kind == "picture":
        c = _content(data)
        return [ImageEvent(**base, media=MediaRef(token=_str(c, "downloadCode")))]
    if kind == "file":
        c = _content(data)
        name = str(c.get("fileName") or "")
        return [FileEvent(**base, media=MediaRef(token=_str(c, "downloadCode"), filename=name))]
    if kind == "video":
        c = _content(data)
        name = f"video.{c.get('videoType') or 'mp4'}"
        return [FileEvent(**base, media=MediaRef(token=_str(c, "downloadCode"), filename=name))]
    if kind == "richText":
        return _rich_text(base, _content(data))
    raise Malformed(f"unsupported msgtype {kind!r}")


def _rich_text(base: dict[str, Any], content: dict[str, Any]) -> list[Event]:
    items = content.get("richText")
    if not isinstance(items, list):
        raise Malformed("richText missing")
    texts = [i["text"] for i in items if isinstance(i, dict) and isinstance(i.get("text"), str)]
    codes = [
        i["downloadCode"] for i in items if isinstance(i, dict) and isinstance(i.get("downloadCode"), str)
    ]
    events: list[Event] = []
    text = "\n".join(t.strip() for t in texts if t.strip())
    if text:
        events.append(TextEvent(**base, text=text))
    for n, code in enumerate(codes, 1):
        image = {**base, "event_id": f"{base['event_id']}#{n}"}
        events.append(ImageEvent(**image, media=MediaRef(token=code)))
    if not events:
        raise Malformed("richText is empty")
    return events


def card_event(data: dict[str, Any], message_id: str) -> CardActionEvent:
    """A card click. ``card_id`` is the choice token we put into the card's ``outTrackId``."""
    if not isinstance(data, dict):
        raise Malformed("data is not an object")
    track = _str(data, "outTrackId")
    user = _str(data, "userId")
    raw = data.get("content") or data.get("value") or "{}"
    try:
        content = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        raise Malformed("content is not JSON") from exc
    private = content.get("cardPrivateData") if isinstance(content, dict) else None
    if not isinstance(private, dict):
        raise Malformed("cardPrivateData missing")
    raw_params = private.get("params")
    params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
    raw_actions = private.get("actionIds")
    actions: list[Any] = raw_actions if isinstance(raw_actions, list) else []
    return CardActionEvent(
        channel=CHANNEL,
        event_id=f"card:{message_id}",
        sender_id=user,
        card_id=card_id_from(track),
        values=chosen_values(params),
        action=str(params.get("action") or (actions[0] if actions else "")),
        params=params,
    )
