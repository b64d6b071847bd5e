"""The old API host (``oapi.dingtalk.com``): ``gettoken``, media upload, and the custom group-robot
webhook with its HMAC signature check and the 20-per-minute limit (error 130101, then a 10-minute block).
Errors here are HTTP 200 with a non-zero ``errcode``, as on the real host."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

from aiohttp import web

from emulators.dingtalk.openapi import STATE
from emulators.dingtalk.state import EmulatorState, StoredFile, Webhook

SEND_TOO_FAST = {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}


def sign(secret: str, timestamp_ms: int) -> str:
    """The custom robot signature: urlencode(base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")))."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def oapi_error(code: int, message: str) -> web.Response:
    return web.json_response({"errcode": code, "errmsg": message})


def token_ok(request: web.Request) -> bool:
    return request.app[STATE].token_valid(request.query.get("access_token"))


async def gettoken(request: web.Request) -> web.Response:
    st = request.app[STATE]
    st.count("gettoken")
    if request.query.get("appkey") != st.client_id or request.query.get("appsecret") != st.client_secret:
        return oapi_error(40089, "不合法的corpid或corpsecret")
    token = st.issue_token()
    return web.json_response(
        {"errcode": 0, "errmsg": "ok", "access_token": token.value, "expires_in": st.token_ttl_s}
    )


async def media_upload(request: web.Request) -> web.Response:
    st = request.app[STATE]
    st.count("upload")
    if not token_ok(request):
        return oapi_error(40014, "不合法的access_token")
    if st.take_fault("upload") is not None:
        return oapi_error(-1, "系统繁忙")
    form = await request.post()
    media = form.get("media")
    kind = form.get("type") or request.query.get("type", "")
    if not isinstance(media, web.FileField) or kind not in ("image", "voice", "video", "file"):
        return oapi_error(40004, "不合法的媒体文件类型")
    data = media.file.read()
    media_id = f"@lA{uuid.uuid4().hex[:20]}"
    with st.lock:
        st.media[media_id] = StoredFile(data, media.content_type, media.filename)
    return web.json_response(
        {"errcode": 0, "errmsg": "ok", "media_id": media_id, "type": kind, "created_at": 0}
    )


def _webhook_check(st: EmulatorState, hook: Webhook, query: Any, now: datetime) -> dict[str, Any] | None:
    try:
        timestamp = int(query.get("timestamp", ""))
    except ValueError:
        return {"errcode": 310000, "errmsg": "invalid timestamp"}
    if abs(time.time() * 1000 - timestamp) > 3_600_000:  # DingTalk's own (wall) clock, not the test's
        return {"errcode": 310000, "errmsg": "invalid timestamp"}
    expected = sign(hook.secret, timestamp)
    if not hmac.compare_digest(expected, quote_plus(query.get("sign", ""))):
        return {"errcode": 310000, "errmsg": "sign not match"}
    if hook.blocked_until is not None and now < hook.blocked_until:
        return SEND_TOO_FAST
    window = now - timedelta(minutes=1)
    while hook.sends and hook.sends[0] <= window:
        hook.sends.popleft()
    if len(hook.sends) >= st.webhook_limit_per_min:
        hook.blocked_until = now + timedelta(seconds=st.webhook_block_s)
        return SEND_TOO_FAST
    return None


async def robot_send(request: web.Request) -> web.Response:
    st = request.app[STATE]
    st.count("webhook")
    try:
        body = await request.json()
    except ValueError:
        return oapi_error(40035, "缺少参数 json")
    with st.lock:
        hook = st.webhooks.get(request.query.get("access_token", ""))
        if hook is None:
            return oapi_error(300005, "token is not exist")
        now = st.clock.now()
        problem = _webhook_check(st, hook, request.query, now)
        if problem is not None:
            st.reject("webhook", problem["errmsg"])
            return web.json_response(problem)
        kind = body.get("msgtype") if isinstance(body, dict) else None
        if kind not in ("text", "markdown", "link", "actionCard", "feedCard"):
            return oapi_error(40035, "不支持的消息类型")
        param = body.get(kind)
        if not isinstance(param, dict):
            return oapi_error(40035, f"缺少参数 {kind}")
        hook.sends.append(now)
        st.record("webhook", hook.token, kind, param)
    return oapi_error(0, "ok")


async def old_process_instance(request: web.Request) -> web.Response:
    st = request.app[STATE]
    st.count("instance-old")
    if not token_ok(request):
        return oapi_error(40014, "不合法的access_token")
    body = await request.json()
    with st.lock:
        result = st.instances.get(body.get("process_instance_id", ""))
    if result is None:
        return oapi_error(850000, "审批实例不存在")
    converted = {
        "title": result.get("title", ""),
        "create_time": result.get("createTime", ""),
        "finish_time": result.get("finishTime", ""),
        "originator_userid": result.get("originatorUserId", ""),
        "status": result.get("status", ""),
        "result": result.get("result", ""),
        "form_component_values": [
            {
                "name": f.get("name"),
                "value": f.get("value"),
                "id": f.get("id"),
                "component_type": f.get("componentType"),
            }
            for f in result.get("formComponentValues", [])
        ],
    }
    return web.json_response({"errcode": 0, "errmsg": "ok", "process_instance": converted})


async def user_getuserinfo(request: web.Request) -> web.Response:
    """免登: exchange the auth code a micro-app page got from the client for the user id."""
    st = request.app[STATE]
    st.count("getuserinfo")
    if not token_ok(request):
        return oapi_error(40014, "不合法的access_token")
    try:
        body = await request.json()
    except ValueError:
        body = {}
    staff_id = st.redeem_auth_code(str(body.get("code", ""))) if isinstance(body, dict) else None
    if staff_id is None:
        return oapi_error(40078, "不存在的临时授权码")
    return web.json_response(
        {
            "errcode": 0,
            "errmsg": "ok",
            "result": {"userid": staff_id, "device_id": "emu-device", "sys": False, "sys_level": 0},
            "request_id": uuid.uuid4().hex[:12],
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/gettoken", gettoken)
    app.router.add_post("/topapi/v2/user/getuserinfo", user_getuserinfo)
    app.router.add_post("/media/upload", media_upload)
    app.router.add_post("/robot/send", robot_send)
    app.router.add_post("/topapi/processinstance/get", old_process_instance)
