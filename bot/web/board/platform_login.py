"""Signing in from inside the platforms' own apps.

* DingTalk H5 micro-app (工作台) 免登: the page asks the DingTalk client for an auth code through the
  JSAPI (``dd.runtime.permission.requestAuthCode``) and posts it here; the server exchanges it at
  ``{dingtalk.oapi_base}/topapi/v2/user/getuserinfo`` for the user id (the staff id the bot
  knows).
* WeCom OAuth2 网页授权 (snsapi_base): a redirect to
  ``{board.wecom_oauth_base}/connect/oauth2/authorize``; WeCom comes back with a code (and our
  ``state``), exchanged at ``{wecom.api_base}/cgi-bin/auth/getuserinfo``.

Either way the platform's user id must belong to an active person, then a session opens."""

from __future__ import annotations

import logging
import secrets
import time
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import quote, urlencode

import aiohttp
import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session

from bot.web.board.login import safe_next
from bot.web.board.render import BASE, bot_of, home_of, message
from bot.web.board.security import open_session, scope_for_user
from domain.directory import find_by_platform_id
from storage.models import User, UserStatus

if TYPE_CHECKING:
    from bot.app import Application

log = logging.getLogger(__name__)

HTTP_TIMEOUT_S = 10.0


class LoginFailed(Exception):
    """The platform did not confirm who this is; the message is for the person (Chinese)."""


async def _get_json(method: str, url: str, **kw: Any) -> dict[str, Any]:
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as http, http.request(method, url, **kw) as resp:
            data = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning(
            "board login: platform call failed",
            extra={"url": url.split("?", maxsplit=1)[0], "error": str(exc)},
        )
        raise LoginFailed("暂时无法连接平台，请稍后再试。") from exc
    return data if isinstance(data, dict) else {}


class WeComTokens:
    """The WeCom app's access token for the OAuth exchange (cached until shortly before it expires)."""

    def __init__(self) -> None:
        self._token = ""
        self._until = 0.0

    async def get(self, bot: Application) -> str:
        if self._token and time.monotonic() < self._until:
            return self._token
        w = bot.settings.wecom
        data = await _get_json(
            "GET",
            f"{w.api_base.rstrip('/')}/cgi-bin/gettoken",
            params={"corpid": w.corp_id, "corpsecret": w.secret.get_secret_value()},
        )
        if data.get("errcode", 0) != 0 or not data.get("access_token"):
            log.warning("board login: WeCom gettoken refused", extra={"errcode": data.get("errcode")})
            raise LoginFailed("企业微信应用配置有误，请联系管理员。")
        self._token = str(data["access_token"])
        self._until = time.monotonic() + max(60, int(data.get("expires_in", 7200)) - 300)
        return self._token


TOKENS_KEY: web.AppKey[WeComTokens] = web.AppKey("board_wecom_tokens", WeComTokens)


async def _finish(request: web.Request, channel: str, platform_id: str, next_path: str) -> NoReturn:
    bot = bot_of(request)
    async with bot.db.read() as session:
        user: User | None = await find_by_platform_id(session, channel, platform_id)
    if user is None or user.status != UserStatus.ACTIVE:
        where = "钉钉" if channel == "dingtalk" else "企业微信"
        raise message(
            request, "无法登录", [f"你的{where}账号还没有开通动作流助手，请联系管理员添加。"], status=403
        )
    await open_session(request, user, bot.clock.now())
    raise web.HTTPSeeOther(safe_next(next_path) or home_of(await scope_for_user(bot, user)))


# -- DingTalk ---------------------------------------------------------------------------------------
async def dingtalk_page(request: web.Request) -> web.Response:
    bot = bot_of(request)
    corp_id = request.query.get("corpId", "") or bot.settings.board.dingtalk_corp_id
    if corp_id.startswith("$"):  # the home page URL's $CORPID$ placeholder was not filled in
        corp_id = bot.settings.board.dingtalk_corp_id
    return aiohttp_jinja2.render_template(
        "board/dingtalk.html",
        request,
        {
            "base": BASE,
            "nav": None,
            "title": "钉钉登录",
            "corp_id": corp_id,
            "next": safe_next(request.query.get("next", "")),
        },
    )


