"""The new-style OpenAPI (``api.dingtalk.com``): access token, robot sends, message-file download,
process instances, interactive cards. Requests are validated the way the real service rejects them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from emulators.dingtalk.state import MSG_KEYS, Card, EmulatorState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STATE: web.AppKey[EmulatorState] = web.AppKey("dingtalk_state", EmulatorState)
FAULT: web.RequestKey[str] = web.RequestKey("dingtalk_fault", str)

QPS_ERROR = {
    "code": "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
    "message": "The QPS limit for the appkey and api is exceeded.",
}


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message, "requestid": uuid.uuid4().hex}, status=status)


def guarded(api: str) -> Callable[[Handler], Handler]:
    """Count the call, check the ``x-acs-dingtalk-access-token`` header, apply injected faults."""

    def wrap(fn: Handler) -> Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            st = request.app[STATE]
            st.count(api)
            if not st.token_valid(request.headers.get("x-acs-dingtalk-access-token")):
                st.reject(api, "invalid token")
                return error(401, "InvalidAuthentication", "不合法的access_token")
            fault = st.take_fault(api)
            if fault == "qps":
                return web.json_response(QPS_ERROR, status=403)
            if fault == "quota":
                return error(403, "Forbidden.AccessDenied.ApiCountLimitForOrg", "monthly quota exhausted")
            if fault == "server_error":
                return error(500, "systemError", "injected server error")
            if fault is not None:
                request[FAULT] = fault
            return await fn(request)

        return handler

    return wrap


async def _json(request: web.Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


async def access_token(request: web.Request) -> web.Response:
    st = request.app[STATE]
    st.count("token")
    body = await _json(request) or {}
    if body.get("appKey") != st.client_id or body.get("appSecret") != st.client_secret:
        st.reject("token", "bad credentials")
        return error(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
    token = st.issue_token()
    return web.json_response({"accessToken": token.value, "expireIn": st.token_ttl_s})


def _check_msg(
    st: EmulatorState, api: str, body: dict[str, Any]
) -> tuple[str, dict[str, Any]] | web.Response:
    if body.get("robotCode") != st.robot_code:
        st.reject(api, f"robotCode {body.get('robotCode')!r}")
        return error(400, "invalidParameter.robotCode", "robotCode 不正确")
    key = body.get("msgKey")
    if key not in MSG_KEYS:
        st.reject(api, f"msgKey {key!r}")
        return error(400, "invalidParameter.msgKey", f"msgKey {key} 不存在")
    raw = body.get("msgParam")
    if not isinstance(raw, str):
        st.reject(api, "msgParam is not a string")
        return error(400, "invalidParameter.msgParam", "msgParam 必须是 JSON 字符串")
    try:
        param = json.loads(raw)
    except json.JSONDecodeError:
        st.reject(api, "msgParam is not JSON")
        return error(400, "invalidParameter.msgParam", "msgParam 不是合法的 JSON")
    missing = [f for f in MSG_KEYS[key][:2] if not isinstance(param, dict) or f not in param]
    if missing:
        st.reject(api, f"msgParam misses {missing}")
        return error(400, "invalidParameter.msgParam", f"msgParam 缺少 {missing}")
    return key, param


@guarded("oto")
async def oto_batch_send(request: web.Request) -> web.Response:
    st = request.app[STATE]
    body = await _json(request)
    if body is None:
        return error(400, "invalidParameter", "body is not JSON")
    user_ids = body.get("userIds")
    if not isinstance(user_ids, list) or not user_ids or len(user_ids) > 20:
        st.reject("oto", "userIds")
        return error(400, "invalidParameter.userIds", "userIds 为空或超过 20 个")
    checked = _check_msg(st, "oto", body)
    if isinstance(checked, web.Response):
        return checked
    key, param = checked
    fault = request.get(FAULT)
    invalid = [u for u in user_ids if u in st.invalid_staff_ids or fault == "invalid_user"]
    flow = [u for u in user_ids if fault == "flow_control" and u not in invalid]
    filtered = [u for u in user_ids if fault == "filtered" and u not in invalid]
    for uid in user_ids:
        if uid not in invalid and uid not in flow and uid not in filtered:
            st.record("oto", uid, key, param)
    return web.json_response(
        {
            "processQueryKey": uuid.uuid4().hex,
            "invalidStaffIdList": invalid,
            "flowControlledStaffIdList": flow,
            "filteredStaffIdList": filtered,
        }
    )


@guarded("group")
async def group_send(request: web.Request) -> web.Response:
    st = request.app[STATE]
    body = await _json(request)
    if body is None:
        return error(400, "invalidParameter", "body is not JSON")
    cid = body.get("openConversationId")
    if not isinstance(cid, str) or not cid:
        st.reject("group", "openConversationId")
        return error(400, "invalidParameter.openConversationId", "openConversationId 不能为空")
    checked = _check_msg(st, "group", body)
    if isinstance(checked, web.Response):
        return checked
    key, param = checked
    if request.get(FAULT) == "unknown_group":
        return error(400, "resource.not.found", "群不存在")
    st.record("group", cid, key, param)
    return web.json_response({"processQueryKey": uuid.uuid4().hex})


async def session_send(request: web.Request) -> web.Response:
    st = request.app[STATE]
    st.count("session")
    target = st.sessions.get(request.query.get("session", ""))
    body = await _json(request) or {}
    if target is None:
        return web.json_response({"errcode": 300001, "errmsg": "session 不存在或已过期"})
    kind = body.get("msgtype", "")
    param = body.get(kind, {}) if isinstance(body.get(kind), dict) else {}
    st.record("session", target, kind, param)
    return web.json_response({"errcode": 0, "errmsg": "ok"})


@guarded("download")
async def file_download(request: web.Request) -> web.Response:
    st = request.app[STATE]
    body = await _json(request) or {}
    code = body.get("downloadCode", "")
    if body.get("robotCode") != st.robot_code:
        st.reject("download", "robotCode")
        return error(400, "invalidParameter.robotCode", "robotCode 不正确")
    if code not in st.files:
        return error(400, "invalidParameter.downloadCode", "downloadCode 无效或已过期")
    base = f"{request.scheme}://{request.host}"
    return web.json_response({"downloadUrl": f"{base}/files/{code}?sig={uuid.uuid4().hex[:8]}"})


async def file_get(request: web.Request) -> web.Response:
    st = request.app[STATE]
    st.count("file-get")
    stored = st.files.get(request.match_info["code"])
    if stored is None:
        return web.Response(status=404, text="NoSuchKey")
    return web.Response(body=stored.data, content_type=stored.content_type)


@guarded("instance")
async def process_instance(request: web.Request) -> web.Response:
    st = request.app[STATE]
    instance_id = request.query.get("processInstanceId", "")
    if not instance_id:
        return error(400, "processInstanceIdError", "processInstanceId 不能为空")
    with st.lock:
        result = st.instances.get(instance_id)
    if result is None:
        return error(400, "processInstanceNotExist", "审批实例不存在")
    return web.json_response({"success": "true", "result": result})


# -- cards ----------------------------------------------------------------------------
def _recipients(space_ids: str) -> list[str]:
    """``dtv1.card//IM_ROBOT.<userId>;dtv1.card//IM_GROUP.<cid>`` → the user ids / conversation ids."""
    out = []
    for space in space_ids.split(";"):
        _, _, tail = space.partition("//")
        kind, _, ident = tail.partition(".")
        if kind in ("IM_ROBOT", "IM_GROUP") and ident:
            out.append(ident)
    return out


