"""Stream frames exactly as DingTalk sends them: ``data`` is a JSON *string*, header times are numeric
strings (the SDK calls ``int()`` on them)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any

ROBOT_TOPIC = "/v1.0/im/bot/messages/get"
CARD_TOPIC = "/v1.0/card/instances/callback"


def new_message_id() -> str:
    return f"{uuid.uuid4().hex[:8]}_{uuid.uuid4().hex[:3]}_{uuid.uuid4().hex[:11]}"


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def frame(
    kind: str,
    topic: str,
    data: dict[str, Any] | str,
    *,
    message_id: str,
    when: datetime,
    app_id: str,
    connection_id: str = "",
    extra_headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    headers = {
        "appId": app_id,
        "connectionId": connection_id,
        "contentType": "application/json",
        "messageId": message_id,
        "time": str(ms(when)),
        "topic": topic,
        **(extra_headers or {}),
    }
    body = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return {"specVersion": "1.0", "type": kind, "headers": headers, "data": body}


def sender_opaque_id(staff_id: str) -> str:
    return "$:LWCP_v1:$" + hashlib.sha256(staff_id.encode()).hexdigest()[:24]


def robot_message(
    *,
    msg_id: str,
    msgtype: str,
    staff_id: str,
    nick: str,
    conversation_id: str,
    group: bool,
    robot_code: str,
    corp_id: str,
    when: datetime,
    session_webhook: str,
    body: dict[str, Any],
    conversation_title: str = "",
) -> dict[str, Any]:
    """The robot-message JSON (the frame's ``data``), as developerpedia documents it."""
    created = ms(when)
    data: dict[str, Any] = {
        "conversationId": conversation_id,
        "conversationType": "2" if group else "1",
        "chatbotCorpId": corp_id,
        "chatbotUserId": "$:LWCP_v1:$robot" + robot_code[-6:],
        "msgId": msg_id,
        "msgtype": msgtype,
        "createAt": created,
        "senderId": sender_opaque_id(staff_id),
        "senderNick": nick,
        "senderStaffId": staff_id,
        "senderCorpId": corp_id,
        "senderPlatform": "Android",
        "isAdmin": False,
        "robotCode": robot_code,
        "sessionWebhook": session_webhook,
        "sessionWebhookExpiredTime": created + 5_400_000,
        **body,
    }
    if group:
        data["conversationTitle"] = conversation_title or "销售群"
        data["isInAtList"] = True
        data["atUsers"] = [{"dingtalkId": data["chatbotUserId"]}]
    return data


def approval_event(
    *,
    instance_id: str,
    process_code: str,
    change: str,
    result: str | None,
    staff_id: str,
    title: str,
    when: datetime,
    corp_id: str,
    create_time: datetime | None = None,
) -> dict[str, Any]:
    """The ``bpms_instance_change`` event body."""
    data: dict[str, Any] = {
        "processInstanceId": instance_id,
        "processCode": process_code,
        "bizCategoryId": "",
        "businessId": instance_id[-8:],
        "title": title,
        "type": change,
        "createTime": ms(create_time or when),
        "staffId": staff_id,
        "corpId": corp_id,
        "url": f"https://aflow.dingtalk.com/dingtalk/mobile/homepage.htm?corpid={corp_id}",
    }
    if result is not None:
        data["result"] = result
    if change == "finish":
        data["finishTime"] = ms(when)
    return data


def card_callback(
    *, out_track_id: str, user_id: str, corp_id: str, space_id: str, action_id: str, params: dict[str, Any]
) -> dict[str, Any]:
    """A card click (``/v1.0/card/instances/callback``): ``content`` and ``value`` are JSON strings."""
    private = {"cardPrivateData": {"actionIds": [action_id], "params": params}}
    content = json.dumps(private, ensure_ascii=False)
    return {
        "extension": "{}",
        "corpId": corp_id,
        "spaceType": "im",
        "userIdType": 1,
        "type": "actionCallback",
        "userId": user_id,
        "content": content,
        "spaceId": space_id,
        "outTrackId": out_track_id,
        "value": content,
    }