async def dingtalk_exchange(request: web.Request) -> web.Response:
    bot = bot_of(request)
    form = await request.post()
    code = str(form.get("code", ""))[:200]
    next_path = str(form.get("next", ""))
    if not code or not bot.settings.dingtalk.client_id:
        raise message(request, "无法登录", ["没有收到钉钉的授权码，请在钉钉中重新打开看板。"], status=400)
    from bot.channels.dingtalk.api import ApiError, OpenApi

    api = OpenApi(bot.settings.dingtalk, bot.clock)
    try:
        data = await api.oapi("/topapi/v2/user/getuserinfo", api="getuserinfo", json={"code": code})
    except ApiError as exc:
        log.warning("board login: DingTalk refused the auth code", extra={"error": str(exc)})
        raise message(request, "无法登录", ["钉钉授权已失效，请在钉钉中重新打开看板。"], status=403) from exc
    finally:
        await api.close()
    userid = str((data.get("result") or {}).get("userid", ""))
    if not userid:
        raise message(request, "无法登录", ["钉钉没有返回你的账号，请重新打开看板。"], status=403)
    await _finish(request, "dingtalk", userid, next_path)


# -- WeCom ------------------------------------------------------------------------------------------
def _public_base(request: web.Request, bot: Application) -> str:
    if bot.settings.web.public_url:
        return bot.settings.web.public_url.rstrip("/")
    return f"{request.scheme}://{request.host}"


async def wecom_start(request: web.Request) -> web.Response:
    bot = bot_of(request)
    w = bot.settings.wecom
    if not w.corp_id:
        raise message(request, "无法登录", ["企业微信登录尚未配置，请在聊天中发送「看板」获取登录链接。"])
    state = secrets.token_urlsafe(16)
    session = await get_session(request)
    session["oauth_state"] = state
    session["oauth_next"] = safe_next(request.query.get("next", ""))
    callback = f"{_public_base(request, bot)}{BASE}/login/wecom/callback"
    query = urlencode(
        {
            "appid": w.corp_id,
            "redirect_uri": callback,
            "response_type": "code",
            "scope": "snsapi_base",
            "state": state,
            "agentid": str(w.agent_id),
        },
        quote_via=quote,
    )
    raise web.HTTPFound(
        f"{bot.settings.board.wecom_oauth_base.rstrip('/')}/connect/oauth2/authorize?{query}#wechat_redirect"
    )


async def wecom_callback(request: web.Request) -> web.Response:
    bot = bot_of(request)
    session = await get_session(request)
    expected = session.pop("oauth_state", None)
    next_path = str(session.pop("oauth_next", "") or "")
    state = request.query.get("state", "")
    code = request.query.get("code", "")[:200]
    if not expected or not secrets.compare_digest(str(expected), state) or not code:
        raise message(request, "无法登录", ["登录请求已失效，请在企业微信中重新打开看板。"], status=403)
    try:
        token = await request.app[TOKENS_KEY].get(bot)
        data = await _get_json(
            "GET",
            f"{bot.settings.wecom.api_base.rstrip('/')}/cgi-bin/auth/getuserinfo",
            params={"access_token": token, "code": code},
        )
    except LoginFailed as exc:
        raise message(request, "无法登录", [str(exc)], status=502) from exc
    userid = str(data.get("userid") or data.get("UserId") or "")
    if data.get("errcode", 0) != 0 or not userid:
        log.warning("board login: WeCom refused the code", extra={"errcode": data.get("errcode")})
        raise message(request, "无法登录", ["企业微信授权已失效，请重新打开看板。"], status=403)
    await _finish(request, "wecom", userid, next_path)


def add_routes(app: web.Application, bot: Application) -> None:
    app[TOKENS_KEY] = WeComTokens()
    app.router.add_get("/login/dingtalk", dingtalk_page)
    app.router.add_post("/login/dingtalk", dingtalk_exchange)
    app.router.add_get("/login/wecom", wecom_start)
    app.router.add_get("/login/wecom/callback", wecom_callback)