def _card_from(st: EmulatorState, body: dict[str, Any]) -> Card | web.Response:
    template = body.get("cardTemplateId")
    track = body.get("outTrackId")
    if not template or not track:
        st.reject("card", "cardTemplateId/outTrackId")
        return error(400, "invalidParameter", "cardTemplateId 和 outTrackId 不能为空")
    params = (body.get("cardData") or {}).get("cardParamMap") or {}
    if not isinstance(params, dict) or any(not isinstance(v, str) for v in params.values()):
        st.reject("card", "cardParamMap values must be strings")
        return error(400, "invalidParameter.cardData", "cardParamMap 的值必须是字符串")
    callback = body.get("callbackType", "STREAM" if not body.get("callbackRouteKey") else "HTTP")
    if callback not in ("STREAM", "HTTP"):
        return error(400, "invalidParameter.callbackType", "callbackType 只能是 STREAM 或 HTTP")
    with st.lock:
        if track in st.cards:
            return error(400, "param.outTrackIdExist", "outTrackId 已存在")
    return Card(track, template, dict(params), callback, [], [])


def _deliver(st: EmulatorState, card: Card, space_ids: str) -> list[dict[str, Any]]:
    results = []
    for space in filter(None, space_ids.split(";")):
        for rid in _recipients(space):
            card.spaces.append(space)
            card.recipients.append(rid)
            st.record("card", rid, "card", dict(card.params))
            kind = space.split("//")[-1].split(".")[0]
            results.append({"spaceType": kind, "spaceId": rid, "success": True})
    return results


@guarded("card")
async def card_create_and_deliver(request: web.Request) -> web.Response:
    st = request.app[STATE]
    body = await _json(request) or {}
    card = _card_from(st, body)
    if isinstance(card, web.Response):
        return card
    spaces = body.get("openSpaceId", "")
    if not _recipients(spaces):
        st.reject("card", "openSpaceId")
        return error(400, "invalidParameter.openSpaceId", "openSpaceId 格式不正确")
    if "IM_ROBOT" in spaces and (body.get("imRobotOpenDeliverModel") or {}).get("spaceType") != "IM_ROBOT":
        st.reject("card", "imRobotOpenDeliverModel")
        return error(400, "invalidParameter.imRobotOpenDeliverModel", "缺少 imRobotOpenDeliverModel")
    if request.get(FAULT) == "deliver_failed":
        return web.json_response(
            {
                "success": True,
                "result": {
                    "outTrackId": card.out_track_id,
                    "deliverResults": [{"success": False, "errorMsg": "injected"}],
                },
            }
        )
    with st.lock:
        st.cards[card.out_track_id] = card
        results = _deliver(st, card, spaces)
    return web.json_response(
        {"success": True, "result": {"outTrackId": card.out_track_id, "deliverResults": results}}
    )


@guarded("card")
async def card_create(request: web.Request) -> web.Response:
    st = request.app[STATE]
    card = _card_from(st, await _json(request) or {})
    if isinstance(card, web.Response):
        return card
    with st.lock:
        st.cards[card.out_track_id] = card
    return web.json_response({"success": True, "result": card.out_track_id})


@guarded("card")
async def card_deliver(request: web.Request) -> web.Response:
    st = request.app[STATE]
    body = await _json(request) or {}
    with st.lock:
        card = st.cards.get(body.get("outTrackId", ""))
        if card is None:
            return error(400, "card.notExist", "卡片不存在")
        results = _deliver(st, card, body.get("openSpaceId", ""))
    return web.json_response({"success": True, "result": results})


@guarded("card")
async def card_update(request: web.Request) -> web.Response:
    st = request.app[STATE]
    body = await _json(request) or {}
    with st.lock:
        card = st.cards.get(body.get("outTrackId", ""))
        if card is None:
            return error(400, "card.notExist", "卡片不存在")
        apply_card_update(card, body)
    return web.json_response({"success": True, "result": True})


@guarded("card")
async def card_streaming(request: web.Request) -> web.Response:
    st = request.app[STATE]
    body = await _json(request) or {}
    with st.lock:
        card = st.cards.get(body.get("outTrackId", ""))
        if card is None:
            return error(400, "card.notExist", "卡片不存在")
        key = body.get("key", "content")
        content = str(body.get("content", ""))
        card.params[key] = content if body.get("isFull", True) else card.params.get(key, "") + content
        card.updates += 1
    return web.json_response({"success": True, "result": True})


def apply_card_update(card: Card, update: dict[str, Any]) -> None:
    """Apply an update (``PUT /v1.0/card/instances`` or a callback's ``response``) to a stored card."""
    options = update.get("cardUpdateOptions") or {}
    public = (update.get("cardData") or {}).get("cardParamMap")
    if isinstance(public, dict):
        if options.get("updateCardDataByKey", True):
            card.params.update({k: str(v) for k, v in public.items()})
        else:
            card.params = {k: str(v) for k, v in public.items()}
    private = update.get("privateData") or {}
    for uid, data in private.items() if isinstance(private, dict) else ():
        card.private.setdefault(uid, {}).update((data or {}).get("cardParamMap") or {})
    card.updates += 1


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1.0/oauth2/accessToken", access_token)
    app.router.add_post("/v1.0/robot/oToMessages/batchSend", oto_batch_send)
    app.router.add_post("/v1.0/robot/groupMessages/send", group_send)
    app.router.add_post("/robot/sendBySession", session_send)
    app.router.add_post("/v1.0/robot/messageFiles/download", file_download)
    app.router.add_get("/files/{code}", file_get)
    app.router.add_get("/v1.0/workflow/processInstances", process_instance)
    app.router.add_post("/v1.0/card/instances/createAndDeliver", card_create_and_deliver)
    app.router.add_post("/v1.0/card/instances", card_create)
    app.router.add_post("/v1.0/card/instances/deliver", card_deliver)
    app.router.add_put("/v1.0/card/instances", card_update)
    app.router.add_put("/v1.0/card/streaming", card_streaming)
